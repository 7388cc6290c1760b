"""Helpers of the real-data tests: sequence cuts, ground-truth identities, PETS09 networks.

The PETS09 Re-ID networks are trained once per session and shared by every PETS09 test.

``cut_sequence`` now lives in the library (:mod:`finetrack_ros.mot_cut`, ``finetrack cut``).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from finetrack_ros.mot_cut import cut_sequence

__all__ = ["cut_sequence", "gt_identities", "train_pets09_networks", "PETS09_SPLITS",
           "PETS09_SEEDS"]

PETS09 = "PETS09-S2L1-dev"
# Re-ID trained on the first range, tracking scored on the second (frames of the sequence)
PETS09_SPLITS = {"first": ((1, 200), (201, 397)), "second": ((201, 397), (1, 200))}
# training seeds per split: three networks on frames 1-200 (test_reid_beats_iou_pets09), one
# on 201-397 (test_defaults_pets09 scores both halves with seed 0)
PETS09_SEEDS = {"first": (0, 1, 2), "second": (0,)}


def gt_identities(seq: Path) -> set[int]:
    """Track ids of the non-ignored gt rows (2DMOT2015 flag / MOT16 conf column != 0)."""
    rows = np.loadtxt(seq / "gt" / "gt.txt", delimiter=",", ndmin=2)
    return {int(i) for i in rows[rows[:, 6] != 0, 1]}


def train_pets09_networks(shared_data: Path, repo_root: Path, work: Path) -> Path:
    """Train every PETS09 network once (``finetrack bench defaults``' own training), into ``work``.

    The recipe is ``config/reid_tiny_cpu.yaml`` (tiny network, every frame, 200 iterations,
    one torch thread each, two at a time): what ``bench defaults`` trains, so it finds them
    in ``--work`` and trains nothing. Returns ``work``; paths via
    :func:`finetrack_ros.bench.defaults.network_path`.
    """
    from finetrack_ros.bench.defaults import Split, train_networks

    args = argparse.Namespace(seq=shared_data / PETS09, work=work, jobs=2,
                              config=repo_root / "config" / "reid_tiny_cpu.yaml",
                              train_overrides=[f"data.cache_dir={work / 'cache'}"])
    work.mkdir(parents=True, exist_ok=True)
    runs = [(Split(*PETS09_SPLITS[name]), seed)
            for name, seeds in PETS09_SEEDS.items() for seed in seeds]
    train_networks(args, runs)
    return work
