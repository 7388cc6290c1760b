"""``finetrack bench models``: FLOP counts, the crop-loop baseline, and a tiny end-to-end run."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from finetrack_ros.bench.models import (
    BenchConfig,
    count_gflops,
    crops_per_box_loop,
    person_boxes,
    time_ms,
    with_candidates,
)
from finetrack_ros.cli import main
from finetrack_ros.detector import build_yolox

# Published YOLOX GFLOPs (README of Megvii-BaseDetection/YOLOX) and their test sizes.
PUBLISHED_GFLOPS = {"nano": (1.08, 416), "tiny": (6.45, 416), "s": (26.8, 640), "x": (281.9, 640)}


@pytest.mark.parametrize("size", list(PUBLISHED_GFLOPS))
def test_flop_count_matches_published(size) -> None:
    published, side = PUBLISHED_GFLOPS[size]
    gflops = count_gflops(lambda: build_yolox(size, 80), (1, 3, side, side))
    assert gflops == pytest.approx(published, rel=0.04)  # BN/activations not counted


def test_loop_baseline_produces_the_same_crops_as_the_batched_path() -> None:
    from finetrack_ros.reid import FeatureExtractor, FineTrackReID, ReIDConfig

    config = ReIDConfig.preset("small")
    frame = np.random.default_rng(0).integers(0, 255, (200, 160, 3), dtype=np.uint8)
    frame = np.ascontiguousarray(np.repeat(np.repeat(frame[::4, ::4], 4, 0), 4, 1))  # smooth
    boxes = np.array([[10, 20, 74, 148], [40, 0, 104, 128]], np.float32)  # inside, 1:1 scale
    batched = FeatureExtractor(FineTrackReID(config)).crops(frame, boxes)
    loop = crops_per_box_loop(frame, boxes, config.crop_size, config.pixel_mean,
                              config.pixel_std, "cpu")
    assert loop.shape == batched.shape == (2, 3, 128, 64)
    assert (loop - batched).abs().mean() < 0.05  # same pixels, rounding apart


def test_synthetic_inputs() -> None:
    config = BenchConfig()
    boxes = person_boxes(50, config)
    assert boxes.shape == (50, 4)
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 1920).all() and (boxes[:, 3] <= 1080).all()
    predictions = torch.rand(300, 6) * 0.5
    chosen = with_candidates(predictions, 40, seed=0)
    assert int((chosen[:, 4] * chosen[:, 5] >= 0.1).sum()) == 40


def test_time_ms_counts_runs() -> None:
    calls = []
    time_ms(lambda: calls.append(1), BenchConfig(warmup=2, repeats=3))
    assert len(calls) == 5  # 2 warm-up + 3 timed: fast runs stay within the budget
    calls.clear()
    time_ms(lambda: calls.append(1), BenchConfig(warmup=1, repeats=3, stage_budget_ms=0.0))
    assert len(calls) == 2  # budget spent: one warm-up, one sample


def test_tiny_end_to_end_run(capsys) -> None:
    code = main(["bench", "models", "--sizes", "nano", "--input-size", "64x96",
                 "--reid", "resnet18", "--boxes", "1,2", "--warmup", "0", "--repeats", "1"])
    out = capsys.readouterr().out
    assert code == 0
    assert "YOLOX-nano" in out and "64x96" in out and "ReID-resnet18" in out
    assert "2 boxes" in out and "loop/batched" in out
