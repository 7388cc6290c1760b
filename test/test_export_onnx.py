"""ONNX export of both networks: ONNX Runtime matches PyTorch within 1e-4."""
from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
import torch

from finetrack_ros.detector import YOLOXDetector
from finetrack_ros.inference.export import export_detector, export_onnx, export_reid
from finetrack_ros.reid import FineTrackReID, ReIDConfig


def _perturbed_bn(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Non-trivial BN statistics, so a wrong BN export would show."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            bn.running_mean.normal_(0, 0.1)
            bn.running_var.uniform_(0.5, 2.0)
    return model.eval()


def test_detector_export_matches_pytorch(tmp_path) -> None:
    with pytest.warns(UserWarning, match="RANDOM weights"):
        detector = YOLOXDetector(None, "nano", 2, input_size=(64, 96))
    model = _perturbed_bn(detector.model, 0)
    report = export_detector(detector, tmp_path / "yolox.onnx")
    assert report.ok and report.max_abs_diff <= 1e-4
    anchors = 8 * 12 + 4 * 6 + 2 * 3
    assert report.output_shape == (2, anchors, 7)
    # the file alone reproduces the decoded predictions at another batch size
    session = onnxruntime.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    x = torch.randn(3, 3, 64, 96)
    with torch.no_grad():
        expected = model(x).numpy()
    got = session.run(None, {"images": x.numpy()})[0]
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


def test_reid_export_matches_pytorch(tmp_path) -> None:
    config = ReIDConfig.preset("small", crop_size=(64, 32), embed_dim=32, num_parts=3)
    model = _perturbed_bn(FineTrackReID(config), 1)
    report = export_reid(model, tmp_path / "reid.onnx")
    assert report.ok and report.output_shape == (3, config.output_dim)
    session = onnxruntime.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    crops = torch.randn(2, 3, 64, 32)
    with torch.no_grad():
        expected = model(crops).numpy()
    got = session.run(None, {"crops": crops.numpy()})[0]
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


class _Drifting(torch.nn.Module):
    """Differs between the traced graph and eager mode: the check must catch it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_tracing():
            return x
        return x + 1e-3


def test_check_fails_on_disagreement(tmp_path) -> None:
    with pytest.raises(ValueError, match="max diff 0.001.*FAILED"):
        export_onnx(_Drifting(), torch.zeros(1, 4), tmp_path / "bad.onnx", "x", "y")
