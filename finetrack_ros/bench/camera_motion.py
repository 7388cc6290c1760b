"""``finetrack bench camera-motion``: what camera-motion compensation costs and buys.

1. Cost: milliseconds per 640x480 frame of each estimator (``sparse``, ``ecc``), median and
   p95, on the frames of a panning synthetic street.
2. Benefit: the same scene (a strong pan) tracked from its noisy GT-derived detections with
   ``tracker.camera_motion`` none / sparse / ecc, IoU only; HOTA, AssA, IDF1 and ID switches
   from TrackEval, and the tracking time per frame.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

HELP = "Camera-motion compensation: ms per frame and HOTA / IDSW on a panning scene."
METHODS = ("none", "sparse", "ecc")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # a constant slow pan is learnt by the Kalman velocity; compensation matters when the
    # camera moves boxes by more than they overlap
    parser.add_argument("--pan", type=float, default=20.0,
                        help="camera pan speed, pixels per frame (default 20)")
    parser.add_argument("--frames", type=int, default=150, help="frames (default 150)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[2001, 2002, 2003],
                        help="scene seeds (default 2001 2002 2003)")
    parser.add_argument("--threads", type=int, default=1,
                        help="OpenCV threads (default 1: the node shares the CPU)")


def run(args: argparse.Namespace) -> int:
    import cv2

    cv2.setNumThreads(args.threads)
    with tempfile.TemporaryDirectory(prefix="finetrack_bench_cmc_") as tmp:
        scenes = [_scene(Path(tmp) / f"PAN-{seed}", args.pan, args.frames, seed)
                  for seed in args.seeds]
        print(_cost_table(scenes[0]))
        print()
        print(_benefit_table(scenes, args.pan))
    return 0


def _scene(path: Path, pan: float, frames: int, seed: int) -> Path:
    from finetrack_ros.sim import SceneConfig, write_sequence

    config = replace(SceneConfig(), pan_px_per_frame=pan, frames=frames, seed=seed)
    return write_sequence(path, config, progress=False)


def _frames(seq: Path) -> list[np.ndarray]:
    import cv2

    return [cv2.imread(str(p)) for p in sorted((seq / "img1").glob("*.jpg"))]


def _cost_table(seq: Path) -> str:
    from finetrack_ros.camera_motion import CameraMotion
    from finetrack_ros.mot import load_detections

    frames = _frames(seq)
    dets = load_detections(seq / "det" / "det.txt", len(frames))
    lines = [f"cost per {frames[0].shape[1]}x{frames[0].shape[0]} frame "
             f"({len(frames)} frames)", "| method | median ms | p95 ms |", "|---|---|---|"]
    for method in METHODS[1:]:
        motion, times = CameraMotion(method), []
        for index, frame in enumerate(frames, start=1):
            boxes = dets[index].boxes_xyxy if index in dets else np.zeros((0, 4))
            start = time.perf_counter()
            motion.estimate(frame, boxes)
            times.append((time.perf_counter() - start) * 1000.0)
        lines.append(f"| {method} | {np.median(times):.2f} | {np.percentile(times, 95):.2f} |")
    return "\n".join(lines)


def _benefit_table(scenes: list[Path], pan: float) -> str:
    from finetrack_ros.eval.metrics import SequencePair, evaluate_sequences

    lines = [f"IoU-only tracking of {len(scenes)} scenes panning {pan:g} px/frame "
             "(mean over scenes; IDSW summed)",
             "| camera_motion | HOTA | AssA | IDF1 | IDSW | track ms/frame |",
             "|---|---|---|---|---|---|"]
    for method in METHODS:
        scores, seconds, frames = [], 0.0, 0
        for seq in scenes:
            out = seq.parent / f"{seq.name}-{method}.txt"
            elapsed, count = _track(seq, method, out)
            seconds, frames = seconds + elapsed, frames + count
            scores.append(evaluate_sequences([SequencePair(seq.name, seq / "gt" / "gt.txt",
                                                           out)])[seq.name])
        mean = {k: np.mean([s[k] for s in scores]) * 100 for k in ("HOTA", "AssA", "IDF1")}
        idsw = int(sum(s["IDSW"] for s in scores))
        lines.append(f"| {method} | {mean['HOTA']:.1f} | {mean['AssA']:.1f} | "
                     f"{mean['IDF1']:.1f} | {idsw} | {seconds / frames * 1000.0:.2f} |")
    return "\n".join(lines)


def _track(seq: Path, method: str, out: Path) -> tuple[float, int]:
    """Track ``seq`` from its det.txt; (seconds, frames)."""
    from finetrack_ros import settings
    from finetrack_ros.frame_path import FramePath
    from finetrack_ros.mot import load_detections, open_sequence, write_results
    from finetrack_ros.offline import mot_inputs, track_offline
    from finetrack_ros.tracker import TrackerConfig

    sequence = open_sequence(seq)
    num_frames = sequence.num_frames()
    tracker = TrackerConfig(camera_motion=method, frame_rate=sequence.info.frame_rate)
    pipeline = settings.pipeline_from_params(
        {"device": "cpu", "external_detections": True, "reid.enabled": False}, tracker)
    frames = FramePath(pipeline, report=lambda line: None)
    inputs = mot_inputs(sequence, load_detections(sequence.det_path, num_frames), num_frames,
                        tracker.frame_rate, with_images=pipeline.needs_images)
    summary = track_offline(inputs, frames, num_frames, seq.name, progress=False)
    write_results(out, summary.rows)
    return summary.seconds, summary.tracked
