"""``bench realtime``'s jobs: what is measured (rows, thread policies), each in a fresh process.

The parent process renders the scene, runs every measurement as a job of
``realtime_workers.py`` (``python -m finetrack_ros.bench.realtime_workers --worker JOB``),
with or without a competing CPU-bound process, and collects the rows; ``realtime_report.py``
prints them. See ``realtime.py`` for what the benchmark reports.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STAGES = ("decode", "detector", "reid", "tracker", "publish")
SETS = ("deploy", "demo")
# command-line name -> (backend, precision)
CONFIGS = {"torch-fp32": ("torch", "fp32"), "torch-bf16": ("torch", "bf16"),
           "ort-fp32": ("onnxruntime", "fp32"), "ort-int8": ("onnxruntime", "int8")}
# end-to-end targets of issue #15 on a 2-core CPU
TARGET_FPS = {"deploy": 15.0, "demo": 40.0}
TARGET_COMPETING_SHARE = 0.45  # competing fps / idle fps
FRAME_HW = (480, 640)  # camera frame (H, W)
REID_BOXES = 10  # people per frame given to Re-ID and the tracker
SCENE_PEOPLE = 14  # rendered people: >= 10 on screen in every frame
SCENE_SEED = 3
RESULT_PREFIX = "REALTIME-RESULT "
# one CPU-bound competitor: a single-threaded pure-Python busy loop
COMPETITOR_CODE = "x = 1\nwhile True:\n    x = (x * 1103515245 + 12345) & 0xFFFFFFFF\n"


@dataclass
class BenchConfig:
    """What ``bench realtime`` measures."""

    sets: tuple[str, ...] = SETS
    configs: tuple[str, ...] = tuple(CONFIGS)
    frames: int = 30  # timed frames per row
    warmup: int = 3  # untimed frames first (runner build, first-call allocations)
    forward_reps: int = 10  # timed forwards per network for GFLOP/s
    row_budget_s: float = 20.0  # stop timing a row's frames after this (at least 3 frames)
    threads: int = 0  # 0 = one per core
    competitor: bool = True
    calib_frames: int = 16  # int8 calibration frames
    peak_sizes: tuple[int, ...] = (1024, 2048)  # square matmuls of the peak benchmark
    worker_timeout_s: float = 600.0

    @property
    def thread_count(self) -> int:
        return self.threads or os.cpu_count() or 1


@dataclass(frozen=True)
class Policy:
    """How the networks share the CPU: threads, ORT spin-waiting, OpenMP wait policy."""

    threads: int
    spin_wait: bool = False  # the node's default
    omp_passive: bool = False

    def label(self, backend: str) -> str:
        """Return ``2 threads, no spin`` and the like."""
        text = (f"{self.threads} thread{'s' if self.threads != 1 else ''}" if self.threads
                else "auto threads (num_threads 0)")
        if backend == "onnxruntime":
            text += ", spin" if self.spin_wait else ", no spin"
        if self.omp_passive:
            text += ", OMP passive"
        return text


@dataclass
class Row:
    """One measurement: a model set, a configuration, a policy, with or without competitor."""

    set: str
    config: str
    policy: Policy
    competing: bool = False
    ms: dict[str, float] = field(default_factory=dict)  # stage -> median ms
    total_ms: float = 0.0  # median per-frame total
    fps: float = 0.0
    det_forward_ms: float = 0.0
    reid_forward_ms: float = 0.0
    timed_frames: int = 0  # frames in the medians (fewer than asked past the row budget)
    det_boxes: float = 0.0  # mean boxes the detector found per frame
    reid_boxes: float = 0.0  # mean boxes embedded per frame
    describe: str = ""
    error: str = ""

    @property
    def backend(self) -> str:
        return CONFIGS[self.config][0]

    @property
    def precision(self) -> str:
        return CONFIGS[self.config][1]

    @property
    def ok(self) -> bool:
        return not self.error

    def label(self) -> str:
        return (f"{self.set} {self.config} ({self.policy.label(self.backend)}"
                f"{', competing' if self.competing else ''})")


def best_peaks(start: dict, end: dict) -> dict:
    """Peak GFLOP/s per precision: the better of the start and end measurements.

    On a CPU shared with other work one of them may be low; both are kept
    (``start``/``end``) for the JSON file.
    """
    peaks: dict[str, Any] = {"start": start, "end": end}
    for key in ("fp32", "bf16", "int8"):
        if key in start or key in end:
            peaks[key] = max(start.get(key, 0.0), end.get(key, 0.0))
    return peaks


def load_text(load: tuple[float, float, float]) -> str:
    return ", ".join(f"{v:.2f}" for v in load)


def measure_all(config: BenchConfig, networks: dict, scene: Path) -> list[Row]:
    """Idle rows of every set × config; then competing rows and thread policies."""
    threads = config.thread_count
    default = Policy(threads)
    plan = [Row(s, c, default) for s in config.sets for c in config.configs]
    rows: list[Row] = []
    counter = {"done": 0, "planned": len(plan)}
    for row in plan:
        rows.append(_measure(row, config, networks[row.set], scene, counter))
    if not config.competitor:
        return rows
    # with a competitor: every config of the first set (deploy by default), default policy
    focus = config.sets[0]
    focus_rows = [r for r in rows if r.set == focus and r.ok]
    competing_plan = [Row(r.set, r.config, default, competing=True) for r in focus_rows]
    # thread policies for the fastest torch and the fastest ONNX Runtime config of that set
    policy_plan = []
    for backend in ("torch", "onnxruntime"):
        candidates = [r for r in focus_rows if r.backend == backend]
        if not candidates:
            continue
        fastest = max(candidates, key=lambda r: r.fps)
        for policy in alternative_policies(backend, threads):
            policy_plan += [Row(focus, fastest.config, policy),
                            Row(focus, fastest.config, policy, competing=True)]
    counter["planned"] += len(competing_plan) + len(policy_plan)
    for row in competing_plan + policy_plan:
        rows.append(_measure(row, config, networks[row.set], scene, counter))
    return rows


def alternative_policies(backend: str, threads: int) -> list[Policy]:
    """Thread policies compared with the default (all threads, no spinning, OpenMP default)."""
    policies = []
    if backend == "torch":
        policies.append(Policy(0))  # the node's default: follows the CPU share
        policies.append(Policy(threads, omp_passive=True))
    else:
        policies.append(Policy(threads, spin_wait=True))
    if threads > 1:
        policies.append(Policy(1))
    return policies


def _measure(row: Row, config: BenchConfig, network: dict, scene: Path, counter: dict) -> Row:
    backend, precision = CONFIGS[row.config]
    job = {"kind": "row", "set": row.set, "backend": backend, "precision": precision,
           "threads": row.policy.threads, "spin_wait": row.policy.spin_wait,
           "scene": str(scene), "frames": config.frames, "warmup": config.warmup,
           "forward_reps": config.forward_reps, "budget_s": config.row_budget_s,
           "files": network.get("files", {})}
    counter["done"] += 1
    progress = f"[{counter['done']}/{counter['planned']}] {row.label()}"
    competitor = start_competitor() if row.competing else None
    try:
        result = run_job(job, config, progress, omp_passive=row.policy.omp_passive,
                      raise_errors=False)
    finally:
        if competitor is not None:
            stop_competitor(competitor)
    if "error" in result:
        row.error = result["error"]
        return row
    row.ms = result["ms"]
    for key in ("total_ms", "fps", "det_forward_ms", "reid_forward_ms", "det_boxes",
                "reid_boxes", "describe", "timed_frames"):
        setattr(row, key, result[key])
    return row


def start_competitor() -> subprocess.Popen:
    """Start one single-threaded CPU-bound process (stopped by :func:`stop_competitor`)."""
    process = subprocess.Popen([sys.executable, "-c", COMPETITOR_CODE],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    time.sleep(0.2)  # running before the measured process starts
    return process


def stop_competitor(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_job(job: dict, config: BenchConfig, progress: str, omp_passive: bool = False,
         raise_errors: bool = True) -> dict:
    """Run ``job`` in a fresh Python process; return its result dict (``error`` on failure)."""
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    # the worker imports this very package, wherever the parent found it
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH"))
                                        if p)
    if omp_passive:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    print(f"{progress} ...", end="", flush=True)
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", "finetrack_ros.bench.realtime_workers",
                               "--worker", json.dumps(job)], env=env, capture_output=True,
                              text=True, timeout=config.worker_timeout_s)
        lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
        if done.returncode != 0 or not lines:
            tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-5:]
            raise RuntimeError(f"worker exited with code {done.returncode}: "
                               + " | ".join(tail))
        result = json.loads(lines[-1][len(RESULT_PREFIX):])
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        print(f" FAILED after {time.perf_counter() - start:.0f} s: {error}", flush=True)
        if raise_errors:
            raise RuntimeError(f"bench realtime: {progress}: {error}") from None
        return {"error": str(error)}
    note = f" {result['fps']:.1f} fps" if "fps" in result else ""
    print(f"{note} ({time.perf_counter() - start:.0f} s)", flush=True)
    return result


def write_scene(path: Path, count: int) -> None:
    """Render ``count`` frames of a 640x480 street scene and the 10 most visible GT boxes."""
    import numpy as np

    from finetrack_ros.sim import SceneConfig, SceneGenerator

    scene = SceneConfig(width=FRAME_HW[1], height=FRAME_HW[0], frames=count,
                        people=SCENE_PEOPLE, seed=SCENE_SEED)
    frames, boxes = [], []
    for sim in SceneGenerator(scene):
        truth = sim.truth
        order = np.argsort(-truth.visibility, kind="stable")[:REID_BOXES]
        tlwh = truth.boxes_tlwh[order].astype(np.float32)
        xyxy = np.concatenate([tlwh[:, :2], tlwh[:, :2] + tlwh[:, 2:]], axis=1)
        if len(xyxy) < REID_BOXES:  # pad by repeating boxes: the Re-ID load stays 10
            xyxy = np.resize(xyxy, (REID_BOXES, 4)) if len(xyxy) else np.tile(
                np.float32([[100, 100, 160, 250]]), (REID_BOXES, 1))
        frames.append(sim.image)
        boxes.append(xyxy)
    np.savez(path, frames=np.stack(frames), boxes=np.stack(boxes))
