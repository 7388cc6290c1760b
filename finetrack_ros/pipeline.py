"""One frame in, tracks out: detector → FineTrack Re-ID → tracker.

The per-frame path (:mod:`finetrack_ros.frame_path`) of the node, the bag replay and
``finetrack track`` runs every frame through :class:`TrackingPipeline`, built by
:func:`finetrack_ros.settings.build_pipeline` (the node, from its nested parameters) or
:func:`~finetrack_ros.settings.pipeline_from_params` (flat ones, offline).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np

from finetrack_ros.camera_motion import CameraMotion
from finetrack_ros.inference.threads import CpuShare
from finetrack_ros.structures import Detections
from finetrack_ros.tracker.inputs import TrackerInput

# (frame_bgr (H, W, 3) uint8) -> Detections
DetectorFn = Callable[[np.ndarray], Detections]
# (frame_bgr (H, W, 3) uint8, boxes_xyxy (N, 4)) -> (N, D) float32 unit rows
ExtractorFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class FrameResult:
    """What the pipeline made of one frame.

    Attributes:
        frame_index: 0-based count of frames since the last reset.
        tracks: activated, tracked tracks (``finetrack_ros.tracker.Track``), ByteTrack's output.
        detections: the detections the tracker saw (after class filtering).
        embeddings: (N, D) Re-ID features of ``detections`` (zero rows for boxes at or below
            ``track_thresh``; a track's own feature for boxes whose Re-ID adaptive Re-ID
            skipped), or None when appearance is off.
        timings_ms: wall time per stage in milliseconds (``detect``, ``reid``,
            ``camera_motion``, ``track``).
        reid_skipped: high boxes whose embedding was not computed because their match was
            unambiguous (``tracker.reid_skip_iou``); ``reid_embedded``: boxes embedded.
        boxes_in: detections of the frame before ``max_detections`` (after class filtering);
            ``boxes_cut``: how many of them the bound left out (the lowest scores).
    """

    frame_index: int
    tracks: list
    detections: Detections
    embeddings: Optional[np.ndarray]
    timings_ms: dict = field(default_factory=dict)
    reid_skipped: int = 0
    reid_embedded: int = 0
    boxes_in: int = 0
    boxes_cut: int = 0


class TrackingPipeline:
    """Runs detector, Re-ID and tracker on a frame, or Re-ID and tracker on given detections.

    Args:
        tracker: a ``ByteTracker``; its config decides whether appearance is used.
        detector: callable frame → Detections; None when detections come from outside
            (a detector node, a MOT det.txt, a bag topic).
        extractor: callable (frame, boxes) → Re-ID features; None for IoU-only tracking.
        class_names: names of the detector's classes, index → name (for messages and files).
        keep_classes: class indices to track; empty keeps every class.
        max_detections: most detections tracked per frame, the highest scores (a storm of
            boxes costs Re-ID and tracker time and memory); None = no bound. May change
            between frames (``FramePath`` sets it from the ``max_detections`` parameter).
    """

    def __init__(
        self,
        tracker,
        detector: Optional[DetectorFn] = None,
        extractor: Optional[ExtractorFn] = None,
        class_names: Sequence[str] = ("person",),
        keep_classes: Sequence[int] = (),
        max_detections: Optional[int] = None,
    ) -> None:
        self.tracker = tracker
        self.detector = detector
        self.extractor = extractor
        self.class_names = list(class_names)
        self.keep_classes = np.asarray(sorted(keep_classes), np.int64)
        self.max_detections = max_detections
        self.frame_index = 0
        self.camera_motion: Optional[CameraMotion] = None  # made on first use
        # torch threads following the CPU other processes leave (num_threads: 0); None = fixed
        self.cpu_share: Optional[CpuShare] = None

    @property
    def uses_appearance(self) -> bool:
        return self.extractor is not None and bool(self.tracker.config.use_appearance)

    @property
    def needs_images(self) -> bool:
        """Whether frames must carry pixels (Re-ID or camera-motion compensation)."""
        return (self.detector is not None or self.uses_appearance
                or self.tracker.config.camera_motion != "none")

    def class_name(self, class_id: int) -> str:
        if 0 <= class_id < len(self.class_names):
            return self.class_names[class_id]
        return str(class_id)

    def reset(self) -> None:
        """Forget all tracks (a new sequence, or time jumped backwards)."""
        self.tracker.reset()
        self.frame_index = 0
        if self.camera_motion is not None:
            self.camera_motion.reset()

    def process(
        self, frame_bgr: Optional[np.ndarray], detections: Optional[Detections] = None
    ) -> FrameResult:
        """Track one frame.

        Args:
            frame_bgr: (H, W, 3) uint8 BGR image; may be None only when ``detections`` are
                given and appearance is off.
            detections: detections of this frame in image pixels; None runs the detector.
        """
        timings: dict[str, float] = {}
        if self.cpu_share is not None:
            self.cpu_share.update()
        start = time.perf_counter()
        if detections is None:
            if self.detector is None:
                raise ValueError("TrackingPipeline: no detector configured and no detections given")
            if frame_bgr is None:
                raise ValueError("TrackingPipeline: the detector needs an image, got None")
            detections = self.detector(frame_bgr)
        if len(self.keep_classes):
            detections = detections.select(np.isin(detections.class_ids, self.keep_classes))
        boxes_in = len(detections)
        detections = highest_scores(detections, self.max_detections)
        timings["detect"] = _ms_since(start)

        # the prediction first: adaptive Re-ID looks where the tracker expects each track
        warp = None
        if self.tracker.config.camera_motion != "none" and frame_bgr is not None:
            start = time.perf_counter()
            warp = self._camera_warp(frame_bgr, detections)
            timings["camera_motion"] = _ms_since(start)
        start = time.perf_counter()
        self.tracker.predict(warp)
        predict_ms = _ms_since(start)

        embeddings = visibility = reused = None
        if self.uses_appearance and frame_bgr is not None:
            start = time.perf_counter()
            embeddings, visibility, reused = self._embed_high_boxes(frame_bgr, detections)
            timings["reid"] = _ms_since(start)
        start = time.perf_counter()
        tracks = self.tracker.update(TrackerInput(
            detections.boxes_xyxy, detections.scores, detections.class_ids, embeddings,
            visibility, reused))
        timings["track"] = predict_ms + _ms_since(start)
        result = FrameResult(self.frame_index, tracks, detections, embeddings, timings,
                             boxes_in=boxes_in, boxes_cut=boxes_in - len(detections))
        if reused is not None:
            result.reid_skipped = int(reused.sum())
            result.reid_embedded = int(
                (detections.scores > self.tracker.config.track_thresh).sum()) - result.reid_skipped
        self.frame_index += 1
        return result

    def _camera_warp(self, frame_bgr: np.ndarray, detections: Detections) -> np.ndarray:
        """Estimate the image motion since the last frame; the method may change at run time."""
        method = self.tracker.config.camera_motion
        if self.camera_motion is None or self.camera_motion.method != method:
            self.camera_motion = CameraMotion(method)
        return self.camera_motion.estimate(frame_bgr, detections.boxes_xyxy)

    def _embed_high_boxes(self, frame_bgr: np.ndarray, detections: Detections):
        """Compute (N, D) Re-ID features and (N, K) part visibility of the detections.

        The features have zero rows (= "no feature") for low-score boxes; the visibility is
        computed when ``part_weighting`` is ``visibility`` (else None). The third value is
        the (N,) bool mask of rows that reuse a track's feature and visibility instead
        (adaptive Re-ID, ``ByteTracker.reusable_features``; all False when it is off).

        Only boxes above ``track_thresh`` take part in the appearance stages (stage 1, the
        unconfirmed stage, new tracks); low boxes are matched by IoU alone and their blurry,
        occluded crops would only pollute a track's feature average. Skipping them saves
        about half the Re-ID time with a detector at a low ``conf``.
        """
        high = detections.scores > self.tracker.config.track_thresh
        reuse = self.tracker.reusable_features(detections.boxes_xyxy, detections.scores)
        reused = np.zeros(len(detections), bool)
        reused[reuse.rows] = True
        fresh = high & ~reused
        boxes = detections.boxes_xyxy[fresh]
        visibility = None
        if self.tracker.config.part_weighting == "visibility":
            # every box of the frame may hide part of a person behind it
            features, fresh_vis = self.extractor.with_visibility(frame_bgr, boxes,
                                                                 detections.boxes_xyxy)
            visibility = np.zeros((len(detections), fresh_vis.shape[1]), np.float32)
            visibility[fresh] = fresh_vis
            if len(reuse):
                visibility[reuse.rows] = reuse.visibility
        else:
            features = self.extractor(frame_bgr, boxes)
        embeddings = np.zeros((len(detections), features.shape[1]), np.float32)
        embeddings[fresh] = features
        if len(reuse):
            embeddings[reuse.rows] = reuse.features
        return embeddings, visibility, reused


def highest_scores(detections: Detections, limit: Optional[int]) -> Detections:
    """Return the ``limit`` detections of highest score, in their order; all if None or fewer.

    Ties at the cut keep the earlier boxes (a stable sort), so the result is deterministic.
    """
    if limit is None or len(detections) <= limit:
        return detections
    keep = np.sort(np.argsort(-detections.scores, kind="stable")[:max(int(limit), 0)])
    return detections.select(keep)


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
