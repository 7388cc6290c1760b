"""Tracks and detections ↔ ROS messages (rclpy message classes).

The field mapping is shared with the offline bag replay (``finetrack_ros.bag``):
:func:`~finetrack_ros.bag.messages.detection2d_fields` for Detection2D and
:func:`~finetrack_ros.bag.track_messages.tracked_object_fields` for TrackedObject, so the
node and ``finetrack track --out-bag`` publish identical messages.

Boxes: tracks carry ``xyxy`` pixels; vision_msgs/BoundingBox2D carries center + size in
pixels of the input image (axis-aligned, theta = 0).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from std_msgs.msg import Header
from vision_msgs.msg import (
    BoundingBox2D,
    Detection2D,
    Detection2DArray,
    LabelInfo,
    ObjectHypothesisWithPose,
    VisionClass,
)

from finetrack_ros.bag.messages import detection2d_fields
from finetrack_ros.bag.track_messages import tracked_object_fields
from finetrack_ros.msg import TrackedObject, TrackedObjectArray
from finetrack_ros.structures import Detections

NS_PER_SEC = 1_000_000_000


def stamp_to_ns(stamp) -> int:
    """builtin_interfaces/Time → integer nanoseconds."""
    return int(stamp.sec) * NS_PER_SEC + int(stamp.nanosec)


def _bbox(fields: dict) -> BoundingBox2D:
    box = BoundingBox2D()
    box.center.position.x = fields["center_x"]
    box.center.position.y = fields["center_y"]
    box.center.theta = 0.0
    box.size_x = fields["size_x"]
    box.size_y = fields["size_y"]
    return box


def _detection2d(header: Header, fields: dict) -> Detection2D:
    result = ObjectHypothesisWithPose()
    result.hypothesis.class_id = fields["class_id"]
    result.hypothesis.score = fields["score"]
    result.pose.pose.orientation.w = 1.0
    return Detection2D(header=header, results=[result], bbox=_bbox(fields), id=fields["id"])


def tracks_to_detection_array(
    header: Header, tracks: Sequence, class_name: Callable[[int], str]
) -> Detection2DArray:
    """vision_msgs/Detection2DArray: ``id`` = str(track_id), class name, score, bbox.

    Args:
        header: the image's header (stamp and frame_id are copied).
        tracks: tracker ``Track`` objects (``track_id``, ``class_id``, ``score``, ``xyxy``).
        class_name: class index → name.
    """
    detections = [
        _detection2d(header, detection2d_fields(
            t.xyxy, class_name(int(t.class_id)), t.score, t.track_id))
        for t in tracks
    ]
    return Detection2DArray(header=header, detections=detections)


def tracks_to_tracked_objects(
    header: Header,
    tracks: Sequence,
    class_name: Callable[[int], str],
    frame_rate: float,
    with_embeddings: bool,
) -> TrackedObjectArray:
    """finetrack_ros/TrackedObjectArray of tracks.

    Args:
        frame_rate: frames per second, turns the tracker's pixels/frame velocity into the
            message's pixels/second.
        with_embeddings: fill ``embedding`` with the track's smoothed Re-ID feature.
    """
    objects = []
    for track in tracks:
        values = tracked_object_fields(track, frame_rate, with_embeddings)
        box = detection2d_fields(track.xyxy, "", track.score, None)
        obj = TrackedObject(
            track_id=values["track_id"], class_id=class_name(int(track.class_id)),
            score=values["score"], bbox=_bbox(box), velocity_x=values["velocity_x"],
            velocity_y=values["velocity_y"], state=values["state"], age=values["age"],
            frames_since_update=values["frames_since_update"],
        )
        obj.embedding = values["embedding"].astype(np.float32).tolist()
        objects.append(obj)
    return TrackedObjectArray(header=header, objects=objects)


class ClassTable:
    """Class names ↔ class indices for detections from an external detector.

    Known names map to their index in ``names``; a purely numeric class_id ("3") is taken
    as that index (detectors that publish COCO ids); any other unseen name gets the next
    free index and is remembered, so it is published back with its own name.
    """

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self._index = {name: i for i, name in enumerate(self.names)}

    def index(self, name: str) -> int:
        if name in self._index:
            return self._index[name]
        if name.strip().isdigit():
            return int(name)
        self._index[name] = len(self.names)
        self.names.append(name)
        return self._index[name]

    def name(self, index: int) -> str:
        return self.names[index] if 0 <= index < len(self.names) else str(index)


def detection_array_to_detections(
    msg: Detection2DArray, classes: ClassTable, default_score: float = 1.0
) -> Detections:
    """vision_msgs/Detection2DArray → Detections (xyxy pixels).

    Uses each detection's first (best) hypothesis; a detection without results gets
    ``default_score`` and class index 0.
    """
    n = len(msg.detections)
    boxes = np.zeros((n, 4), np.float32)
    scores = np.full(n, default_score, np.float32)
    class_ids = np.zeros(n, np.int64)
    for i, det in enumerate(msg.detections):
        cx, cy = det.bbox.center.position.x, det.bbox.center.position.y
        half_w, half_h = det.bbox.size_x / 2.0, det.bbox.size_y / 2.0
        boxes[i] = (cx - half_w, cy - half_h, cx + half_w, cy + half_h)
        if det.results:
            scores[i] = det.results[0].hypothesis.score
            class_ids[i] = classes.index(det.results[0].hypothesis.class_id)
    return Detections(boxes, scores, class_ids)


def label_info(header: Header, class_names: Sequence[str], threshold: float) -> LabelInfo:
    """vision_msgs/LabelInfo: class index → name, and the score threshold applied."""
    class_map = [VisionClass(class_id=i, class_name=name) for i, name in enumerate(class_names)]
    return LabelInfo(header=header, class_map=class_map, threshold=float(threshold))


def empty_header(frame_id: str = "", stamp=None) -> Header:
    """A std_msgs/Header with ``frame_id`` and an optional builtin_interfaces/Time."""
    header = Header(frame_id=frame_id)
    if stamp is not None:
        header.stamp = stamp
    return header

