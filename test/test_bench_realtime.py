"""``finetrack bench realtime --quick`` runs end to end: stage table, fps, JSON and plot."""
from __future__ import annotations

import json

import pytest

from finetrack_ros.bench.realtime import config_from_args
from finetrack_ros.bench.realtime_jobs import STAGES, Policy, alternative_policies
from finetrack_ros.cli import main


def _table_rows(out: str, title: str) -> tuple[list[str], list[list[str]]]:
    """Header cells and body rows of the markdown table after the line starting ``title``."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    table = []
    for line in lines[start + 1:]:
        if line.startswith("|"):
            table.append([cell.strip() for cell in line.strip("|").split("|")])
        elif table:
            break
    return table[0], [row for row in table[2:]]


@pytest.mark.slow
def test_quick_bench_prints_every_stage_and_writes_json(capsys, tmp_path):
    out_json, out_png = tmp_path / "realtime.json", tmp_path / "stages.png"
    code = main(["bench", "realtime", "--quick", "--sets", "demo", "--configs",
                 "torch-fp32,ort-int8", "--frames", "3", "--no-competitor",
                 "--json", str(out_json), "--plot", str(out_png)])
    out = capsys.readouterr().out
    assert code == 0, out
    header, rows = _table_rows(out, "## Per-stage median ms")
    for stage in STAGES:
        assert f"{stage} ms" in header
    assert [row[:2] for row in rows] == [["demo", "torch-fp32"], ["demo", "ort-int8"]]
    fps_column = header.index("fps")
    for row in rows:
        assert all(float(row[header.index(f"{s} ms")]) >= 0.0 for s in STAGES)
        assert float(row[header.index("total ms")]) > 0.0
        assert float(row[fps_column]) > 0.0
    gflops_header, gflops_rows = _table_rows(out, "## Achieved GFLOP/s")
    assert "det % peak" in gflops_header and len(gflops_rows) == 2
    assert "load average at start" in out and "demo: fastest on an idle CPU" in out

    data = json.loads(out_json.read_text())
    assert data["stages"] == list(STAGES)
    assert {"fp32", "bf16", "int8", "start", "end"} <= set(data["peak_gflops"])
    assert data["peak_gflops"]["fp32"] > 0.0
    assert data["networks"]["demo"]["detector_gflop"] > 0.0
    assert data["networks"]["demo"]["reid_gflop"] > 0.0
    assert len(data["machine"]["load_average_start"]) == 3
    assert [(r["config"], r["competing"]) for r in data["rows"]] == [
        ("torch-fp32", False), ("ort-int8", False)]
    for row in data["rows"]:
        assert set(row["ms"]) == set(STAGES)
        assert row["fps"] > 0.0 and row["error"] == ""
        assert row["det_forward_ms"] > 0.0 and row["reid_forward_ms"] > 0.0
        assert row["reid_boxes"] == 10.0
    assert data["competition"] == []
    assert out_png.stat().st_size > 1000


def test_policies_compared_under_competition():
    assert alternative_policies("torch", 2) == [Policy(0), Policy(2, omp_passive=True),
                                                Policy(1)]
    assert Policy(0).label("torch") == "auto threads (num_threads 0)"
    assert alternative_policies("onnxruntime", 2) == [Policy(2, spin_wait=True), Policy(1)]
    assert alternative_policies("onnxruntime", 1) == [Policy(1, spin_wait=True)]
    assert Policy(2).spin_wait is False  # the node's default
    assert Policy(2, spin_wait=False).label("onnxruntime") == "2 threads, no spin"
    assert Policy(1, omp_passive=True).label("torch") == "1 thread, OMP passive"


@pytest.mark.parametrize("flag, value", [("sets", "robot"), ("configs", "torch-int4")])
def test_unknown_names_are_refused(flag, value):
    import argparse

    from finetrack_ros.bench import realtime

    parser = argparse.ArgumentParser()
    realtime.add_arguments(parser)
    args = parser.parse_args([f"--{flag}", value])
    with pytest.raises(ValueError, match=value):
        config_from_args(args)
