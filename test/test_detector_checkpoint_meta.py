"""Self-describing detector checkpoints, ``detector.size: auto``, short mismatch errors.

Issue 13; also where the shipped weights are found.
"""
from __future__ import annotations

import pytest
import torch

from finetrack_ros import package_paths, settings
from finetrack_ros.detector import YOLOXDetector, build_yolox
from finetrack_ros.detector.checkpoint import read_checkpoint, save_yolox_checkpoint

INPUT = [64, 96]


def test_written_checkpoint_describes_itself(tmp_path):
    path = save_yolox_checkpoint(tmp_path / "det.pth", build_yolox("tiny", 2), "tiny",
                                 ["person", "bicycle"], (128, 160), raw_bgr=True, half=True)
    state, info = read_checkpoint(path)
    assert (info.size, info.num_classes, info.class_names) == ("tiny", 2, ("person", "bicycle"))
    assert (info.input_size, info.raw_bgr) == ((128, 160), True)
    assert set(info.stored) == {"size", "num_classes", "class_names", "input_size", "raw_bgr"}
    assert all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point())


def test_auto_size_reads_the_architecture_and_normalisation(tmp_path):
    path = save_yolox_checkpoint(tmp_path / "det.pth", build_yolox("nano", 3), "nano",
                                 raw_bgr=True)
    detector = YOLOXDetector(path, "auto", num_classes=1, input_size=INPUT, raw_bgr=False)
    assert (detector.config.size, detector.config.num_classes) == ("nano", 3)
    assert detector.config.preprocess.raw_bgr is True
    assert "size auto" in detector.describe() and "raw BGR" in detector.describe()


def test_auto_size_infers_a_plain_bytetrack_state_dict(tmp_path):
    path = tmp_path / "bytetrack_tiny.pth.tar"
    torch.save({"model": build_yolox("tiny", 80).state_dict(), "start_epoch": 3}, path)
    _, info = read_checkpoint(path)
    assert (info.size, info.num_classes, info.raw_bgr, info.stored) == ("tiny", 80, None, ())
    flat = {"device": "cpu", "detector.checkpoint": str(path), "detector.input_size": INPUT,
            "reid.enabled": False}
    assert settings.defaults()["detector.size"] == "auto"
    pipeline = settings.pipeline_from_params(flat)
    assert (pipeline.detector.config.size, pipeline.detector.config.num_classes) == ("tiny", 80)


def test_mismatch_error_names_the_parameters_and_stays_short(tmp_path):
    path = save_yolox_checkpoint(tmp_path / "nano.pth", build_yolox("nano", 1), "nano")
    flat = {"device": "cpu", "detector.checkpoint": str(path), "detector.size": "s",
            "detector.input_size": INPUT, "reid.enabled": False}
    with pytest.raises(ValueError) as err:
        settings.pipeline_from_params(flat)
    message = str(err.value)
    assert "\n" not in message and len(message) < 900, message
    assert "detector.size: nano" in message and "detector.size: auto" in message
    assert "missing keys (e.g." in message and "... and " in message


def test_bad_stored_metadata_names_the_field(tmp_path):
    path = tmp_path / "bad.pth"
    torch.save({"model": build_yolox("nano", 1).state_dict(), "input_size": [256]}, path)
    with pytest.raises(ValueError, match=r"bad\.pth: stored input_size = \[256\]"):
        read_checkpoint(path)


def test_auto_size_needs_a_readable_size(tmp_path):
    path = tmp_path / "headless.pth"
    torch.save({"head.cls_preds.0.weight": torch.zeros(1, 4, 1, 1)}, path)
    with pytest.raises(ValueError, match="detector.size: auto, but .*headless.pth"):
        YOLOXDetector(path, "auto", input_size=INPUT)


def test_shipped_demo_weights_are_found_and_named_as_demo():
    weights = package_paths.weights_dir()
    detector = weights / package_paths.DEMO_DETECTOR
    assert detector.is_file() and (weights / package_paths.DEMO_REID).is_file()
    assert package_paths.is_demo_weights(detector)
    assert not package_paths.is_demo_weights("/models/bytetrack_s_mot17.pth.tar")
    flat = {"device": "cpu", "detector.checkpoint": str(detector), "reid.enabled": False,
            "detector.input_size": [256, 320]}
    pipeline = settings.pipeline_from_params(flat)
    text = package_paths.describe_models(pipeline, settings.defaults() | flat)
    assert "YOLOX-nano, 1 classes, input 256x320" in text
    assert package_paths.DEMO_WEIGHTS_NOTE in text
