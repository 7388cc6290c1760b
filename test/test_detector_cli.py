"""``finetrack detect``: MOTChallenge det.txt from image folders, sequences and videos."""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from finetrack_ros.cli import main
from finetrack_ros.cli.detect import add_arguments, build_detector
from finetrack_ros.detector import build_yolox

DEMO_DETECTOR = Path(__file__).resolve().parents[1] / "weights" / "detector_nano_demo.pth"


@pytest.fixture(scope="module")
def confident_nano(tmp_path_factory):
    """Save a nano checkpoint whose head fires everywhere with score ~1 on class 0."""
    model = build_yolox("nano", 2)
    with torch.no_grad():
        for pred in list(model.head.obj_preds) + list(model.head.cls_preds):
            pred.weight.zero_()
            pred.bias.fill_(20.0)
        for pred in model.head.cls_preds:
            pred.bias[1] = -20.0  # class 1 never wins
    path = tmp_path_factory.mktemp("ckpt") / "nano.pth.tar"
    torch.save({"model": model.state_dict()}, path)
    return path


def _images(folder, count=3, shape=(48, 80, 3)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(1, count + 1):
        cv2.imwrite(str(folder / f"{i:06d}.jpg"), rng.integers(0, 255, shape, dtype=np.uint8))
    return folder


def _detect(source, out, ckpt, *extra) -> int:
    return main(["detect", str(source), "--detector", str(ckpt), "--model-size", "nano",
                 "--num-classes", "2", "--input-size", "64x96", "--out", str(out), *extra])


def test_sequence_folder_writes_every_frame(tmp_path, confident_nano) -> None:
    seq = tmp_path / "SEQ-01"
    _images(seq / "img1", count=3)
    (seq / "seqinfo.ini").write_text("[Sequence]\nname=SEQ-01\nimDir=img1\nseqLength=3\n"
                                     "imWidth=80\nimHeight=48\nimExt=.jpg\nframeRate=10\n")
    out = tmp_path / "det" / "det.txt"
    assert _detect(seq, out, confident_nano) == 0
    rows = np.loadtxt(out, delimiter=",", ndmin=2)
    assert rows.shape[1] == 10 and set(rows[:, 0].astype(int)) == {1, 2, 3}
    assert (rows[:, 1] == -1).all() and (rows[:, 4:6] > 0).all()  # id -1, positive w, h
    assert (rows[:, 6] > 0.99).all() and (rows[:, 7:] == -1).all()


def test_class_filter_and_max_frames(tmp_path, confident_nano) -> None:
    folder = _images(tmp_path / "frames", count=3)
    out = tmp_path / "det.txt"
    assert _detect(folder, out, confident_nano, "--classes", "1", "--max-frames", "2") == 0
    assert out.read_text() == ""  # nothing of class 1
    assert _detect(folder, out, confident_nano, "--max-frames", "2") == 0
    assert set(np.loadtxt(out, delimiter=",", ndmin=2)[:, 0].astype(int)) == {1, 2}


def test_video_source(tmp_path, confident_nano) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (80, 48))
    if not writer.isOpened():
        pytest.skip("OpenCV cannot write MJPG video here")
    for value in (0, 128):
        writer.write(np.full((48, 80, 3), value, np.uint8))
    writer.release()
    out = tmp_path / "det.txt"
    assert _detect(path, out, confident_nano) == 0
    assert set(np.loadtxt(out, delimiter=",", ndmin=2)[:, 0].astype(int)) == {1, 2}


def test_refuses_random_weights_unless_asked(tmp_path, capsys) -> None:
    folder = _images(tmp_path / "frames", count=1)
    code = main(["detect", str(folder), "--out", str(tmp_path / "d.txt")])
    assert code == 2 and "--random-weights" in capsys.readouterr().err
    code = main(["detect", str(folder), "--random-weights", "--model-size", "nano",
                 "--input-size", "64x96", "--out", str(tmp_path / "d.txt")])
    assert code == 0 and "RANDOM weights" in capsys.readouterr().err


def test_bad_sources(tmp_path, confident_nano, capsys) -> None:
    assert _detect(tmp_path / "missing", tmp_path / "d.txt", confident_nano) == 2
    assert "source not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert _detect(tmp_path / "empty", tmp_path / "d.txt", confident_nano) == 2
    assert "no images" in capsys.readouterr().err


def test_classes_outside_the_model_are_refused(tmp_path, confident_nano, capsys) -> None:
    folder = _images(tmp_path / "frames", count=1)
    assert _detect(folder, tmp_path / "d.txt", confident_nano, "--classes", "0,5") == 2
    assert "--classes [5]" in capsys.readouterr().err


def test_shipped_nano_checkpoint_describes_itself(tmp_path) -> None:
    """No --model-size: the demo checkpoint's own size, classes and input (detector.size auto)."""
    folder = _images(tmp_path / "img", count=2)
    flags = [str(folder), "--detector", str(DEMO_DETECTOR), "--out", str(tmp_path / "det.txt")]
    assert main(["detect", *flags]) == 0  # refused before: "it looks like YOLOX-nano"
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = build_detector(parser.parse_args(flags)).config
    assert (config.size, config.num_classes, config.preprocess.input_size) == ("nano", 1,
                                                                               (256, 320))
