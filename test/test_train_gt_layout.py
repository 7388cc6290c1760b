"""Re-ID ground truth in both MOTChallenge layouts: which one is assumed, what each filter drops."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_train_synthetic import make_synthetic_mot

from finetrack_ros.train.reid_dataset import ReIDDataConfig, load_reid_splits
from finetrack_ros.train.reid_gt import (
    MOT15_LAYOUT,
    MOT16_LAYOUT,
    GtReport,
    detect_gt_layout,
    read_reid_gt,
)


def write_gt(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_layout_is_told_by_columns_and_values():
    mot16 = np.array([[1, 1, 0, 0, 10, 20, 1, 1, 0.5], [1, 2, 0, 0, 10, 20, 0, 7, 1.0]])
    assert detect_gt_layout(mot16)[0] == MOT16_LAYOUT
    mot15 = np.array([[1, 1, 0, 0, 10, 20, 1, -4.2, -7.4, 0]])
    layout, reason = detect_gt_layout(mot15)
    assert layout == MOT15_LAYOUT and "10 columns" in reason
    assert detect_gt_layout(np.array([[1, 1, 0, 0, 10, 20, 1, -1, -1]]))[0] == MOT15_LAYOUT
    assert detect_gt_layout(mot15[:, :7])[0] == MOT15_LAYOUT
    world_in_class_column = np.array([[1, 1, 0, 0, 10, 20, 1, -4.2, -7.4]])
    with pytest.raises(ValueError, match="gt.txt: 9 columns, but not the MOT16"):
        detect_gt_layout(world_in_class_column)
    with pytest.raises(ValueError, match=">= 7 columns"):
        detect_gt_layout(mot15[:, :6])


def test_each_filter_reports_the_rows_it_removed(tmp_path):
    gt = write_gt(tmp_path / "gt.txt", [
        "1,1,0,0,10,40,1,1,1.0",    # kept
        "1,2,0,0,10,40,0,1,1.0",    # ignore row
        "1,3,0,0,10,40,1,7,1.0",    # class 7
        "1,4,0,0,10,40,1,1,0.1",    # hidden
        "2,4,0,0,10,40,1,1,0.1",    # hidden
        "2,5,0,0,10,8,1,1,1.0",     # short
    ])
    rows, report = read_reid_gt(gt, min_visibility=0.25, min_height=16)
    assert rows[:, 1].tolist() == [1] and report.layout == MOT16_LAYOUT
    assert report.removed == [("ignore rows (conf != 1)", 1), ("class != 1 (pedestrian)", 1),
                              ("visibility < data.min_visibility=0.25", 2),
                              ("height < data.min_height=16 px", 1), ("width <= 1 px", 0)]
    assert (report.total, report.kept) == (6, 1)
    assert GtReport.from_json(report.to_json()) == report


def test_2dmot2015_rows_give_the_same_crops_as_mot16_rows(tmp_path, capsys):
    """The same boxes written in both layouts train on the same crops; flag 0 rows drop."""
    (seq,) = make_synthetic_mot(tmp_path / "a", num_sequences=1, num_frames=4, num_people=2)
    cfg = ReIDDataConfig(crop_height=32, crop_width=16, split="none",
                         cache_dir=str(tmp_path / "cache"))
    mot16, _ = load_reid_splits([seq], cfg)
    assert f"gt.txt: read as {MOT16_LAYOUT}" in capsys.readouterr().err  # says what it assumed
    lines = []
    for line in (seq / "gt" / "gt.txt").read_text().split():
        f = line.split(",")
        if f[7] == "1" and float(f[8]) >= cfg.min_visibility:  # pedestrians, visible enough
            lines.append(",".join(f[:7] + ["-3.5", "7.25", "0"]))  # flag = conf, world xyz
    write_gt(seq / "gt" / "gt.txt", lines)
    mot15, _ = load_reid_splits([seq], cfg)
    assert f"gt.txt: read as {MOT15_LAYOUT} (10 columns)" in capsys.readouterr().err
    rows, report = read_reid_gt(seq / "gt" / "gt.txt", cfg.min_visibility, cfg.min_height)
    assert report.layout == MOT15_LAYOUT and report.removed[0] == ("ignore rows (flag = 0)", 4)
    assert mot15.identity_keys == mot16.identity_keys == ["SYN-00:1", "SYN-00:2"]
    np.testing.assert_array_equal(mot15.frames, mot16.frames)
    np.testing.assert_array_equal(mot15.crops, mot16.crops)


def test_no_training_crops_error_names_layout_and_filters(tmp_path):
    seq = tmp_path / "SEQ-A"
    write_gt(seq / "gt" / "gt.txt", ["1,1,0,0,10,40,1,1,0.1", "2,1,0,0,10,40,1,3,1.0"])
    cfg = ReIDDataConfig(crop_height=16, crop_width=8, cache_dir=str(tmp_path / "cache"))
    with pytest.raises(ValueError) as err:
        load_reid_splits([seq], cfg)
    message = str(err.value)
    for part in ("no training crops in ['SEQ-A']", f"read as {MOT16_LAYOUT}", "2 rows",
                 "1 by class != 1 (pedestrian)", "1 by visibility < data.min_visibility=0.25",
                 "0 kept", "0 of them in the train split"):
        assert part in message, message


def test_real_2dmot2015_ground_truth_of_pets09(shared_data, tmp_path):
    rows, report = read_reid_gt(shared_data / "PETS09-S2L1-dev" / "gt" / "gt.txt", 0.25, 16)
    assert report.layout == MOT15_LAYOUT
    assert report.removed[0] == ("ignore rows (flag = 0)", 174)  # frames 147-244 (README)
    assert report.kept == len(rows) == 2213 and len(np.unique(rows[:, 1])) == 10
