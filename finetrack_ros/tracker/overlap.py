"""Which boxes overlap, without comparing every pair; connected groups of pairs.

Association only needs the pairs of a track's predicted box and a detection that overlap:
every IoU-based cost of :mod:`.association` is exactly 1 for the others. :func:`overlap_pairs`
finds those pairs by sweep and prune (boxes sorted by band and left edge, in groups of
similar size), so its time and memory grow with the pairs of nearby boxes, not with tracks x
detections. :func:`connected_components` groups the nodes of a
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
# A box of ``a`` spanning more bands than this is looked up by left edge alone.
MAX_STRIPS = 16
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
    """Candidates along one axis: per group of ``b``, one run of it per query.

    ``b`` is split into groups whose widths along the axis (``x2 + 1 - x1``) are within a
    factor 2 of each other; in a group, boxes are sorted by strip (their top edge in bands
    as high as the group's highest box) and then by left edge. A box of ``a`` queries each
    band its own top edge could share with an overlapping box of the group (2 or 3 for
    boxes of similar size); the boxes found there form one run: left edge in
    ``[a.x1 - widest, a.x2 + 1]``. A box of ``a`` taller than :data:`MAX_STRIPS` bands
    queries the group by left edge alone.
    """

    def __init__(self, axis: int, runs: list) -> None:
        self.axis, self.runs = axis, runs  # [(order (K,), rows (Q,), start (Q,), stop (Q,))]
        self.total = int(sum((stop - start).sum() for _, _, start, stop in runs))

    def pairs(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = [], []
        for order, query_rows, start, stop in self.runs:
            counts = stop - start
            for lo, hi in _chunks(counts):
                r, c = _expand(order, query_rows[lo:hi], start[lo:hi], counts[lo:hi])
                keep = _overlap(a[r], b[c])
                rows.append(r[keep])
                cols.append(c[keep])
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(rows), np.concatenate(cols)


def _sweep_plan(a: np.ndarray, b: np.ndarray, axis: int) -> _SweepPlan:
    other = 1 - axis
    lo_a, hi_a = a[:, axis], a[:, axis + 2] + 1
    lo_b, hi_b = b[:, axis], b[:, axis + 2] + 1
    top_a, bottom_a = a[:, other], a[:, other + 2] + 1
    top_b, bottom_b = b[:, other], b[:, other + 2] + 1
    margin = _MARGIN * (1.0 + max(np.abs(a).max(), np.abs(b).max()))
    width = hi_b - lo_b
    group = np.floor(np.log2(np.maximum(width, 1.0))).astype(np.int64)
    base = min(lo_a.min(), lo_b.min())
    origin = min(top_a.min(), top_b.min())
    runs = []
    for g in np.unique(group):
        members = np.flatnonzero(group == g)
        reach = width[members].max()
        band = max(float((bottom_b[members] - top_b[members]).max()), 1.0)
        # strips of b, and the strips each a must look in: top_b in (top_a - band, bottom_a)
        strip_b = np.floor((top_b[members] - origin) / band)
        first = np.floor((top_a - band - margin - origin) / band)
        last = np.floor((bottom_a + margin - origin) / band)
        spans = (last - first + 1).astype(np.int64)
        tall = spans > MAX_STRIPS
        # one sorted key per (strip, left edge); SPAN keeps strips apart
        span = (max(hi_a.max(), hi_b.max()) - base) + reach + 4.0
        key = strip_b * span + (lo_b[members] - base)
        order = np.argsort(key, kind="stable")
        keys = key[order]
        key_margin = margin + 4 * np.finfo(float).eps * max(abs(keys[-1]), 1.0)
        rows = np.repeat(np.flatnonzero(~tall), spans[~tall])
        strips = first[rows] + (np.arange(len(rows))
                                - np.repeat(np.cumsum(spans[~tall]) - spans[~tall],
                                            spans[~tall]))
        start = np.searchsorted(keys, strips * span + (lo_a[rows] - reach - base) - key_margin,
                                side="left")
        stop = np.searchsorted(keys, strips * span + (hi_a[rows] - base) + key_margin,
                               side="right")
        runs.append((members[order], rows, start, np.maximum(stop, start)))
        if tall.any():  # by left edge alone
            by_lo = members[np.argsort(lo_b[members], kind="stable")]
            edges = lo_b[by_lo]
            rows = np.flatnonzero(tall)
            start = np.searchsorted(edges, lo_a[rows] - reach - margin, side="left")
            stop = np.searchsorted(edges, hi_a[rows] + margin, side="right")
            runs.append((by_lo, rows, start, np.maximum(stop, start)))
    return _SweepPlan(axis, runs)


def _chunks(counts: np.ndarray):
    """(lo, hi) query ranges whose candidate counts sum to about CANDIDATE_CHUNK at most."""
    ends = np.cumsum(counts)
    lo = 0
    while lo < len(counts):
        base = ends[lo - 1] if lo else 0
        hi = int(np.searchsorted(ends, base + CANDIDATE_CHUNK, side="right"))
        hi = max(hi, lo + 1)  # one query alone may exceed the chunk
        yield lo, hi
        lo = hi


def _expand(order: np.ndarray, rows: np.ndarray, start: np.ndarray, counts: np.ndarray):
    """Rows and cols of every candidate: rows[q] with ``order[start[q]:start[q] + counts[q]]``."""
    total = int(counts.sum())
    offsets = np.cumsum(counts) - counts
    within = np.arange(total) - np.repeat(offsets, counts)
    return np.repeat(rows, counts), order[np.repeat(start, counts) + within]


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
