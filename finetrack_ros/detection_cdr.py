"""``vision_msgs/Detection2DArray`` read straight from its CDR bytes (no ROS import).

rclpy turns a message into Python objects before a callback sees it: a 20,000-box array
became 20,000 ``Detection2D`` objects, each with a 36-number covariance array, in ~1 s and
~80 MB before the node could count a single box. The node subscribes its detections raw
(serialized) and reads here only what tracking uses (stamp, boxes, first hypothesis, id), in
one pass over the bytes, so the cost of a storm is the bytes, then ``max_detections`` boxes.

Layout (XCDR1, the ROS 2 default): a 4-byte encapsulation header (``00 01`` little endian,
``00 00`` big endian), then the fields in order, each primitive aligned to its size counted
from the end of that header; strings are a uint32 length (with the NUL) and the bytes.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

# Smallest serialized Detection2D (empty strings, no results): header 12, count 4, bbox 40
# plus padding, id 5; a count above bytes / this is a lie, refused before any loop.
MIN_DETECTION_BYTES = 60
MIN_RESULT_BYTES = 8 + 8 + 43 * 8  # class_id string, score, pose + covariance
_ENCAPSULATION = {b"\x00\x01": "<", b"\x00\x00": ">"}  # CDR_LE, CDR_BE


@dataclass
class DetectionArrayData:
    """What the tracker needs of one Detection2DArray, as arrays.

    Attributes:
        header: ``header.stamp.sec``, ``.nanosec``, ``header.frame_id`` (a std_msgs/Header
            look-alike, for pairing by stamp).
        boxes_xyxy: (N, 4) float64 pixels; scores: (N,) float64 (1 without a result);
        class_names: first hypothesis' class_id ("" without a result); ids: Detection2D.id.
    """

    header: SimpleNamespace
    boxes_xyxy: np.ndarray
    scores: np.ndarray
    class_names: list
    ids: list

    def arrays(self) -> dict:
        """Return the dict of :func:`finetrack_ros.messages.detection_array_to_numpy`."""
        return {"boxes_xyxy": self.boxes_xyxy, "scores": self.scores,
                "class_names": self.class_names, "ids": self.ids}


class _Reader:
    """Aligned reads of one CDR buffer; ValueError when it ends early."""

    def __init__(self, data: bytes) -> None:
        if len(data) < 4 or bytes(data[:2]) not in _ENCAPSULATION:
            raise ValueError(f"detections message: not CDR-encoded Detection2DArray bytes "
                             f"(encapsulation {bytes(data[:2]).hex() or 'missing'})")
        order = _ENCAPSULATION[bytes(data[:2])]
        self.data, self.base, self.pos = memoryview(data), 4, 4
        self.u32 = struct.Struct(order + "I").unpack_from
        self.stamp = struct.Struct(order + "iI").unpack_from
        self.f64 = struct.Struct(order + "d").unpack_from
        self.bbox = struct.Struct(order + "5d").unpack_from

    def align(self, size: int) -> None:
        self.pos += -(self.pos - self.base) % size

    def need(self, size: int) -> None:
        if self.pos + size > len(self.data):
            raise ValueError(f"detections message: truncated at byte {self.pos} of "
                             f"{len(self.data)}")

    def count(self, min_item_bytes: int, what: str) -> int:
        self.align(4)
        self.need(4)
        (n,) = self.u32(self.data, self.pos)
        self.pos += 4
        if n * min_item_bytes > len(self.data) - self.pos:
            raise ValueError(f"detections message: {n} {what} cannot fit in "
                             f"{len(self.data) - self.pos} bytes")
        return n

    def string(self) -> str:
        self.align(4)
        self.need(4)
        (n,) = self.u32(self.data, self.pos)
        self.pos += 4
        self.need(n)
        text = bytes(self.data[self.pos:self.pos + max(n - 1, 0)]).decode("utf-8", "replace")
        self.pos += n
        return text

    def header(self) -> SimpleNamespace:
        self.align(4)
        self.need(8)
        sec, nanosec = self.stamp(self.data, self.pos)
        self.pos += 8
        return SimpleNamespace(stamp=SimpleNamespace(sec=sec, nanosec=nanosec),
                               frame_id=self.string())


def parse_detection_array(data: bytes) -> DetectionArrayData:
    """Read a serialized ``vision_msgs/Detection2DArray``.

    Raises:
        ValueError: bytes that are not such a message (wrong encapsulation, a count that
            cannot fit, truncated), with the byte offset.
    """
    r = _Reader(data)
    header = r.header()
    n = r.count(MIN_DETECTION_BYTES, "detections")
    boxes = np.empty((n, 4))
    scores = np.ones(n)
    class_names, ids = [""] * n, [""] * n
    for i in range(n):
        r.header()  # each detection's own header: not used
        results = r.count(MIN_RESULT_BYTES, "results")
        for k in range(results):
            name = r.string()
            r.align(8)
            r.need(8 + 43 * 8)
            if k == 0:  # the first (best) hypothesis, as detection_array_to_numpy
                class_names[i], scores[i] = name, r.f64(r.data, r.pos)[0]
            r.pos += 8 + 43 * 8  # score, then the pose and its covariance: not used
        r.align(8)
        r.need(40)
        cx, cy, _, w, h = r.bbox(r.data, r.pos)
        r.pos += 40
        boxes[i] = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        ids[i] = r.string()
    return DetectionArrayData(header, boxes, scores, class_names, ids)
