"""ONNX export of the YOLOX detector and the FineTrack Re-ID network, checked in ONNX Runtime.

Both graphs have a dynamic batch axis and a fixed image size:

* detector: ``images`` (B, 3, H, W) float32, preprocessed as the detector's config says
  (letterboxed; ByteTrack normalisation or raw BGR) → ``predictions`` (B, A, 5 + C),
  rows ``[cx, cy, w, h, obj, cls..]`` in network-input pixels (decode included; NMS is not).
* Re-ID: ``crops`` (B, 3, h, w) float32, normalised RGB → ``embeddings`` (B, D), unit rows.

Uses the TorchScript-based exporter (``dynamo=False``), which needs no extra packages.
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

# Largest |ONNX Runtime − PyTorch| accepted by the check, in output units (pixels for boxes,
# probabilities, embedding components).
DEFAULT_TOLERANCE = 1e-4
DEFAULT_OPSET = 17  # supported by onnxruntime >= 1.12


@dataclass
class ExportReport:
    """What an export produced and how well ONNX Runtime agrees with PyTorch."""

    path: Path
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    max_abs_diff: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= self.tolerance

    def summary(self) -> str:
        verdict = "OK" if self.ok else "FAILED"
        return (f"{self.path}: input {self.input_shape} -> output {self.output_shape}; "
                f"ONNX Runtime vs PyTorch max abs diff {self.max_abs_diff:.3g} "
                f"(tolerance {self.tolerance:g}) {verdict}")


def export_onnx(model: nn.Module, example: torch.Tensor, path: str | Path, input_name: str,
                output_name: str, opset: int = DEFAULT_OPSET,
                tolerance: float = DEFAULT_TOLERANCE) -> ExportReport:
    """Export ``model`` (eval copy, CPU float32) and compare ONNX Runtime with PyTorch.

    Args:
        example: (B, ...) input used to trace the graph; batch is dynamic in the file.

    Returns:
        an :class:`ExportReport`; raises ValueError when the diff exceeds ``tolerance``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = copy.deepcopy(model).cpu().float().eval()
    example = example.detach().cpu().float()
    with warnings.catch_warnings():
        # shape checks and sizes become constants: intended, the image size is fixed
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (example,), str(path), dynamo=False, opset_version=opset,
                          input_names=[input_name], output_names=[output_name],
                          dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}})
    # check with a different batch size and input than the trace
    check_input = torch.randn((example.shape[0] + 1,) + tuple(example.shape[1:]),
                              generator=torch.Generator().manual_seed(0))
    diff, output_shape = compare_onnxruntime(path, model, check_input, input_name)
    report = ExportReport(path, tuple(check_input.shape), output_shape, diff, tolerance)
    if not report.ok:
        raise ValueError(report.summary())
    return report


def compare_onnxruntime(path: Path, model: nn.Module, inputs: torch.Tensor,
                        input_name: str) -> tuple[float, tuple[int, ...]]:
    """(max |ORT − PyTorch|, output shape) of one input batch."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    onnx_out = session.run(None, {input_name: inputs.numpy()})[0]
    with torch.inference_mode():
        torch_out = model(inputs).numpy()
    if onnx_out.shape != torch_out.shape:
        raise ValueError(f"{path}: ONNX output shape {onnx_out.shape} != PyTorch "
                         f"{torch_out.shape}")
    return float(np.abs(onnx_out - torch_out).max()), tuple(onnx_out.shape)


def export_detector(model: nn.Module, path: str | Path, input_size: tuple[int, int],
                    opset: int = DEFAULT_OPSET,
                    tolerance: float = DEFAULT_TOLERANCE) -> ExportReport:
    """Export a YOLOX (``detector.model``) for (H, W) = ``input_size`` inputs."""
    example = torch.randn(1, 3, *input_size, generator=torch.Generator().manual_seed(1))
    return export_onnx(model, example, path, "images", "predictions", opset, tolerance)


def export_reid(model: nn.Module, path: str | Path, opset: int = DEFAULT_OPSET,
                tolerance: float = DEFAULT_TOLERANCE) -> ExportReport:
    """Export a ``FineTrackReID`` for crops of ``model.config.crop_size``."""
    crop_h, crop_w = model.config.crop_size
    example = torch.randn(2, 3, crop_h, crop_w, generator=torch.Generator().manual_seed(1))
    return export_onnx(model, example, path, "crops", "embeddings", opset, tolerance)
