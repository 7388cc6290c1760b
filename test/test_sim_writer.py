"""MOTChallenge files written by the synthetic scene writer and ``finetrack sim``."""
from __future__ import annotations

import configparser

import cv2
import numpy as np

from finetrack_ros.cli import main
from finetrack_ros.sim import SceneConfig, write_sequence
from finetrack_ros.sim.writer import read_gt


def _iou_tlwh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of tlwh boxes."""
    ax1, ay1, ax2, ay2 = a[:, 0], a[:, 1], a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx1, by1, bx2, by2 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax2[:, None], bx2) - np.maximum(ax1[:, None], bx1), 0, None)
    ih = np.clip(np.minimum(ay2[:, None], by2) - np.maximum(ay1[:, None], by1), 0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + b[:, 2] * b[:, 3] - inter
    return inter / np.maximum(union, 1e-9)


def test_write_sequence_layout(tmp_path):
    config = SceneConfig(width=160, height=120, frames=15, people=6, seed=1)
    seq = write_sequence(tmp_path / "SIM-01", config, progress=False)
    info = configparser.ConfigParser()
    info.read(seq / "seqinfo.ini")
    assert info["Sequence"]["seqLength"] == "15"
    assert (info["Sequence"]["imWidth"], info["Sequence"]["imHeight"]) == ("160", "120")
    images = sorted((seq / "img1").glob("*.jpg"))
    assert [p.name for p in images[:2]] == ["000001.jpg", "000002.jpg"] and len(images) == 15
    assert cv2.imread(str(images[0])).shape == (120, 160, 3)
    gt = read_gt(seq / "gt" / "gt.txt")
    assert gt.shape[1] == 9 and len(gt) > 15
    assert set(np.unique(gt[:, 0])) <= set(range(1, 16))
    assert set(np.unique(gt[:, 6])) <= {0, 1} and (gt[:, 7] == 1).all()
    det = np.loadtxt(seq / "det" / "det.txt", delimiter=",", ndmin=2)
    assert det.shape[1] == 10 and (det[:, 1] == -1).all()
    assert ((det[:, 6] >= 0.1) & (det[:, 6] <= 1.0)).all()


def test_detections_find_visible_people_with_some_noise(tmp_path):
    config = SceneConfig(width=320, height=240, frames=30, people=8, seed=4)
    seq = write_sequence(tmp_path / "seq", config, progress=False)
    gt = read_gt(seq / "gt" / "gt.txt")
    det = np.loadtxt(seq / "det" / "det.txt", delimiter=",", ndmin=2)
    visible = gt[(gt[:, 6] == 1) & (gt[:, 8] > 0.8)]
    found, exact = 0, 0
    for frame in np.unique(visible[:, 0]):
        g = visible[visible[:, 0] == frame, 2:6]
        d = det[det[:, 0] == frame, 2:6]
        if len(d):
            iou = _iou_tlwh(g, d).max(1)
            found += int((iou > 0.5).sum())
            exact += int((iou > 0.999).sum())
    assert found >= 0.85 * len(visible)  # well-visible people are mostly detected
    assert exact < 0.2 * len(visible)  # ... with jittered boxes, not copies of the GT


def test_cli_writes_sequence_and_reports_bad_config(tmp_path, capsys):
    out = tmp_path / "cli_seq"
    assert main(["sim", str(out), "--frames", "3", "--size", "128x96", "--quiet"]) == 0
    assert len(list((out / "img1").glob("*.jpg"))) == 3
    assert main(["sim", str(tmp_path / "bad"), "--frames", "0", "--quiet"]) == 2
    assert "frames" in capsys.readouterr().err
