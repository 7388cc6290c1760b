"""Checkpoint loading: ByteTrack/YOLOX file layouts, strict round trip, clear errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from finetrack_ros.detector import YOLOXDetector, build_yolox, guess_yolox_config
from finetrack_ros.inference.options import InferenceOptions

INPUT = (64, 96)


def _detector(path, size="nano", num_classes=1) -> YOLOXDetector:
    return YOLOXDetector(path, size, num_classes, input_size=INPUT, conf=0.0)


@pytest.fixture(scope="module")
def trained_nano() -> torch.nn.Module:
    """Build a nano with non-default weights and BN statistics, as a trained checkpoint would be."""
    torch.manual_seed(1)
    model = build_yolox("nano", 1)
    with torch.no_grad():
        for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            bn.running_mean.normal_(0, 0.1)
            bn.running_var.uniform_(0.5, 2.0)
        for obj in model.head.obj_preds:
            obj.bias.fill_(3.0)  # confident objectness, so detections survive conf
    return model.eval()


@pytest.mark.parametrize("layout", ["bytetrack", "state_dict", "bare_dataparallel"])
def test_checkpoint_layouts_load_strict_and_reproduce(tmp_path, trained_nano, layout) -> None:
    state = trained_nano.state_dict()
    blob = {
        "bytetrack": {"start_epoch": 10, "model": state, "optimizer": {}},
        "state_dict": {"state_dict": state},
        "bare_dataparallel": {f"module.{k}": v for k, v in state.items()},
    }[layout]
    path = tmp_path / "ckpt.pth.tar"
    torch.save(blob, path)
    detector = _detector(path)
    for key, value in state.items():
        assert torch.equal(detector.model.state_dict()[key], value), key
    x = torch.randn(1, 3, *INPUT)
    with torch.no_grad():
        expected = trained_nano(x)
    assert torch.allclose(detector.forward(x), expected, rtol=1e-4, atol=1e-3)
    frame = np.random.default_rng(0).integers(0, 255, (48, 80, 3), dtype=np.uint8)
    assert len(detector(frame)) > 0


def test_missing_file_names_path(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        _detector(tmp_path / "nope.pth")


def test_wrong_size_names_keys_and_suggests_size(tmp_path) -> None:
    path = tmp_path / "tiny80.pth"
    torch.save({"model": build_yolox("tiny", 80).state_dict()}, path)
    with pytest.raises(ValueError) as err:
        _detector(path, "s", 1)
    message = str(err.value)
    assert str(path) in message
    assert "--model-size tiny" in message and "--num-classes 80" in message
    assert "shape mismatches" in message
    assert "backbone.backbone.stem.conv.conv.weight: checkpoint (24, 12, 3, 3)" in message


def test_depthwise_mismatch_lists_missing_keys(tmp_path) -> None:
    path = tmp_path / "nano.pth"
    torch.save({"model": build_yolox("nano", 1).state_dict()}, path)
    with pytest.raises(ValueError, match="--model-size nano.*missing keys"):
        _detector(path, "tiny", 1)


def test_not_a_checkpoint(tmp_path) -> None:
    path = tmp_path / "junk.pth"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pth"):
        _detector(path)
    torch.save({"epoch": 3}, path)
    with pytest.raises(ValueError, match="expected a state dict"):
        _detector(path)


@pytest.mark.parametrize("size", ["nano", "tiny", "s", "m"])
def test_guess_config_from_state_dict(size) -> None:
    assert guess_yolox_config(build_yolox(size, 7).state_dict()) == (size, 7)


def test_random_weights_warn() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _detector(None)
    assert any("RANDOM weights" in str(w.message) for w in caught)


def test_fp16_on_cpu_is_refused() -> None:
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        YOLOXDetector(None, "nano", 1, input_size=INPUT,
                      inference=InferenceOptions(precision="fp16"))
