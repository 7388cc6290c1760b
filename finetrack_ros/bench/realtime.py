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

Each measurement runs in its own Python process (``python -m finetrack_ros.bench.realtime
--worker JOB``): torch/OpenMP thread settings and ONNX Runtime pools do not leak between
rows, and the competing process runs around exactly one measurement.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

HELP = ("Real time on a CPU: per-stage ms per backend and precision, GFLOP/s against a "
        "matmul peak, fps with a competing CPU-bound process.")

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


# --- the parent process: jobs, competitor, tables ---------------------------------------
def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    started = time.perf_counter()
    load_start = os.getloadavg()
    threads = config.thread_count
    print(f"bench realtime: {os.cpu_count()} CPU cores, {threads} threads per network; "
          f"{FRAME_HW[1]}x{FRAME_HW[0]} frames, {REID_BOXES} people to Re-ID; median of "
          f"{config.frames} frames after {config.warmup} warm-up; load average at start "
          f"{_load_text(load_start)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="finetrack-realtime-") as tmp:
        work = Path(tmp)
        scene = work / "scene.npz"
        write_scene(scene, max(config.frames + config.warmup, config.calib_frames))
        peak_job = {"kind": "peak", "threads": threads, "sizes": list(config.peak_sizes),
                    "int8": any(CONFIGS[c][1] == "int8" for c in config.configs)}
        peak_start = _job(peak_job, config, "peak matmul (start)")
        networks = {}
        for name in config.sets:
            networks[name] = _job({"kind": "prepare", "set": name, "scene": str(scene),
                                   "out_dir": str(work / name),
                                   "calib_frames": config.calib_frames,
                                   "configs": list(config.configs)},
                                  config, f"prepare {name} (FLOPs, ONNX export, int8)")
        rows = _measure_all(config, networks, scene)
        peak_end = _job(peak_job, config, "peak matmul (end)")
    peaks = best_peaks(peak_start, peak_end)
    load_end = os.getloadavg()
    print_report(config, peaks, networks, rows)
    print(f"load average at start {_load_text(load_start)}, at end {_load_text(load_end)}; "
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


def _load_text(load: tuple[float, float, float]) -> str:
    return ", ".join(f"{v:.2f}" for v in load)


def _measure_all(config: BenchConfig, networks: dict, scene: Path) -> list[Row]:
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
        result = _job(job, config, progress, omp_passive=row.policy.omp_passive,
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


def _job(job: dict, config: BenchConfig, progress: str, omp_passive: bool = False,
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
        done = subprocess.run([sys.executable, "-m", "finetrack_ros.bench.realtime",
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


# --- report ------------------------------------------------------------------------------
def _idle_default_rows(rows: list[Row], threads: int) -> list[Row]:
    return [r for r in rows if not r.competing and r.policy == Policy(threads)]


def stage_table(rows: list[Row]) -> str:
    """Markdown table of per-stage median ms, total and fps, one line per row."""
    head = ("| set | config | policy | CPU | " + " | ".join(f"{s} ms" for s in STAGES)
            + " | total ms | fps | frames | det boxes | target |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        if not r.ok:
            lines.append(f"| {r.set} | {r.config} | {r.policy.label(r.backend)} | "
                         f"{_cpu(r)} | FAILED: {r.error[:120]} |")
            continue
        target = TARGET_FPS.get(r.set)
        verdict = "" if target is None else (f">= {target:g} "
                                              f"{'yes' if r.fps >= target else 'NO'}")
        lines.append(f"| {r.set} | {r.config} | {r.policy.label(r.backend)} | {_cpu(r)} | "
                     + " | ".join(f"{r.ms[s]:.1f}" for s in STAGES)
                     + f" | {r.total_ms:.1f} | {r.fps:.1f} | {r.timed_frames} | "
                       f"{r.det_boxes:.0f} | {verdict} |")
    return "\n".join(lines)


def _cpu(row: Row) -> str:
    return "+1 busy process" if row.competing else "idle"


def peak_for(row: Row, peaks: dict) -> tuple[Optional[float], str]:
    """(peak GFLOP/s the row's precision is compared with, its name)."""
    key = {"fp32": "fp32", "bf16": "bf16", "int8": "int8"}.get(row.precision, "fp32")
    value = peaks.get(key)
    return value, key


def gflops_table(rows: list[Row], peaks: dict, networks: dict) -> str:
    """Markdown table: FLOPs, forward ms, achieved GFLOP/s and % of peak of each network."""
    head = ("| set | config | det GFLOP | det fwd ms | det GFLOP/s | det % peak | reid GFLOP "
            "(10 crops) | reid fwd ms | reid GFLOP/s | reid % peak | peak compared |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        if not r.ok:
            continue
        flops = networks[r.set]
        peak, peak_name = peak_for(r, peaks)
        cells = []
        for gflop, ms in ((flops["detector_gflop"], r.det_forward_ms),
                          (flops["reid_gflop"], r.reid_forward_ms)):
            rate = gflop / (ms / 1000.0) if ms > 0 else 0.0
            share = f"{100.0 * rate / peak:.0f} %" if peak else "-"
            cells += [f"{gflop:.2f}", f"{ms:.1f}", f"{rate:.1f}", share]
        peak_text = f"{peak_name} {peak:.0f}" if peak else "-"
        lines.append(f"| {r.set} | {r.config} | " + " | ".join(cells) + f" | {peak_text} |")
    return "\n".join(lines)


def competition_table(rows: list[Row], threads: int) -> tuple[str, list[dict]]:
    """Markdown table of competing fps against idle fps, per config and policy."""
    head = "| set | config | policy | idle fps | competing fps | % of idle | % of default idle |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    records = []
    for r in rows:
        if not r.competing or not r.ok:
            continue
        idle = next((i for i in rows if not i.competing and i.ok and i.set == r.set
                     and i.config == r.config and i.policy == r.policy), None)
        best_idle = next((i for i in rows if not i.competing and i.ok and i.set == r.set
                          and i.config == r.config and i.policy == Policy(threads)), idle)
        if idle is None:
            continue
        share = r.fps / idle.fps
        share_best = r.fps / best_idle.fps
        records.append({"set": r.set, "config": r.config,
                        "policy": r.policy.label(r.backend), "idle_fps": idle.fps,
                        "competing_fps": r.fps, "share_of_idle": share,
                        "share_of_default_idle": share_best})
        lines.append(f"| {r.set} | {r.config} | {r.policy.label(r.backend)} | {idle.fps:.1f} | "
                     f"{r.fps:.1f} | {100 * share:.0f} % | {100 * share_best:.0f} % |")
    return "\n".join(lines), records


def verdicts(rows: list[Row], threads: int, records: list[dict]) -> list[str]:
    """Lines naming the fastest configuration per set, its target, the best policy."""
    out = []
    idle = [r for r in rows if r.ok and not r.competing]
    for name in dict.fromkeys(r.set for r in idle):
        best = max((r for r in idle if r.set == name), key=lambda r: r.fps)
        target = TARGET_FPS[name]
        out.append(f"{name}: fastest on an idle CPU {best.config} "
                   f"({best.policy.label(best.backend)}) {best.fps:.1f} fps (target >= "
                   f"{target:g}: {'met' if best.fps >= target else 'NOT met'})")
    for backend in ("torch", "onnxruntime"):
        mine = [rec for rec in records if CONFIGS[rec["config"]][0] == backend]
        if not mine:
            continue
        best = max(mine, key=lambda rec: rec["competing_fps"])
        ok = best["share_of_idle"] >= TARGET_COMPETING_SHARE
        out.append(f"with a competitor, {backend}: the policy that keeps the most fps is "
                   f"{best['config']} ({best['policy']}): {best['competing_fps']:.1f} fps = "
                   f"{100 * best['share_of_idle']:.0f} % of its idle fps (target >= "
                   f"{100 * TARGET_COMPETING_SHARE:.0f} %: {'met' if ok else 'NOT met'}), "
                   f"{100 * best['share_of_default_idle']:.0f} % of the idle fps with "
                   f"{Policy(threads).label(backend)}")
    return out


def print_report(config: BenchConfig, peaks: dict, networks: dict, rows: list[Row]) -> None:
    threads = config.thread_count
    idle = _idle_default_rows(rows, threads)
    print(f"\n## Per-stage median ms, idle CPU ({threads} threads)\n")
    print(stage_table(idle))
    for name, network in networks.items():
        print(f"{name}: {network['detector']}; {network['reid']}")
        for line in network.get("quantization", []):
            print(f"  {line}")
    peak_text = "; ".join(
        f"{k} {peaks[k]:.0f} GFLOP/s (start {peaks['start'].get(k, 0):.0f}, end "
        f"{peaks['end'].get(k, 0):.0f})" for k in ("fp32", "bf16", "int8") if k in peaks)
    sizes = "/".join(str(n) for n in config.peak_sizes)
    kernels = ", ".join(f"{k} {name} {v:.0f}" for k in ("fp32", "bf16")
                        for name, v in peaks["start"].get(f"{k}_by_kernel", {}).items())
    print(f"\n## Achieved GFLOP/s of each network (forward only) against the peak measured "
          f"in this run\n\npeak = best matrix product (n = {sizes}) at the start and end of "
          f"the run, {threads} threads: {peak_text}. fp32/bf16: the better of torch.mm (BLAS) "
          f"and a 1x1 convolution (oneDNN, the networks' library) (start: {kernels}); int8: "
          f"ONNX Runtime MatMulInteger (2 ops per int8 multiply-add)\n")
    print(gflops_table(idle, peaks, networks))
    others = [r for r in rows if r not in idle]
    if others:
        print("\n## With one competing CPU-bound process, and thread policies (per-stage ms)\n")
        print(stage_table(others))
        table, records = competition_table(rows, threads)
        print("\n## Competing fps against idle fps\n")
        print(table)
    else:
        records = []
    print()
    for line in verdicts(rows, threads, records):
        print(line)


def write_json(path: Path, config: BenchConfig, peaks: dict, networks: dict, rows: list[Row],
               load_start, load_end) -> None:
    threads = config.thread_count
    _, records = competition_table(rows, threads)
    data = {
        "machine": {"cpu_count": os.cpu_count(), "threads": threads,
                    "load_average_start": list(load_start),
                    "load_average_end": list(load_end)},
        "config": {**asdict(config), "thread_count": threads},
        "peak_gflops": peaks,
        "networks": networks,
        "stages": list(STAGES),
        "rows": [{**asdict(r), "policy": {**asdict(r.policy),
                                          "label": r.policy.label(r.backend)},
                  "backend": r.backend, "precision": r.precision} for r in rows],
        "competition": records,
        "verdicts": verdicts(rows, threads, records),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def plot_stages(rows: list[Row], path: Path) -> None:
    """Stacked horizontal bars of the per-stage ms of each (idle) row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r.set} {r.config}" for r in rows]
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.45 * max(len(rows), 1)))
    left = [0.0] * len(rows)
    for stage in STAGES:
        values = [r.ms.get(stage, 0.0) for r in rows]
        ax.barh(labels, values, left=left, label=stage)
        left = [a + b for a, b in zip(left, values)]
    for y, (r, total) in enumerate(zip(rows, left)):
        ax.text(total, y, f" {r.fps:.1f} fps", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("median ms per frame")
    ax.set_title("finetrack bench realtime: per-stage ms (idle CPU)")
    ax.set_xlim(0, 1.15 * max(left, default=1.0))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


# --- worker processes --------------------------------------------------------------------
def set_params(name: str) -> dict[str, Any]:
    """Node parameters of a model set (checkpoints as .pth or random)."""
    from finetrack_ros import settings

    if name == "deploy":
        return {"detector.checkpoint": settings.RANDOM_WEIGHTS, "detector.size": "s",
                "detector.input_size": [480, 640], "reid.checkpoint": settings.RANDOM_WEIGHTS,
                "reid.crop_size": [128, 64]}
    from finetrack_ros.package_paths import DEMO_DETECTOR, DEMO_REID, weights_dir

    return {"detector.checkpoint": str(weights_dir() / DEMO_DETECTOR), "detector.size": "auto",
            "detector.input_size": [256, 320], "detector.nms": 0.5,
            "reid.checkpoint": str(weights_dir() / DEMO_REID)}


def node_params(job: dict) -> dict[str, Any]:
    """Return a row's flat parameters: the set's networks in the job's backend and precision."""
    params = {**set_params(job["set"]), "device": "cpu", "backend": job["backend"],
              "precision": job["precision"], "num_threads": int(job["threads"]),
              "spin_wait": bool(job["spin_wait"]), "tracker.frame_rate": 30.0,
              "tracker.use_appearance": True}
    params["tracker.reid_skip_iou"] = 0.0  # every box embedded: a fixed Re-ID load
    if job["backend"] == "onnxruntime":
        files = job["files"][job["precision"]]
        params.update({"detector.checkpoint": files["detector"], "detector.size": "auto",
                       "reid.checkpoint": files["reid"]})
        params.pop("reid.crop_size", None)
    return params


def worker_peak(job: dict) -> dict:
    """Best GFLOP/s of matrix products per precision: the machine's peak for the networks.

    fp32 and bf16: ``torch.mm`` of n x n matrices (the BLAS library) and a 1x1 convolution,
    channels-last, of n/2 channels on a 64x64 map (the same product as a (4096 x n/2) x
    (n/2 x n/2) GEMM, in oneDNN, the library the networks' convolutions run in); the better
    of the two. int8: ONNX Runtime's uint8 x int8 ``MatMulInteger``.
    """
    import torch

    torch.set_num_threads(int(job["threads"]))
    result: dict[str, Any] = {"threads": int(job["threads"]), "sizes": job["sizes"]}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        by_kernel = {"mm": 0.0, "conv1x1": 0.0}
        for n in job["sizes"]:
            a = torch.randn(n, n).to(dtype)
            b = torch.randn(n, n).to(dtype)
            by_kernel["mm"] = max(by_kernel["mm"], 2.0 * n ** 3 / _best_seconds(
                lambda: torch.mm(a, b)) / 1e9)
            channels, side = max(n // 2, 8), 64
            conv = torch.nn.Conv2d(channels, channels, 1, bias=False).eval().to(dtype)
            conv = conv.to(memory_format=torch.channels_last)
            x = torch.randn(1, channels, side, side).to(dtype).contiguous(
                memory_format=torch.channels_last)
            with torch.inference_mode():
                seconds = _best_seconds(lambda: conv(x))
            by_kernel["conv1x1"] = max(by_kernel["conv1x1"],
                                       2.0 * channels ** 2 * side * side / seconds / 1e9)
        result[name] = max(by_kernel.values())
        result[f"{name}_by_kernel"] = by_kernel
    if job.get("int8"):
        result["int8"] = _int8_peak(job["sizes"], int(job["threads"]))
    return result


def _best_seconds(fn, repeats: int = 5) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _int8_peak(sizes: list[int], threads: int) -> float:
    """Best GFLOP/s (2 ops per multiply-add) of ONNX Runtime's uint8 x int8 MatMulInteger."""
    import numpy as np
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    best = 0.0
    rng = np.random.default_rng(0)
    for n in sizes:
        weight = numpy_helper.from_array(rng.integers(-127, 128, (n, n), dtype=np.int8), "B")
        graph = helper.make_graph(
            [helper.make_node("MatMulInteger", ["A", "B"], ["Y"])], "peak",
            [helper.make_tensor_value_info("A", TensorProto.UINT8, [n, n])],
            [helper.make_tensor_value_info("Y", TensorProto.INT32, [n, n])], [weight])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(onnx.shape_inference.infer_shapes(
            model).SerializeToString(), options, providers=["CPUExecutionProvider"])
        a = rng.integers(0, 256, (n, n), dtype=np.uint8)
        best = max(best, 2.0 * n ** 3 / _best_seconds(lambda: session.run(None, {"A": a}))
                   / 1e9)
    return best


def _load_scene(path: str):
    import numpy as np

    with np.load(path) as data:
        return data["frames"], data["boxes"]


def worker_prepare(job: dict) -> dict:
    """FLOPs of both networks; for ONNX Runtime configs their fp32 and int8 files."""
    import warnings

    from finetrack_ros import settings
    from finetrack_ros.bench.models import count_gflops
    from finetrack_ros.detector import build_yolox
    from finetrack_ros.reid import FineTrackReID
    from finetrack_ros.reid.model import EmbeddingsAndMasks

    params = {**set_params(job["set"]), "device": "cpu"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline = settings.pipeline_from_params(params)
    detector, extractor = pipeline.detector, pipeline.extractor
    det_config, reid_config = detector.config, extractor.config
    height, width = det_config.preprocess.input_size
    crop_h, crop_w = reid_config.crop_size
    result: dict[str, Any] = {
        "detector": detector.describe(),
        "reid": f"Re-ID {reid_config.backbone} {crop_h}x{crop_w}, {reid_config.num_parts} "
                f"parts, weights {params['reid.checkpoint']}",
        "detector_gflop": count_gflops(lambda: build_yolox(det_config.size,
                                                           det_config.num_classes),
                                       (1, 3, height, width)),
        "reid_gflop": count_gflops(lambda: EmbeddingsAndMasks(FineTrackReID(reid_config)),
                                   (REID_BOXES, 3, crop_h, crop_w)),
        "files": {}, "quantization": [],
    }
    precisions = {CONFIGS[c][1] for c in job["configs"] if CONFIGS[c][0] == "onnxruntime"}
    if not precisions:
        return result
    from finetrack_ros.inference.export import export_detector, export_reid

    out = Path(job["out_dir"])
    out.mkdir(parents=True, exist_ok=True)
    fp32 = {"detector": str(out / "detector_fp32.onnx"), "reid": str(out / "reid_fp32.onnx")}
    exported = {"detector": export_detector(detector, fp32["detector"]).data,
                "reid": export_reid(extractor.model, fp32["reid"]).data}
    result["files"]["fp32"] = fp32
    if "int8" in precisions:
        result["files"]["int8"] = _quantize(job, detector, extractor, exported, out,
                                            result["quantization"])
    return result


def _quantize(job: dict, detector, extractor, fp32: dict, out: Path, notes: list) -> dict:
    """Return int8 files of both networks (``fp32``: their fp32 ONNX bytes).

    Calibrated on the first frames of the scene.
    """
    import numpy as np

    from finetrack_ros.inference.calibration import CalibrationFrames
    from finetrack_ros.inference.export import export_int8

    frames, boxes = _load_scene(job["scene"])
    count = min(int(job["calib_frames"]), len(frames))
    source = f"synthetic scene seed {SCENE_SEED} ({count} frames)"
    calibration = CalibrationFrames(source, [np.ascontiguousarray(f) for f in frames[:count]],
                                    [b for b in boxes[:count]])
    int8 = {"detector": str(out / "detector_int8.onnx"), "reid": str(out / "reid_int8.onnx")}
    for network, model in (("detector", detector), ("reid", extractor.model)):
        _, report = export_int8(model, int8[network], calibration, fp32=fp32[network])
        notes.append(f"{network}: {report.summary().split(': ', 1)[1]}")
    return int8


def worker_row(job: dict) -> dict:
    """Run the per-frame stages on the scene; median ms per stage, forward times."""
    import warnings

    import numpy as np
    import torch

    from finetrack_ros import messages as m
    from finetrack_ros import settings
    from finetrack_ros.bag.typestore import (
        DETECTION_ARRAY_TYPE,
        IMAGE_TYPE,
        TRACKED_OBJECT_ARRAY_TYPE,
        build_typestore,
    )
    from finetrack_ros.image_codec import image_msg_to_bgr
    from finetrack_ros.structures import Detections

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline = settings.pipeline_from_params(node_params(job))
    store = build_typestore()
    frames, boxes = _load_scene(job["scene"])
    period_ns = int(1e9 / 30)
    images = [store.serialize_cdr(m.image_msg(store, m.make_header(store, i * period_ns,
                                                                   "camera"), frame),
                                  IMAGE_TYPE) for i, frame in enumerate(frames)]
    scores = np.full(REID_BOXES, 0.9, np.float32)
    class_ids = np.zeros(REID_BOXES, np.int64)
    samples: dict[str, list[float]] = {s: [] for s in (*STAGES, "total")}
    det_boxes, reid_boxes = [], []
    warmup, count = int(job["warmup"]), int(job["frames"])
    budget_ms = 1000.0 * float(job.get("budget_s", float("inf")))
    for step in range(warmup + count):
        if step == warmup:
            pipeline.reset()
        if (len(samples["total"]) >= min(3, count)
                and sum(samples["total"]) > budget_ms):
            break  # a slow (e.g. starved) row: enough frames for a median
        index = step % len(frames)
        times = {}
        start = time.perf_counter()
        msg = store.deserialize_cdr(images[index], IMAGE_TYPE)
        frame = image_msg_to_bgr(msg)
        times["decode"] = _ms_since(start)
        start = time.perf_counter()
        found = pipeline.detector(frame)
        times["detector"] = _ms_since(start)
        result = pipeline.process(frame, Detections(boxes[index], scores, class_ids))
        times["reid"] = result.timings_ms.get("reid", 0.0)
        times["tracker"] = result.timings_ms["track"]
        start = time.perf_counter()
        header = msg.header
        tracks_msg = m.tracks_to_detection_array(store, header, result.tracks,
                                                 pipeline.class_name)
        objects_msg = m.tracks_to_tracked_objects(store, header, result.tracks,
                                                  pipeline.class_name, 30.0, False)
        store.serialize_cdr(tracks_msg, DETECTION_ARRAY_TYPE)
        store.serialize_cdr(objects_msg, TRACKED_OBJECT_ARRAY_TYPE)
        times["publish"] = _ms_since(start)
        if step >= warmup:
            for stage, value in times.items():
                samples[stage].append(value)
            samples["total"].append(sum(times.values()))
            det_boxes.append(len(found))
            reid_boxes.append(result.reid_embedded)
    total = statistics.median(samples["total"])
    # forward passes alone, for GFLOP/s
    detector, extractor = pipeline.detector, pipeline.extractor
    images_in, _ = detector.preprocess(frames[0])
    crops = extractor.crops(frames[0], boxes[0])
    reps = int(job["forward_reps"])
    reps_budget_ms = budget_ms / 4
    with torch.inference_mode():
        det_ms = _median_ms(lambda: detector.forward(images_in), reps, reps_budget_ms)
        reid_ms = _median_ms(lambda: extractor.embed_crops(crops), reps, reps_budget_ms)
    return {"ms": {s: statistics.median(samples[s]) for s in STAGES}, "total_ms": total,
            "fps": 1000.0 / total, "det_forward_ms": det_ms, "reid_forward_ms": reid_ms,
            "timed_frames": len(samples["total"]),
            "det_boxes": float(np.mean(det_boxes)), "reid_boxes": float(np.mean(reid_boxes)),
            "describe": detector.describe()}


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def _median_ms(fn, repeats: int, budget_ms: float = float("inf")) -> float:
    """Median ms of up to ``repeats`` calls after one warm-up, stopping past ``budget_ms``."""
    fn()  # warm
    samples: list[float] = []
    while len(samples) < max(repeats, 1) and (not samples or sum(samples) < budget_ms):
        start = time.perf_counter()
        fn()
        samples.append(_ms_since(start))
    return statistics.median(samples)


WORKERS = {"peak": worker_peak, "prepare": worker_prepare, "row": worker_row}


def worker_main(argv: Optional[list[str]] = None) -> int:
    """Entry point of a measurement process: ``--worker JOB`` (JSON); prints the result."""
    parser = argparse.ArgumentParser(description="one bench realtime measurement")
    parser.add_argument("--worker", required=True, help="the job, as JSON")
    job = json.loads(parser.parse_args(argv).worker)
    result = WORKERS[job["kind"]](job)
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(worker_main())
