"""Re-finding LOST tracks by appearance alone (``relink_thresh``, ours, off by default)."""
import numpy as np
import pytest

from finetrack_ros.tracker import ByteTracker, TrackerConfig, TrackerInput
from finetrack_ros.tracker.association import GATED_COST, gated_appearance_distance

E1 = np.array([1.0, 0.0, 0.0, 0.0], np.float32)
E2 = np.array([0.0, 1.0, 0.0, 0.0], np.float32)
BOX = np.array([100.0, 100.0, 140.0, 200.0])  # 40 x 100 px person


def _run(config: TrackerConfig, reappear_box: np.ndarray, reappear_feature: np.ndarray):
    """Track a person who walks 5 frames, is hidden 4 frames, re-appears at ``reappear_box``.

    Returns (id before the occlusion, ids after re-appearing on two frames).
    """
    tracker = ByteTracker(config)
    first_id = None
    for _ in range(5):
        tracks = tracker.update(TrackerInput(BOX[None], [0.9], None, E1[None]))
        first_id = tracks[0].track_id
    for _ in range(4):
        tracker.update(TrackerInput(np.zeros((0, 4)), [], None, np.zeros((0, 4), np.float32)))
    after = []
    for _ in range(2):
        tracks = tracker.update(TrackerInput(reappear_box[None], [0.9], None,
                                             reappear_feature[None]))
        after.append([t.track_id for t in tracks])
    return first_id, after


# 60 px to the right: no overlap with the (stationary) prediction, 0.6 heights away
FAR_BOX = BOX + np.array([60.0, 0.0, 60.0, 0.0])


def config(**values) -> TrackerConfig:
    return TrackerConfig(use_appearance=True, **values)


def test_off_by_default_a_non_overlapping_return_gets_a_new_id():
    first, after = _run(config(), FAR_BOX, E1)
    assert after[1] and after[1][0] != first


def test_on_the_same_look_within_the_gate_keeps_its_id():
    first, after = _run(config(relink_thresh=0.3), FAR_BOX, E1)
    assert after == [[first], [first]]  # re-activated at once, old id


def test_another_look_is_not_relinked():
    first, after = _run(config(relink_thresh=0.3), FAR_BOX, E2)
    assert after[1] and after[1][0] != first


def test_outside_the_centre_gate_is_not_relinked():
    first, after = _run(config(relink_thresh=0.3, relink_max_dist=0.5), FAR_BOX, E1)
    assert after[1] and after[1][0] != first


def test_needs_appearance_on():
    cfg = TrackerConfig(use_appearance=False, relink_thresh=0.3)
    first, after = _run(cfg, FAR_BOX, E1)
    assert after[1] and after[1][0] != first


def test_gated_distance_values():
    tracks = np.array([[0.0, 0.0, 10.0, 20.0]])  # height 20, centre (5, 10)
    dets = np.array([[30.0, 0.0, 40.0, 20.0], [60.0, 0.0, 70.0, 20.0]])  # 30 and 60 px away
    feats = np.stack([E1, (E1 + E2) / np.sqrt(2)]).astype(np.float32)
    cost = gated_appearance_distance(E1[None], feats, tracks, dets, max_center_dist=2.0)
    assert cost[0, 0] == pytest.approx(0.0, abs=1e-6)
    assert cost[0, 1] == GATED_COST  # 60 px > 2 heights (40 px)
    assert gated_appearance_distance(E1[None], feats[:0], tracks, dets[:0], 2.0).shape == (1, 0)
