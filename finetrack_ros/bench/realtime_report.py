"""``bench realtime``'s report: stage, GFLOP/s and competition tables, verdicts, JSON, plot."""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Optional

from finetrack_ros.bench.realtime_jobs import (
    CONFIGS,
    STAGES,
    TARGET_COMPETING_SHARE,
    TARGET_FPS,
    BenchConfig,
    Policy,
    Row,
)


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
