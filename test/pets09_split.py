"""Helpers of the real-data tests: sequence cuts, ground-truth identities, PETS09 networks.

The PETS09 Re-ID networks are trained once per test run and shared by every PETS09 test.
The trainings start in the background when the run begins (:func:`start_training`, from
conftest's session autouse fixture) so that other tests run meanwhile, and the PETS09 tests
wait for them (:func:`wait_for_networks`). Run as a script, this module is that background
trainer: ``python pets09_split.py SHARED_DATA REPO_ROOT WORK OWNER_PID``.

``cut_sequence`` now lives in the library (:mod:`finetrack_ros.mot_cut`, ``finetrack cut``).
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from finetrack_ros.mot_cut import cut_sequence

__all__ = ["cut_sequence", "gt_identities", "train_pets09_networks", "PETS09_SPLITS",
           "PETS09_SEEDS", "start_training", "wait_for_networks"]

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


# the background trainer's files in WORK: started (created once per run), then done or failed
STARTED, DONE, FAILED, LOG = "started", "done", "failed", "training.log"
WAIT_TIMEOUT_S = 1500.0  # four trainings, two at a time, beside the tests on 2 cores: ~5 min


def start_training(shared_data: Path, repo_root: Path, work: Path, owner_pid: int) -> bool:
    """Start the background trainer unless this run already did; True if this call did.

    ``owner_pid`` is the test run's main process: the trainer stops (with its trainings) when
    that process is gone, so an interrupted run leaves nothing behind.
    """
    work.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(work / STARTED, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False  # another worker of this run started it
    with open(work / LOG, "w") as log:
        trainer = subprocess.Popen([sys.executable, __file__, str(shared_data), str(repo_root),
                                    str(work), str(owner_pid)], stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   cwd=repo_root)
    (work / STARTED).write_text(str(trainer.pid))
    return True


def wait_for_networks(work: Path, timeout_s: float = WAIT_TIMEOUT_S) -> Path:
    """Return ``work`` once the background trainer is done; raise with its log if it failed."""
    deadline = time.monotonic() + timeout_s
    while not (work / DONE).exists():
        if (work / FAILED).exists() or time.monotonic() > deadline or not _trainer_alive(work):
            log = (work / LOG).read_text()[-3000:] if (work / LOG).exists() else "(no log)"
            raise RuntimeError(f"PETS09 network training failed or timed out; {work / LOG}:"
                               f"\n{log}")
        time.sleep(1.0)
    return work


def _trainer_alive(work: Path) -> bool:
    """Return False once the trainer has exited without DONE (no pid written yet: alive)."""
    text = (work / STARTED).read_text().strip() if (work / STARTED).exists() else ""
    if not text:
        return True
    try:
        os.kill(int(text), 0)
    except ProcessLookupError:
        return (work / DONE).exists()
    return True


def _stop_with_owner(owner_pid: int) -> None:
    """Kill this process group (trainer and trainings) once the test run is gone."""
    while True:
        time.sleep(2.0)
        try:
            os.kill(owner_pid, 0)
        except ProcessLookupError:
            os.killpg(os.getpgid(0), signal.SIGKILL)


def _main(shared_data: str, repo_root: str, work: str, owner_pid: str) -> int:
    threading.Thread(target=_stop_with_owner, args=(int(owner_pid),), daemon=True).start()
    work_dir = Path(work)
    try:
        train_pets09_networks(Path(shared_data), Path(repo_root), work_dir)
    except BaseException as err:
        (work_dir / FAILED).write_text(f"{type(err).__name__}: {err}")
        raise
    (work_dir / DONE).write_text("ok")
    return 0


if __name__ == "__main__":
    sys.exit(_main(*sys.argv[1:]))
