"""``finetrack bench node``: check that the node keeps up with a 30 Hz, 640x480 camera.

Runs exactly what ``finetrack_node`` runs per frame (sensor_msgs/Image decoding with
``image_msg_to_bgr``, then the :class:`~finetrack_ros.pipeline.TrackingPipeline` built by
:func:`finetrack_ros.settings.pipeline_from_params`) with small random-weight networks,
and replays a camera in real time against the node's image queue (depth 1, keep last):
a frame that arrives while the previous one is still processed replaces any frame still
waiting, so frames the node cannot keep up with are dropped, never queued.

Two modes: ``detector`` (YOLOX on the frame; a random network finds an arbitrary number of
boxes, reported as boxes/frame) and ``external`` (``--boxes`` given moving boxes, as from an
external detector: Re-ID and tracking only, with a controlled box count).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

HELP = "Per-frame node processing time and share of dropped frames for a 30 Hz camera."


@dataclass
class NodeBenchConfig:
    """What ``bench node`` measures."""

    rate_hz: float = 30.0  # camera frame rate
    frame_hw: tuple[int, int] = (480, 640)  # camera image (H, W)
    frames: int = 90  # frames replayed in real time per mode (3 s at 30 Hz)
    warmup: int = 3  # frames processed before timing (first-call allocations)
    detector_size: str = "nano"  # YOLOX size of the random detector
    detector_input: tuple[int, int] = (480, 640)  # detector input (H, W), multiples of 32
    reid_crop: tuple[int, int] = (128, 64)  # Re-ID crop (H, W) of the random small network
    boxes: int = 10  # boxes per frame in external mode
    device: str = "cpu"
    threads: int = 1  # torch CPU threads (the node's num_threads); 1 is fastest on a busy CPU
    seed: int = 0


@dataclass
class ModeResult:
    """One row of the result table."""

    mode: str
    boxes_per_frame: float
    ms_mean: float
    ms_p95: float
    processed: int
    dropped: int

    @property
    def dropped_share(self) -> float:
        return self.dropped / max(self.processed + self.dropped, 1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = NodeBenchConfig()
    parser.add_argument("--frames", type=int, default=defaults.frames,
                        help=f"frames replayed per mode (default {defaults.frames})")
    parser.add_argument("--rate", type=float, default=defaults.rate_hz,
                        help=f"camera rate, Hz (default {defaults.rate_hz:g})")
    parser.add_argument("--size", default=defaults.detector_size,
                        help=f"YOLOX size of the random detector "
                             f"(default {defaults.detector_size})")
    parser.add_argument("--boxes", type=int, default=defaults.boxes,
                        help=f"boxes per frame in external mode (default {defaults.boxes})")
    parser.add_argument("--modes", default="detector,external",
                        help="comma separated: detector, external (default both)")
    parser.add_argument("--device", default=defaults.device, help="torch device (default cpu)")
    parser.add_argument("--threads", type=int, default=defaults.threads,
                        help=f"torch CPU threads, the node's num_threads (default "
                             f"{defaults.threads}; 0 = torch's default)")


def run(args: argparse.Namespace) -> int:
    import torch

    config = NodeBenchConfig(frames=args.frames, rate_hz=args.rate, detector_size=args.size,
                             boxes=args.boxes, device=args.device, threads=args.threads)
    if config.frames < 1 or config.rate_hz <= 0 or config.boxes < 0 or config.threads < 0:
        raise ValueError(f"bench node: need --frames >= 1, --rate > 0, --boxes >= 0, "
                         f"--threads >= 0; got {config.frames}, {config.rate_hz}, "
                         f"{config.boxes}, {config.threads}")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(modes) - {"detector", "external"}
    if unknown:
        raise ValueError(f"bench node: --modes: unknown {sorted(unknown)}; use detector, external")
    if config.threads:
        torch.set_num_threads(config.threads)
    print(f"bench node: {config.frame_hw[1]}x{config.frame_hw[0]} bgr8 at {config.rate_hz:g} Hz, "
          f"{config.frames} frames, device {config.device}, torch threads "
          f"{torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}; "
          f"random YOLOX-{config.detector_size} "
          f"{config.detector_input[0]}x{config.detector_input[1]}, random Re-ID resnet18 "
          f"{config.reid_crop[0]}x{config.reid_crop[1]}")
    rows = [bench_mode(mode, config) for mode in modes]
    print_table(rows, config.rate_hz)
    return 0


def bench_mode(mode: str, config: NodeBenchConfig) -> ModeResult:
    """Build the pipeline for ``mode`` and replay ``config.frames`` frames in real time."""
    from finetrack_ros import settings

    pipeline = settings.pipeline_from_params({
        "device": config.device, "external_detections": mode == "external",
        "detector.checkpoint": settings.RANDOM_WEIGHTS,
        "detector.size": config.detector_size,
        "detector.input_size": list(config.detector_input),
        "reid.checkpoint": settings.RANDOM_WEIGHTS,
        "reid.crop_size": list(config.reid_crop),
        "tracker.use_appearance": True, "tracker.frame_rate": config.rate_hz,
        "num_threads": config.threads,
    })
    rng = np.random.default_rng(config.seed)
    messages = [_image_message(rng, config.frame_hw) for _ in range(4)]

    def step(index: int) -> int:
        from finetrack_ros.image_codec import image_msg_to_bgr

        frame = image_msg_to_bgr(messages[index % len(messages)])
        detections = (_moving_boxes(index, config) if mode == "external" else None)
        return len(pipeline.process(frame, detections).detections)

    for index in range(config.warmup):
        step(index)
    pipeline.reset()
    return _replay(mode, step, config)


def _replay(mode: str, step, config: NodeBenchConfig) -> ModeResult:
    """Frames arrive every 1 / rate s; the node takes the newest one when it is free."""
    from finetrack_ros.progress import progress_bar

    period = 1.0 / config.rate_hz
    times_ms, boxes = [], []
    last = -1
    start = time.perf_counter()
    with progress_bar(total=config.frames, desc=f"bench node ({mode})", leave=False) as bar:
        while True:
            newest = int((time.perf_counter() - start) / period)
            if newest >= config.frames and last >= config.frames - 1:
                break
            newest = min(newest, config.frames - 1)
            if newest <= last:  # idle until the next frame arrives
                time.sleep(max((last + 1) * period - (time.perf_counter() - start), 0.0))
                continue
            t0 = time.perf_counter()
            boxes.append(step(newest))
            times_ms.append((time.perf_counter() - t0) * 1000.0)
            bar.update(newest - last)
            last = newest
    processed = len(times_ms)
    return ModeResult(mode, statistics.fmean(boxes), statistics.fmean(times_ms),
                      float(np.percentile(times_ms, 95)), processed, config.frames - processed)


def _image_message(rng: np.random.Generator, frame_hw: tuple[int, int]) -> SimpleNamespace:
    """Build a sensor_msgs/Image look-alike (bgr8), read by ``image_msg_to_bgr`` as the real one."""
    height, width = frame_hw
    pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    return SimpleNamespace(height=height, width=width, encoding="bgr8", is_bigendian=0,
                           step=width * 3, data=pixels.tobytes())


def _moving_boxes(index: int, config: NodeBenchConfig):
    """``config.boxes`` 40x100 boxes on a grid, moving 2 px per frame to the right."""
    from finetrack_ros.structures import Detections

    height, width = config.frame_hw
    k = np.arange(config.boxes)
    x = (k % 8) * (width / 8) + 2 * (index % 20)
    y = (k // 8) * 120.0 + 20
    boxes = np.stack([x, y, x + 40, np.minimum(y + 100, height - 1)], axis=1)
    return Detections(boxes, np.full(config.boxes, 0.9), np.zeros(config.boxes, np.int64))


def print_table(rows: list[ModeResult], rate_hz: float) -> None:
    budget = 1000.0 / rate_hz
    print(f"{'mode':<10}{'boxes/frame':>12}{'mean ms':>10}{'p95 ms':>9}{'max fps':>9}"
          f"{'processed':>11}{'dropped':>9}{'dropped %':>11}   (budget {budget:.1f} ms)")
    for r in rows:
        print(f"{r.mode:<10}{r.boxes_per_frame:>12.1f}{r.ms_mean:>10.1f}{r.ms_p95:>9.1f}"
              f"{1000.0 / r.ms_mean:>9.1f}{r.processed:>11d}{r.dropped:>9d}"
              f"{100.0 * r.dropped_share:>10.1f}%")
