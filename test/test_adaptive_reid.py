"""Adaptive Re-ID (issue 15): skip the embedding of boxes whose match is unambiguous."""
from __future__ import annotations

import numpy as np
import pytest

from finetrack_ros.pipeline import TrackingPipeline
from finetrack_ros.structures import Detections
from finetrack_ros.tracker import ByteTracker, TrackerConfig, TrackerInput

HEIGHT, WIDTH = 480, 640
COLOURS = ((200, 40, 40), (40, 200, 40), (40, 40, 200))
SKIP = {"use_appearance": True, "reid_skip_iou": 0.5, "reid_refresh_frames": 5}


class ColourExtractor:
    """A Re-ID stand-in: the unit mean colour of each crop; records every box it embeds."""

    parts = 2

    def __init__(self) -> None:
        self.calls: list[np.ndarray] = []

    def __call__(self, frame_bgr: np.ndarray, boxes_xyxy: np.ndarray) -> np.ndarray:
        boxes = np.asarray(boxes_xyxy, np.float32).reshape(-1, 4)
        self.calls.append(boxes.copy())
        features = np.zeros((len(boxes), 3), np.float32)
        for row, (x1, y1, x2, y2) in enumerate(boxes.astype(int)):
            crop = frame_bgr[max(y1, 0):max(y2, 1), max(x1, 0):max(x2, 1)]
            features[row] = crop.reshape(-1, 3).mean(axis=0) + 1.0
        return features / np.linalg.norm(features, axis=1, keepdims=True)

    def with_visibility(self, frame_bgr, boxes_xyxy, occluders_xyxy):
        features = self(frame_bgr, boxes_xyxy)
        return features, np.full((len(features), self.parts), 0.75, np.float32)

    @property
    def boxes_embedded(self) -> int:
        return sum(len(c) for c in self.calls)


def walk(starts, velocities, frames: int, size=(40, 100)):
    """Frames and detections of people walking at constant velocity, one colour each."""
    scene = []
    for k in range(frames):
        frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
        boxes = []
        for person, ((x, y), (vx, vy)) in enumerate(zip(starts, velocities)):
            x1, y1 = x + vx * k, y + vy * k
            boxes.append([x1, y1, x1 + size[0], y1 + size[1]])
        for person, box in enumerate(boxes):  # later people are drawn in front
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            frame[max(y1, 0):y2, max(x1, 0):x2] = COLOURS[person]
        scene.append((frame, Detections(boxes, [0.9] * len(boxes), [0] * len(boxes))))
    return scene


def run(scene, **config):
    """Track ``scene``; return the frame results, the extractor and the pipeline.

    Each result's ``tracks`` is replaced by a snapshot: (id, box, Kalman mean, feature).
    """
    extractor = ColourExtractor()
    pipeline = TrackingPipeline(ByteTracker(TrackerConfig(**config)), extractor=extractor)
    results = []
    for frame, dets in scene:
        result = pipeline.process(frame, dets)
        result.tracks = [(t.track_id, t.xyxy.copy(), t.mean.copy(), t.cov.copy(),
                          t.feature.copy()) for t in result.tracks]
        results.append(result)
    return results, extractor, pipeline


def tracks_of(results):
    """Per frame: (id, box rounded to 1e-6 px) of every output track."""
    return [[(t[0], tuple(np.round(t[1], 6))) for t in r.tracks] for r in results]


SEPARATED = walk([(50, 40), (60, 300)], [(4, 0.5), (5, -0.5)], 40)
CROSSING = walk([(100, 150), (500, 160)], [(8, 0), (-8, 0)], 50)


def test_separated_walkers_skip_most_embeddings_with_the_same_ids():
    full, full_extractor, _ = run(SEPARATED, use_appearance=True)
    adaptive, extractor, _ = run(SEPARATED, **SKIP)
    assert tracks_of(adaptive) == tracks_of(full)
    high = sum(len(r.detections) for r in adaptive)
    skipped = sum(r.reid_skipped for r in adaptive)
    assert skipped / high > 0.7  # all but the first frame and one frame in five
    # the extractor never saw a skipped box; every other high box once
    assert extractor.boxes_embedded == high - skipped == sum(r.reid_embedded for r in adaptive)
    assert full_extractor.boxes_embedded == high
    assert all(r.reid_skipped == 0 for r in full)


def test_no_skips_while_crossing_people_overlap_and_ids_survive_the_crossing():
    full, _, _ = run(CROSSING, use_appearance=True)
    adaptive, _, _ = run(CROSSING, **SKIP)
    assert tracks_of(adaptive) == tracks_of(full)
    overlapping = 0
    for (frame, dets), result in zip(CROSSING, adaptive):
        a, b = dets.boxes_xyxy
        if min(a[2], b[2]) >= max(a[0], b[0]):  # the two boxes overlap
            overlapping += 1
            assert result.reid_skipped == 0, result.frame_index
    assert overlapping >= 5
    assert sum(r.reid_skipped for r in adaptive) > 0  # before and after the crossing
    first = {float(t[1][0]) < 300: t[0] for t in adaptive[5].tracks}
    last = {float(t[1][0]) > 300: t[0] for t in adaptive[-1].tracks}
    assert first == last  # the one from the left is still the one that went right


def test_skipped_boxes_reuse_the_track_feature_which_stays_unchanged():
    results, _, pipeline = run(SEPARATED[:8], **SKIP)
    tracker = pipeline.tracker
    frame, dets = SEPARATED[8]
    before = {t.track_id: t.feature.copy() for t in tracker.tracked_tracks}
    reuse = tracker.reusable_features(dets.boxes_xyxy, dets.scores)
    assert len(reuse) == 2
    np.testing.assert_array_equal(reuse.features, [before[i] for i in reuse.track_ids])
    result = pipeline.process(frame, dets)
    assert result.reid_skipped == 2
    np.testing.assert_array_equal(result.embeddings[reuse.rows], reuse.features)
    for track in tracker.tracked_tracks:  # no new evidence: the EMA is untouched
        np.testing.assert_array_equal(track.feature, before[track.track_id])


@pytest.mark.parametrize("refresh", [1, 3, 5])
def test_refresh_forces_an_embedding_every_n_frames(refresh):
    scene = walk([(50, 100)], [(3, 0)], 16)
    results, extractor, pipeline = run(scene, **{**SKIP, "reid_refresh_frames": refresh})
    embedded = [k + 1 for k, r in enumerate(results) if r.reid_embedded]
    assert embedded == list(range(1, 17, refresh))  # tracker frames 1, 1 + N, 1 + 2N, ...
    assert [len(c) for c in extractor.calls] == [int(r.reid_embedded) for r in results]
    assert pipeline.tracker.tracked_tracks[0].feature_frame == embedded[-1]


def test_off_is_bitwise_todays_tracker_fed_every_embedding():
    """Skipping off (or refresh 1) = the tracker given every high box's embedding."""
    for config in ({"use_appearance": True},
                   {**SKIP, "reid_refresh_frames": 1}):
        results, extractor, pipeline = run(CROSSING, **config)
        reference = ByteTracker(TrackerConfig(use_appearance=True))
        plain = ColourExtractor()
        for (frame, dets), result in zip(CROSSING, results):
            embeddings = np.zeros((len(dets), 3), np.float32)
            high = dets.scores > reference.config.track_thresh
            embeddings[high] = plain(frame, dets.boxes_xyxy[high])
            expected = reference.update(TrackerInput(dets.boxes_xyxy, dets.scores,
                                                     dets.class_ids, embeddings))
            assert [t[0] for t in result.tracks] == [t.track_id for t in expected]
            for (_, _, mean, cov, feature), want in zip(result.tracks, expected):
                assert np.array_equal(mean, want.mean) and np.array_equal(cov, want.cov)
                assert np.array_equal(feature, want.feature)
            assert result.reid_skipped == 0
        assert [c.tolist() for c in extractor.calls] == [c.tolist() for c in plain.calls]


def test_predicted_boxes_are_read_only_and_what_update_predicts():
    _, _, pipeline = run(CROSSING[:6], use_appearance=True)
    tracker = pipeline.tracker
    # a third, unconfirmed track (not predicted by update, only warped)
    tracker.update(TrackerInput([[300, 300, 340, 400]], [0.9], None, np.ones((1, 3), np.float32)))
    warp = np.array([[1.01, 0.02, 5.0], [-0.02, 1.01, -3.0]])
    tracks = tracker.tracked_tracks + tracker.lost_tracks
    means = [t.mean.copy() for t in tracks]
    tracker.predict(warp)
    predicted = tracker.predicted_boxes()
    assert all(np.array_equal(t.mean, m) for t, m in zip(tracks, means))
    assert not any(t.is_activated for t in tracker.tracked_tracks[2:])
    tracker.update(TrackerInput(np.zeros((0, 4)), np.zeros(0), None, np.zeros((0, 3))))
    np.testing.assert_allclose([t.xyxy for t in tracks], predicted, rtol=0, atol=1e-9)


def test_a_competing_box_or_track_prevents_the_skip():
    _, _, pipeline = run(SEPARATED[:6], **SKIP)
    tracker = pipeline.tracker
    frame, dets = SEPARATED[6]
    assert len(tracker.reusable_features(dets.boxes_xyxy, dets.scores)) == 2
    first = dets.boxes_xyxy[0]
    # a low box touching the first person's prediction: that person's box must be embedded
    low = np.vstack([dets.boxes_xyxy, first + [30, 0, 30, 0]])
    reuse = tracker.reusable_features(low, np.append(dets.scores, 0.3))
    assert reuse.rows.tolist() == [1]
    # below det_low_thresh the tracker ignores a box, so it competes with nothing
    reuse = tracker.reusable_features(low, np.append(dets.scores, 0.05))
    assert reuse.rows.tolist() == [0, 1]
    # a box too far from its prediction is embedded
    moved = dets.boxes_xyxy + [[25, 0, 25, 0], [0, 0, 0, 0]]
    assert tracker.reusable_features(moved, dets.scores).rows.tolist() == [1]
    # low-score boxes are never embedded, hence never skipped
    assert len(tracker.reusable_features(dets.boxes_xyxy, [0.4, 0.4])) == 0
    # off
    tracker.config = tracker.config.replace({"reid_skip_iou": 0.0})
    assert len(tracker.reusable_features(dets.boxes_xyxy, dets.scores)) == 0


def test_part_visibility_path_reuses_the_track_visibility():
    full, _, _ = run(SEPARATED, use_appearance=True, part_weighting="visibility")
    adaptive, extractor, pipeline = run(SEPARATED, **SKIP, part_weighting="visibility")
    assert tracks_of(adaptive) == tracks_of(full)
    assert sum(r.reid_skipped for r in adaptive) > 0
    assert extractor.boxes_embedded == sum(r.reid_embedded for r in adaptive)
    for track in pipeline.tracker.tracked_tracks:
        np.testing.assert_allclose(track.visibility, 0.75)


def test_config_fields_are_checked():
    assert TrackerConfig().reid_skip_iou == 0.0  # off by default in the core
    with pytest.raises(ValueError, match="reid_skip_iou"):
        TrackerConfig().replace({"reid_skip_iou": 1.5})
    with pytest.raises(ValueError, match="reid_refresh_frames"):
        TrackerConfig().replace({"reid_refresh_frames": 0})


def test_a_box_overlapped_by_a_second_track_is_embedded():
    _, _, pipeline = run(SEPARATED[:6], **SKIP)
    tracker = pipeline.tracker
    frame, dets = SEPARATED[6]
    # a passer-by next to the first person starts an (unconfirmed) track ...
    extra = dets.boxes_xyxy[0] + [30, 0, 30, 0]
    tracker.update(TrackerInput(np.vstack([dets.boxes_xyxy, extra]), [0.9, 0.9, 0.9], None,
                   np.ones((3, 3), np.float32) / np.sqrt(3)))
    assert len(tracker.tracked_tracks) == 3
    # ... and is gone: the first person's box overlaps two tracks, so it is embedded
    frame, dets = SEPARATED[7]
    assert tracker.reusable_features(dets.boxes_xyxy, dets.scores).rows.tolist() == [1]


def test_a_reused_feature_never_leaves_the_first_association():
    """A reused box that the first association refuses starts a track with no feature."""
    tracker = ByteTracker(TrackerConfig(use_appearance=True, track_thresh=0.1,
                                        appearance_stages=("unconfirmed",)))
    feature = np.array([[0.6, 0.8, 0.0]], np.float32)
    tracker.update(TrackerInput([[100, 100, 140, 200]], [0.9], None, feature))
    # IoU ~0.6 at score 0.25: first-stage cost 1 - 0.6 * 0.25 > match_thresh
    tracker.update(TrackerInput([[112, 100, 152, 200]], [0.25], None, feature, reused=[True]))
    new = [t for t in tracker.tracked_tracks if t.track_id == 2]
    assert len(new) == 1 and new[0].feature is None
    assert [t.track_id for t in tracker.lost_tracks] == [1]


def test_a_fresh_embedding_after_skipped_frames_stands_for_them_too():
    """After k reused frames the EMA weight of the old feature is momentum^(k+1)."""
    tracker = ByteTracker(TrackerConfig(use_appearance=True, feature_momentum=0.9))
    box = [[100, 100, 140, 200]]
    old = np.array([[1.0, 0.0, 0.0]], np.float32)
    new = np.array([[0.0, 1.0, 0.0]], np.float32)
    tracker.update(TrackerInput(box, [0.9], None, old))
    for _ in range(2):
        tracker.update(TrackerInput(box, [0.9], None, old, reused=[True]))
    track = tracker.tracked_tracks[0]
    assert track.skipped_features == 2 and track.feature_frame == 1
    np.testing.assert_array_equal(track.feature, old[0])
    tracker.update(TrackerInput(box, [0.9], None, new))
    weight = 0.9 ** 3
    expected = weight * old[0] + (1 - weight) * new[0]
    np.testing.assert_allclose(track.feature, expected / np.linalg.norm(expected), atol=1e-6)
    assert track.skipped_features == 0 and track.feature_frame == 4
