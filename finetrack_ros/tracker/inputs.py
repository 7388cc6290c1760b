"""What the tracker takes each frame (:class:`TrackerInput`) and lends back (:class:`FeatureReuse`).

One frame is three calls: ``ByteTracker.predict(camera_warp)`` moves every track to where
it should be now, ``reusable_features(boxes, scores)`` says which boxes may skip the Re-ID
network, and ``update(TrackerInput(...))`` associates the detections.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass
class TrackerInput:
    """The detections of one frame, in pixels of the original image.

    Attributes:
        boxes_xyxy: (N, 4) detection boxes.
        scores: (N,) detection scores in [0, 1].
        class_ids: (N,) int class indices, or None (all 0).
        embeddings: (N, D) unit Re-ID features, or None (IoU only); an all-zero row means
            "no feature" for that box (it is then matched by IoU only).
        visibility: (N, K) visibility of each Re-ID part in [0, 1]
            (``FeatureExtractor.with_visibility``), used when ``part_weighting`` is
            ``visibility``; None: every part counts fully.
        reused: (N,) bool, rows of ``embeddings`` that are a track's own feature (adaptive
            Re-ID, ``ByteTracker.reusable_features``): they match as usual but never update
            a track's feature or visibility, and count as no feature outside the first
            association. None: every row is newly computed.
    """

    boxes_xyxy: np.ndarray
    scores: np.ndarray
    class_ids: Optional[np.ndarray] = None
    embeddings: Optional[np.ndarray] = None
    visibility: Optional[np.ndarray] = None
    reused: Optional[np.ndarray] = None

    def checked(self) -> "Dets":
        """Return the tracker's float64 view; ValueError naming a field whose shape is wrong."""
        boxes = np.asarray(self.boxes_xyxy, np.float64)
        if boxes.size == 0:
            boxes = boxes.reshape(0, 4)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"ByteTracker.update: boxes_xyxy must be (N, 4), got {boxes.shape}")
        n = len(boxes)
        scores = np.asarray(self.scores, np.float64).reshape(-1)
        if len(scores) != n:
            raise ValueError(f"ByteTracker.update: {n} boxes but {len(scores)} scores")
        class_ids = (np.zeros(n, np.int64) if self.class_ids is None
                     else np.asarray(self.class_ids, np.int64).reshape(-1))
        if len(class_ids) != n:
            raise ValueError(f"ByteTracker.update: {n} boxes but {len(class_ids)} class_ids")
        dets = Dets(boxes, scores, class_ids, None)
        if self.embeddings is None:
            return dets
        dets.features = np.asarray(self.embeddings, np.float32)
        if dets.features.ndim != 2 or len(dets.features) != n:
            raise ValueError(f"ByteTracker.update: embeddings must be ({n}, D), got "
                             f"{dets.features.shape}")
        dets.has_feature = np.linalg.norm(dets.features, axis=1) > 0
        if self.visibility is not None:
            visibility = np.asarray(self.visibility, np.float64)  # (N, K), also for N = 0
            dets.visibility = visibility.reshape(n, visibility.shape[-1])
        if self.reused is not None:
            dets.reused = np.asarray(self.reused, bool).reshape(n)
        return dets


@dataclass
class Dets:
    """Detections of one frame as the tracker sees them (float64 xyxy, pixels)."""

    xyxy: np.ndarray  # (K, 4)
    scores: np.ndarray  # (K,)
    class_ids: np.ndarray  # (K,) int64
    features: Optional[np.ndarray]  # (K, D) unit rows or None
    has_feature: Optional[np.ndarray] = None  # (K,) bool: False for all-zero feature rows
    visibility: Optional[np.ndarray] = None  # (K, parts) part visibility in [0, 1], or None
    # (K,) bool: the feature is a track's own, reused by adaptive Re-ID (not new evidence)
    reused: Optional[np.ndarray] = None

    def subset(self, index: np.ndarray) -> "Dets":
        optional = (None if a is None else a[index]
                    for a in (self.features, self.has_feature, self.visibility, self.reused))
        return Dets(self.xyxy[index], self.scores[index], self.class_ids[index], *optional)

    def fresh_features(self) -> Optional[np.ndarray]:
        """Return the (K,) bool mask of rows with a newly computed (not reused) feature, or None."""
        if self.has_feature is None:
            return None
        return self.has_feature if self.reused is None else self.has_feature & ~self.reused

    def without_reused(self) -> "Dets":
        """Return these detections with reused features treated as no feature."""
        if self.reused is None or not self.reused.any():
            return self
        return Dets(self.xyxy, self.scores, self.class_ids, self.features,
                    self.fresh_features(), self.visibility, self.reused)

    def __len__(self) -> int:
        return len(self.scores)


@dataclass
class FeatureReuse:
    """Detections whose Re-ID can be skipped (:meth:`ByteTracker.reusable_features`).

    Attributes:
        rows: (S,) int indices of the detections whose embedding need not be computed.
        track_ids: (S,) int id of the track whose feature each one reuses.
        features: (S, D) float32 the tracks' smoothed unit features.
        visibility: (S, K) the tracks' part visibility (``part_weighting: visibility``), or
            None.
    """

    rows: np.ndarray
    track_ids: np.ndarray
    features: Optional[np.ndarray] = None
    visibility: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.rows)
