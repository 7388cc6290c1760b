"""HOTA, CLEAR and Identity metrics with TrackEval's MotChallenge2DBox definitions.

TrackEval's own dataset class does the preprocessing (MOT17/20: keep pedestrian GT, drop
predictions matched to distractor classes, drop ``conf 0`` GT; MOT15: only drop ``conf 0``
GT), so the numbers are the MOTChallenge devkit's. Files are linked into a temporary folder
in the layout TrackEval expects; nothing is copied or patched.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from finetrack_ros.mot import CLASS, CONF, FRAME, ID, X, read_mot_lines, read_mot_txt

TRACKER_NAME = "finetrack"
COMBINED = "COMBINED"
# reported metric -> (TrackEval metric class, field); HOTA fields are averaged over alpha
FIELDS = {
    "HOTA": ("HOTA", "HOTA"), "DetA": ("HOTA", "DetA"), "AssA": ("HOTA", "AssA"),
    "LocA": ("HOTA", "LocA"), "MOTA": ("CLEAR", "MOTA"), "MOTP": ("CLEAR", "MOTP"),
    "IDF1": ("Identity", "IDF1"), "IDSW": ("CLEAR", "IDSW"), "FP": ("CLEAR", "CLR_FP"),
    "FN": ("CLEAR", "CLR_FN"), "TP": ("CLEAR", "CLR_TP"), "MT": ("CLEAR", "MT"),
    "ML": ("CLEAR", "ML"), "Frag": ("CLEAR", "Frag"), "IDP": ("Identity", "IDP"),
    "IDR": ("Identity", "IDR"),
}
MAX_CLASS_ID = 12  # MOTChallenge classes: 1 pedestrian ... 12 occluder full
# fields that are fractions (printed as percentages)
FRACTIONS = {"HOTA", "DetA", "AssA", "LocA", "MOTA", "MOTP", "IDF1", "IDP", "IDR"}


@dataclass
class SequencePair:
    """One sequence to evaluate: ground truth and results, both MOTChallenge text files.

    ``num_frames`` None takes the last frame present in either file.
    """

    name: str
    gt_path: Path
    results_path: Path
    num_frames: Optional[int] = None


def detect_benchmark(gt_path: Path) -> str:
    """Return the benchmark of the GT file ``gt_path``: 'MOT17' or 'MOT15'.

    'MOT17' when column 8 holds MOT16/17 class ids (integers 1..12) on every row, else
    'MOT15' (2DMOT2015 GT has -1 or world coordinates there).
    """
    classes = read_mot_txt(gt_path)[:, CLASS]
    is_class = (classes == np.round(classes)) & (classes >= 1) & (classes <= MAX_CLASS_ID)
    return "MOT17" if len(classes) and bool(np.all(is_class)) else "MOT15"


def evaluate_sequences(
    pairs: Sequence[SequencePair], benchmark: str = "auto"
) -> dict[str, dict[str, float]]:
    """Score result files against ground truth.

    Args:
        pairs: the sequences (names must be unique).
        benchmark: 'MOT15', 'MOT16', 'MOT17', 'MOT20' (TrackEval's preprocessing rules) or
            'auto' (from the first GT file: see :func:`detect_benchmark`).
    Returns:
        {sequence name: {metric: value}} plus ``COMBINED`` over all sequences; keys as
        :data:`FIELDS`; fractions in [0, 1], counts as floats.
    """
    import trackeval  # heavy and only needed here

    if not pairs:
        raise ValueError("evaluate_sequences: no sequences given")
    names = [p.name for p in pairs]
    if len(set(names)) != len(names):
        raise ValueError(f"evaluate_sequences: duplicate sequence names {names}")
    if benchmark == "auto":
        benchmark = detect_benchmark(Path(pairs[0].gt_path))
    metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR({"PRINT_CONFIG": False}),
               trackeval.metrics.Identity({"PRINT_CONFIG": False})]
    with tempfile.TemporaryDirectory(prefix="finetrack_eval_") as tmp:
        dataset = _make_dataset(trackeval, Path(tmp), pairs, benchmark)
        per_seq = {}
        for pair in pairs:
            raw = dataset.get_raw_seq_data(TRACKER_NAME, pair.name)
            data = dataset.get_preprocessed_seq_data(raw, "pedestrian")
            per_seq[pair.name] = {m.get_name(): m.eval_sequence(data) for m in metrics}
    combined = {m.get_name(): m.combine_sequences({s: r[m.get_name()] for s, r in per_seq.items()})
                for m in metrics}
    out = {name: _summarise(res) for name, res in per_seq.items()}
    out[COMBINED] = _summarise(combined)
    return out


def _make_dataset(trackeval, root: Path, pairs: Sequence[SequencePair], benchmark: str):
    """Link files into TrackEval's layout and build its MotChallenge2DBox dataset."""
    seq_info = {}
    for pair in pairs:
        gt_path, res_path = Path(pair.gt_path).resolve(), Path(pair.results_path).resolve()
        for what, path in (("ground truth", gt_path), ("results", res_path)):
            if not path.is_file():
                raise FileNotFoundError(f"{pair.name}: {what} file not found: {path}")
        gt_rows = check_rows(pair.gt_path, pair.num_frames)
        res_rows = check_rows(pair.results_path, pair.num_frames)
        last = max([0] + [int(r[:, FRAME].max()) for r in (gt_rows, res_rows) if len(r)])
        seq_info[pair.name] = max(pair.num_frames or 0, last, 1)
        (root / "gt" / pair.name / "gt").mkdir(parents=True)
        (root / "gt" / pair.name / "gt" / "gt.txt").symlink_to(gt_path)
        data_dir = root / "trackers" / TRACKER_NAME / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        if _has_world_columns(res_rows):  # TrackEval reads column 8 as a class id
            _write_2d_copy(res_rows, data_dir / f"{pair.name}.txt")
        else:
            (data_dir / f"{pair.name}.txt").symlink_to(res_path)
    config = trackeval.datasets.MotChallenge2DBox.get_default_dataset_config()
    config.update({
        "GT_FOLDER": str(root / "gt"), "TRACKERS_FOLDER": str(root / "trackers"),
        "TRACKERS_TO_EVAL": [TRACKER_NAME], "BENCHMARK": benchmark, "SKIP_SPLIT_FOL": True,
        "SEQ_INFO": seq_info, "PRINT_CONFIG": False,
    })
    return trackeval.datasets.MotChallenge2DBox(config)


def _has_world_columns(rows: np.ndarray) -> bool:
    """Results in the 2DMOT2015 layout with wx, wy, wz (``track --camera``)."""
    return bool(len(rows)) and not np.all(rows[:, CLASS:] == -1)


def _write_2d_copy(rows: np.ndarray, path: Path) -> None:
    """Write the 2D part of results rows (frame, id, box, score; -1 for the rest)."""
    np.savetxt(path, np.column_stack([rows[:, :CLASS], -np.ones((len(rows), 3))]),
               fmt=["%d", "%d"] + ["%.2f"] * 5 + ["%d"] * 3, delimiter=",")


def check_rows(path: Path, num_frames: Optional[int] = None) -> np.ndarray:
    """Return the rows of a GT or results file, refused when TrackEval cannot score them.

    Refused with a ValueError naming file and line: a non-finite id/box/score, one id twice
    in a frame, or a frame after ``num_frames`` (the sequence's length, when known).
    """
    rows, lines = read_mot_lines(path)
    problems = (
        (~np.isfinite(rows[:, ID:CONF + 1]).all(axis=1), "non-finite id, box or score"),
        (_repeated_ids(rows), "the same id twice in one frame"),
        (rows[:, FRAME] > (num_frames or np.inf), f"frame after the sequence's last "
                                                   f"frame {num_frames}"),
    )
    for bad, what in problems:
        if bad.any():
            first = int(np.argmax(bad))
            raise ValueError(f"{path} line {lines[first]}: {what} (frame {rows[first, FRAME]:g}, "
                             f"id {rows[first, ID]:g}, x {rows[first, X]:g}); "
                             f"{int(bad.sum())} such rows")
    return rows


def _repeated_ids(rows: np.ndarray) -> np.ndarray:
    """Mask of rows whose (frame, id) pair appeared on an earlier row."""
    keys = rows[:, [FRAME, ID]]
    _, first = np.unique(keys, axis=0, return_index=True)
    repeated = np.ones(len(rows), bool)
    repeated[first] = False
    return repeated


def _summarise(result: dict) -> dict[str, float]:
    out = {}
    for key, (metric, field) in FIELDS.items():
        value = result[metric][field]
        out[key] = float(np.mean(value))
    return out
