"""MOTChallenge ground truth for Re-ID crops: which layout a ``gt.txt`` has, which rows stay.

Two layouts are in use (frames 1-based, boxes tlwh pixels):

* **MOT16+** (MOT16, MOT17, MOT20), 9 columns:
  ``frame, id, x, y, w, h, conf, class, visibility``; ``conf = 0`` marks rows to ignore,
  ``class`` is an integer 1..12 (1 = pedestrian), ``visibility`` a fraction in [0, 1].
* **2DMOT2015**, 10 columns: ``frame, id, x, y, w, h, flag, wx, wy, wz``; ``flag = 0`` marks
  rows to ignore, ``wx, wy, wz`` are world coordinates (or -1). There is no class and no
  visibility: every kept row is a pedestrian and visibility is not filtered.

The layout is told from the column count and, for 9 columns, from the values of columns 8
and 9 (see :func:`detect_gt_layout`); every read says which layout it assumed and why, and
how many rows each filter removed (:class:`GtReport`).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

# Column indices of a gt.txt row in the MOT16+ layout (2DMOT2015 shares the first seven).
GT_FRAME, GT_ID, GT_X, GT_Y, GT_W, GT_H, GT_CONF, GT_CLASS, GT_VIS = range(9)
PEDESTRIAN_CLASS = 1  # MOT16/17/20 class id of "pedestrian"
MAX_CLASS_ID = 12  # MOT16/17/20 classes: 1 pedestrian ... 12 occluder full
MOT16_LAYOUT = "MOT16+ (frame,id,x,y,w,h,conf,class,visibility)"
MOT15_LAYOUT = "2DMOT2015 (frame,id,x,y,w,h,flag,wx,wy,wz)"


@dataclass
class GtReport:
    """How one ``gt.txt`` was read: the layout assumed, why, and what each filter removed.

    Attributes:
        path: the file.
        layout: ``MOT16_LAYOUT`` or ``MOT15_LAYOUT``.
        reason: why that layout was assumed (column count / values).
        total: rows in the file.
        removed: (filter, rows it removed) in the order the filters ran; a row is counted by
            the first filter that removes it.
        kept: rows left for Re-ID crops.
    """

    path: str
    layout: str
    reason: str
    total: int
    removed: list[tuple[str, int]] = field(default_factory=list)
    kept: int = 0

    def summary(self) -> str:
        """One line: layout, reason, rows removed per filter, rows kept."""
        removed = ", ".join(f"{n} by {what}" for what, n in self.removed) or "none"
        return (f"{self.path}: read as {self.layout} ({self.reason}); {self.total} rows, "
                f"removed {removed}; {self.kept} kept")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "GtReport":
        values = json.loads(text)
        values["removed"] = [tuple(item) for item in values["removed"]]
        return cls(**values)


def _is_mot16_class_and_visibility(rows: np.ndarray) -> bool:
    classes, visibility = rows[:, GT_CLASS], rows[:, GT_VIS]
    is_class = (classes == np.round(classes)) & (classes >= 1) & (classes <= MAX_CLASS_ID)
    return bool(np.all(is_class) and np.all((visibility >= 0) & (visibility <= 1)))


def detect_gt_layout(rows: np.ndarray, path: Path | str = "gt.txt") -> tuple[str, str]:
    """(layout, reason) of (R, C) gt rows; ValueError when neither layout fits.

    10+ columns: 2DMOT2015. 9 columns: MOT16+ when column 8 holds class ids 1..12 and
    column 9 visibilities in [0, 1] on every row, 2DMOT2015 (cut after ``wy``) when columns
    8 and 9 are all -1. 7 or 8 columns: 2DMOT2015 without world coordinates.
    """
    ncol = rows.shape[1]
    if ncol >= 10:
        return MOT15_LAYOUT, f"{ncol} columns"
    if ncol == 9:
        if _is_mot16_class_and_visibility(rows):
            return MOT16_LAYOUT, "9 columns, column 8 class ids 1..12, column 9 in [0, 1]"
        if np.all(rows[:, GT_CLASS:GT_VIS + 1] == -1):
            return MOT15_LAYOUT, "9 columns, columns 8-9 all -1 (no class, no visibility)"
        bad = rows[~((rows[:, GT_CLASS] >= 1) & (rows[:, GT_VIS] <= 1))][:1]
        example = ",".join(f"{v:g}" for v in (bad[0] if len(bad) else rows[0]))
        raise ValueError(
            f"{path}: 9 columns, but not the MOT16+ layout (frame,id,x,y,w,h,conf,class,"
            f"visibility: class an integer 1..{MAX_CLASS_ID}, visibility in [0, 1]); e.g. row "
            f"'{example}'. 2DMOT2015 ground truth has 10 columns (frame,id,x,y,w,h,flag,wx,wy,wz)")
    if ncol >= 7:
        return MOT15_LAYOUT, f"{ncol} columns: no class or visibility columns"
    raise ValueError(f"{path}: expected >= 7 columns per row (frame,id,x,y,w,h,conf/flag,...), "
                     f"got {ncol}")


def _filters(rows: np.ndarray, layout: str, min_visibility: float,
             min_height: float) -> list[tuple[str, np.ndarray]]:
    """Return (description, (R,) bool keep mask) of each filter, in the order they apply."""
    if layout == MOT16_LAYOUT:
        return [
            ("ignore rows (conf != 1)", rows[:, GT_CONF] == 1),
            (f"class != {PEDESTRIAN_CLASS} (pedestrian)", rows[:, GT_CLASS] == PEDESTRIAN_CLASS),
            (f"visibility < data.min_visibility={min_visibility}",
             rows[:, GT_VIS] >= min_visibility),
            (f"height < data.min_height={min_height} px", rows[:, GT_H] >= min_height),
            ("width <= 1 px", rows[:, GT_W] > 1),
        ]
    return [
        ("ignore rows (flag = 0)", rows[:, GT_CONF] != 0),
        (f"height < data.min_height={min_height} px", rows[:, GT_H] >= min_height),
        ("width <= 1 px", rows[:, GT_W] > 1),
    ]


def read_reid_gt(gt_path: Path, min_visibility: float,
                 min_height: float) -> tuple[np.ndarray, GtReport]:
    """Rows of ``gt.txt`` kept for Re-ID, and how they were read.

    Returns:
        (R, 9) float64 rows in the MOT16+ column layout, sorted by (frame, id); 2DMOT2015
        rows get class 1 and visibility 1. And the :class:`GtReport`.
    """
    try:
        rows = np.loadtxt(gt_path, delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError as err:
        raise ValueError(f"{gt_path}: not a MOTChallenge gt file ({err})") from err
    if rows.size == 0:
        return np.zeros((0, 9)), GtReport(str(gt_path), "empty file", "no rows", 0)
    layout, reason = detect_gt_layout(rows, gt_path)
    report = GtReport(str(gt_path), layout, reason, len(rows))
    keep = np.ones(len(rows), bool)
    for what, mask in _filters(rows, layout, min_visibility, min_height):
        report.removed.append((what, int(np.count_nonzero(keep & ~mask))))
        keep &= mask
    rows = rows[keep]
    if layout == MOT15_LAYOUT:
        out = np.ones((len(rows), 9))
        out[:, :GT_CONF + 1] = rows[:, :GT_CONF + 1]
        rows = out
    rows = rows[:, :9]
    report.kept = len(rows)
    return rows[np.lexsort((rows[:, GT_ID], rows[:, GT_FRAME]))], report
