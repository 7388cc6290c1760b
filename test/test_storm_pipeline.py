"""A detection storm is cut to ``max_detections`` boxes per frame (issue 22), no ROS.

The highest scores are kept, in their order; Re-ID never embeds more crops than the bound;
the cut is counted and reported at most every two seconds by the frame path every entry
point uses.
"""
from __future__ import annotations

import numpy as np
from frame_helpers import STAMP_NS, MessageFrames

from finetrack_ros import settings
from finetrack_ros.frame_path import DEFAULT_MAX_DETECTIONS, FrameOptions, FramePath
from finetrack_ros.offline import plain_header
from finetrack_ros.pipeline import TrackingPipeline, highest_scores
from finetrack_ros.structures import Detections
from finetrack_ros.tracker import ByteTracker, TrackerConfig

FRAME = np.full((480, 640, 3), 90, np.uint8)


def header_at(frame: int):
    return plain_header(STAMP_NS + frame * 100_000_000)


class CountingExtractor:
    """A Re-ID stand-in: unit features, and the number of crops asked for per call."""

    def __init__(self) -> None:
        self.crops: list[int] = []

    def __call__(self, frame, boxes):
        self.crops.append(len(boxes))
        features = np.zeros((len(boxes), 8), np.float32)
        features[:, 0] = 1.0
        return features


def storm(n: int, seed: int = 0) -> Detections:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 600, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(10, 40, (n, 2))], axis=1)
    return Detections(boxes.astype(np.float32), rng.uniform(0.0, 1.0, n).astype(np.float32),
                      np.zeros(n, np.int64))


def test_highest_scores_keeps_the_best_in_their_order():
    dets = Detections(np.arange(20, dtype=np.float32).reshape(5, 4),
                      np.array([0.3, 0.9, 0.1, 0.9, 0.5], np.float32), np.arange(5))
    kept = highest_scores(dets, 3)
    assert kept.class_ids.tolist() == [1, 3, 4]  # scores 0.9, 0.9, 0.5, input order
    assert highest_scores(dets, 2).class_ids.tolist() == [1, 3]  # ties: the earlier boxes
    assert len(highest_scores(dets, None)) == len(highest_scores(dets, 5)) == 5


def test_pipeline_tracks_and_embeds_at_most_max_detections():
    extractor = CountingExtractor()
    tracker = ByteTracker(TrackerConfig(use_appearance=True, track_thresh=0.0))
    pipeline = TrackingPipeline(tracker, extractor=extractor, max_detections=100)
    result = pipeline.process(FRAME, storm(20_000))
    assert len(result.detections) == 100 and (result.boxes_in, result.boxes_cut) == (20_000,
                                                                                     19_900)
    assert result.detections.scores.min() >= np.sort(storm(20_000).scores)[-100]
    assert max(extractor.crops) <= 100
    assert len(tracker.tracked_tracks) <= 100


def test_frame_path_counts_the_cut_and_reports_it_throttled():
    lines: list[str] = []
    pipeline = TrackingPipeline(ByteTracker(TrackerConfig()))
    frames = FramePath(pipeline, FrameOptions(max_detections=50), report=lines.append)
    for k in range(3):
        assert frames.process_arrays(header_at(k + 1), None, storm(5_000, k)) is not None
    assert (frames.boxes_cut, frames.frames_cut) == (3 * 4_950, 3)
    cut_lines = [line for line in lines if "max_detections" in line]
    assert len(cut_lines) == 1, lines  # three storms within 2 s: one line
    assert "5000 detections, tracking the 50 of highest score" in cut_lines[0]
    frames.process_arrays(header_at(4), None, storm(20, 9))  # a normal frame: no cut
    assert frames.frames_cut == 3


def test_the_bound_is_a_runtime_parameter_with_one_default():
    assert settings.defaults()["max_detections"] == DEFAULT_MAX_DETECTIONS == \
        FrameOptions().max_detections
    assert settings.frame_options({"max_detections": 7}).max_detections == 7
    spec = settings.BY_NAME["max_detections"]
    assert spec.runtime and (spec.low, spec.high) == (1, 100000)
    pipeline = TrackingPipeline(ByteTracker(TrackerConfig()))
    frames = FramePath(pipeline, settings.frame_options({}), report=lambda line: None)
    assert pipeline.max_detections == DEFAULT_MAX_DETECTIONS
    frames.set_options(settings.frame_options({"max_detections": 3}))
    assert len(frames.process_arrays(header_at(1), None, storm(10)).tracks) <= 3


def test_a_20000_box_message_through_the_frame_path_is_cut_and_the_next_frame_tracks():
    """Real (rosbags) Detection2DArray and Image messages, as the bag replay feeds them."""
    feed = MessageFrames(image_hw=(240, 320))
    frames, lines = feed.frames, feed.lines

    def send(k: int, dets: Detections):
        return feed.send(STAMP_NS + k * 100_000_000, dets.boxes_xyxy, dets.scores.tolist())

    assert send(1, storm(20_000)) is not None
    assert frames.boxes_cut == 20_000 - DEFAULT_MAX_DETECTIONS
    good = Detections(np.array([[20, 20, 60, 120], [200, 30, 240, 130]], np.float32),
                      np.array([0.9, 0.9], np.float32), np.zeros(2, np.int64))
    send(2, good)
    tracked = send(3, good)
    assert tracked is not None and len(tracked.tracks) == 2
    assert frames.bad.count == 0 and any("max_detections" in line for line in lines)
