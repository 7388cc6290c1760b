"""Printing, CSV and plots of :func:`finetrack_ros.eval.evaluate_sequences` results."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

from finetrack_ros.eval.metrics import FRACTIONS
from finetrack_ros.outputs import atomic_path

# columns of the printed table, in order
TABLE_COLUMNS = ("HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW", "FP", "FN")


def format_table(results: dict[str, dict[str, float]],
                 columns: Sequence[str] = TABLE_COLUMNS) -> str:
    """One row per sequence (and COMBINED): fractions as percentages, counts as integers."""
    width = max(len("sequence"), *(len(name) for name in results))
    lines = ["  ".join([f"{'sequence':<{width}}"] + [f"{c:>6}" for c in columns])]
    for name, row in results.items():
        cells = [f"{100 * row[c]:6.1f}" if c in FRACTIONS else f"{int(round(row[c])):6d}"
                 for c in columns]
        lines.append("  ".join([f"{name:<{width}}"] + cells))
    return "\n".join(lines)


def write_csv(results: dict[str, dict[str, float]], path: str | Path) -> Path:
    """All metrics, one row per sequence; fractions stay in [0, 1]."""
    path = Path(path)
    fields = list(next(iter(results.values())))
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["sequence"] + fields)
        for name, row in results.items():
            writer.writerow([name] + [f"{row[k]:.6g}" for k in fields])
    return path


def plot_metrics(results: dict[str, dict[str, float]], path: str | Path,
                 columns: Sequence[str] = ("HOTA", "DetA", "AssA", "MOTA", "IDF1")) -> Path:
    """Plot a grouped bar chart of the fraction metrics per sequence (percent)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(results)
    x = np.arange(len(columns))
    bar = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(columns), 3.5))
    for i, name in enumerate(names):
        ax.bar(x + i * bar, [100 * results[name][c] for c in columns], bar, label=name)
    ax.set_xticks(x + bar * (len(names) - 1) / 2, columns)
    ax.set_ylabel("%")
    ax.set_ylim(0, 100)
    ax.legend(fontsize="small")
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:  # same file name, so savefig picks the same format
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return path
