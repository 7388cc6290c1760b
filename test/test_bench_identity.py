"""``finetrack bench identity``: the rows' tracker settings and the printed table."""
from __future__ import annotations

import pytest

from finetrack_ros.bench.identity import (
    FEATURE_VALUES,
    FEATURES_OFF,
    ROWS,
    RowResult,
    format_table,
    row_tracker,
)
from finetrack_ros.cli import main


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


def test_bench_prints_one_row_per_tracker(repo_root, capsys):
    reid = repo_root / "weights" / "reid_demo.pth"
    if not reid.is_file():
        pytest.skip("weights/reid_demo.pth not shipped in this checkout")
    assert main(["bench", "identity", "--reid", str(reid), "--sim-seeds", "7",
                 "--sim-frames", "6", "--sim-people", "3", "--rows", "iou", "paper",
                 "all"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "seeds 7 (6 frames, static camera)" in out[0]
    assert out[1].startswith("| tracker | HOTA |")
    labels = [line.split("|")[1].strip() for line in out[3:]]
    assert labels == [label for key, label, _ in ROWS if key in ("iou", "paper", "all")]
    assert all(len(line.split("|")) == 8 for line in out[1:])


def test_bench_needs_an_input(repo_root):
    assert main(["bench", "identity", "--reid", str(repo_root / "weights" / "reid_demo.pth")]) == 2
