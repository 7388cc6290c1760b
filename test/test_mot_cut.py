"""``finetrack cut`` / :mod:`finetrack_ros.mot_cut`: a frame range as a new MOT sequence."""
from __future__ import annotations

import pytest

from finetrack_ros.cli import main
from finetrack_ros.mot import load_detections, open_sequence, read_mot_txt
from finetrack_ros.mot_cut import cut_sequence, parse_frame_range


def _seq(root, frames=5):
    seq = root / "SRC-01"
    (seq / "img1").mkdir(parents=True)
    for frame in range(1, frames + 1):
        (seq / "img1" / f"{frame:06d}.jpg").write_bytes(b"jpeg %d" % frame)
    (seq / "seqinfo.ini").write_text(
        f"[Sequence]\nname=SRC-01\nimDir=img1\nframeRate=7\nseqLength={frames}\n"
        "imWidth=64\nimHeight=48\nimExt=.jpg\n")
    (seq / "gt").mkdir()
    (seq / "gt" / "gt.txt").write_text("".join(
        f"{f},1,{f},2,10,20,1,1,1\n" for f in range(1, frames + 1)))
    (seq / "det").mkdir()
    (seq / "det" / "det.txt").write_text("4,-1,1,2,3,4,0.9\n2,-1,5,6,7,8,0.8\n")
    return seq


def test_cut_renumbers_frames_links_images_and_shifts_rows(tmp_path):
    out = cut_sequence(_seq(tmp_path), tmp_path / "CUT", 2, 4)
    seq = open_sequence(out)
    assert seq.info.seq_length == 3 and seq.info.frame_rate == 7.0 and seq.name == "CUT"
    assert seq.image_path(1).read_bytes() == b"jpeg 2" and seq.image_path(1).is_symlink()
    gt = read_mot_txt(out / "gt" / "gt.txt")
    assert list(gt[:, 0]) == [1, 2, 3] and list(gt[:, 2]) == [2, 3, 4]  # x = source frame
    dets = load_detections(out / "det" / "det.txt")
    assert sorted(dets) == [1, 3]


def test_cut_copies_images_when_asked(tmp_path):
    out = cut_sequence(_seq(tmp_path), tmp_path / "CUT", 5, 5, copy=True)
    image = open_sequence(out).image_path(1)
    assert not image.is_symlink() and image.read_bytes() == b"jpeg 5"


def test_cut_refuses_frames_past_the_end_naming_the_image(tmp_path):
    with pytest.raises(FileNotFoundError, match="000006.jpg"):
        cut_sequence(_seq(tmp_path), tmp_path / "CUT", 4, 6)
    assert not (tmp_path / "CUT").exists()


def test_parse_frame_range():
    assert parse_frame_range("201-397") == (201, 397)
    assert parse_frame_range("7") == (7, 7)
    for bad in ("0-3", "5-2", "a-b", "1-"):
        with pytest.raises(ValueError, match="frame range"):
            parse_frame_range(bad)


def test_cli_cut(tmp_path, capsys):
    src = _seq(tmp_path)
    assert main(["cut", str(src), str(tmp_path / "OUT"), "--frames", "1-3"]) == 0
    assert "3 frames" in capsys.readouterr().out
    assert open_sequence(tmp_path / "OUT").info.seq_length == 3
    assert main(["cut", str(src), str(tmp_path / "OUT"), "--frames", "1-3"]) == 2  # exists
    assert main(["cut", str(src), str(tmp_path / "OUT"), "--frames", "2-4", "--overwrite"]) == 0
    assert (tmp_path / "OUT" / "img1" / "000001.jpg").read_bytes() == b"jpeg 2"
