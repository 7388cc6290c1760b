"""One tracked object: its Kalman state, life-cycle state and appearance feature."""
from __future__ import annotations

import enum
from typing import Optional

import numpy as np

from finetrack_ros.boxes import tlwh_to_xyxy, xyah_to_tlwh
from finetrack_ros.tracker.kalman import CX, V_CX, V_CY

# shape (D,) float32 unit vector, or None when appearance is off / not given
Feature = Optional[np.ndarray]


class TrackState(enum.IntEnum):
    """Life-cycle states. TENTATIVE = ByteTrack's ``New`` (created, not yet confirmed)."""

    TENTATIVE = 0
    TRACKED = 1
    LOST = 2
    REMOVED = 3


class Track:
    """A track, as ByteTrack's ``STrack`` (state on the instance, id given by the tracker).

    Attributes:
        track_id: int from 1, unique per tracker instance.
        class_id: class of the last matched detection.
        score: score of the last matched detection.
        state: :class:`TrackState`.
        is_activated: confirmed (matched on a second frame, or born on the tracker's first frame).
        mean: (8,) Kalman mean (cx, cy, a, h, vcx, vcy, va, vh); cov: (8, 8).
        feature: (D,) smoothed unit Re-ID embedding, or None.
        start_frame / frame_id: tracker frame (1-based) of creation / of the last match.
        observed_xyxy: (4,) the last detection box matched (pixels), not a prediction.
        feature_frame: tracker frame of the last newly computed embedding, or None.
        skipped_features: matches since ``feature_frame`` whose embedding adaptive Re-ID
            skipped (they reused ``feature``).
    """

    def __init__(
        self,
        track_id: int,
        mean: np.ndarray,
        cov: np.ndarray,
        score: float,
        class_id: int,
        frame_id: int,
        feature: Feature = None,
    ) -> None:
        self.track_id = track_id
        self.mean = mean
        self.cov = cov
        self.score = float(score)
        self.class_id = int(class_id)
        self.state = TrackState.TRACKED  # ByteTrack's activate() sets Tracked at once
        self.is_activated = frame_id == 1
        self.start_frame = frame_id
        self.frame_id = frame_id
        self.current_frame = frame_id  # the tracker's latest frame, for age
        self.tracklet_len = 0
        self.feature = _unit(feature) if feature is not None else None
        # tracker frame of the last newly computed embedding (adaptive Re-ID's refresh)
        self.feature_frame: Optional[int] = frame_id if feature is not None else None
        self.skipped_features = 0  # matches since then that reused the feature
        self.visibility: Optional[np.ndarray] = None  # (K,) part visibility EMA, or None
        self.observed_xyxy = tlwh_to_xyxy(xyah_to_tlwh(np.asarray(mean[:4])[None]))[0]

    # --- boxes from the Kalman mean ---
    @property
    def tlwh(self) -> np.ndarray:
        """(4,) float64 (x, y, w, h) from the filter mean."""
        return xyah_to_tlwh(self.mean[:4])

    @property
    def xyxy(self) -> np.ndarray:
        """(4,) float64 (x1, y1, x2, y2) from the filter mean."""
        return tlwh_to_xyxy(self.tlwh)

    @property
    def velocity_xy(self) -> np.ndarray:
        """(2,) box-center velocity, pixels per frame."""
        return self.mean[[V_CX, V_CY]].copy()

    @property
    def center_xy(self) -> np.ndarray:
        return self.mean[CX:CX + 2].copy()

    @property
    def age(self) -> int:
        """Frames since the track started."""
        return self.current_frame - self.start_frame

    @property
    def frames_since_update(self) -> int:
        return self.current_frame - self.frame_id

    @property
    def end_frame(self) -> int:
        return self.frame_id

    # --- life cycle (ByteTrack's STrack.update / re_activate / mark_*) ---
    def apply_match(self, score: float, class_id: int, frame_id: int, reactivate: bool,
                    observed_xyxy: np.ndarray) -> None:
        """Do the bookkeeping after the Kalman update with a matched detection.

        Features: see :func:`update_features`.
        """
        self.tracklet_len = 0 if reactivate else self.tracklet_len + 1
        self.state = TrackState.TRACKED
        self.is_activated = True
        self.frame_id = frame_id
        self.score = float(score)
        self.class_id = int(class_id)
        self.observed_xyxy = np.asarray(observed_xyxy, np.float64)

    def mark_lost(self) -> None:
        self.state = TrackState.LOST

    def mark_removed(self) -> None:
        self.state = TrackState.REMOVED

    def __repr__(self) -> str:
        x1, y1, x2, y2 = self.xyxy
        return (f"Track(id={self.track_id}, {self.state.name}, "
                f"xyxy=({x1:.1f}, {y1:.1f}, {x2:.1f}, {y2:.1f}), score={self.score:.2f})")


def update_visibility(tracks: list[Track], visibility: np.ndarray, momentum) -> None:
    """Update the EMA of part visibility (N, K) in [0, 1], like the features.

    A part seen rarely keeps a low weight. A track without visibility takes the new one.
    ``momentum``: a float, or (N, 1) per track.
    """
    per_track = np.ravel(momentum) if np.ndim(momentum) else None
    for i, (track, row) in enumerate(zip(tracks, np.asarray(visibility, np.float32))):
        weight = float(per_track[i]) if per_track is not None else momentum
        old = track.visibility if track.visibility is not None else row
        track.visibility = weight * old + (1.0 - weight) * row


def update_features(tracks: list[Track], features: np.ndarray, momentum: float) -> None:
    """EMA of unit embeddings, batched: ``f = normalize(momentum * f + (1 - momentum) * new)``.

    Args:
        tracks: N tracks; a track without a feature takes the new one.
        features: (N, D) new embeddings (normalised here).
        momentum: weight of the old feature in [0, 1], or (N, 1) per track.
    """
    if not tracks:
        return
    new = _unit_rows(features)
    old = np.array([t.feature if t.feature is not None else row for t, row in zip(tracks, new)])
    smoothed = _unit_rows(momentum * old + (1.0 - momentum) * new)
    for track, row in zip(tracks, smoothed):
        track.feature = row


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    m = np.asarray(matrix, np.float32)
    norm = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norm > 0, norm, 1.0)


def _unit(vector: np.ndarray) -> np.ndarray:
    v = np.asarray(vector, np.float32).reshape(-1)
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v
