"""Occlusion-aware part matching (issue 14 §1).

Part visibility from known masks and boxes in front, the co-visibility weighted distance,
and its use in the tracker.
"""
from __future__ import annotations

import numpy as np
import pytest

from finetrack_ros.reid.visibility import occlusion_maps, part_visibility
from finetrack_ros.tracker import ByteTracker, TrackerConfig, TrackerInput
from finetrack_ros.tracker.association import fuse_appearance, part_weighted_distance

BEHIND = np.array([100.0, 100.0, 140.0, 200.0])  # bottom edge y = 200
IN_FRONT = np.array([100.0, 150.0, 140.0, 260.0])  # lower in the image: nearer the camera


def test_occlusion_maps_cover_what_is_in_front():
    maps = occlusion_maps(np.array([BEHIND, IN_FRONT]), np.array([BEHIND, IN_FRONT]), (8, 4))
    assert maps[0, :4].sum() == 0 and maps[0, 4:].all()  # lower half of the one behind
    assert maps[1].sum() == 0  # nothing is in front of the front person
    far_away = occlusion_maps(BEHIND[None], np.array([[300.0, 100, 340, 300]]), (8, 4))
    assert far_away.sum() == 0


def test_part_visibility_from_known_masks():
    masks = np.zeros((1, 2, 8, 4), np.float32)
    masks[0, 0, :4] = 1.0  # part 0: the upper body
    masks[0, 1, 4:] = 1.0  # part 1: the legs
    alone = part_visibility(masks, BEHIND[None], np.zeros((0, 4)))
    np.testing.assert_allclose(alone, [[1.0, 1.0]])  # nothing in front: all of each part
    hidden_legs = part_visibility(masks, BEHIND[None], IN_FRONT[None])
    np.testing.assert_allclose(hidden_legs, [[1.0, 0.0]])
    masks[0, 1, 2:4] = 0.5  # a soft legs mask reaching up: mass 16 hidden + 4 visible
    np.testing.assert_allclose(part_visibility(masks, BEHIND[None], IN_FRONT[None]),
                               [[1.0, 4.0 / 20.0]], rtol=1e-6)
    with pytest.raises(ValueError, match="masks must be"):
        part_visibility(masks[0], BEHIND[None], IN_FRONT[None])


def embedding(blocks: list[list[float]]) -> np.ndarray:
    """Build a (K+1) E embedding from K+1 blocks, as fuse_embedding builds it."""
    rows = np.array(blocks, np.float64)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    flat = rows.reshape(-1)
    return flat / np.linalg.norm(flat)


SHIRT, LEGS_A, LEGS_B, WHOLE = [1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]


def test_weighted_distance_reduces_to_the_paper_and_to_the_global_block():
    track = embedding([SHIRT, LEGS_A, WHOLE])[None]
    det = embedding([SHIRT, LEGS_B, WHOLE])[None]
    plain = 1.0 - (track @ det.T).item()
    full = part_weighted_distance(track, det, np.ones((1, 2)), np.ones((1, 2)))
    assert full[0] == pytest.approx(plain)  # every part visible: 1 - cos of the whole
    assert full[0] == pytest.approx(1.0 / 3.0)  # the legs differ: one block of three
    legs_hidden = part_weighted_distance(track, det, np.ones((1, 2)), np.array([[1.0, 0.0]]))
    assert legs_hidden[0] == pytest.approx(0.0)  # only what both crops show counts
    nothing = part_weighted_distance(track, det, np.zeros((1, 2)), np.zeros((1, 2)))
    assert nothing[0] == pytest.approx(0.0)  # the global block alone (equal here)
    half = part_weighted_distance(track, det, np.ones((1, 2)), np.array([[1.0, 0.5]]))
    assert half[0] == pytest.approx(0.5 / 2.5)


def test_fuse_appearance_uses_visibility_when_both_sides_have_it():
    track = embedding([SHIRT, LEGS_A, WHOLE])[None]
    det = embedding([SHIRT, LEGS_B, WHOLE])[None]
    iou_cost = np.array([[0.36]])
    plain = fuse_appearance(iou_cost, track, det)
    assert plain[0, 0] == pytest.approx(np.sqrt(0.36 / 3.0))
    weighted = fuse_appearance(iou_cost, track, det, None, None, np.ones((1, 2)),
                               np.array([[1.0, 0.0]]))
    assert weighted[0, 0] == pytest.approx(0.0)


def test_tracker_keeps_an_occluded_person_whose_visible_parts_match():
    """Frame 2: the person's legs are hidden and their (occluder-coloured) leg feature differs.

    With visibility weighting the match cost is far lower than without.
    """
    costs = {}
    for mode in ("none", "visibility"):
        tracker = ByteTracker(TrackerConfig(use_appearance=True, part_weighting=mode))
        box = BEHIND[None]
        tracker.update(TrackerInput(box, [0.9], [0], embedding([SHIRT, LEGS_A, WHOLE])[None],
                       visibility=np.array([[1.0, 1.0]])))
        tracker.update(TrackerInput(box, [0.9], [0], embedding([SHIRT, LEGS_A, WHOLE])[None],
                       visibility=np.array([[1.0, 1.0]])))
        from finetrack_ros.tracker.inputs import Dets

        dets = Dets(box + [0, 12, 0, 12], np.array([0.9]), np.array([0]),
                     embedding([SHIRT, LEGS_B, WHOLE])[None].astype(np.float32),
                     np.array([True]), np.array([[1.0, 0.0]]))
        costs[mode] = tracker._cost(tracker.tracked_tracks, dets, False, "first")[0, 0]
    # d = sqrt(d_feat * d_iou): the visible parts agree, so only the plain cost is high
    assert costs["visibility"] < 0.05 and costs["none"] > 0.2


def test_extractor_gives_the_same_features_and_visibility_in_range():
    import torch

    from finetrack_ros.pipeline import TrackingPipeline
    from finetrack_ros.reid import FeatureExtractor, FineTrackReID, ReIDConfig
    from finetrack_ros.structures import Detections

    torch.manual_seed(0)
    extractor = FeatureExtractor(FineTrackReID(ReIDConfig.preset("small", crop_size=(64, 32))))
    frame = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    boxes = np.array([BEHIND, IN_FRONT, [np.nan, 10.0, 11.0, 11.0]])  # the last: skipped
    features, visibility = extractor.with_visibility(frame, boxes, boxes)
    np.testing.assert_allclose(features, extractor(frame, boxes), atol=1e-5)
    parts = extractor.config.num_parts
    assert visibility.shape == (3, parts) and not visibility[2].any()
    np.testing.assert_allclose(visibility[1], 1.0, atol=1e-6)  # nothing in front of it
    assert (visibility >= 0).all() and (visibility <= 1).all()
    assert visibility[0].sum() < visibility[1].sum()  # the one behind is partly hidden

    tracker = ByteTracker(TrackerConfig(use_appearance=True, part_weighting="visibility"))
    pipeline = TrackingPipeline(tracker, extractor=extractor)
    for _ in range(2):
        result = pipeline.process(frame, Detections(boxes[:2], [0.9, 0.9], [0, 0]))
    assert len(result.tracks) == 2
    assert all(t.visibility is not None and t.visibility.shape == (parts,)
               for t in result.tracks)
