"""``num_threads: 0`` on the CPU: torch threads follow the cores other processes leave free."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from finetrack_ros import settings
from finetrack_ros.inference.threads import CpuShare, busy_cpu_seconds, usable_cores

BUSY_LOOP = "import time\nend = time.time() + 30\nwhile time.time() < end:\n    pass\n"


class FakeMachine:
    """A clock and CPU counters: this process and the others each use some cores."""

    def __init__(self) -> None:
        self.now = self.busy = self.own = 0.0

    def run(self, seconds: float, own_cores: float, other_cores: float) -> None:
        self.now += seconds
        self.own += own_cores * seconds
        self.busy += (own_cores + other_cores) * seconds


def _share(machine: FakeMachine, applied: list, cores: int = 4) -> CpuShare:
    share = CpuShare(period_s=1.0, set_threads=applied.append, busy=lambda: machine.busy,
                     own=lambda: machine.own, clock=lambda: machine.now)
    share.cores = share.max_threads = share.threads = cores
    return share


def test_threads_follow_the_cores_other_processes_leave():
    machine, applied, lines = FakeMachine(), [], []
    share = _share(machine, applied)
    share.report = lines.append
    machine.run(1.0, own_cores=4.0, other_cores=0.0)
    assert share.update() == 4 and applied == []  # idle machine: every core
    for _ in range(3):  # a process starts using two cores
        machine.run(1.0, own_cores=2.0, other_cores=2.0)
        share.update()
    assert share.threads == 2 and applied == [3, 2]  # smoothed: one step, then the next
    assert lines == ["torch threads 4 -> 3: other processes use 1.0 of 4 cores",
                     "torch threads 3 -> 2: other processes use 1.5 of 4 cores"]
    machine.run(0.5, own_cores=2.0, other_cores=0.0)
    assert share.update() == 2  # within the period nothing is read or changed
    for _ in range(4):  # it stops
        machine.run(1.0, own_cores=4.0, other_cores=0.0)
        share.update()
    assert share.threads == 4 and applied[-1] == 4
    for _ in range(5):  # everything else busy: at least one thread
        machine.run(1.0, own_cores=1.0, other_cores=8.0)
        share.update()
    assert share.threads == 1


def test_without_proc_stat_nothing_changes():
    applied = []
    share = CpuShare(set_threads=applied.append, busy=lambda: None)
    assert not share.available and share.update() == share.max_threads and applied == []


@pytest.mark.skipif(busy_cpu_seconds() is None or usable_cores() < 2,
                    reason="needs Linux /proc/stat and 2 cores")
def test_a_real_competing_process_takes_a_thread_away():
    applied = []
    share = CpuShare(period_s=0.3, set_threads=applied.append)
    competitor = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
    try:
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and share.threads == share.max_threads:
            time.sleep(0.1)
            share.update()
        # the competitor keeps one core busy: torch gets at most the others
        assert share.threads <= usable_cores() - 1, f"others {share.others:.2f} cores"
        assert applied and applied[-1] == share.threads
    finally:
        competitor.kill()
        competitor.wait()


def test_num_threads_0_restores_torchs_default_after_onnxruntime():
    import torch

    from finetrack_ros.inference.threads import default_torch_threads

    base = {"detector.checkpoint": "random", "detector.size": "nano",
            "detector.input_size": [64, 96], "reid.enabled": False, "device": "cpu"}
    settings.pipeline_from_params({**base, "backend": "onnxruntime"})
    assert torch.get_num_threads() == 1  # torch only prepares ONNX Runtime's inputs
    settings.pipeline_from_params(base)  # reconfigured for torch, num_threads 0
    assert torch.get_num_threads() == default_torch_threads()


def test_the_node_follows_the_cpu_share_only_when_asked():
    base = {"detector.checkpoint": "random", "detector.size": "nano",
            "detector.input_size": [64, 96], "reid.enabled": False, "device": "cpu"}
    assert settings.pipeline_from_params(base).cpu_share is not None  # num_threads 0
    assert settings.pipeline_from_params({**base, "num_threads": 2}).cpu_share is None
    assert settings.pipeline_from_params({**base, "backend": "onnxruntime"}).cpu_share is None
    # no network at all (IoU tracking of given detections): nothing to thread
    assert settings.pipeline_from_params({**base, "external_detections": True}).cpu_share is None


def test_the_cli_gives_torch_the_nodes_threads():
    """--threads with onnxruntime go to the ONNX Runtime sessions; torch keeps 1, as the node."""
    import argparse

    import torch

    from finetrack_ros.arguments import add_inference_arguments, inference_from_args

    parser = argparse.ArgumentParser()
    add_inference_arguments(parser)
    options = inference_from_args(parser.parse_args(["--backend", "onnxruntime",
                                                     "--threads", "2"]))
    assert options.threads == 2 and torch.get_num_threads() == 1
    inference_from_args(parser.parse_args(["--threads", "2"]))
    assert torch.get_num_threads() == 2
    inference_from_args(parser.parse_args([]))  # leave torch's default behind
