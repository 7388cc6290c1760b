"""FineTrack's fused distance d = sqrt(d~_feat * d_iou) and where the tracker uses it."""
import numpy as np
import pytest

from finetrack_ros.boxes import iou_matrix
from finetrack_ros.tracker import ByteTracker, TrackerConfig, TrackerInput
from finetrack_ros.tracker.association import fuse_appearance, linear_assignment

E1 = np.array([1.0, 0.0, 0.0, 0.0], np.float32)
E2 = np.array([0.0, 1.0, 0.0, 0.0], np.float32)


def test_fused_cost_follows_the_formula():
    iou_cost = np.array([[0.2, 0.6], [1.0, 0.5]])
    tracks = np.stack([E1, E2])
    dets = np.stack([E1, (E1 + E2) / np.sqrt(2)])
    fused = fuse_appearance(iou_cost, tracks, dets)
    d_feat = 1 - tracks @ dets.T
    expected = np.sqrt(np.where(iou_cost < 1, d_feat, 1.0) * iou_cost)
    np.testing.assert_allclose(fused, expected, atol=1e-6)
    assert fused[0, 0] == pytest.approx(0.0, abs=1e-6)  # same look, overlapping: free


def test_no_overlap_keeps_cost_one_even_for_identical_features():
    fused = fuse_appearance(np.array([[1.0]]), E1[None], E1[None])
    assert fused[0, 0] == 1.0


def test_tracks_without_feature_keep_their_iou_cost():
    iou_cost = np.array([[0.3], [0.3]])
    fused = fuse_appearance(iou_cost, np.stack([E1, np.zeros(4)]), E1[None],
                            np.array([True, False]))
    assert fused[0, 0] == pytest.approx(0.0, abs=1e-6) and fused[1, 0] == 0.3


def test_fused_values_are_exact_for_each_cosine_sign():
    """d_feat = 1 - cos over the whole range [0, 2]: orthogonal 1, opposite 2, 45 deg 0.293."""
    iou_cost = np.full((1, 3), 0.5)
    dets = np.stack([E2, -E1, (E1 + E2) / np.sqrt(2)])
    fused = fuse_appearance(iou_cost, E1[None], dets)
    expected = np.sqrt([1.0 * 0.5, 2.0 * 0.5, (1 - np.sqrt(0.5)) * 0.5])
    np.testing.assert_allclose(fused[0], expected, rtol=1e-9)  # 0.7071, 1.0, 0.3827


def test_a_track_without_feature_is_matched_on_its_iou_cost_alone():
    """A track that never had a Re-ID feature enters the fused cost with its IoU cost unchanged.

    1 - IoU * score = 1 - 19/63 * 0.9 = 0.7286 <= match_thresh 0.8 continues it. Taking the
    missing feature as a zero vector (d_feat = 1) would cost sqrt(0.7286) = 0.854 and start a
    new id.
    """
    tracker = ByteTracker(TrackerConfig(use_appearance=True, match_thresh=0.8))
    box = np.array([[100.0, 100.0, 140.0, 200.0]])
    tracker.update(TrackerInput(box, [0.9], None, np.zeros((1, 4), np.float32)))
    assert tracker.tracked_tracks[0].feature is None
    moved = box + [22, 0, 22, 0]  # 41 x 101 px boxes (pixel-inclusive), 19 px overlap
    assert 1 - iou_matrix(box, moved)[0, 0] * 0.9 == pytest.approx(1 - 19 / 63 * 0.9)
    out = tracker.update(TrackerInput(moved, [0.9], None, E1[None]))
    assert [t.track_id for t in out] == [1]
    np.testing.assert_allclose(tracker.tracked_tracks[0].feature, E1)


def test_empty_inputs():
    assert fuse_appearance(np.zeros((0, 2)), np.zeros((0, 4)), np.zeros((2, 4))).shape == (0, 2)
    matches, rows, cols = linear_assignment(np.zeros((0, 3)), 0.8)
    assert matches.shape == (0, 2) and len(rows) == 0 and list(cols) == [0, 1, 2]


def _crossing_scene(use_appearance: bool):
    """Two overlapping people swap places; only their embeddings tell who is who."""
    tracker = ByteTracker(TrackerConfig(use_appearance=use_appearance, min_box_area=0,
                                        aspect_ratio_thresh=0))
    a = np.array([100.0, 100.0, 140.0, 200.0])
    b = a + [12, 0, 12, 0]
    feats = np.stack([E1, E2])
    for _ in range(3):
        tracker.update(TrackerInput(np.stack([a, b]), np.array([0.9, 0.9]), None, feats))
    # next frame: the person looking like E1 is now at b, the one like E2 at a
    return tracker.update(TrackerInput(np.stack([a, b]), np.array([0.9, 0.9]), None, feats[::-1]))


def test_appearance_decides_between_overlapping_candidates():
    out_iou = _crossing_scene(False)
    out_app = _crossing_scene(True)
    iou_pos = {t.track_id: t.xyxy[0] for t in out_iou}
    app_pos = {t.track_id: t.xyxy[0] for t in out_app}
    assert iou_pos[1] < iou_pos[2]  # IoU alone keeps each track on its box
    assert app_pos[1] > app_pos[2]  # appearance moves track 1 (E1) to the right box


def test_track_feature_is_a_unit_ema():
    tracker = ByteTracker(TrackerConfig(use_appearance=True, feature_momentum=0.9))
    box = np.array([[100.0, 100.0, 140.0, 200.0]])
    tracker.update(TrackerInput(box, [0.9], None, E1[None] * 3))  # not unit on input
    np.testing.assert_allclose(tracker.tracked_tracks[0].feature, E1)
    tracker.update(TrackerInput(box, [0.9], None, E2[None]))
    expected = 0.9 * E1 + 0.1 * E2
    np.testing.assert_allclose(tracker.tracked_tracks[0].feature,
                               expected / np.linalg.norm(expected), rtol=1e-6)


def test_second_stage_ignores_appearance():
    """A low-score box with an opposite look still continues the track (stage 2 is IoU only).

    IoU distance 0.29 <= 0.5, while the fused distance would be sqrt(2 * 0.29) = 0.76.
    """
    tracker = ByteTracker(TrackerConfig(use_appearance=True))
    box = np.array([[100.0, 100.0, 140.0, 200.0]])
    tracker.update(TrackerInput(box, [0.9], None, E1[None]))
    out = tracker.update(TrackerInput(box + [7, 0, 7, 0], [0.3], None, -E1[None]))
    assert [t.track_id for t in out] == [1]
    assert tracker.uses_appearance_in("first") and not tracker.uses_appearance_in("second")


def test_appearance_stage_selection_is_validated():
    with pytest.raises(ValueError, match="appearance_stages"):
        TrackerConfig(appearance_stages=("second",))
    tracker = ByteTracker(TrackerConfig(use_appearance=True, appearance_stages=("unconfirmed",)))
    assert not tracker.uses_appearance_in("first") and tracker.uses_appearance_in("unconfirmed")


def test_zero_feature_rows_mean_no_feature():
    """The Re-ID extractor returns zero rows for degenerate boxes: IoU decides for those."""
    iou_cost = np.array([[0.3, 0.3]])
    fused = fuse_appearance(iou_cost, E1[None], np.stack([-E1, -E1]), None,
                            np.array([True, False]))
    # opposite looks: d_feat = 1 - cos = 2 (not clipped to 1), d = sqrt(2 * 0.3)
    assert fused[0, 0] == pytest.approx(np.sqrt(0.6), abs=1e-9) and fused[0, 1] == 0.3
    tracker = ByteTracker(TrackerConfig(use_appearance=True))
    box = np.array([[100.0, 100.0, 140.0, 200.0]])
    tracker.update(TrackerInput(box, [0.9], None, np.zeros((1, 4), np.float32)))
    assert tracker.tracked_tracks[0].feature is None
    tracker.update(TrackerInput(box, [0.9], None, E2[None]))
    np.testing.assert_allclose(tracker.tracked_tracks[0].feature, E2)
    # keeps the old feature
    tracker.update(TrackerInput(box, [0.9], None, np.zeros((1, 4), np.float32)))
    np.testing.assert_allclose(tracker.tracked_tracks[0].feature, E2)
