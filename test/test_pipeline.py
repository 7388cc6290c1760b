"""TrackingPipeline: class filtering, and Re-ID on high-score boxes only."""
import numpy as np
import pytest

from finetrack_ros.pipeline import TrackingPipeline
from finetrack_ros.structures import Detections
from finetrack_ros.tracker import ByteTracker, TrackerConfig

FRAME = np.zeros((100, 200, 3), np.uint8)
DETS = Detections([[10, 10, 30, 60], [50, 10, 70, 60], [100, 10, 120, 60]],
                  [0.9, 0.3, 0.8], [0, 0, 1])


class RecordingExtractor:
    """A Re-ID stand-in: returns unit features and records the boxes it was asked for."""

    def __init__(self) -> None:
        self.calls: list[np.ndarray] = []

    def __call__(self, frame_bgr: np.ndarray, boxes_xyxy: np.ndarray) -> np.ndarray:
        self.calls.append(np.array(boxes_xyxy))
        features = np.zeros((len(boxes_xyxy), 4), np.float32)
        features[:, 0] = 1.0
        return features


def test_reid_runs_on_high_boxes_only_and_low_rows_are_zero():
    extractor = RecordingExtractor()
    pipeline = TrackingPipeline(ByteTracker(TrackerConfig(use_appearance=True)),
                                extractor=extractor)
    result = pipeline.process(FRAME, DETS)
    np.testing.assert_array_equal(extractor.calls[0], DETS.boxes_xyxy[[0, 2]])
    assert np.linalg.norm(result.embeddings, axis=1).tolist() == pytest.approx([1, 0, 1])
    assert set(result.timings_ms) == {"detect", "reid", "track"}


def test_appearance_off_skips_reid():
    extractor = RecordingExtractor()
    pipeline = TrackingPipeline(ByteTracker(TrackerConfig(use_appearance=False)),
                                extractor=extractor)
    assert pipeline.process(FRAME, DETS).embeddings is None and not extractor.calls


def test_keep_classes_filters_before_tracking():
    pipeline = TrackingPipeline(ByteTracker(TrackerConfig()), keep_classes=[1])
    result = pipeline.process(None, DETS)
    assert result.detections.class_ids.tolist() == [1]
    assert [t.class_id for t in result.tracks] == [1]  # first frame: activated at once


def test_no_detector_and_no_detections_is_a_clear_error():
    with pytest.raises(ValueError, match="no detector"):
        TrackingPipeline(ByteTracker(TrackerConfig())).process(FRAME)


def test_a_frame_without_detections_tracks_with_part_visibility():
    """The node's defaults (Re-ID with part visibility) on an empty frame: no tracks, no error."""
    from finetrack_ros import settings

    pipeline = settings.pipeline_from_params({
        "external_detections": True, "reid.checkpoint": "random", "reid.crop_size": [64, 32],
        "tracker.use_appearance": True, "tracker.part_weighting": "visibility",
        "device": "cpu"})
    empty = Detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64))
    assert pipeline.process(FRAME, DETS).tracks
    assert pipeline.process(FRAME, empty).tracks == []


def test_the_kalman_prediction_and_the_warp_run_once_per_frame(monkeypatch):
    """Adaptive Re-ID reads the frame's one prediction (ByteTracker.predict) before update."""
    from finetrack_ros.tracker import byte_tracker

    tracker = ByteTracker(TrackerConfig(use_appearance=True, reid_skip_iou=0.5,
                                        camera_motion="sparse"))
    pipeline = TrackingPipeline(tracker, extractor=RecordingExtractor())
    predicts, warps = [], []
    predict = tracker.kalman.predict
    monkeypatch.setattr(tracker.kalman, "predict",
                        lambda *a: predicts.append(1) or predict(*a))
    warp_states = byte_tracker.warp_states
    monkeypatch.setattr(byte_tracker, "warp_states",
                        lambda *a: warps.append(1) or warp_states(*a))
    for frame in range(4):
        pipeline.process(FRAME, DETS)
        assert len(predicts) == len(warps) == frame, frame  # none on the first (no tracks)
