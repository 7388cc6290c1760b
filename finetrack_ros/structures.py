"""Plain data passed between the detector, the Re-ID network and the tracker.

Boxes are in pixels of the original image, ``xyxy`` = (x1, y1, x2, y2), float32.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Detections:
    """Detections of one frame.

    Attributes:
        boxes_xyxy: (N, 4) float32, pixels of the input image.
        scores: (N,) float32 in [0, 1].
        class_ids: (N,) int64 class indices (0-based, into the detector's class list).
    """

    boxes_xyxy: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    class_ids: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))

    def __post_init__(self) -> None:
        self.boxes_xyxy = np.asarray(self.boxes_xyxy, np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, np.float32).reshape(-1)
        self.class_ids = np.asarray(self.class_ids, np.int64).reshape(-1)
        n = len(self.boxes_xyxy)
        if len(self.scores) != n or len(self.class_ids) != n:
            raise ValueError(
                f"Detections: {n} boxes but {len(self.scores)} scores and "
                f"{len(self.class_ids)} class ids"
            )

    def __len__(self) -> int:
        return len(self.boxes_xyxy)

    def select(self, keep: np.ndarray) -> "Detections":
        """Subset by boolean mask or index array."""
        return Detections(self.boxes_xyxy[keep], self.scores[keep], self.class_ids[keep])
