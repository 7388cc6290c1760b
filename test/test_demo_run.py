"""``finetrack demo`` end to end on a tiny generated scene.

The installed ROS 2 node runs on the bag with real rclpy, and the output folder holds the
video, results, metrics and chart.
"""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from ros_helpers import DOMAIN_ID, ros_install  # noqa: F401  (fixture)

from finetrack_ros import demo
from finetrack_ros.cli import main

pytestmark = pytest.mark.ros

FRAMES = 12


@pytest.fixture
def tiny_reid(tmp_path):
    import torch

    from finetrack_ros.reid import FineTrackReID, ReIDConfig, save_reid

    torch.manual_seed(0)
    return save_reid(tmp_path / "reid.pth",
                     FineTrackReID(ReIDConfig.preset("small", crop_size=(64, 32))))


def test_demo_writes_video_results_metrics_and_chart(
        ros_install, tiny_reid, tmp_path, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv("ROS_DOMAIN_ID", str(DOMAIN_ID))
    out = tmp_path / "demo"
    code = main(["demo", "--out", str(out), "--frames", str(FRAMES), "--size", "256x192",
                 "--people", "4", "--seed", "11", "--reid", str(tiny_reid),
                 "--use-bag-detections"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert demo.FINETRACK in printed and demo.BYTETRACK_IOU in printed
    assert "total run time" in printed

    video = cv2.VideoCapture(str(out / "annotated.mp4"))
    assert video.isOpened()
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    assert (int(video.get(cv2.CAP_PROP_FRAME_WIDTH)), int(video.get(cv2.CAP_PROP_FRAME_HEIGHT))) \
        == (256, 192)
    video.release()

    for name in demo.RESULT_FILES.values():
        rows = np.loadtxt(out / "results" / name, delimiter=",", ndmin=2)
        assert rows[:, 0].min() >= 1 and rows[:, 0].max() <= FRAMES
        assert len(rows) > FRAMES // 2  # people were tracked
    assert cv2.imread(str(out / "comparison.png")) is not None
    summary = json.loads((out / "summary.json").read_text())
    assert summary["node"]["frames_dropped"] == 0
    assert summary["node"]["frames_tracked"] == FRAMES
    assert summary["node_parameters"]["tracker.use_appearance"] is True
    for method in (demo.FINETRACK, demo.BYTETRACK_IOU):
        metrics = summary["metrics"][method]
        assert 0.0 < metrics["MOTA"] <= 1.0 and 0.0 < metrics["IDF1"] <= 1.0
    assert "FineTrack Re-ID" in (out / "node_output_bag_node.log").read_text()
