"""Hostile input to the ``finetrack`` CLI.

A checkpoint with a pickle payload runs nothing, bad MOT files are refused or trimmed with a
message naming file and line, every error is one line on stderr with exit code 2 (a
traceback only with --debug).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch
from test_tracker_cli import _toy_sequence

from finetrack_ros import mot
from finetrack_ros.cli import main


class _Payload:
    """Unpickling this runs ``os.mkdir(marker)``: what a crafted checkpoint would do."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def evil_checkpoint(path, marker):
    """Write a .pth laid out like a Re-ID / YOLOX checkpoint, with the payload inside."""
    torch.save({"format": "finetrack_reid", "version": 1, "config": _Payload(marker),
                "model": {"w": torch.zeros(1)}}, path)
    return path


def _error_line(capsys, *names) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for name in names:
        assert str(name) in err, err
    return err


@pytest.fixture
def evil(tmp_path):
    marker = tmp_path / "payload_ran"
    return evil_checkpoint(tmp_path / "evil.pth", marker), marker


@pytest.mark.parametrize("command", [
    lambda seq, ckpt, out: ["track", str(seq), "--reid", str(ckpt), "--out", str(out / "r.txt")],
    lambda seq, ckpt, out: ["detect", str(seq / "img1"), "--detector", str(ckpt), "--model-size",
                            "nano", "--out", str(out / "det.txt")],
    lambda seq, ckpt, out: ["eval-reid", "--data", str(seq), "--ckpt", str(ckpt)],
    lambda seq, ckpt, out: ["export", "onnx", "--reid", str(ckpt), "--out", str(out / "r.onnx")],
    lambda seq, ckpt, out: ["train-detector", "--data", str(seq), "--init", str(ckpt),
                            "--out", str(out / "run")],
], ids=["track", "detect", "eval-reid", "export", "train-detector"])
def test_checkpoint_payload_never_runs(tmp_path, capsys, evil, command):
    ckpt, marker = evil
    seq = _toy_sequence(tmp_path)
    (seq / "img1").mkdir()
    assert main(command(seq, ckpt, tmp_path)) == 2
    assert not marker.exists(), "the pickle payload ran"
    assert "nothing in it was run" in _error_line(capsys, ckpt)


def test_the_fixture_really_carries_a_payload(evil):
    """The fixture is a working exploit: its pickle calls ``os.mkdir`` when unpickled.

    Read with ``pickletools`` (nothing is unpickled): the pickle imports ``mkdir`` from
    ``os`` (``posix`` on Linux) and calls it with the marker path.
    """
    import pickletools
    import zipfile

    ckpt, marker = evil
    with zipfile.ZipFile(ckpt) as archive:
        pickle_bytes = archive.read(next(n for n in archive.namelist()
                                         if n.endswith("data.pkl")))
    strings = [arg for _, arg, _ in pickletools.genops(pickle_bytes) if isinstance(arg, str)]
    assert f"{os.mkdir.__module__} mkdir" in strings  # GLOBAL 'posix mkdir'
    assert str(marker) in strings and not marker.exists()


@pytest.mark.parametrize("content,reason", [("hello\n", "not written by torch.save"),
                                            ("", "empty or truncated")])
def test_detect_with_a_non_checkpoint_file(tmp_path, capsys, content, reason):
    ckpt = tmp_path / "weights.pth"
    ckpt.write_text(content)
    seq = _toy_sequence(tmp_path)
    code = main(["detect", str(seq), "--detector", str(ckpt), "--model-size", "nano",
                 "--out", str(tmp_path / "det.txt")])
    assert code == 2
    assert reason in _error_line(capsys, ckpt)


def test_error_is_one_line_from_the_installed_entry_point(tmp_path, evil):
    ckpt, marker = evil
    seq = _toy_sequence(tmp_path)
    done = subprocess.run([sys.executable, "-m", "finetrack_ros.cli", "track", str(seq),
                           "--reid", str(ckpt), "--out", str(tmp_path / "r.txt")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and not marker.exists()
    assert len(done.stderr.strip().splitlines()) == 1 and str(ckpt) in done.stderr


def _results(tmp_path, text):
    path = tmp_path / "res.txt"
    path.write_text(text)
    return path


@pytest.mark.parametrize("rows,message", [
    ("1,1,58,99,40,100,0.9\n1,1,308,99,40,100,0.9\n", "line 2: the same id twice in one frame"),
    ("1,1,58,99,40,100,0.9\n2,1,nan,99,40,100,0.9\n", "line 2: non-finite id, box or score"),
    ("1,1,58,99,40,100,0.9\n9,1,58,99,40,100,0.9\n", "line 2: frame after the sequence's last "
                                                     "frame 8"),
    ("100000000,1,58,99,40,100,0.9\n", "line 1: frame 1e+08: frames must be whole numbers"),
], ids=["same-id-twice", "nan", "past-the-end", "frame-1e8"])
def test_eval_refuses_results_naming_file_and_line(tmp_path, capsys, rows, message):
    seq = _toy_sequence(tmp_path)
    start = time.perf_counter()
    assert main(["eval", "--gt", str(seq), "--results", str(_results(tmp_path, rows))]) == 2
    assert time.perf_counter() - start < 20  # no per-frame allocation up to frame 1e8
    assert message in _error_line(capsys, "res.txt")


def test_debug_flag_and_environment_show_the_traceback(tmp_path, capsys, monkeypatch):
    seq = _toy_sequence(tmp_path)
    args = ["eval", "--gt", str(seq), "--results",
            str(_results(tmp_path, "1,1,1,1,4,4,1\n1,1,1,1,4,4,1\n"))]
    with pytest.raises(ValueError, match="same id twice"):
        main(["--debug", *args])
    monkeypatch.setenv("FINETRACK_DEBUG", "1")
    with pytest.raises(ValueError, match="same id twice"):
        main(args)
    monkeypatch.setenv("FINETRACK_DEBUG", "0")
    assert main(args) == 2


def test_det_rows_that_cannot_be_tracked_are_dropped_with_one_warning(tmp_path):
    det = tmp_path / "det.txt"
    det.write_text("1,-1,10,10,40,100,0.9\n1,-1,90,10,-40,100,0.9\n2,-1,90,10,40,-1,0.9\n"
                   "2,-1,nan,10,40,100,0.9\n3,-1,10,10,inf,100,0.9\n3,-1,10,10,40,100,0.9\n")
    with pytest.warns(mot.MotInputWarning) as caught:
        dets = mot.load_detections(det)
    non_finite, not_positive = sorted(str(w.message) for w in caught)
    assert "det.txt: dropped 2 detection rows with non-finite x/y/w/h/score (first: line 4)" \
        in non_finite
    assert "dropped 2 detection rows with width or height <= 0 (first: line 2)" in not_positive
    assert {f: len(d) for f, d in dets.items()} == {1: 1, 3: 1}


def test_det_frames_past_the_sequence_are_dropped_and_typos_refused(tmp_path):
    det = tmp_path / "det.txt"
    det.write_text("1,-1,10,10,40,100,0.9\n5,-1,10,10,40,100,0.9\n")
    with pytest.warns(mot.MotInputWarning, match="frame after the sequence's last frame 3"):
        assert list(mot.load_detections(det, num_frames=3)) == [1]
    det.write_text("1,-1,10,10,40,100,0.9\n1e8,-1,10,10,40,100,0.9\n")
    with pytest.raises(ValueError, match=r"det\.txt line 2: frame 1e\+08: frames must be whole"):
        mot.load_detections(det)
    det.write_text("0,-1,10,10,40,100,0.9\n")
    with pytest.raises(ValueError, match=r"det\.txt line 1: frame 0: "):
        mot.read_mot_txt(det)


def test_track_warns_in_one_line_and_makes_no_track_of_a_negative_box(tmp_path, capsys):
    seq = _toy_sequence(tmp_path)
    with open(seq / "det" / "det.txt", "a") as det:
        det.write("3,-1,400,300,-40,-100,0.95\n")
    out = tmp_path / "r.txt"
    assert main(["track", str(seq), "--out", str(out)]) == 0
    warning = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warning) == 1 and "width or height <= 0" in warning[0], warning
    assert (mot.read_mot_txt(out)[:, mot.W] > 0).all()


def test_sequence_without_seqinfo_is_as_long_as_its_images(tmp_path):
    seq = tmp_path / "S"
    (seq / "img1").mkdir(parents=True)
    for frame in (1, 2, 7):
        (seq / "img1" / f"{frame:06d}.jpg").write_bytes(b"")
    assert mot.open_sequence(seq).num_frames() == 7
