"""Which boxes overlap, without comparing every pair; connected groups of pairs.

Association only needs the pairs of a track's predicted box and a detection that overlap:
every IoU-based cost of :mod:`.association` is exactly 1 for the others. :func:`overlap_pairs`
finds those pairs by sweep and prune along one axis (boxes sorted by their left edge, in
groups of similar width), so its time and memory grow with the pairs that overlap along that
axis, not with tracks x detections. :func:`connected_components` groups the nodes of a
bipartite graph so that each group can be solved on its own.
"""
from __future__ import annotations

import numpy as np

# Most candidate pairs expanded at once: bounds the temporary arrays of one sweep step
# (about 100 bytes a candidate) whatever the scene; more candidates run in several steps.
CANDIDATE_CHUNK = 1 << 19
# Up to this many box pairs, every pair is tested at once (a few small arrays beat the
# sweep's bookkeeping); above it, the sweep.
SMALL_PAIRS = 1 << 15
# Extra reach of the sweep intervals, in pixels per pixel of coordinate: candidates are a
# superset of the overlapping pairs, which the exact test then selects.
_MARGIN = 1e-9


def overlap_pairs(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j) of boxes that overlap with ByteTrack's pixel-inclusive convention.

    Exactly the pairs where :func:`finetrack_ros.boxes.iou_matrix` finds an overlap:
    ``min(x2) - max(x1) + 1 > 0`` and the same for y (the same float expression). Boxes
    with a non-finite coordinate are left out (their IoU is 0 or NaN, never a match).

    Args:
        a_xyxy: (N, 4) boxes; b_xyxy: (M, 4) boxes, pixels.
    Returns:
        rows (E,) int64 into ``a`` and cols (E,) int64 into ``b``, sorted by row, then col.
    """
    a = np.asarray(a_xyxy, np.float64).reshape(-1, 4)
    b = np.asarray(b_xyxy, np.float64).reshape(-1, 4)
    ia, ib = _usable(a), _usable(b)
    if not len(ia) or not len(ib):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if len(ia) * len(ib) <= SMALL_PAIRS:
        rows, cols = np.nonzero(_overlap(a[ia][:, None, :], b[ib][None, :, :]))
        return ia[rows], ib[cols]
    # sweep along the axis where fewer pairs overlap (a row of people: along y)
    plan = _sweep_plan(a[ia], b[ib], 0)
    if plan.total > 8 * (len(ia) + len(ib)):  # many candidates: is y better?
        plan = min(plan, _sweep_plan(a[ia], b[ib], 1), key=lambda p: p.total)
    rows, cols = plan.pairs(a[ia], b[ib])
    rows, cols = ia[rows], ib[cols]
    order = np.lexsort((cols, rows))
    return rows[order], cols[order]


def _usable(boxes: np.ndarray) -> np.ndarray:
    """Return the boxes that can overlap anything: finite, ``x2 + 1 > x1``, ``y2 + 1 > y1``."""
    ok = np.isfinite(boxes).all(axis=1)
    ok &= (boxes[:, 2] + 1 > boxes[:, 0]) & (boxes[:, 3] + 1 > boxes[:, 1])
    return np.flatnonzero(ok)


class _SweepPlan:
    """Candidates of one axis: for each width group of ``b``, a run of it per box of ``a``.

    ``b`` is split into groups whose widths (``x2 + 1 - x1``) are within a factor 2 of each
    other and sorted by ``x1`` in each group; the ``b`` that can reach box ``i`` of ``a``
    then form one run, ``x1`` in ``[a.x1 - widest, a.x2 + 1]``.
    """

    def __init__(self, axis: int, groups: list) -> None:
        self.axis, self.groups = axis, groups  # [(order (K,), start (N,), stop (N,))]
        self.total = int(sum((stop - start).sum() for _, start, stop in groups))

    def pairs(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = [], []
        for order, start, stop in self.groups:
            counts = stop - start
            for lo, hi in _chunks(counts):
                r, c = _expand(order, start[lo:hi], counts[lo:hi], lo)
                keep = _overlap(a[r], b[c])
                rows.append(r[keep])
                cols.append(c[keep])
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(rows), np.concatenate(cols)


def _sweep_plan(a: np.ndarray, b: np.ndarray, axis: int) -> _SweepPlan:
    lo_a, hi_a = a[:, axis], a[:, axis + 2] + 1
    lo_b, hi_b = b[:, axis], b[:, axis + 2] + 1
    margin = _MARGIN * (1.0 + max(np.abs(a).max(), np.abs(b).max()))
    width = hi_b - lo_b
    group = np.floor(np.log2(np.maximum(width, 1.0))).astype(np.int64)
    groups = []
    for g in np.unique(group):
        members = np.flatnonzero(group == g)
        order = members[np.argsort(lo_b[members], kind="stable")]
        edges = lo_b[order]
        reach = width[members].max()
        start = np.searchsorted(edges, lo_a - reach - margin, side="left")
        stop = np.searchsorted(edges, hi_a + margin, side="right")
        groups.append((order, start, np.maximum(stop, start)))
    return _SweepPlan(axis, groups)


def _chunks(counts: np.ndarray):
    """(lo, hi) row ranges whose candidate counts sum to about CANDIDATE_CHUNK at most."""
    ends = np.cumsum(counts)
    lo = 0
    while lo < len(counts):
        base = ends[lo - 1] if lo else 0
        hi = int(np.searchsorted(ends, base + CANDIDATE_CHUNK, side="right"))
        hi = max(hi, lo + 1)  # one row alone may exceed the chunk
        yield lo, hi
        lo = hi


def _expand(order: np.ndarray, start: np.ndarray, counts: np.ndarray, first_row: int):
    """Rows and cols of every candidate: row i with ``order[start[i]:start[i] + counts[i]]``."""
    total = int(counts.sum())
    rows = np.repeat(np.arange(first_row, first_row + len(counts)), counts)
    offsets = np.cumsum(counts) - counts
    within = np.arange(total) - np.repeat(offsets, counts)
    cols = order[np.repeat(start, counts) + within]
    return rows, cols


def _overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether boxes a[..., :] and b[..., :] overlap (broadcast): ``boxes.iou_matrix``'s test."""
    iw = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + 1
    ih = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + 1
    return (iw > 0) & (ih > 0)


def pair_iou(a_xyxy: np.ndarray, b_xyxy: np.ndarray, rows: np.ndarray,
             cols: np.ndarray) -> np.ndarray:
    """IoU of the listed pairs, bit for bit ``boxes.iou_matrix(a, b)[rows, cols]``.

    Args:
        a_xyxy: (N, 4); b_xyxy: (M, 4); rows, cols: (E,) pair indices.
    Returns:
        (E,) float64 IoU in [0, 1].
    """
    a = np.asarray(a_xyxy, np.float64).reshape(-1, 4)[rows]
    b = np.asarray(b_xyxy, np.float64).reshape(-1, 4)[cols]
    area_a = (a[:, 2] - a[:, 0] + 1) * (a[:, 3] - a[:, 1] + 1)
    area_b = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)
    iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]) + 1
    ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]) + 1
    overlap = (iw > 0) & (ih > 0)
    inter = np.where(overlap, iw * ih, 0.0)
    union = area_a + area_b - inter
    return np.where(overlap, inter / np.where(overlap, union, 1.0), 0.0)


def connected_components(num_nodes: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Label of each node: the smallest node index of its connected component.

    Union by hooking roots onto smaller roots and pointer jumping, vectorised over the
    edges (a few passes, each O(edges)).

    Args:
        num_nodes: nodes 0..num_nodes-1; u, v: (E,) the two ends of each edge.
    Returns:
        (num_nodes,) int64 labels; a node without edges is its own component.
    """
    parent = np.arange(num_nodes, dtype=np.int64)
    u = np.asarray(u, np.int64)
    v = np.asarray(v, np.int64)
    while len(u):
        pu, pv = parent[u], parent[v]
        differ = pu != pv
        if not differ.any():
            break
        lo, hi = np.minimum(pu, pv)[differ], np.maximum(pu, pv)[differ]
        np.minimum.at(parent, hi, lo)  # hi is a root: hook it below (parent[x] <= x always)
        while True:  # pointer jumping: every node points at its root again
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand
        u, v = u[differ], v[differ]
    return parent
