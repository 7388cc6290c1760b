"""Min-cost matching of a sparse cost, one connected block at a time (no ROS, no torch).

The sparse form of :func:`.association.linear_assignment` (``lap.lapjv`` with
``extend_cost=True, cost_limit=thresh``, as ByteTrack): pairs above the threshold never
match, so the pairs at or below it split tracks and detections into independent blocks,
each solved as the dense solve would see it. Time and memory grow with the blocks, not with
tracks x detections.
"""
from __future__ import annotations

import lap
import numpy as np

from finetrack_ros.tracker.association import SparseCost, linear_assignment
from finetrack_ros.tracker.overlap import connected_components

# Up to this many cells (256 x 256), the sparse solve is the dense one on the same matrix:
# one lap.lapjv call beats the block bookkeeping there, and ties break exactly as ByteTrack's.
SMALL_PROBLEM_CELLS = 1 << 16
# A block with more cells than this is solved by lap.lapmod on its pairs instead of
# lap.lapjv on its dense (rows + cols)^2 extension (2 x 8 MB here).
DENSE_BLOCK_CELLS = 1 << 20


def sparse_linear_assignment(
    cost: SparseCost, thresh: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`linear_assignment` of a :class:`SparseCost`, one connected block at a time.

    Pairs above ``thresh`` never match (leaving both unmatched is cheaper), so the pairs at
    or below it split rows and columns into independent blocks. Each block is solved as the
    dense solve would see it (its listed pairs, ``fill`` elsewhere, ``lap.lapjv`` with
    ``cost_limit=thresh``; ``lap.lapmod`` on its pairs above :data:`DENSE_BLOCK_CELLS`);
    a block of one row and one column matches at once. Up to :data:`SMALL_PROBLEM_CELLS`
    cells the whole matrix is solved densely instead, as ByteTrack does.

    Args:
        cost: the stage's cost; its ``fill`` must exceed ``thresh``.
        thresh: max cost of a match.
    Returns:
        As :func:`linear_assignment`: matches (K, 2) sorted by row, unmatched rows, cols.
    Raises:
        ValueError: ``thresh >= cost.fill`` (unlisted pairs could match: use the dense solve).
    """
    n, m = cost.shape
    if not thresh < cost.fill:
        raise ValueError(f"sparse_linear_assignment: thresh {thresh} >= the cost {cost.fill} "
                         "of unlisted pairs; use linear_assignment on the dense matrix")
    if n * m <= SMALL_PROBLEM_CELLS:
        return linear_assignment(cost.dense(), thresh)
    row_match = np.full(n, -1, np.int64)
    edge = cost.values <= thresh
    if edge.any():
        label = connected_components(n + m, cost.rows[edge], cost.cols[edge] + n)
        pair_label = label[cost.rows]
        inside = pair_label == label[cost.cols + n]  # both ends in one block
        rows, cols = cost.rows[inside], cost.cols[inside]
        values, pair_label = cost.values[inside], pair_label[inside]
        order = np.argsort(pair_label, kind="stable")  # by block, row-major inside
        rows, cols, values = rows[order], cols[order], values[order]
        blocks = _Blocks(pair_label[order], rows, cols)
        for b in range(blocks.count):
            lo, hi = blocks.starts[b], blocks.starts[b + 1]
            if hi - lo == 1:  # one pair, at or below thresh: it matches
                row_match[rows[lo]] = cols[lo]
                continue
            x = _solve_block(blocks.local_rows[lo:hi], blocks.local_cols[lo:hi],
                             values[lo:hi], blocks.shape(b), thresh, cost.fill)
            hit = np.flatnonzero(x >= 0)
            row_match[blocks.rows_of(b)[hit]] = blocks.cols_of(b)[x[hit]]
    matched = np.flatnonzero(row_match >= 0)
    matches = np.stack([matched, row_match[matched]], axis=1).astype(np.int64)
    col_taken = np.zeros(m, bool)
    col_taken[row_match[matched]] = True
    return matches, np.flatnonzero(row_match < 0), np.flatnonzero(~col_taken)


class _Blocks:
    """Pairs grouped by block (sorted by block, row-major inside), with local indices.

    ``local_rows`` / ``local_cols`` number a block's distinct rows and columns from 0 in
    ascending order, so each block keeps the dense matrix's row and column order.
    """

    def __init__(self, label: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> None:
        first = np.r_[True, label[1:] != label[:-1]]
        self.starts = np.r_[np.flatnonzero(first), len(label)]
        self.count = len(self.starts) - 1
        self.local_rows, self._rows, self._row_starts = _local_index(label, rows, first)
        by_col = np.lexsort((cols, label))  # the labels stay in the same (sorted) order
        local_cols, self._cols, self._col_starts = _local_index(label, cols[by_col], first)
        self.local_cols = np.empty_like(local_cols)
        self.local_cols[by_col] = local_cols

    def shape(self, b: int) -> tuple[int, int]:
        """(rows, cols) of block b."""
        return (int(self._row_starts[b + 1] - self._row_starts[b]),
                int(self._col_starts[b + 1] - self._col_starts[b]))

    def rows_of(self, b: int) -> np.ndarray:
        """Global row of each local row of block b."""
        return self._rows[self._row_starts[b]:self._row_starts[b + 1]]

    def cols_of(self, b: int) -> np.ndarray:
        """Global column of each local column of block b."""
        return self._cols[self._col_starts[b]:self._col_starts[b + 1]]


def _local_index(label: np.ndarray, index: np.ndarray, block_first: np.ndarray):
    """Local numbers of ``index`` (sorted inside each block), distinct values, block starts."""
    new = block_first | np.r_[True, index[1:] != index[:-1]]
    distinct = np.cumsum(new) - 1  # running number of distinct (block, index) values
    starts = distinct[block_first]
    local = distinct - np.repeat(starts, np.diff(np.r_[np.flatnonzero(block_first),
                                                       len(label)]))
    return local, index[new], np.r_[starts, distinct[-1] + 1 if len(label) else 0]


def _solve_block(r, c, values, shape: tuple[int, int], thresh: float, fill: float):
    """Return the local column of each local row of one block (-1: unmatched)."""
    nr, nc = shape
    if nr * nc > DENSE_BLOCK_CELLS:
        return _lapmod_with_limit(nr, nc, r, c, values, thresh)
    block = np.full(shape, fill)
    block[r, c] = values
    _, x, _ = lap.lapjv(block, extend_cost=True, cost_limit=thresh)
    return np.asarray(x)


def _lapmod_with_limit(nr: int, nc: int, r, c, values, thresh: float) -> np.ndarray:
    """Row -> col (-1: none) of min-cost matching with ``cost_limit`` by sparse ``lap.lapmod``.

    The square problem of ``lap.lapjv``'s extension, kept sparse: real row i may also take
    its own dummy column (cost thresh / 2), real column j its own dummy row (thresh / 2), and
    dummy row j any dummy column i of a pair (i, j) (cost 0), so every matching of the
    pairs, and no other, completes to a full assignment of the same cost plus a constant.
    Pairs above thresh are left out (they never match).
    """
    keep = values <= thresh
    r, c, values = r[keep], c[keep], values[keep]
    half = thresh / 2.0
    real_rows = np.concatenate([r, np.arange(nr)])
    real_cols = np.concatenate([c, nc + np.arange(nr)])
    real_vals = np.concatenate([values, np.full(nr, half)])
    dummy_rows = nr + np.concatenate([np.arange(nc), c])
    dummy_cols = np.concatenate([np.arange(nc), nc + r])
    dummy_vals = np.concatenate([np.full(nc, half), np.zeros(len(r))])
    all_rows = np.concatenate([real_rows, dummy_rows])
    all_cols = np.concatenate([real_cols, dummy_cols])
    all_vals = np.concatenate([real_vals, dummy_vals])
    order = np.lexsort((all_cols, all_rows))
    size = nr + nc
    starts = np.searchsorted(all_rows[order], np.arange(size + 1))
    x, _ = lap.lapmod(size, all_vals[order], starts, all_cols[order], return_cost=False)
    x = np.asarray(x[:nr], np.int64)
    return np.where(x < nc, x, -1)
