"""``finetrack bench realtime``: check that the node runs in real time on this CPU (#15).

One run reports, for each model set and inference configuration (backend × precision):

* per-stage median milliseconds of the node's per-frame work: ``decode`` (CDR bytes of a
  640x480 bgr8 sensor_msgs/Image → message → BGR array), ``detector`` (YOLOX preprocess,
  forward, postprocess), ``reid`` (crops and FineTrack Re-ID of the scene's 10 people),
  ``tracker`` (ByteTrack + FineTrack fusion) and ``publish`` (the Detection2DArray and
  TrackedObjectArray of the tracks built and serialised to CDR, what rclpy publishing costs
  in CPU), their per-frame total and fps;
* the GFLOP/s each network achieves (FLOPs of one forward counted by
  ``torch.utils.flop_counter`` / its forward time) next to the machine's peak measured in the
  same run by a matmul micro-benchmark (torch fp32 and bf16, ONNX Runtime int8 MatMulInteger);
* the fps with one competing CPU-bound process (a single-threaded busy loop) as a share of the
  idle fps, and which thread policy keeps the most of it: 1 thread or all, ONNX Runtime
  spin-waiting on or off, ``OMP_WAIT_POLICY=PASSIVE`` or the default for torch.

Model sets: ``deploy`` (YOLOX-s at 480x640 and Re-ID ``small`` 128x64, random weights: speed
does not depend on them) and ``demo`` (the shipped ``weights/detector_nano_demo.pth`` at
256x320 and ``weights/reid_demo.pth``). The detector runs on a synthetic street scene
(:mod:`finetrack_ros.sim`); Re-ID and the tracker get the scene's 10 ground-truth boxes, so
the Re-ID load is exactly 10 boxes whatever a random detector finds (adaptive Re-ID is off
for the same reason). int8 files are exported and quantized first, calibrated on frames of
the same scene.

Each measurement runs in its own Python process (``python -m
finetrack_ros.bench.realtime_workers --worker JOB``): torch/OpenMP thread settings and ONNX
Runtime pools do not leak between rows, and the competing process runs around exactly one
measurement. This module is the command; ``realtime_jobs.py`` (rows, policies, the
processes), ``realtime_workers.py`` (the measurements) and ``realtime_report.py`` (tables,
JSON, plot) do the work.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from finetrack_ros.bench.realtime_jobs import (
    CONFIGS,
    FRAME_HW,
    REID_BOXES,
    SETS,
    BenchConfig,
    Policy,
    best_peaks,
    load_text,
    measure_all,
    run_job,
    write_scene,
)
from finetrack_ros.bench.realtime_report import plot_stages, print_report, write_json

HELP = ("Real time on a CPU: per-stage ms per backend and precision, GFLOP/s against a "
        "matmul peak, fps with a competing CPU-bound process.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = BenchConfig()
    parser.add_argument("--sets", default=",".join(defaults.sets),
                        help="model sets, comma separated: deploy (YOLOX-s 480x640 + Re-ID "
                             "small, random weights), demo (shipped demo weights) "
                             "(default deploy,demo)")
    parser.add_argument("--configs", default=",".join(defaults.configs),
                        help=f"backend-precision configurations, comma separated: "
                             f"{', '.join(CONFIGS)} (default all)")
    parser.add_argument("--frames", type=int, default=None,
                        help=f"timed frames per row (default {defaults.frames}; --quick 3)")
    parser.add_argument("--warmup", type=int, default=None,
                        help=f"untimed frames first (default {defaults.warmup}; --quick 1)")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads of both networks, the node's num_threads (default "
                             "0: one per core)")
    parser.add_argument("--competitor", action=argparse.BooleanOptionalAction, default=True,
                        help="also measure with one competing CPU-bound process and compare "
                             "thread policies (default on)")
    parser.add_argument("--calib-frames", type=int, default=None,
                        help=f"int8 calibration frames of the synthetic scene (default "
                             f"{defaults.calib_frames}; at least 8)")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT",
                        help="also write every number to this JSON file")
    parser.add_argument("--plot", type=Path, default=None, metavar="OUT.png",
                        help="bar chart of the per-stage ms of each configuration")
    parser.add_argument("--quick", action="store_true",
                        help="tiny run for tests: 3 frames, 1 warm-up, small peak matmuls")


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    def names(text: str, allowed, flag: str) -> tuple[str, ...]:
        chosen = tuple(v.strip() for v in text.split(",") if v.strip())
        unknown = [v for v in chosen if v not in allowed]
        if unknown or not chosen:
            raise ValueError(f"bench realtime: {flag}: unknown {unknown or 'empty'}; choose "
                             f"from {', '.join(allowed)}")
        return chosen

    quick = bool(args.quick)
    config = BenchConfig(
        sets=names(args.sets, SETS, "--sets"),
        configs=names(args.configs, tuple(CONFIGS), "--configs"),
        frames=args.frames if args.frames is not None else (3 if quick else 30),
        warmup=args.warmup if args.warmup is not None else (1 if quick else 3),
        forward_reps=3 if quick else 10, threads=args.threads, competitor=args.competitor,
        row_budget_s=5.0 if quick else 20.0,
        calib_frames=args.calib_frames if args.calib_frames is not None else (8 if quick
                                                                              else 16),
        peak_sizes=(256, 512) if quick else (1024, 2048))
    if config.frames < 1 or config.warmup < 0 or config.threads < 0:
        raise ValueError(f"bench realtime: need --frames >= 1, --warmup >= 0, --threads >= 0; "
                         f"got {config.frames}, {config.warmup}, {config.threads}")
    if "ort-int8" in config.configs and config.calib_frames < 8:
        raise ValueError(f"bench realtime: --calib-frames {config.calib_frames}: int8 needs at "
                         "least 8")
    return config


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    started = time.perf_counter()
    load_start = os.getloadavg()
    threads = config.thread_count
    print(f"bench realtime: {os.cpu_count()} CPU cores, {threads} threads per network; "
          f"{FRAME_HW[1]}x{FRAME_HW[0]} frames, {REID_BOXES} people to Re-ID; median of "
          f"{config.frames} frames after {config.warmup} warm-up; load average at start "
          f"{load_text(load_start)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="finetrack-realtime-") as tmp:
        work = Path(tmp)
        scene = work / "scene.npz"
        write_scene(scene, max(config.frames + config.warmup, config.calib_frames))
        peak_job = {"kind": "peak", "threads": threads, "sizes": list(config.peak_sizes),
                    "int8": any(CONFIGS[c][1] == "int8" for c in config.configs)}
        peak_start = run_job(peak_job, config, "peak matmul (start)")
        networks = {}
        for name in config.sets:
            networks[name] = run_job({"kind": "prepare", "set": name, "scene": str(scene),
                                   "out_dir": str(work / name),
                                   "calib_frames": config.calib_frames,
                                   "configs": list(config.configs)},
                                  config, f"prepare {name} (FLOPs, ONNX export, int8)")
        rows = measure_all(config, networks, scene)
        peak_end = run_job(peak_job, config, "peak matmul (end)")
    peaks = best_peaks(peak_start, peak_end)
    load_end = os.getloadavg()
    print_report(config, peaks, networks, rows)
    print(f"load average at start {load_text(load_start)}, at end {load_text(load_end)}; "
          f"bench took {time.perf_counter() - started:.0f} s")
    if args.json is not None:
        write_json(args.json, config, peaks, networks, rows, load_start, load_end)
        print(f"wrote {args.json}")
    if args.plot is not None:
        plot_stages([r for r in rows if not r.competing and r.ok
                     and r.policy == Policy(threads)], args.plot)
        print(f"wrote {args.plot}")
    failed = [r for r in rows if not r.ok]
    return 1 if failed else 0
