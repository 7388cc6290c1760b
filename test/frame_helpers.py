"""Feed real (rosbags) Image + Detection2DArray messages through the node's frame path.

As the bag replay feeds them: no ROS needed. Used by the ROS-free tests of FramePath and of
the output seam.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from finetrack_ros import settings
from finetrack_ros.bag.typestore import build_typestore
from finetrack_ros.frame_path import FramePath, TrackedFrame
from finetrack_ros.messages import detection_array_msg, image_msg, make_header

STAMP_NS = 1_700_000_000 * 10**9  # a plausible wall-clock stamp


class MessageFrames:
    """A :class:`FramePath` over a pipeline built from node parameters (IoU only by default).

    Attributes:
        store: the rosbags typestore the messages are made with.
        frames: the frame path; ``pipeline`` its pipeline; ``lines`` what it reported.
    """

    def __init__(self, params: Optional[dict] = None, image_hw: tuple = (120, 160)) -> None:
        self.store = build_typestore()
        self.lines: list[str] = []
        self.pipeline = settings.pipeline_from_params({
            "device": "cpu", "external_detections": True, "reid.enabled": False,
            **(params or {})})
        self.frames = FramePath(self.pipeline, settings.frame_options(params or {}),
                                report=self.lines.append)
        self.pixels = np.zeros((*image_hw, 3), np.uint8)

    def send(self, stamp_ns: int, boxes: np.ndarray, scores: Optional[Sequence] = None,
             classes: Optional[Sequence[str]] = None, frame_id: str = "camera"
             ) -> Optional[TrackedFrame]:
        """Track one image stamped ``stamp_ns`` with these boxes (score 0.9, "person")."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        count = len(boxes)
        header = make_header(self.store, int(stamp_ns), frame_id)
        detections = detection_array_msg(
            self.store, header, boxes, list(scores) if scores is not None else [0.9] * count,
            list(classes) if classes is not None else ["person"] * count)
        return self.frames.process(image_msg(self.store, header, self.pixels), detections)
