"""Sparse, blocked association gives the dense ByteTrack solve's matches (issue 22).

Only overlapping pairs are costed (every IoU-based cost is exactly 1 for the others), each
connected block is solved on its own; the dense path (``lap.lapjv`` on tracks x detections,
as official ByteTrack) stays for comparison. Where duplicate boxes make the optimum
non-unique, both pick an optimum and differ only by exchanging indistinguishable boxes.
"""
from __future__ import annotations

import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from test_bytetrack_exactness import PRESETS, SEQUENCES, assert_same_tracks, read_tracks

from finetrack_ros.bench.tracker import SceneConfig, make_scene
from finetrack_ros.boxes import iou_matrix
from finetrack_ros.tracker import ByteTracker, TrackerConfig, TrackerInput, overlap
from finetrack_ros.tracker import association as assoc
from finetrack_ros.tracker import blocked_assignment as blocked
from finetrack_ros.tracker.overlap import (
    _sweep_plan,
    connected_components,
    overlap_pairs,
    pair_iou,
)


def random_scene(rng, tracks: int, dets: int, side: float, rounded: bool):
    """Track boxes, detections near them (noise 0 to 3 px) plus strangers, scores."""
    def boxes(n):
        w = rng.uniform(20, 60, n)
        x, y = rng.uniform(0, side, n), rng.uniform(0, side, n)
        b = np.stack([x, y, x + w, y + 2.5 * w], axis=1)
        return np.round(b) if rounded else b

    t = boxes(tracks)
    near = min(tracks, dets)
    d = np.concatenate([t[:near] + rng.normal(0, rng.choice([0.0, 0.5, 3.0]), (near, 4)),
                        boxes(dets - near)])
    if dets > 3 and rng.random() < 0.3:
        d[1] = d[2] = d[0]  # identical detections: the optimum is not unique
    if dets > 4 and tracks:
        d[4, 0] = t[0, 2] + 1 - 1e-9  # touching: overlaps by a hair (pixel-inclusive)
    scores = rng.uniform(0.5, 1.0, dets) if rng.random() < 0.5 else np.full(dets, 0.9)
    return t, d, scores


def overlap_mask(a, b):
    """Return the overlap test of boxes.iou_matrix, dense."""
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + 1
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + 1
    return (iw > 0) & (ih > 0)


def equivalent(dense, got, want) -> bool:
    """Return whether the matches agree, up to exchanging identical cost rows / columns."""
    if all(np.array_equal(g, w) for g, w in zip(got, want)):
        return True
    row_class = np.unique(dense, axis=0, return_inverse=True)[1].ravel()
    col_class = np.unique(dense.T, axis=0, return_inverse=True)[1].ravel()
    def classes(matches):
        return sorted(zip(row_class[matches[:, 0]], col_class[matches[:, 1]]))
    return classes(got[0]) == classes(want[0])


@pytest.fixture(params=["small", "sweep"])
def path(request, monkeypatch):
    """Run a test on both paths of overlap_pairs and sparse_linear_assignment."""
    if request.param == "sweep":
        monkeypatch.setattr(overlap, "SMALL_PAIRS", 0)
        monkeypatch.setattr(blocked, "SMALL_PROBLEM_CELLS", 0)
    return request.param


@pytest.mark.parametrize("seed", range(20))
def test_overlap_pairs_are_exactly_the_overlapping_ones(seed, path):
    rng = np.random.default_rng(seed)
    a, b, _ = random_scene(rng, int(rng.integers(0, 150)), int(rng.integers(0, 150)),
                           rng.choice([100.0, 400.0, 2000.0]), seed % 2 == 0)
    if len(a) > 3:
        a[1] = [0, 0, 1e6, 1e6]  # huge
        a[2] = [np.nan, 0, 10, 10]  # non-finite: never a match
        a[3] = [50, 50, 40, 40]  # negative size
    rows, cols = overlap_pairs(a, b)
    want_rows, want_cols = np.nonzero(overlap_mask(a, b))
    assert np.array_equal(rows, want_rows) and np.array_equal(cols, want_cols)
    assert np.array_equal(pair_iou(a, b, rows, cols), iou_matrix(a, b)[rows, cols])


def test_overlap_pairs_on_empty_input():
    rows, cols = overlap_pairs(np.zeros((0, 4)), np.ones((3, 4)))
    assert rows.shape == cols.shape == (0,)


def test_candidates_grow_with_the_boxes_not_their_product():  # (above SMALL_PAIRS)
    """20,000 boxes in a row along x: the sweep picks the other axis, ~1 candidate each."""
    n = 20_000
    x = np.arange(n) * 10.0
    boxes = np.stack([x, np.zeros(n), x + 8, np.full(n, 1000.0)], axis=1)
    plan = min((_sweep_plan(boxes, boxes, axis) for axis in (0, 1)), key=lambda p: p.total)
    assert plan.axis == 0 and plan.total <= 3 * n
    rows, cols = overlap_pairs(boxes, boxes)
    assert np.array_equal(rows, np.arange(n)) and np.array_equal(cols, np.arange(n))


def test_connected_components_label_by_smallest_node():
    # 0-5-1 chain, 2-6, node 3 and 4 alone (7 nodes)
    labels = connected_components(7, np.array([0, 1, 2]), np.array([5, 5, 6]))
    assert labels.tolist() == [0, 0, 2, 3, 4, 0, 2]


@pytest.mark.parametrize("seed", range(10))
def test_sparse_costs_equal_the_dense_ones_bit_for_bit(seed):
    rng = np.random.default_rng(100 + seed)
    t, d, scores = random_scene(rng, 40, 50, 300.0, seed % 2 == 0)
    dim, parts = 12, 2
    tf = rng.normal(size=(40, dim)).astype(np.float32)
    df = rng.normal(size=(50, dim)).astype(np.float32)
    t_has, d_has = rng.random(40) > 0.2, rng.random(50) > 0.2
    t_vis, d_vis = rng.random((40, parts)), rng.random((50, parts))
    dense = assoc.fuse_score(assoc.iou_distance(t, d), scores)
    sparse = assoc.fuse_score(assoc.sparse_iou_distance(t, d), scores)
    assert np.array_equal(sparse.dense(), dense)
    for vis in ((None, None), (t_vis, d_vis)):
        fused = assoc.fuse_appearance(dense, tf, df, t_has, d_has, *vis)
        sparse_fused = assoc.sparse_fuse_appearance(sparse, tf, df, t_has, d_has, *vis)
        assert np.array_equal(sparse_fused.dense(), fused)


def test_sparse_assignment_needs_a_threshold_below_the_unlisted_cost():
    cost = assoc.sparse_iou_distance(np.array([[0, 0, 10, 10.0]]), np.array([[0, 0, 10, 10.0]]))
    with pytest.raises(ValueError, match="use linear_assignment"):
        blocked.sparse_linear_assignment(cost, 1.0)


@pytest.mark.parametrize("seed", range(300))
def test_blocked_solve_gives_the_dense_matches(seed, path):
    rng = np.random.default_rng(seed)
    t, d, scores = random_scene(rng, int(rng.integers(0, 60)), int(rng.integers(0, 60)),
                                rng.choice([100.0, 300.0, 1000.0]), rng.random() < 0.5)
    thresh = float(rng.choice([0.5, 0.7, 0.8, 0.9, 0.99]))
    dense = assoc.fuse_score(assoc.iou_distance(t, d), scores)
    sparse = assoc.fuse_score(assoc.sparse_iou_distance(t, d), scores)
    want = assoc.linear_assignment(dense, thresh)
    got = blocked.sparse_linear_assignment(sparse, thresh)
    assert equivalent(dense, got, want), (got, want)
    distinct = len(np.unique(dense, axis=1).T) == dense.shape[1] and \
        len(np.unique(dense, axis=0)) == dense.shape[0]
    if distinct or path == "small":  # no indistinguishable boxes, or one dense solve: exact
        for g, w in zip(got, want):
            assert np.array_equal(g, w)


@pytest.mark.parametrize("seed", range(30))
def test_large_blocks_by_lapmod_give_the_dense_matches(seed, monkeypatch):
    monkeypatch.setattr(blocked, "DENSE_BLOCK_CELLS", 0)  # every block through lap.lapmod
    monkeypatch.setattr(blocked, "SMALL_PROBLEM_CELLS", 0)
    rng = np.random.default_rng(1000 + seed)
    t, d, scores = random_scene(rng, 70, 80, 250.0, False)
    d[1:3] += rng.normal(0, 1.0, (2, 4))  # no identical boxes: the optimum is unique
    dense = assoc.fuse_score(assoc.iou_distance(t, d), scores)
    want = assoc.linear_assignment(dense, 0.8)
    got = blocked.sparse_linear_assignment(assoc.fuse_score(assoc.sparse_iou_distance(t, d),
                                                          scores), 0.8)
    for g, w in zip(got, want):
        assert np.array_equal(g, w)


def _tracks_per_frame(tracker, frames, appearance: bool):
    out = []
    for boxes, scores, feats in frames:
        tracks = tracker.update(TrackerInput(boxes, scores, None, feats if appearance else None))
        out.append([(t.track_id, tuple(t.tlwh)) for t in tracks])
    out.append(sorted((t.track_id, t.state) for t in tracker.tracked_tracks
                      + tracker.lost_tracks))
    return out


@pytest.mark.parametrize("appearance", [False, True])
@pytest.mark.parametrize("objects", [30, 400])
def test_tracker_tracks_equal_dense_association(appearance, objects, path):
    frames = make_scene(objects, 40, SceneConfig(), seed=objects)
    config = TrackerConfig(use_appearance=appearance)
    sparse = _tracks_per_frame(ByteTracker(config), frames, appearance)
    dense = _tracks_per_frame(ByteTracker(config, dense_association=True), frames, appearance)
    assert sparse == dense


def test_a_threshold_of_one_or_more_falls_back_to_dense():
    """match_thresh may reach 2: then boxes that do not overlap can match, as in ByteTrack."""
    config = TrackerConfig(match_thresh=1.5, track_thresh=0.5)
    tracker = ByteTracker(config)
    tracker.update(TrackerInput(np.array([[0, 0, 10, 20.0]]), np.array([0.9])))
    tracker.update(TrackerInput(np.array([[0, 0, 10, 20.0]]), np.array([0.9])))
    tracks = tracker.update(TrackerInput(np.array([[500, 500, 510, 520.0]]), np.array([0.9])))
    assert [t.track_id for t in tracks] == [1]  # far away, no overlap, still matched


def test_a_crowd_update_stays_far_below_the_dense_memory():
    """5,000 tracks x 5,000 boxes: dense float64 costs alone would be 200 MB per matrix."""
    frames = make_scene(5000, 3, SceneConfig(width=8000.0, height=4000.0), seed=1)
    tracker = ByteTracker(TrackerConfig())
    tracker.update(TrackerInput(*frames[0][:2]))
    tracker.update(TrackerInput(*frames[1][:2]))
    tracemalloc.start()
    try:
        tracker.update(TrackerInput(*frames[2][:2]))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 60e6, f"peak {peak / 1e6:.0f} MB"


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("sequence", SEQUENCES)
def test_blocked_path_tracks_equal_official_bytetrack(shared_data, repo_root, tmp_path,
                                                      sequence, preset):
    """test_bytetrack_exactness with every frame through the sweep and the blocked solve."""
    args, reference = PRESETS[preset]
    seq, out = shared_data / sequence, tmp_path / "tracks.txt"
    code = ("import sys; from finetrack_ros.tracker import blocked_assignment, overlap; "
            "blocked_assignment.SMALL_PROBLEM_CELLS = overlap.SMALL_PAIRS = 0; "
            "from finetrack_ros.cli import main; sys.exit(main(sys.argv[1:]))")
    cmd = [sys.executable, "-c", code, "track", str(seq), "--seq-frame-rate", "--out",
           str(out), *args]
    proc = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert assert_same_tracks(read_tracks(out), read_tracks(seq / reference)) > 250
