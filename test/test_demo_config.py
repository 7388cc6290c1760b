"""``finetrack demo`` pieces that need no ROS.

Model choice, node parameters shared with the IoU-only baseline, output folder rules, the
comparison chart, the player's helpers.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from finetrack_ros import demo
from finetrack_ros.bag.reader import RawMessage
from finetrack_ros.ros.bag_player import PlayerConfig, stamp_groups
from finetrack_ros.ros.runtime import ros_args


def _input(tmp_path: Path, detections: str | None = "/detections") -> demo.DemoInput:
    return demo.DemoInput(tmp_path / "bag", "SEQ", "/camera/image_raw", detections,
                          None, 12.5, 10)


def _config(tmp_path: Path, **kw) -> demo.DemoConfig:
    return demo.DemoConfig(out=tmp_path / "out", **kw)


def test_importing_the_demo_looks_up_no_file():
    """The shipped weights are looked up when the demo runs, not when it is imported."""
    probe = ("import finetrack_ros.package_paths as p\n"
             "def refuse(*args): raise AssertionError('weights looked up at import')\n"
             "p.weights_dir = p.share_dir = refuse\n"
             "import finetrack_ros.demo\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_without_detector_weights_the_bag_detections_are_used(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "WEIGHTS_DIR", tmp_path / "no_weights")
    monkeypatch.setattr(demo, "DEFAULT_REID", tmp_path / "no_weights" / "reid.pth")
    models = demo.choose_models(_config(tmp_path), _input(tmp_path))
    assert models.detector is None and models.reid is None
    assert any("/detections" in note for note in models.notes)
    assert any("Re-ID: NONE" in note for note in models.notes)


def test_no_detector_and_no_detections_topic_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "WEIGHTS_DIR", tmp_path / "no_weights")
    with pytest.raises(ValueError, match="--detector"):
        demo.choose_models(_config(tmp_path), _input(tmp_path, detections=None))


def test_shipped_weights_are_picked_up_and_missing_ones_named(tmp_path, monkeypatch):
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "detector_nano_demo.pth").write_bytes(b"x")
    (weights / "reid_demo.pth").write_bytes(b"x")
    monkeypatch.setattr(demo, "WEIGHTS_DIR", weights)
    monkeypatch.setattr(demo, "DEFAULT_REID", weights / "reid_demo.pth")
    models = demo.choose_models(_config(tmp_path), _input(tmp_path))
    assert models.detector == weights / "detector_nano_demo.pth"
    assert models.reid == weights / "reid_demo.pth"
    forced = demo.choose_models(_config(tmp_path, use_bag_detections=True), _input(tmp_path))
    assert forced.detector is None
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        demo.choose_models(_config(tmp_path, reid=tmp_path / "missing.pth"), _input(tmp_path))


def test_node_parameters_and_the_baseline_share_the_tracker_settings(tmp_path):
    models = demo.DemoModels(detector=None, reid=tmp_path / "reid.pth")
    params = demo.node_parameters(_config(tmp_path), models, _input(tmp_path))
    assert params["tracker.frame_rate"] == 12.5
    assert params["reid.enabled"] is True and params["tracker.use_appearance"] is True
    assert params["reid.checkpoint"] == str(tmp_path / "reid.pth")
    assert "detector.checkpoint" not in params
    baseline = demo.baseline_pipeline(params, external_detections=True)
    config = baseline.tracker.config
    assert not baseline.uses_appearance and baseline.detector is None
    assert (config.frame_rate, config.track_buffer) == (12.5, 60)
    iou_only = demo.node_parameters(_config(tmp_path), demo.DemoModels(None, None),
                                    _input(tmp_path))
    assert iou_only["reid.enabled"] is False and iou_only["tracker.use_appearance"] is False


def test_detector_parameters_follow_the_config(tmp_path):
    models = demo.DemoModels(detector=tmp_path / "yolox.pth", reid=None)
    config = _config(tmp_path, detector_size="tiny", detector_input=(224, 288), detector_nms=0.6)
    params = demo.node_parameters(config, models, _input(tmp_path))
    assert params["detector.checkpoint"] == str(tmp_path / "yolox.pth")
    assert (params["detector.size"], params["detector.input_size"]) == ("tiny", [224, 288])
    assert params["detector.nms"] == 0.6


def test_output_folder_must_be_new_or_empty(tmp_path):
    assert demo.prepare_output(tmp_path / "a" / "b").is_dir()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not empty"):
        demo.prepare_output(tmp_path / "full")
    assert (tmp_path / "full" / "old.txt").read_text() == "keep me"


def test_video_and_bag_together_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="not both"):
        _config(tmp_path, video=tmp_path / "v.mp4", bag=tmp_path / "b")


def _bars(image) -> list[list[tuple[int, int, int]]]:
    """Return each series' bars as (x, top, bottom) pixels, left to right.

    A series is one of the two most common saturated colours of the image.
    """
    import numpy as np

    pixels = image.reshape(-1, 3).astype(int)
    saturated = pixels[pixels.max(1) - pixels.min(1) > 60]
    colours, counts = np.unique(saturated, axis=0, return_counts=True)
    series = []
    for colour in colours[np.argsort(counts)[-2:]]:
        mask = (np.abs(image.astype(int) - colour).max(2) <= 2).astype(np.uint8)
        _, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        # bars, not the legend's patch (nor a bar's foot below the legend)
        series.append(sorted((x, y, y + h) for x, y, w, h, area in stats[1:] if area > 1000))
    return sorted(series)  # the first method's bars are left of the second's


def test_comparison_chart_shows_both_methods_metrics(tmp_path):
    """The bars read back from the PNG: heights are the metrics of each method."""
    finetrack = {"HOTA": 0.5, "MOTA": 0.6, "IDF1": 0.7, "IDSW": 3.0}
    iou_only = {"HOTA": 0.8, "MOTA": 0.45, "IDF1": 0.9, "IDSW": 9.0}
    path = demo.plot_comparison({demo.FINETRACK: finetrack, demo.BYTETRACK_IOU: iou_only},
                                tmp_path / "chart.png", "title")
    first, second = _bars(cv2.imread(str(path)))
    assert len(first) == len(second) == len(demo.CHART_FRACTIONS) + len(demo.CHART_COUNTS)
    # left panel: one pair per metric, on one % axis (bars stand on one base line)
    left = first[:3] + second[:3]
    base = max(bottom for _, _, bottom in left)
    per_percent = [(base - top) / (100 * row[metric]) for row, bars in
                   ((finetrack, first), (iou_only, second))
                   for metric, (_, top, _) in zip(demo.CHART_FRACTIONS, bars)]
    assert max(per_percent) / min(per_percent) < 1.03, per_percent
    assert all(a[0] < b[0] for a, b in zip(first[:3], second[:3]))  # pairs side by side
    assert max(x for x, _, _ in left) < min(first[3][0], second[3][0])  # switches: own panel
    # right panel: ID switches, 3 against 9
    (_, top_a, bottom_a), (_, top_b, bottom_b) = first[3], second[3]
    assert first[3][0] < second[3][0]
    assert (bottom_a - top_a) / (bottom_b - top_b) == pytest.approx(3 / 9, rel=0.03)


def test_stamp_groups_keep_order_and_split_on_stamp_changes():
    raws = [RawMessage(t, "x/msg/Y", s, b"") for t, s in
            [("/a", 1), ("/b", 1), ("/a", 2), ("/a", 3), ("/b", 3)]]
    groups = [[(r.topic, r.stamp_ns) for r in g] for g in stamp_groups(iter(raws))]
    assert groups == [[("/a", 1), ("/b", 1)], [("/a", 2)], [("/a", 3), ("/b", 3)]]
    assert list(stamp_groups(iter([]))) == []


def test_player_config_rejects_negative_rate():
    with pytest.raises(ValueError, match="rate"):
        PlayerConfig(rate=-1.0)


def test_ros_args_format_parameters_and_remaps():
    args = ros_args({"a": True, "b": 2.0, "c": [64, 96], "d": "", "e": "cpu"},
                    {"image": "/cam/image"})
    assert args == ["--ros-args", "-p", "a:=true", "-p", "b:=2.0", "-p", "c:=[64,96]",
                    "-p", "d:=''", "-p", "e:=cpu", "-r", "image:=/cam/image"]


def test_a_video_becomes_a_bag_without_ground_truth(tmp_path, monkeypatch):
    import numpy as np

    monkeypatch.setattr(demo, "WEIGHTS_DIR", tmp_path / "no_weights")
    video_path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video_path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (96, 64))
    for i in range(5):
        writer.write(np.full((64, 96, 3), 20 * i, np.uint8))
    writer.release()
    config = _config(tmp_path, video=video_path)
    data = demo.prepare_input(config, demo.prepare_output(config.out))
    assert data.image_topic == "/camera/image_raw/compressed"
    assert (data.frames, data.gt_txt, data.detections_topic) == (5, None, None)
    assert data.fps == pytest.approx(10.0)
    with pytest.raises(ValueError, match="--detector"):
        demo.choose_models(config, data)


def test_set_takes_node_parameters_beside_tracker_ones(tmp_path, monkeypatch, capsys):
    """``--set backend=...`` reaches the node's parameters; tracker keys stay tracker keys."""
    from finetrack_ros.cli import main

    seen = {}
    monkeypatch.setattr(demo, "run_demo", lambda config: seen.setdefault("config", config) and {})
    main(["demo", "--out", str(tmp_path / "out"), "--set", "backend=onnxruntime",
          "--set", "precision=int8", "--set", "relink_thresh=0.3",
          "--set", "tracker.track_buffer=90"])
    config = seen["config"]
    assert config.params == {"backend": "onnxruntime", "precision": "int8"}
    assert config.tracker["relink_thresh"] == 0.3 and config.tracker["track_buffer"] == 90
    params = demo.node_parameters(config, demo.DemoModels(None, None), _input(tmp_path))
    assert (params["backend"], params["precision"]) == ("onnxruntime", "int8")
    assert main(["demo", "--out", str(tmp_path / "o2"), "--set", "backend=tensorrt"]) == 2
    assert "parameter 'backend' = 'tensorrt'" in capsys.readouterr().err
