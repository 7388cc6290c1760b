"""``finetrack bench tracker``: per-frame time of the tracker alone, against peer trackers.

Every tracker sees the same synthetic detections (people walking in a 1920x1080 frame, box
noise, misses, mixed scores), in the same process. Time is ``update`` wall time per frame.
Peers: boxmot's ByteTrack (``pip install --no-deps boxmot``); a missing peer is skipped.
"""
from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

HELP = "Time the tracker per frame (median, p95) at several object counts, against peers."


@dataclass(frozen=True)
class SceneConfig:
    """Synthetic scene settings."""

    width: float = 1920.0  # frame size, pixels
    height: float = 1080.0
    box_w: tuple = (20.0, 60.0)  # person width range, pixels (height = 2.5 x width)
    speed: float = 3.0  # std of per-frame velocity, pixels
    box_noise: float = 2.0  # std of detection jitter, pixels
    miss_rate: float = 0.1  # probability a person is not detected in a frame
    low_score_rate: float = 0.2  # probability a detection gets a low score (0.1-0.5)
    embedding_dim: int = 128  # Re-ID feature size for the fused mode
    embedding_noise: float = 0.3  # std of per-frame feature noise before normalisation


def make_scene(num_objects: int, num_frames: int, cfg: SceneConfig, seed: int = 0):
    """Frames of detections: list of (boxes (N, 4) xyxy, scores (N,), embeddings (N, D))."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(*cfg.box_w, num_objects)
    size = np.stack([w, 2.5 * w], axis=1)
    pos = rng.uniform([0, 0], [cfg.width, cfg.height], (num_objects, 2)) - size / 2
    vel = rng.normal(0, cfg.speed, (num_objects, 2))
    identity = rng.normal(size=(num_objects, cfg.embedding_dim))
    frames = []
    for _ in range(num_frames):
        pos += vel
        out = (pos < 0) | (pos + size > [cfg.width, cfg.height])
        vel[out] *= -1
        keep = rng.random(num_objects) > cfg.miss_rate
        boxes = np.concatenate([pos, pos + size], axis=1)[keep]
        boxes += rng.normal(0, cfg.box_noise, boxes.shape)
        scores = rng.uniform(0.6, 1.0, len(boxes))
        low = rng.random(len(boxes)) < cfg.low_score_rate
        scores[low] = rng.uniform(0.1, 0.5, low.sum())
        feats = identity[keep] + rng.normal(0, cfg.embedding_noise, (len(boxes), cfg.embedding_dim))
        feats /= np.linalg.norm(feats, axis=1, keepdims=True)
        frames.append((boxes, scores, feats.astype(np.float32)))
    return frames


def time_updates(steps: dict[str, Callable], frames, warmup: int) -> dict[str, np.ndarray]:
    """Wall time (ms) per frame of each ``step(boxes, scores, feats)`` after ``warmup`` frames.

    The trackers take turns frame by frame, so load from other processes hits them alike.
    """
    times: dict[str, list] = {name: [] for name in steps}
    for i, (boxes, scores, feats) in enumerate(frames):
        for name, step in steps.items():
            start = time.perf_counter()
            step(boxes, scores, feats)
            if i >= warmup:
                times[name].append((time.perf_counter() - start) * 1000.0)
    return {name: np.asarray(t) for name, t in times.items()}


def ours(use_appearance: bool) -> Callable:
    from finetrack_ros.tracker import ByteTracker, TrackerConfig, TrackerInput

    tracker = ByteTracker(TrackerConfig(use_appearance=use_appearance))
    return lambda b, s, f: tracker.update(TrackerInput(b, s, None, f if use_appearance else None))


def boxmot_bytetrack() -> Optional[Callable]:
    """Return boxmot's ByteTrack with ByteTrack's default thresholds, or None if not installed."""
    try:
        from boxmot.trackers.box.bytetrack.tracker import ByteTrack
    except ImportError:
        return None
    logging.getLogger("boxmot").setLevel(logging.WARNING)  # one INFO banner per instance
    tracker = ByteTrack(min_conf=0.1, track_thresh=0.5, match_thresh=0.8, track_buffer=30)
    image = np.zeros((1080, 1920, 3), np.uint8)

    def step(boxes, scores, _feats):
        dets = np.concatenate([boxes, scores[:, None], np.zeros((len(boxes), 1))], axis=1)
        tracker.update(dets, image)

    return step


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--objects", type=int, nargs="+", default=[10, 50, 200],
                        help="people in the scene, one benchmark row each")
    parser.add_argument("--frames", type=int, default=300, help="frames timed per run")
    parser.add_argument("--warmup", type=int, default=20, help="frames run before timing")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    if args.frames < 1 or args.warmup < 0:
        raise ValueError(f"--frames must be >= 1 and --warmup >= 0, got {args.frames}, "
                         f"{args.warmup}")
    peer_available = boxmot_bytetrack() is not None
    if not peer_available:
        print("note: boxmot not installed, peer column skipped "
              "(pip install --no-deps boxmot rich platformdirs)")
    header = (f"{'objects':>7}  {'iou med':>8} {'iou p95':>8}  {'fused med':>9} {'fused p95':>9}"
              f"  {'boxmot med':>10} {'boxmot p95':>10}  {'iou/boxmot':>10}  {'fused/iou':>9}")
    print("per-frame update time in ms (median, p95)")
    print(header)
    for n in args.objects:
        frames = make_scene(n, args.frames + args.warmup, SceneConfig(), args.seed)
        steps = {"iou": ours(False), "fused": ours(True)}
        if peer_available:
            steps["boxmot"] = boxmot_bytetrack()
        times = time_updates(steps, frames, args.warmup)
        print(_row(n, times))
    return 0


def _row(num_objects: int, times: dict[str, np.ndarray]) -> str:
    """One table line: median and p95 per tracker, then the ratios of medians."""
    med = {k: float(np.median(v)) for k, v in times.items()}
    p95 = {k: float(np.percentile(v, 95)) for k, v in times.items()}
    cells = [f"{num_objects:>7}", f"{med['iou']:8.3f} {p95['iou']:8.3f}",
             f"{med['fused']:9.3f} {p95['fused']:9.3f}"]
    if "boxmot" in times:
        cells += [f"{med['boxmot']:10.3f} {p95['boxmot']:10.3f}",
                  f"{med['iou'] / med['boxmot']:10.2f}"]
    else:
        cells += [f"{'-':>10} {'-':>10}", f"{'-':>10}"]
    cells.append(f"{med['fused'] / med['iou']:9.2f}")
    return "  ".join(cells)
