"""``finetrack bench identity``: the rows' tracker settings, and the printed table's figures."""
from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import pytest

from finetrack_ros.bench.identity import (
    FEATURE_VALUES,
    FEATURES_OFF,
    METRICS,
    ROWS,
    RowResult,
    format_table,
    row_tracker,
    score,
    track_sequence,
)
from finetrack_ros.cli import main
from finetrack_ros.sim import SceneConfig, write_sequence


def test_paper_row_has_every_feature_of_ours_off_and_iou_row_no_appearance():
    paper = row_tracker((), [], [], 7.0)
    assert paper.use_appearance and paper.frame_rate == 7.0
    for key, value in FEATURES_OFF.items():
        assert getattr(paper, key) == value
    assert not row_tracker(None, [], [], 7.0).use_appearance


def test_feature_rows_turn_on_only_their_feature_and_take_with_values():
    gallery = row_tracker(("gallery",), ["track_buffer=60"], ["gallery_thresh=0.1",
                                                              "relink_thresh=0.9"], 15.0)
    assert gallery.gallery_seconds == FEATURE_VALUES["gallery"]["gallery_seconds"]
    assert gallery.gallery_thresh == 0.1 and gallery.track_buffer == 60
    assert gallery.relink_thresh == 0.0 and gallery.part_weighting == "none"
    both = row_tracker(("part", "cmc"), [], [], 15.0)
    assert both.part_weighting == "visibility" and both.camera_motion != "none"
    with pytest.raises(ValueError, match="gallery_thresh"):
        row_tracker(("gallery",), [], ["gallery_thresh=-1"], 15.0)


def test_table_shows_mean_and_sd_over_networks():
    rows = [RowResult("IoU only", [{"HOTA": 40.0, "AssA": 30.0, "IDF1": 50.0, "IDSW": 14.0,
                                    "ms": 0.5}]),
            RowResult("paper", [{"HOTA": 50.0, "AssA": 40.0, "IDF1": 80.0, "IDSW": 4.0,
                                 "ms": 30.0},
                                {"HOTA": 52.0, "AssA": 44.0, "IDF1": 84.0, "IDSW": 6.0,
                                 "ms": 32.0}])]
    lines = format_table(rows, 2).splitlines()
    assert lines[0] == "| tracker | HOTA | AssA | IDF1 | IDSW | ms/frame |"
    assert lines[2] == "| IoU only | 40.0 | 30.0 | 50.0 | 14 | 0.5 |"
    assert lines[3] == "| paper | 51.0 ± 1.4 | 42.0 ± 2.8 | 82.0 ± 2.8 | 5.0 ± 1.4 | 31.0 |"


def test_bench_table_figures_are_the_metrics_of_its_rows(repo_root, tmp_path, capsys):
    """Each printed cell is its row's metric: mean over the scenes (in %), IDSW summed.

    The reference tracks and scores every scene once per row, outside the bench.
    """
    reid = repo_root / "weights" / "reid_demo.pth"
    if not reid.is_file():
        pytest.skip("weights/reid_demo.pth not shipped in this checkout")
    seeds, keys = (7, 8), ("iou", "paper", "all")
    assert main(["bench", "identity", "--reid", str(reid), "--sim-seeds", *map(str, seeds),
                 "--sim-frames", "12", "--sim-people", "4", "--rows", *keys]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "seeds 7 8 (12 frames, static camera)" in out[0]
    assert out[1] == "| tracker | HOTA | AssA | IDF1 | IDSW | ms/frame |"
    printed = [[cell.strip() for cell in line.strip("|").split("|")] for line in out[3:]]
    rows = [(key, label, features) for key, label, features in ROWS if key in keys]
    assert [cells[0] for cells in printed] == [label for _, label, _ in rows]

    scenes = [write_sequence(tmp_path / f"SIM-{seed}", replace(
        SceneConfig(), seed=seed, frames=12, people=4, pan_px_per_frame=0.0), progress=False)
        for seed in seeds]
    args = argparse.Namespace(overrides=[], feature_overrides=[], threads=1)
    figures = []
    for (key, label, features), cells in zip(rows, printed):
        network = None if features is None else reid
        scores = []
        for seq in scenes:
            track_sequence(seq, network, features, args, tmp_path / f"{key}-{seq.name}.txt")
            scores.append(score(seq, tmp_path / f"{key}-{seq.name}.txt"))
        expected = [f"{np.mean([s[m] for s in scores]) * 100:.1f}" for m in METRICS]
        expected.append(f"{sum(s['IDSW'] for s in scores):.0f}")
        assert cells[1:5] == expected, label
        assert float(cells[5]) > 0  # ms per frame
        figures.append(tuple(cells[1:5]))
    assert figures[0] != figures[1]  # IoU only and the paper differ: rows are not mixed up


def test_bench_needs_an_input(repo_root):
    assert main(["bench", "identity", "--reid", str(repo_root / "weights" / "reid_demo.pth")]) == 2
