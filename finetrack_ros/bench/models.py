"""``finetrack bench models``: per-stage latency, parameters and GFLOPs of the networks.

Stages: detector preprocess (letterbox + upload + normalise), forward, postprocess (score
filter + class-aware NMS + un-letterbox, on ``--candidates`` boxes above conf); Re-ID crops
(one batched ``grid_sample``) and forward at 1, 10 and 50 boxes; and the batched crops
against a per-box ``cv2.resize`` loop. Weights are random: latency does not depend on them.
GFLOPs count one forward with ``torch.utils.flop_counter`` (2 FLOPs per multiply-add, convs
and matmuls), on the meta device so no compute is spent on it.
"""
from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

from finetrack_ros.arguments import parse_hw

HELP = "Time the detector and Re-ID networks stage by stage; print params, GFLOPs, latency."


@dataclass
class BenchConfig:
    """What ``bench models`` measures."""

    detector_sizes: tuple[str, ...] = ("nano", "s", "x")
    detector_input: tuple[int, int] = (384, 640)  # (H, W); ByteTrack's 608x1088 via flag
    reid_backbones: tuple[str, ...] = ("resnet18", "resnet50")
    box_counts: tuple[int, ...] = (1, 10, 50)  # boxes per frame for the Re-ID stages
    frame_hw: tuple[int, int] = (1080, 1920)  # synthetic frame size (MOT17's)
    candidates: int = 500  # boxes above conf entering NMS in the postprocess timing
    warmup: int = 1  # untimed runs before timing each stage
    repeats: int = 5  # most timed runs per stage; the median is reported
    stage_budget_ms: float = 1500.0  # stop sampling a stage once its samples add up to this
    device: str = "cpu"
    threads: int = 0  # torch intra-op threads on CPU; 0 keeps torch's default (all cores)
    seed: int = 0


@dataclass
class Row:
    """One line of a result table; ``ms`` maps stage name → median milliseconds."""

    model: str
    setting: str
    params_m: float
    gflops: float
    ms: dict[str, float] = field(default_factory=dict)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = BenchConfig()
    parser.add_argument("--sizes", default=",".join(defaults.detector_sizes),
                        help="YOLOX sizes, comma separated (default nano,s,x)")
    parser.add_argument("--input-size", type=parse_hw, default=defaults.detector_input,
                        metavar="HxW",
                        help="detector input (default 384x640; ByteTrack uses 608x1088 for "
                             "nano/s and 800x1440 for x)")
    parser.add_argument("--reid", default="resnet18,resnet50",
                        help="Re-ID backbones, comma separated (default resnet18,resnet50)")
    parser.add_argument("--boxes", default="1,10,50", help="Re-ID box counts (default 1,10,50)")
    parser.add_argument("--repeats", type=int, default=defaults.repeats,
                        help="most timed runs per stage, median reported (default 5)")
    parser.add_argument("--stage-budget", type=float, default=defaults.stage_budget_ms / 1000,
                        help="seconds of samples per stage before stopping (default 1.5; "
                             "raise it for steadier figures, the default run stays under "
                             "~3 minutes on 2 CPU cores)")
    parser.add_argument("--warmup", type=int, default=defaults.warmup,
                        help="untimed runs first (default 1)")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (default 0: torch's default, all cores)")


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    def names(text: str) -> tuple[str, ...]:
        return tuple(v.strip() for v in text.split(",") if v.strip())

    try:
        boxes = tuple(int(v) for v in names(args.boxes))
    except ValueError:
        raise ValueError(f"--boxes: expected counts such as 1,10,50, got {args.boxes!r}")
    if args.repeats < 1 or args.warmup < 0 or args.stage_budget < 0:
        raise ValueError(f"--repeats must be >= 1, --warmup and --stage-budget >= 0; got "
                         f"{args.repeats}, {args.warmup}, {args.stage_budget}")
    return BenchConfig(detector_sizes=names(args.sizes), detector_input=args.input_size,
                       reid_backbones=names(args.reid), box_counts=boxes, warmup=args.warmup,
                       repeats=args.repeats, stage_budget_ms=args.stage_budget * 1000,
                       device=args.device, threads=args.threads)


def time_ms(fn: Callable[[], object], config: BenchConfig) -> float:
    """Median wall time of ``fn`` in milliseconds (CUDA synchronised).

    After ``config.warmup`` untimed runs, takes up to ``config.repeats`` samples but stops
    once they add up to ``config.stage_budget_ms`` (at least one sample): cheap stages get
    several samples, big networks one.
    """
    import torch

    def timed() -> float:
        start = time.perf_counter()
        fn()
        if config.device.startswith("cuda"):
            torch.cuda.synchronize()
        return (time.perf_counter() - start) * 1000.0

    for _ in range(config.warmup):
        timed()
    samples = [timed()]
    while len(samples) < config.repeats and sum(samples) < config.stage_budget_ms:
        samples.append(timed())
    return statistics.median(samples)


def count_gflops(build: Callable[[], object], input_shape: tuple[int, ...]) -> float:
    """GFLOPs of one eval forward of ``build()`` on an input of ``input_shape`` (meta device)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = build().eval()
        x = torch.zeros(input_shape)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return counter.get_total_flops() / 1e9


def synthetic_frame(config: BenchConfig):
    import numpy as np

    rng = np.random.default_rng(config.seed)
    return rng.integers(0, 256, (*config.frame_hw, 3), dtype=np.uint8)


def person_boxes(count: int, config: BenchConfig):
    """(count, 4) xyxy person-shaped boxes (h = 2.5 w) inside the frame."""
    import numpy as np

    rng = np.random.default_rng(config.seed + count)
    height, width = config.frame_hw
    w = rng.uniform(30, 200, count)
    h = np.minimum(2.5 * w, height - 1)
    x1 = rng.uniform(0, width - w)
    y1 = rng.uniform(0, height - h)
    return np.stack([x1, y1, x1 + w, y1 + h], axis=1).astype(np.float32)


def with_candidates(predictions, count: int, seed: int):
    """Copy of (A, 5 + C) predictions where exactly ``count`` rows score 0.81 (obj·cls)."""
    import torch

    out = predictions.clone()
    out[:, 4] = 0.0
    rows = torch.randperm(len(out), generator=torch.Generator().manual_seed(seed))[:count]
    out[rows.to(out.device), 4] = 0.9
    out[rows.to(out.device), 5:] = 0.9
    return out


def bench_detector(size: str, frame, config: BenchConfig) -> Row:
    import warnings

    from finetrack_ros.detector import YOLOXDetector, build_yolox

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights on purpose
        detector = YOLOXDetector(None, size, 1, input_size=config.detector_input,
                                 device=config.device)
    params = sum(p.numel() for p in detector.model.parameters()) / 1e6
    gflops = count_gflops(lambda: build_yolox(size, 1), (1, 3, *config.detector_input))
    images, ratio = detector.preprocess(frame)
    predictions = detector.forward(images)[0]
    candidates = with_candidates(predictions, config.candidates, config.seed)
    row = Row(f"YOLOX-{size}", "x".join(map(str, config.detector_input)), params, gflops)
    row.ms["preprocess"] = time_ms(lambda: detector.preprocess(frame), config)
    row.ms["forward"] = time_ms(lambda: detector.forward(images), config)
    row.ms["postprocess"] = time_ms(lambda: detector.postprocess(candidates, ratio), config)
    return row


def bench_reid(backbone: str, frame, config: BenchConfig) -> list[Row]:
    import torch

    from finetrack_ros.reid import FeatureExtractor, FineTrackReID, ReIDConfig

    reid_config = ReIDConfig(backbone=backbone)
    extractor = FeatureExtractor(FineTrackReID(reid_config), device=config.device)
    params = sum(p.numel() for p in extractor.model.parameters()) / 1e6
    crop_h, crop_w = reid_config.crop_size
    rows = []
    for count in config.box_counts:
        gflops = count_gflops(lambda: FineTrackReID(reid_config), (count, 3, crop_h, crop_w))
        boxes = person_boxes(count, config)
        crops = extractor.crops(frame, boxes)
        row = Row(f"ReID-{backbone}", f"{count} boxes", params, gflops)
        row.ms["crops"] = time_ms(lambda: extractor.crops(frame, boxes), config)

        def forward():
            with torch.inference_mode():
                return extractor.model(crops)

        row.ms["forward"] = time_ms(forward, config)
        rows.append(row)
    return rows


def crops_per_box_loop(frame, boxes, crop_hw: tuple[int, int], mean, std, device: str):
    """Baseline: one ``cv2.resize`` per box on the CPU, then one upload and normalise.

    Returns (N, 3, h, w) float32 RGB normalised crops, like the batched path.
    """
    import cv2
    import numpy as np
    import torch

    height, width = frame.shape[:2]
    patches = []
    for x1, y1, x2, y2 in np.round(boxes).astype(int):
        x1, x2 = np.clip([x1, x2], 0, width)
        y1, y2 = np.clip([y1, y2], 0, height)
        patch = frame[y1:max(y2, y1 + 1), x1:max(x2, x1 + 1)]
        patches.append(cv2.resize(patch, (crop_hw[1], crop_hw[0]),
                                  interpolation=cv2.INTER_LINEAR))
    batch = torch.from_numpy(np.stack(patches)).to(device)
    batch = batch.permute(0, 3, 1, 2).flip(1).float() / 255.0
    mean_t = torch.tensor(mean, device=batch.device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, device=batch.device).view(1, 3, 1, 1)
    return (batch - mean_t) / std_t


def bench_crop_ratio(frame, config: BenchConfig) -> tuple[int, float, float]:
    """(boxes, batched ms, loop ms) at the largest box count, default 256x128 crops.

    The batched path is ``FeatureExtractor.crops`` (upload, one ``grid_sample``, normalise).
    """
    from finetrack_ros.reid import FeatureExtractor, FineTrackReID, ReIDConfig

    reid_config = ReIDConfig(backbone="resnet18")
    extractor = FeatureExtractor(FineTrackReID(reid_config), device=config.device)
    count = max(config.box_counts)
    boxes = person_boxes(count, config)

    def loop():
        return crops_per_box_loop(frame, boxes, reid_config.crop_size,
                                  reid_config.pixel_mean, reid_config.pixel_std,
                                  config.device)

    batched_ms = time_ms(lambda: extractor.crops(frame, boxes), config)
    return count, batched_ms, time_ms(loop, config)


def format_table(rows: list[Row], stages: list[str], setting_title: str) -> str:
    """Fixed-width text table: model, setting, params, GFLOPs, one column per stage, total."""
    header = (f"{'model':<16}{setting_title:<12}{'params M':>9}{'GFLOPs':>9}"
              + "".join(f"{s + ' ms':>15}" for s in stages) + f"{'total ms':>11}")
    lines = [header, "-" * len(header)]
    for row in rows:
        cells = "".join(f"{row.ms[s]:>15.1f}" for s in stages)
        lines.append(f"{row.model:<16}{row.setting:<12}{row.params_m:>9.2f}{row.gflops:>9.1f}"
                     f"{cells}{sum(row.ms[s] for s in stages):>11.1f}")
    return "\n".join(lines)


def header(config: BenchConfig, threads: int) -> str:
    """First line of the report: device, frame, how medians were taken."""
    device = config.device if config.device.startswith("cuda") else f"cpu ({threads} threads)"
    return (f"\nfinetrack bench models on {device}; frame {config.frame_hw[1]}x"
            f"{config.frame_hw[0]}; median of <= {config.repeats} runs within "
            f"{config.stage_budget_ms / 1000:g} s per stage after {config.warmup} warm-up; "
            f"postprocess with "
            f"{config.candidates} candidates above conf")


def run(args: argparse.Namespace) -> int:
    import torch

    from finetrack_ros.progress import progress_bar

    config = config_from_args(args)
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    frame = synthetic_frame(config)
    jobs = ([("det", size) for size in config.detector_sizes]
            + [("reid", name) for name in config.reid_backbones] + [("crops", "")])
    det_rows, reid_rows, ratio = [], [], None
    for kind, name in progress_bar(jobs, desc="bench models", unit="model"):
        if kind == "det":
            det_rows.append(bench_detector(name, frame, config))
        elif kind == "reid":
            reid_rows.extend(bench_reid(name, frame, config))
        elif config.box_counts:
            ratio = bench_crop_ratio(frame, config)
    print(header(config, torch.get_num_threads()))
    if det_rows:
        print(format_table(det_rows, ["preprocess", "forward", "postprocess"], "input"))
    if reid_rows:
        print(format_table(reid_rows, ["crops", "forward"], "boxes"))
    if ratio is not None:
        count, batched, loop = ratio
        print(f"crops of {count} boxes (256x128): batched grid_sample {batched:.1f} ms, "
              f"per-box cv2.resize loop {loop:.1f} ms, loop/batched = {loop / batched:.2f}x")
    return 0
