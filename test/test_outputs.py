"""Outputs are checked before work, never overwritten without --overwrite, written atomically.

Covers ``finetrack_ros.outputs`` and the one size parser of ``finetrack_ros.arguments``.
"""
from __future__ import annotations

import argparse
import time

import pytest
from test_tracker_cli import _toy_sequence

from finetrack_ros.arguments import parse_hw, parse_wh
from finetrack_ros.cli import main
from finetrack_ros.outputs import DIRECTORY, atomic_path, check_output, write_text_atomic


def test_check_output_refuses_wrong_kind_and_non_empty(tmp_path):
    folder, text, empty = tmp_path / "dir", tmp_path / "a.txt", tmp_path / "empty.txt"
    folder.mkdir()
    text.write_text("earlier result")
    empty.touch()
    assert check_output(tmp_path / "new" / "r.txt") == tmp_path / "new" / "r.txt"
    assert check_output(empty) == empty and check_output(folder, kind=DIRECTORY) == folder
    with pytest.raises(ValueError, match=r"--out .*dir: is a directory"):
        check_output(folder)
    with pytest.raises(ValueError, match=r"--csv .*a\.txt: exists and is not empty.*--overwrite"):
        check_output(text, option="--csv")
    assert check_output(text, overwrite=True) == text
    with pytest.raises(ValueError, match="exists and is not a directory"):
        check_output(text, kind=DIRECTORY, overwrite=True)
    (folder / "x").touch()
    with pytest.raises(ValueError, match="exists and is not empty"):
        check_output(folder, kind=DIRECTORY)
    with pytest.raises(ValueError, match=r"a\.txt is a file, not a folder"):
        check_output(text / "sub" / "r.txt")
    assert text.read_text() == "earlier result"  # a check never writes


def test_atomic_path_keeps_the_old_output_when_the_work_fails(tmp_path):
    path = write_text_atomic(tmp_path / "r.txt", "old")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-way")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.txt"]  # no temporary left
    write_text_atomic(path, "new")
    assert path.read_text() == "new"


def test_atomic_path_replaces_a_folder_as_a_whole(tmp_path):
    out = tmp_path / "bag"
    (out / "old").mkdir(parents=True)
    with atomic_path(out) as tmp:
        assert not tmp.exists() and tmp.name == "bag"
        (tmp / "new").mkdir(parents=True)
    assert [p.name for p in out.iterdir()] == ["new"]
    assert [p.name for p in tmp_path.iterdir()] == ["bag"]


def test_size_parsers_state_their_axis_order():
    assert parse_hw("608x1088") == (608, 1088) and parse_wh("640X480") == (640, 480)
    for bad in ("640", "640x", "axb", "0x480", "-1x2", "1x2x3"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_hw(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="WxH such as 640x480"):
        parse_wh("640*480")


def test_sim_refuses_an_existing_sequence_and_overwrite_leaves_no_stale_frames(tmp_path, capsys):
    out = tmp_path / "SIM"
    assert main(["sim", str(out), "--frames", "4", "--size", "96x64", "--quiet"]) == 0
    gt_before = (out / "gt" / "gt.txt").read_text()
    assert main(["sim", str(out), "--frames", "2", "--seed", "3", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "SIM: exists and is not empty" in err and "--overwrite" in err
    assert (out / "gt" / "gt.txt").read_text() == gt_before
    (out / "notes.md").write_text("mine")
    assert main(["sim", str(out), "--frames", "2", "--size", "96x64", "--seed", "3",
                 "--quiet", "--overwrite"]) == 0
    assert sorted(p.name for p in (out / "img1").iterdir()) == ["000001.jpg", "000002.jpg"]
    assert "seqLength=2" in (out / "seqinfo.ini").read_text()
    assert (out / "notes.md").read_text() == "mine"  # only the sequence's own files go


def test_detect_checks_out_before_loading_anything(tmp_path, capsys):
    seq = _toy_sequence(tmp_path)
    (tmp_path / "out_dir").mkdir()
    start = time.perf_counter()
    assert main(["detect", str(seq), "--random-weights", "--model-size", "nano",
                 "--out", str(tmp_path / "out_dir")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"finetrack detect: error: --out {tmp_path / 'out_dir'}: is a " \
                          "directory; give a file path"  # no random-weights warning: no work
    assert time.perf_counter() - start < 5


def test_eval_csv_and_plot_are_not_overwritten_without_the_flag(tmp_path, capsys):
    seq = _toy_sequence(tmp_path)
    results = tmp_path / "r.txt"
    assert main(["track", str(seq), "--out", str(results)]) == 0
    csv = tmp_path / "m.csv"
    csv.write_text("earlier")
    args = ["eval", "--gt", str(seq), "--results", str(results), "--csv", str(csv)]
    assert main(args) == 2
    assert "--csv" in capsys.readouterr().err and csv.read_text() == "earlier"
    assert main([*args, "--overwrite"]) == 0
    assert csv.read_text().startswith("sequence,")


def test_train_reid_refuses_an_earlier_run_without_resume(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.pt").write_bytes(b"earlier checkpoint")
    args = ["train-reid", "--data", str(tmp_path / "nowhere"), "--out", str(run)]
    assert main(args) == 2
    assert "run: exists and is not empty" in capsys.readouterr().err
    assert main([*args, "--resume"]) == 2  # gets past the check, fails on the missing data
    assert "nowhere" in capsys.readouterr().err
    assert (run / "last.pt").read_bytes() == b"earlier checkpoint"


def test_export_refuses_an_existing_onnx_file(tmp_path, capsys):
    out = tmp_path / "r.onnx"
    out.write_bytes(b"earlier export")
    assert main(["export", "onnx", "--random-reid", "tiny", "--out", str(out)]) == 2
    assert "r.onnx: exists and is not empty" in capsys.readouterr().err
