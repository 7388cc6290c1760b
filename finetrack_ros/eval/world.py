"""3D MOT 2015 scoring: tracks matched to ground truth by ground distance (no ROS import).

Both files are in the 2DMOT2015 layout ``frame, id, x, y, w, h, flag, wx, wy, wz``; only
``wx, wy`` (metres on the ground) are scored. A result row and a GT row can match when they
are at most ``max_distance_m`` apart (the benchmark's 1 m); py-motmetrics solves each frame
(Hungarian on the Euclidean distance, CLEAR MOT's keep-the-previous-match rule) and gives
MOTA, IDF1 and id switches. The position error of every matched pair gives the median and
90th percentile.

Ignore rows: GT rows with ``flag = 0`` are not scored, and a result that falls within
``max_distance_m`` of one of them (and of no scored person) is neither a hit nor a false
positive, as the 2D benchmark treats boxes on ignore regions. Result rows whose ``wx`` or
``wy`` is not finite have no position (their foot is not on the ground): they are left out.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from finetrack_ros.mot import CONF, FRAME, ID, read_mot_txt

WX, WY = 7, 8  # world columns of a 2DMOT2015 row
MAX_DISTANCE_M = 1.0  # the 3D MOT 2015 benchmark's match distance
# reported fields: fractions, counts, metres
WORLD_FIELDS = ("MOTA", "IDF1", "IDSW", "FP", "FN", "TP", "median_error_m", "p90_error_m")


@dataclass
class WorldPair:
    """One sequence: GT and results files, both with world columns."""

    name: str
    gt_path: Path
    results_path: Path


def evaluate_world(pairs: Sequence[WorldPair], max_distance_m: float = MAX_DISTANCE_M
                   ) -> dict[str, dict[str, float]]:
    """Score each pair; {name: {field of :data:`WORLD_FIELDS`: value}} (MOTA, IDF1 in [0, 1])."""
    import motmetrics as mm

    if not pairs:
        raise ValueError("evaluate_world: no sequences given")
    if not max_distance_m > 0:
        raise ValueError(f"evaluate_world: max_distance_m = {max_distance_m}: must be > 0")
    out = {}
    for pair in pairs:
        gt = _world_rows(pair.gt_path, "ground truth")
        res = _world_rows(pair.results_path, "results")
        acc = accumulate(gt, res, max_distance_m)
        summary = mm.metrics.create().compute(
            acc, metrics=["mota", "idf1", "num_switches", "num_false_positives", "num_misses",
                          "num_detections"], name=pair.name)
        matched = acc.mot_events
        errors = matched[matched.Type.isin(["MATCH", "SWITCH"])].D.to_numpy(np.float64)
        row = summary.iloc[0]
        out[pair.name] = {
            "MOTA": float(row.mota), "IDF1": float(row.idf1), "IDSW": float(row.num_switches),
            "FP": float(row.num_false_positives), "FN": float(row.num_misses),
            "TP": float(row.num_detections),
            "median_error_m": float(np.median(errors)) if len(errors) else float("nan"),
            "p90_error_m": float(np.percentile(errors, 90)) if len(errors) else float("nan"),
        }
    return out


def accumulate(gt: np.ndarray, res: np.ndarray, max_distance_m: float):
    """Fill a motmetrics accumulator over every frame of ``gt`` and ``res`` (rows of 10 columns)."""
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=False)
    frames = np.union1d(gt[:, FRAME], res[:, FRAME]).astype(np.int64)
    gt_by_frame, res_by_frame = _by_frame(gt), _by_frame(res)
    empty = np.zeros((0, gt.shape[1]))
    for frame in frames:
        g = gt_by_frame.get(frame, empty)
        r = res_by_frame.get(frame, empty)
        scored, ignore = g[g[:, CONF] != 0], g[g[:, CONF] == 0]
        r = r[~_on_ignore_only(scored, ignore, r, max_distance_m)]
        acc.update(scored[:, ID].astype(np.int64), r[:, ID].astype(np.int64),
                   _distances(scored, r, max_distance_m), frameid=int(frame))
    return acc


def _distances(gt: np.ndarray, res: np.ndarray, max_distance_m: float) -> np.ndarray:
    """(G, R) Euclidean ground distances; NaN (no match possible) beyond ``max_distance_m``."""
    d = np.hypot(gt[:, None, WX] - res[None, :, WX], gt[:, None, WY] - res[None, :, WY])
    d[d > max_distance_m] = np.nan
    return d


def _on_ignore_only(scored: np.ndarray, ignore: np.ndarray, res: np.ndarray,
                    max_distance_m: float) -> np.ndarray:
    """Results within reach of an ignore row and of no scored GT row (not counted)."""
    if len(ignore) == 0 or len(res) == 0:
        return np.zeros(len(res), bool)
    near_ignore = np.isfinite(_distances(ignore, res, max_distance_m)).any(axis=0)
    near_scored = np.isfinite(_distances(scored, res, max_distance_m)).any(axis=0)
    return near_ignore & ~near_scored


def _by_frame(rows: np.ndarray) -> dict[int, np.ndarray]:
    frames = rows[:, FRAME].astype(np.int64)
    return {int(f): rows[frames == f] for f in np.unique(frames)}


def _world_rows(path: Path, what: str) -> np.ndarray:
    """Rows with finite wx, wy; a file with none at all is refused (not a 3D file)."""
    rows = read_mot_txt(path)
    finite = np.isfinite(rows[:, [WX, WY]]).all(axis=1)
    if len(rows) and (not finite.any() or np.all(rows[finite][:, [WX, WY]] == -1)):
        raise ValueError(f"{path}: {what} has no world positions in columns 8-9 (wx, wy): "
                         "not in the 2DMOT2015 layout (track with --camera)")
    return rows[finite]
