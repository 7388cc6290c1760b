"""Cost functions and assignment. Contract: (tracks, detections) -> (N, M) cost, lower is better.

All costs are distances in [0, 1] (the fused one can reach up to sqrt(2)); every function
is safe on empty input and returns an (N, 0) / (0, M) matrix then.

Every IoU-based cost here (``1 - IoU``, ByteTrack's ``fuse_score``, FineTrack's fused
distance) is exactly :data:`NO_OVERLAP_COST` for boxes that do not overlap. So where a
stage's threshold is below it, only overlapping pairs can match: the *sparse* forms
(:class:`SparseCost`, the overlapping pairs only; :func:`sparse_iou_distance`,
:func:`sparse_fuse_appearance`), solved per connected block by
:func:`.blocked_assignment.sparse_linear_assignment`, give the matches of the dense
``lap.lapjv`` solve with time and memory that grow with the overlapping pairs, not with
tracks x detections. Each pair's cost is the same float64 number in both forms.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import lap
import numpy as np

from finetrack_ros.boxes import iou_matrix
from finetrack_ros.tracker.overlap import overlap_pairs, pair_iou

# Cost of a pair of boxes that do not overlap, in every IoU-based cost of this module.
NO_OVERLAP_COST = 1.0
# Pairs whose feature distance is computed at once: bounds the (pairs, D) float64
# temporaries (4096 x 1792-d embeddings = 59 MB) whatever the number of pairs.
FEATURE_CHUNK = 4096


@dataclass
class SparseCost:
    """An (N, M) cost matrix given by its listed pairs; every other pair costs ``fill``.

    Attributes:
        shape: (N, M) = (tracks, detections).
        rows, cols: (E,) int64 pair indices, sorted by row, then col, no repeats.
        values: (E,) float64 cost of each pair.
        fill: the cost of every pair not listed (:data:`NO_OVERLAP_COST`).
    """

    shape: tuple
    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    fill: float = NO_OVERLAP_COST

    def dense(self) -> np.ndarray:
        """Return the (N, M) matrix (tests and small problems only)."""
        out = np.full(self.shape, self.fill)
        out[self.rows, self.cols] = self.values
        return out


def sparse_iou_distance(track_xyxy: np.ndarray, det_xyxy: np.ndarray) -> SparseCost:
    """:func:`iou_distance` of the overlapping pairs only (every other pair costs 1)."""
    rows, cols = overlap_pairs(track_xyxy, det_xyxy)
    values = 1.0 - pair_iou(track_xyxy, det_xyxy, rows, cols)
    return SparseCost((len(track_xyxy), len(det_xyxy)), rows, cols, values)


def iou_distance(track_xyxy: np.ndarray, det_xyxy: np.ndarray) -> np.ndarray:
    """``1 - IoU`` with ByteTrack's pixel-inclusive IoU. (N, 4), (M, 4) xyxy -> (N, M)."""
    return 1.0 - iou_matrix(track_xyxy, det_xyxy)


def fuse_score(cost: Union[np.ndarray, SparseCost], det_scores: np.ndarray
               ) -> Union[np.ndarray, SparseCost]:
    """ByteTrack's ``fuse_score``: ``1 - (1 - cost) * score`` per detection column.

    Args:
        cost: (N, M) IoU distance, dense or :class:`SparseCost` (its fill, 1, stays 1);
        det_scores: (M,) detection scores in [0, 1].
    """
    scores = np.asarray(det_scores, np.float64)
    if isinstance(cost, SparseCost):
        return SparseCost(cost.shape, cost.rows, cost.cols,
                          1.0 - (1.0 - cost.values) * scores[cost.cols], cost.fill)
    if cost.size == 0:
        return cost
    return 1.0 - (1.0 - cost) * scores[None, :]


def part_weighted_distance(track_features: np.ndarray, det_features: np.ndarray,
                           track_visibility: np.ndarray, det_visibility: np.ndarray
                           ) -> np.ndarray:
    """Occlusion-aware appearance distance of K pairs of embeddings (ours).

    An embedding is K part blocks and one global block (``reid.model.fuse_embedding``).
    ``d = (sum_k w_k d_k + d_g) / (sum_k w_k + 1)`` with ``d_k = 1 - cos`` of part block k,
    ``d_g`` that of the global block, and ``w_k`` the co-visibility of part k in both crops
    (product of the visibilities in [0, 1]). With every part fully visible this is the plain
    ``1 - cos`` of the whole embeddings; with none, the global feature alone.

    Args:
        track_features, det_features: (P, (K+1) E) embeddings of P pairs.
        track_visibility, det_visibility: (P, K) part visibility in [0, 1].
    Returns:
        (P,) distances in [0, 2].
    """
    pairs, parts = np.shape(track_visibility)
    if pairs == 0:
        return np.zeros(0)
    blocks_a = _unit_blocks(track_features, parts + 1)
    blocks_b = _unit_blocks(det_features, parts + 1)
    # a product and a sum along the last axis: each pair's number does not depend on the
    # other pairs of the call (einsum's buffered casting could), so dense and sparse agree
    dist = 1.0 - np.clip((blocks_a * blocks_b).sum(axis=2), -1.0, 1.0)
    weights = np.concatenate([np.asarray(track_visibility) * np.asarray(det_visibility),
                              np.ones((pairs, 1))], axis=1)  # the global block always counts
    return (weights * dist).sum(axis=1) / weights.sum(axis=1)


def _unit_blocks(features: np.ndarray, blocks: int) -> np.ndarray:
    """(P, D) → (P, blocks, D / blocks), each block of unit length (zero blocks stay zero)."""
    split = np.asarray(features, np.float64).reshape(len(features), blocks, -1)
    norm = np.linalg.norm(split, axis=2, keepdims=True)
    return split / np.where(norm > 0, norm, 1.0)


def fuse_appearance(
    iou_cost: np.ndarray,
    track_features: np.ndarray,
    det_features: np.ndarray,
    track_has_feature: Optional[np.ndarray] = None,
    det_has_feature: Optional[np.ndarray] = None,
    track_visibility: Optional[np.ndarray] = None,
    det_visibility: Optional[np.ndarray] = None,
) -> np.ndarray:
    """FineTrack's fused distance ``d = sqrt(d~_feat * d_iou)``.

    ``d_feat = 1 - cos(track_feat, det_feat)`` and ``d~_feat = 1 - (1 - d_feat) * [d_iou < 1]``:
    appearance only counts where the boxes overlap, so a pair with IoU 0 keeps cost 1.

    Args:
        iou_cost: (N, M) IoU distance of the stage (score-fused when ``fuse_score`` is on).
        track_features: (N, D) unit rows (smoothed track embeddings).
        det_features: (M, D) unit rows.
        track_has_feature: (N,) bool; rows without a feature keep their IoU cost.
        det_has_feature: (M,) bool; columns without a feature (e.g. the zero rows a Re-ID
            extractor gives for degenerate boxes) keep their IoU cost.
        track_visibility, det_visibility: (N, K), (M, K) part visibility; when both are
            given, ``d_feat`` is :func:`part_weighted_distance` instead of ``1 - cos``.
    Returns:
        (N, M) fused cost.
    """
    if iou_cost.size == 0:
        return iou_cost
    # where d_iou >= 1 the gate sets d~_feat = 1, so d = sqrt(d_iou): only overlapping pairs
    # need the embedding dot product (a few per track), which keeps this O(overlaps * D)
    fused = np.sqrt(np.maximum(iou_cost, 0.0))
    rows, cols = np.nonzero(iou_cost < 1.0)
    fused[rows, cols] = _overlap_fused(iou_cost[rows, cols], rows, cols, track_features,
                                       det_features, track_visibility, det_visibility)
    has = np.ones(iou_cost.shape, bool)
    if track_has_feature is not None:
        has &= np.asarray(track_has_feature, bool)[:, None]
    if det_has_feature is not None:
        has &= np.asarray(det_has_feature, bool)[None, :]
    return np.where(has, fused, iou_cost)


def sparse_fuse_appearance(
    cost: SparseCost,
    track_features: np.ndarray,
    det_features: np.ndarray,
    track_has_feature: Optional[np.ndarray] = None,
    det_has_feature: Optional[np.ndarray] = None,
    track_visibility: Optional[np.ndarray] = None,
    det_visibility: Optional[np.ndarray] = None,
) -> SparseCost:
    """:func:`fuse_appearance` of the listed pairs (a pair not listed keeps cost 1).

    Arguments as :func:`fuse_appearance`, with ``cost`` the stage's sparse IoU distance;
    each pair's value equals the dense function's, bit for bit.
    """
    values = cost.values
    fused = np.sqrt(np.maximum(values, 0.0))
    near = np.flatnonzero(values < 1.0)
    fused[near] = _overlap_fused(values[near], cost.rows[near], cost.cols[near],
                                 track_features, det_features, track_visibility, det_visibility)
    has = np.ones(len(values), bool)
    if track_has_feature is not None:
        has &= np.asarray(track_has_feature, bool)[cost.rows]
    if det_has_feature is not None:
        has &= np.asarray(det_has_feature, bool)[cost.cols]
    return SparseCost(cost.shape, cost.rows, cost.cols, np.where(has, fused, values), cost.fill)


def _overlap_fused(iou_cost, rows, cols, track_features, det_features, track_vis,
                   det_vis) -> np.ndarray:
    """(E,) ``sqrt(d_feat * d_iou)`` of overlapping pairs (rows[k], cols[k]).

    Each pair's number depends on that pair alone (products summed along the last axis),
    so the dense and the sparse forms give the same bits; FEATURE_CHUNK pairs at a time.
    """
    out = np.empty(len(iou_cost))
    for lo in range(0, len(iou_cost), FEATURE_CHUNK):
        r, c = rows[lo:lo + FEATURE_CHUNK], cols[lo:lo + FEATURE_CHUNK]
        if track_vis is not None and det_vis is not None:
            feat_dist = part_weighted_distance(track_features[r], det_features[c],
                                               track_vis[r], det_vis[c])
        else:
            cos = (np.asarray(track_features[r], np.float64)
                   * np.asarray(det_features[c], np.float64)).sum(axis=1)
            feat_dist = 1.0 - np.clip(cos, -1.0, 1.0)
        out[lo:lo + FEATURE_CHUNK] = np.sqrt(feat_dist * iou_cost[lo:lo + FEATURE_CHUNK])
    return out


# Cost of a pair a gate forbids: finite (lap.lapjv needs finite costs), above any threshold.
GATED_COST = 1e5


def gated_appearance_distance(
    track_features: np.ndarray,
    det_features: np.ndarray,
    track_xyxy: np.ndarray,
    det_xyxy: np.ndarray,
    max_center_dist: float,
) -> np.ndarray:
    """Appearance distance ``1 - cos`` where the detection is near the track.

    Args:
        track_features: (N, D) unit rows; det_features: (M, D) unit rows.
        track_xyxy: (N, 4) predicted track boxes; det_xyxy: (M, 4) detection boxes.
        max_center_dist: gate on the box-centre distance, in heights of the track's box.
    Returns:
        (N, M) cost, lower is better; ``GATED_COST`` outside the gate.
    """
    if len(track_features) == 0 or len(det_features) == 0:
        return np.zeros((len(track_features), len(det_features)))
    feat_dist = 1.0 - np.clip(track_features @ det_features.T, -1.0, 1.0).astype(np.float64)
    track_center = (track_xyxy[:, :2] + track_xyxy[:, 2:]) / 2.0
    det_center = (det_xyxy[:, :2] + det_xyxy[:, 2:]) / 2.0
    dist = np.linalg.norm(track_center[:, None, :] - det_center[None, :, :], axis=2)
    height = np.maximum(track_xyxy[:, 3] - track_xyxy[:, 1], 1e-6)
    return np.where(dist <= max_center_dist * height[:, None], feat_dist, GATED_COST)


def linear_assignment(
    cost: np.ndarray, thresh: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min-cost matching keeping pairs with cost <= ``thresh`` (``lap.lapjv``, as ByteTrack).

    Returns:
        matches (K, 2) int [row, col] sorted by row, unmatched rows (R,), unmatched cols (C,).
    """
    rows, cols = cost.shape
    if cost.size == 0:
        return np.zeros((0, 2), np.int64), np.arange(rows), np.arange(cols)
    _, x, y = lap.lapjv(cost, extend_cost=True, cost_limit=thresh)
    x = np.asarray(x)
    y = np.asarray(y)
    matched_rows = np.flatnonzero(x >= 0)
    matches = np.stack([matched_rows, x[matched_rows]], axis=1).astype(np.int64)
    return matches, np.flatnonzero(x < 0), np.flatnonzero(y < 0)
