"""``finetrack bench node``: real-time replay accounting (processed + dropped = frames)."""
from __future__ import annotations

import argparse

import pytest

from finetrack_ros.bench import node as bench


def small(**changes) -> bench.NodeBenchConfig:
    values = dict(frames=6, frame_hw=(96, 128), detector_input=(64, 96), reid_crop=(64, 32),
                  boxes=2, warmup=1, threads=1)
    values.update(changes)
    return bench.NodeBenchConfig(**values)


def test_slow_node_drops_frames_fast_camera_and_counts_add_up():
    result = bench.bench_mode("external", small(rate_hz=2000.0))  # 0.5 ms per frame
    assert result.processed + result.dropped == 6
    assert result.processed >= 1 and result.dropped >= 1  # Re-ID takes > 0.5 ms
    assert result.boxes_per_frame == 2 and result.ms_mean > 0


def test_slow_camera_drops_nothing():
    result = bench.bench_mode("detector", small(rate_hz=2.0, frames=3))
    assert (result.processed, result.dropped) == (3, 0)
    assert result.dropped_share == 0.0


def test_bad_arguments_are_named():
    args = argparse.Namespace(frames=0, rate=30.0, size="nano", boxes=1, modes="external",
                              device="cpu", threads=1)
    with pytest.raises(ValueError, match="--frames"):
        bench.run(args)
    args.frames, args.modes = 1, "gpu-magic"
    with pytest.raises(ValueError, match="gpu-magic"):
        bench.run(args)
