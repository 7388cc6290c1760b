"""Helpers of the real-data tests: cutting a sequence, the identities of a ground truth.

``cut_sequence`` now lives in the library (:mod:`finetrack_ros.mot_cut`, ``finetrack cut``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from finetrack_ros.mot_cut import cut_sequence

__all__ = ["cut_sequence", "gt_identities"]


def gt_identities(seq: Path) -> set[int]:
    """Track ids of the non-ignored gt rows (2DMOT2015 flag / MOT16 conf column != 0)."""
    rows = np.loadtxt(seq / "gt" / "gt.txt", delimiter=",", ndmin=2)
    return {int(i) for i in rows[rows[:, 6] != 0, 1]}
