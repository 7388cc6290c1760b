"""``finetrack bench defaults``: the node's tracker defaults, measured on real footage.

Every default of the node's tracker is decided here (issue 20): a real sequence is split in
two frame ranges; Re-ID networks are trained (``train-reid``, several seeds) on one range and
tracking is scored on the other, both ways round. Each row is the node's defaults with one
change (a switch off, another value), IoU only, or the paper's association alone; cells are
the mean ± sd over the training seeds, per split. A switch becomes a default only if it
lowers neither HOTA nor IDF1 on either split (docs/identity.md, "Defaults measured on real
footage").

The second benchmark (``--sim-seeds`` with ``--reid``) tracks generated street scenes with
given networks instead (no training), one column, the mean over the scenes.

Networks are kept in ``--work`` (``reid-<train frames>-seed<s>/reid.pt``) and reused by the
next run, so sweeps cost only the tracking. The Re-ID features of each box are computed once
per network and shared by the rows (same boxes, same network, same features), so rows cost
decode + tracker time; this bench times nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

HELP = ("Node tracker defaults on real footage: Re-ID trained on one frame range, tracking "
        "scored on the other, both ways, several seeds; each default on and off.")

# The paper's association: ByteTrack + the fused IoU / Re-ID distance, nothing of ours, and
# ByteTrack's track memory (track_buffer frames at 30 fps).
PAPER = {"part_weighting": "none", "gallery_seconds": 0.0, "camera_motion": "none",
         "relink_thresh": 0.0, "reid_skip_iou": 0.0, "lost_track_seconds": 0.0}
# key -> (label, tracker changes on top of the node's defaults; None = IoU only)
ROWS = {
    "iou": ("IoU only (node defaults, no Re-ID)", None),
    "paper": ("FineTrack paper's association", PAPER),
    "defaults": ("node defaults", {}),
    "no-gallery": ("defaults, gallery off", {"gallery_seconds": 0.0}),
    "no-skip": ("defaults, adaptive Re-ID off", {"reid_skip_iou": 0.0}),
    "buffer": ("defaults, track_buffer 30 instead of lost_track_seconds",
               {"lost_track_seconds": 0.0}),
    "relink": ("defaults + relink", {"relink_thresh": 0.5, "relink_max_dist": 3.0}),
    "part": ("defaults + part weighting", {"part_weighting": "visibility"}),
    "cmc": ("defaults + camera motion", {"camera_motion": "sparse"}),
}
DEFAULT_ROWS = ("iou", "paper", "defaults", "no-gallery", "no-skip", "buffer", "relink", "part")
METRICS = ("HOTA", "AssA", "IDF1")  # fractions, shown in %


@dataclass
class Split:
    """Train the Re-ID on frames ``train``, score tracking on frames ``test`` (inclusive)."""

    train: tuple[int, int]
    test: tuple[int, int]

    @property
    def name(self) -> str:
        return f"train {self.train[0]}-{self.train[1]}, score {self.test[0]}-{self.test[1]}"


@dataclass
class Row:
    key: str
    label: str
    changes: Optional[dict]
    # split name -> one {"HOTA", "AssA", "IDF1", "IDSW"} per network
    cells: dict = field(default_factory=dict)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seq", type=Path,
                        help="MOT sequence with img1/, det/det.txt and gt/gt.txt")
    parser.add_argument("--sim-seeds", type=int, nargs="+", default=[],
                        help="instead of --seq: generated scenes (finetrack_ros.sim, 150 "
                        "frames), tracked with the --reid networks (the second benchmark)")
    parser.add_argument("--reid", type=Path, nargs="+", default=[],
                        help="--sim-seeds: Re-ID networks to track with (no training)")
    parser.add_argument("--splits", nargs="+", default=["1-200:201-397", "201-397:1-200"],
                        metavar="TRAIN:SCORE", help="frame ranges: train the Re-ID on the "
                        "first, score tracking on the second (default both halves of "
                        "PETS09-S2L1-dev)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="training seeds (one network each)")
    parser.add_argument("--config", type=Path, default=Path("config/reid_tiny_cpu.yaml"),
                        help="train-reid config (default config/reid_tiny_cpu.yaml)")
    parser.add_argument("--train-set", dest="train_overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="train-reid --set for every network "
                        "(e.g. max_iters=400)")
    parser.add_argument("--work", type=Path, default=Path("bench_defaults"),
                        help="folder for the networks (reused when present) and the cuts")
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(DEFAULT_ROWS),
                        help="rows to measure")
    parser.add_argument("--row", dest="custom_rows", action="append", default=[],
                        metavar="LABEL:KEY=VALUE,...", help="an extra row: the node's "
                        "defaults with these tracker values (e.g. 'buffer 3 s:"
                        "lost_track_seconds=3')")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="tracker value for every row")
    parser.add_argument("--json", type=Path, help="also write the per-network figures here")
    parser.add_argument("--jobs", type=int, default=2,
                        help="networks trained at once, one thread each (default 2)")


def run(args: argparse.Namespace) -> int:
    import cv2
    import torch

    rows = [Row(key, *ROWS[key]) for key in args.rows]
    rows += [parse_custom_row(text) for text in args.custom_rows]
    torch.set_num_threads(1)  # the same figures on a busy CPU
    cv2.setNumThreads(1)
    if args.sim_seeds:
        columns, title = _measure_scenes(args, rows)
    elif args.seq is not None:
        columns, title = _measure_splits(args, rows)
    else:
        raise ValueError("bench defaults: give --seq (real footage) or --sim-seeds with --reid")
    print(title)
    print(format_table(rows, columns))
    if args.json:
        args.json.write_text(json.dumps([{"row": r.key, "label": r.label,
                                          "changes": r.changes, "cells": r.cells}
                                         for r in rows], indent=1))
    return 0


def _measure_splits(args: argparse.Namespace, rows: list[Row]) -> tuple[list[str], str]:
    """Train on one frame range, score on the other, for each split and seed."""
    from finetrack_ros.mot_cut import parse_frame_range

    if not (args.seq / "gt" / "gt.txt").is_file():
        raise FileNotFoundError(f"--seq {args.seq}: no gt/gt.txt")
    splits = []
    for text in args.splits:
        train, sep, test = text.partition(":")
        if not sep:
            raise ValueError(f"--splits {text}: expected TRAIN:SCORE, e.g. 1-200:201-397")
        splits.append(Split(parse_frame_range(train), parse_frame_range(test)))
    args.work.mkdir(parents=True, exist_ok=True)
    networks = train_networks(args, [(split, seed) for split in splits for seed in args.seeds])
    with tempfile.TemporaryDirectory(prefix="finetrack_bench_defaults_") as tmp:
        for split in splits:
            scored = cut(args.seq, split.test, Path(tmp))
            for seed in args.seeds:
                measure_network(rows, split.name, [scored], networks[split.name, seed],
                                args.overrides)
    title = (f"{args.seq.name}: Re-ID {args.config.name}, seeds "
             f"{' '.join(map(str, args.seeds))}; cells mean ± sd over the networks, IDSW per "
             "network")
    return [s.name for s in splits], title


def _measure_scenes(args: argparse.Namespace, rows: list[Row]) -> tuple[list[str], str]:
    """Track generated scenes with the given networks; one column, the mean over scenes."""
    from dataclasses import replace

    from finetrack_ros.sim import SceneConfig, write_sequence

    if not args.reid:
        raise ValueError("--sim-seeds needs --reid: the network(s) to track the scenes with")
    for network in args.reid:
        if not network.is_file():
            raise FileNotFoundError(f"--reid {network}: no such file")
    name = f"scenes {' '.join(map(str, args.sim_seeds))}"
    with tempfile.TemporaryDirectory(prefix="finetrack_bench_defaults_") as tmp:
        scenes = [write_sequence(Path(tmp) / f"SIM-{seed}", replace(SceneConfig(), seed=seed),
                                 progress=False) for seed in args.sim_seeds]
        for network in args.reid:
            measure_network(rows, name, scenes, network, args.overrides)
    title = (f"generated scenes {' '.join(map(str, args.sim_seeds))}: Re-ID "
             f"{', '.join(map(str, args.reid))}; HOTA / IDF1 mean over scenes, IDSW summed")
    return [name], title


def parse_custom_row(text: str) -> Row:
    """``LABEL:KEY=VALUE,KEY=VALUE`` → a Row of the node's defaults with those values."""
    import yaml

    label, sep, items = text.rpartition(":")
    if not sep or not label.strip():
        raise ValueError(f"--row {text}: expected LABEL:KEY=VALUE,...")
    changes = {}
    for item in items.split(","):
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"--row {text}: expected KEY=VALUE, got '{item}'")
        changes[key.strip()] = yaml.safe_load(value)
    row_tracker(changes, [], 30.0)  # checked now, not after an hour of training
    return Row(label.strip(), label.strip(), changes)


def cut(seq: Path, frames: tuple[int, int], where: Path) -> Path:
    from finetrack_ros.mot_cut import cut_sequence

    out = where / f"{seq.name}-{frames[0]}-{frames[1]}"
    return out if out.is_dir() else cut_sequence(seq, out, *frames)


def network_path(work: Path, split: Split, seed: int) -> Path:
    return work / f"reid-{split.train[0]}-{split.train[1]}-seed{seed}" / "reid.pt"


def train_networks(args: argparse.Namespace, runs: list[tuple[Split, int]]) -> dict:
    """Return ``{(split name, seed): reid.pt}``, training (``--jobs`` at a time) what is missing."""
    from finetrack_ros.progress import progress_bar as tqdm

    networks = {(split.name, seed): network_path(args.work, split, seed) for split, seed in runs}
    missing = [(split, seed) for split, seed in runs if not networks[split.name, seed].is_file()]
    running: list[tuple[subprocess.Popen, Path]] = []  # (process, its log)
    with tqdm(total=len(missing), desc="train-reid", unit="net", disable=not missing) as bar:
        while missing or running:
            while missing and len(running) < max(args.jobs, 1):
                split, seed = missing.pop(0)
                running.append(_start_training(args, split, seed))
            proc, log = running.pop(0)
            if proc.wait() != 0:
                raise RuntimeError(f"train-reid failed (exit {proc.returncode}): "
                                   f"{log.read_text()[-500:].strip()} (log: {log})")
            bar.update()
    return networks


def _start_training(args: argparse.Namespace, split: Split, seed: int):
    run_dir = network_path(args.work, split, seed).parent
    data = cut(args.seq, split.train, args.work)
    command = [sys.executable, "-m", "finetrack_ros.cli", "train-reid", "--data", str(data),
               "--out", str(run_dir), "--config", str(args.config), "--set", f"seed={seed}",
               "--overwrite", *[a for item in args.train_overrides for a in ("--set", item)]]
    log = args.work / f"{run_dir.name}.log"
    with open(log, "w") as out:  # the child keeps its own handle
        proc = subprocess.Popen(command, env={**os.environ, "OMP_NUM_THREADS": "1"},
                                stdout=out, stderr=subprocess.STDOUT)
    return proc, log


def row_tracker(changes: Optional[dict], overrides: list[str], frame_rate: float):
    """Return a row's TrackerConfig: node defaults, ``--set``, the row's changes, the rate.

    ``changes`` None is IoU only (no appearance).
    """
    from finetrack_ros import settings

    config = settings.tracker_config(settings.defaults()).with_overrides(overrides)
    config = config.replace({**(changes or {}), "frame_rate": frame_rate})
    if changes is None:
        config = config.replace({"use_appearance": False})
    return config


def measure_network(rows: list[Row], column: str, scenes: list[Path], network: Path,
                    overrides: list[str]) -> None:
    """Track ``scenes`` with every row (one network); append each row's scores to ``column``.

    A row's cell is the mean HOTA / AssA / IDF1 over the scenes and their summed IDSW.
    """
    from finetrack_ros.bench.identity import score

    features = CachedExtractor()
    for row in rows:
        if row.changes is None and len(row.cells.get(column, [])):
            row.cells[column].append(row.cells[column][0])  # no network: the same result
            continue
        scores = []
        for scene in scenes:
            out = scene.parent / f"{row.key}-{network.parent.name}-{scene.name}.txt"
            track(scene, None if row.changes is None else network, row, overrides, features,
                  out)
            scores.append(score(scene, out))
        cell = {m: float(np.mean([s[m] for s in scores])) * 100.0 for m in METRICS}
        cell["IDSW"] = float(sum(s["IDSW"] for s in scores))
        row.cells.setdefault(column, []).append(cell)


def track(seq: Path, network: Optional[Path], row: Row, overrides: list[str],
          features: "CachedExtractor", out: Path) -> None:
    """Track ``seq`` with ``row``'s settings, the Re-ID features shared through ``features``."""
    from finetrack_ros.bench.identity import track_mot

    def share_features(pipeline) -> None:
        if pipeline.extractor is not None:
            pipeline.extractor = features.wrapping(pipeline.extractor)

    track_mot(seq, lambda rate: row_tracker(row.changes, overrides, rate), network, 1, out,
              share_features)


class CachedExtractor:
    """A Re-ID extractor that computes each (frame, box) feature once across rows.

    Keys are a sample of the frame's pixels and the box; ``with_visibility`` (part weighting)
    is passed through uncached.
    """

    def __init__(self) -> None:
        self.inner = None
        self.cache: dict = {}

    def wrapping(self, inner) -> "CachedExtractor":
        self.inner = inner
        return self

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def __call__(self, frame_bgr: np.ndarray, boxes_xyxy: np.ndarray) -> np.ndarray:
        boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
        frame_key = frame_bgr[::31, ::29].tobytes()
        keys = [(frame_key, tuple(np.round(box, 3))) for box in boxes]
        missing = [i for i, key in enumerate(keys) if key not in self.cache]
        if missing:
            for i, row in zip(missing, self.inner(frame_bgr, boxes[missing])):
                self.cache[keys[i]] = row
        if not keys:
            return np.zeros((0, self.inner.dim), np.float32)
        return np.array([self.cache[key] for key in keys], np.float32)


def _cell(values: list[float], digits: int = 1) -> str:
    mean = f"{np.mean(values):.{digits}f}"
    return mean if len(values) < 2 else f"{mean} ± {np.std(values, ddof=1):.{digits}f}"


def format_table(rows: list[Row], split_names: list[str]) -> str:
    """Markdown: one row per Row, HOTA / IDF1 / IDSW per split (mean ± sd over networks)."""
    head = "| tracker | " + " | ".join(f"HOTA ({n}) | IDF1 | IDSW" for n in split_names) + " |"
    lines = [head, "|---|" + "---|---|---|" * len(split_names)]
    for row in rows:
        cells = []
        for name in split_names:
            per_network = row.cells.get(name, [])
            if not per_network:
                cells += ["", "", ""]
                continue
            cells += [_cell([c[m] for c in per_network]) for m in ("HOTA", "IDF1", "IDSW")]
        lines.append(f"| {row.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
