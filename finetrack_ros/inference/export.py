"""ONNX export of the YOLOX detector and the FineTrack Re-ID network, checked in ONNX Runtime.

Both graphs have a dynamic batch axis and a fixed image size:

* detector: ``images`` (B, 3, H, W) float32, preprocessed as the detector's config says
  (letterboxed; ByteTrack normalisation or raw BGR) → ``predictions`` (B, A, 5 + C),
  rows ``[cx, cy, w, h, obj, cls..]`` in network-input pixels (decode included; NMS is not).
* Re-ID: ``crops`` (B, 3, h, w) float32, normalised RGB → ``embeddings`` (B, D), unit rows,
  and ``masks`` (B, K, h/4, w/4), the part masks (occlusion-aware part weighting).

Each file carries its configuration as ``finetrack`` metadata (``runners.py``), so the node
and the CLI load it as they load a checkpoint. :func:`export_int8` makes the int8 file of
either network, calibrated on frames (``calibration.py``): ``finetrack export onnx --int8``,
``bench precision`` and ``bench realtime`` all call it.

Uses the TorchScript-based exporter (``dynamo=False``), which needs no extra packages.
"""
from __future__ import annotations

import copy
import json
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch
from torch import nn

from finetrack_ros.inference.options import InferenceOptions
from finetrack_ros.inference.runners import (
    DEFAULT_OPSET,
    METADATA_KEY,
    OnnxRunner,
    onnx_bytes,
    with_metadata,
)

# Largest ONNX Runtime − PyTorch difference accepted by the check: absolute for values up to
# 1 (probabilities, embedding components), relative above (box pixels: float32 keeps 7
# digits, so a 300 px coordinate differs by ~1e-4 px between two correct implementations).
DEFAULT_TOLERANCE = 1e-4
# int8 quantizes the convolutions and matrix products only: every other op (SiLU, the
# flow warp's grid_sample, YOLOX's box decode, the normalisations) stays float32, so box
# coordinates and probabilities are not rounded to one 8-bit scale.
INT8_OP_TYPES = ("Conv", "MatMul", "Gemm")
# Fewest calibration inputs (frames for the detector, crops for Re-ID) accepted.
MIN_CALIBRATION_INPUTS = 8


@dataclass
class ExportReport:
    """What an export produced and how well ONNX Runtime agrees with PyTorch.

    ``data`` is the ONNX model itself; ``path`` where it was written (None: not written).
    """

    path: Optional[Path]
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    max_abs_diff: float
    tolerance: float
    data: bytes = field(default=b"", repr=False)

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= self.tolerance

    def summary(self) -> str:
        verdict = "OK" if self.ok else "FAILED"
        return (f"{self.path or 'fp32 network'}: input {self.input_shape} -> output "
                f"{self.output_shape}; "
                f"ONNX Runtime vs PyTorch max diff {self.max_abs_diff:.3g} (absolute up to 1, "
                f"relative above; tolerance {self.tolerance:g}) {verdict}")


def export_onnx(model: nn.Module, example: torch.Tensor, path: str | Path | None,
                input_name: str,
                output_names: str | Sequence[str], opset: int = DEFAULT_OPSET,
                tolerance: float = DEFAULT_TOLERANCE,
                metadata: Optional[dict[str, Any]] = None) -> ExportReport:
    """Export ``model`` (eval copy, CPU float32) and compare ONNX Runtime with PyTorch.

    Args:
        example: (B, ...) input used to trace the graph; batch is dynamic in the file.
        output_names: one name, or one per output of the model.

    Returns:
        an :class:`ExportReport` (of the first output); raises ValueError when any output
        differs by more than ``tolerance``. The file is written atomically; with ``path``
        None only the report (and its ``data``) is returned.
    """
    from finetrack_ros.outputs import atomic_path

    path = None if path is None else Path(path)
    if isinstance(output_names, str):
        output_names = (output_names,)
    model = copy.deepcopy(model).cpu().float().eval()
    data = onnx_bytes(model, example, input_name, output_names, metadata, opset)
    # check with a different batch size and input than the trace
    check_input = torch.randn((example.shape[0] + 1,) + tuple(example.shape[1:]),
                              generator=torch.Generator().manual_seed(0))
    diff, output_shape = compare_onnxruntime(data, model, check_input, input_name)
    report = ExportReport(path, tuple(check_input.shape), output_shape, diff, tolerance, data)
    if not report.ok:
        raise ValueError(report.summary())
    if path is not None:
        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(data)
    return report


def compare_onnxruntime(model_onnx: bytes | Path, model: nn.Module, inputs: torch.Tensor,
                        input_name: str) -> tuple[float, tuple[int, ...]]:
    """(max ORT − PyTorch difference over all outputs, shape of the first output).

    The difference is absolute for reference values up to 1 and relative above.
    """
    onnx_out = _session(model_onnx).run(None, {input_name: inputs.numpy()})
    with torch.inference_mode():
        torch_out = model(inputs)
    if isinstance(torch_out, torch.Tensor):
        torch_out = (torch_out,)
    diff = 0.0
    for got, expected in zip(onnx_out, torch_out):
        expected = expected.numpy()
        if got.shape != expected.shape:
            raise ValueError(f"ONNX output shape {got.shape} != PyTorch {expected.shape}")
        scale = np.maximum(np.abs(expected), 1.0)
        diff = max(diff, float((np.abs(got - expected) / scale).max()))
    return diff, tuple(onnx_out[0].shape)


def export_detector(detector, path: str | Path | None, opset: int = DEFAULT_OPSET,
                    tolerance: float = DEFAULT_TOLERANCE) -> ExportReport:
    """Export a :class:`~finetrack_ros.detector.YOLOXDetector`'s network for its input size.

    The BatchNorms stay: ONNX Runtime folds them into the convs itself.
    """
    example = torch.randn(1, 3, *detector.config.preprocess.input_size,
                          generator=torch.Generator().manual_seed(1))
    return export_onnx(detector.model, example, path, "images", ("predictions",), opset,
                       tolerance, detector.config.onnx_metadata())


def export_reid(model: nn.Module, path: str | Path | None, opset: int = DEFAULT_OPSET,
                tolerance: float = DEFAULT_TOLERANCE) -> ExportReport:
    """Export a ``FineTrackReID`` (embeddings and part masks) for crops of its crop size."""
    from finetrack_ros.reid.extractor import onnx_metadata
    from finetrack_ros.reid.model import EmbeddingsAndMasks

    crop_h, crop_w = model.config.crop_size
    example = torch.randn(2, 3, crop_h, crop_w, generator=torch.Generator().manual_seed(1))
    return export_onnx(EmbeddingsAndMasks(model), example, path, "crops",
                       ("embeddings", "masks"), opset, tolerance, onnx_metadata(model))


def export_int8(network: Any, path: str | Path, calibration: Any,
                fp32: Optional[bytes] = None, opset: int = DEFAULT_OPSET,
                tolerance: float = DEFAULT_TOLERANCE
                ) -> tuple[Optional[ExportReport], "QuantizationReport"]:
    """Write the static int8 ONNX file of a detector or a Re-ID network.

    Args:
        network: a :class:`~finetrack_ros.detector.YOLOXDetector` or a ``FineTrackReID``.
        calibration: ``calibration.CalibrationFrames``: its frames (the detector) or the
            crops of its boxes (Re-ID) calibrate the activation ranges.
        fp32: the network's fp32 ONNX bytes when already exported; else exported and
            checked against PyTorch here.

    Returns:
        (the fp32 export's report, or None when ``fp32`` was given; the int8 report).
    """
    from finetrack_ros.inference.calibration import detector_inputs, reid_inputs
    from finetrack_ros.reid.model import FineTrackReID

    if isinstance(network, FineTrackReID):
        export, inputs = export_reid, reid_inputs(network.config, calibration)
    else:
        export, inputs = export_detector, detector_inputs(network, calibration)
    report = None
    if fp32 is None:
        report = export(network, None, opset, tolerance)  # checked, not written
        fp32 = report.data
    return report, quantize_int8(fp32, path, inputs, calibration.source)


@dataclass
class QuantizationReport:
    """An int8 file and how far it is from the float network on held-out calibration inputs.

    Detector: ``score_diff`` is the largest |Δ| of the objectness/class probabilities and
    ``box_diff`` the largest box-coordinate |Δ| (pixels) of anchors the fp32 network scores
    above 0.3. Re-ID: ``min_cosine`` is the lowest int8 · fp32 embedding cosine.
    """

    path: Path
    calibration: str
    inputs_used: int
    held_out: int
    score_diff: Optional[float] = None
    box_diff: Optional[float] = None
    min_cosine: Optional[float] = None

    def summary(self) -> str:
        text = (f"{self.path}: int8, calibrated on {self.inputs_used} inputs of "
                f"{self.calibration}; on {self.held_out} held-out inputs")
        if self.min_cosine is not None:
            return text + f" the lowest int8 / fp32 embedding cosine is {self.min_cosine:.4f}"
        return text + (f" max |int8 - fp32| score {self.score_diff:.3f}, box of confident "
                       f"anchors {self.box_diff:.2f} px")


def quantize_int8(float_model: bytes, path: str | Path, inputs: Sequence[np.ndarray],
                  calibration: str) -> QuantizationReport:
    """Write the static int8 quantization of an exported float network to ``path``.

    Args:
        float_model: the fp32 ONNX bytes of :func:`onnx_bytes` (with metadata).
        inputs: calibration batches (each (B, ...) float32, the network's input); one in
            eight (at least one) is held out of the calibration to report the int8 error.
        calibration: where the inputs came from (stored in the file's metadata).

    Raises:
        ValueError: fewer than :data:`MIN_CALIBRATION_INPUTS` inputs (quantization without
            calibration data is refused: its activation ranges would be guesses).
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from finetrack_ros.outputs import atomic_path

    count = sum(len(batch) for batch in inputs)
    if count < MIN_CALIBRATION_INPUTS:
        raise ValueError(f"int8 quantization needs calibration data: got {count} inputs from "
                         f"{calibration or 'nothing'}, need at least {MIN_CALIBRATION_INPUTS}")
    if len(inputs) < 2:  # one batch: its inputs one by one, so that some can be held out
        inputs = [batch[i:i + 1] for batch in inputs for i in range(len(batch))]
    held_out = list(inputs[::8])
    used = [batch for i, batch in enumerate(inputs) if i % 8]
    import onnx

    proto = onnx.load_from_string(float_model)
    input_name = proto.graph.input[0].name
    metadata = json.loads(next(e.value for e in proto.metadata_props if e.key == METADATA_KEY))

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(used)

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {input_name: batch.astype(np.float32)}

    with tempfile.TemporaryDirectory(prefix="finetrack-int8-") as tmp:
        float_path, prepared, quantized = (Path(tmp) / n for n in ("f.onnx", "p.onnx", "q.onnx"))
        float_path.write_bytes(float_model)
        quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_static(str(prepared), str(quantized), _Reader(),
                            quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            op_types_to_quantize=list(INT8_OP_TYPES),
                            calibrate_method=CalibrationMethod.MinMax)
        used_count = sum(len(batch) for batch in used)
        metadata.update(precision="int8", calibration=f"{calibration}, {used_count} inputs")
        data = with_metadata(quantized.read_bytes(), metadata)
    report = _compare_int8(float_model, data, held_out, input_name, Path(path), calibration,
                           used_count)
    with atomic_path(path) as tmp_path:
        Path(tmp_path).write_bytes(data)
    return report


def _compare_int8(float_model: bytes, int8_model: bytes, held_out: Sequence[np.ndarray],
                  input_name: str, path: Path, calibration: str, used_count: int
                  ) -> QuantizationReport:
    sessions = [_session(model) for model in (float_model, int8_model)]
    report = QuantizationReport(path, calibration, used_count,
                                sum(len(b) for b in held_out))
    score_diff, box_diff, cosines = 0.0, 0.0, []
    for batch in held_out:
        reference, quantized = (s.run(None, {input_name: batch.astype(np.float32)})[0]
                                for s in sessions)
        if reference.ndim == 2:  # Re-ID embeddings (B, D)
            norms = np.linalg.norm(reference, axis=1) * np.linalg.norm(quantized, axis=1)
            cosines.append(((reference * quantized).sum(1) / np.maximum(norms, 1e-12)).min())
            continue
        # detector predictions (B, A, 5 + C): [cx, cy, w, h, obj, cls..]
        score_diff = max(score_diff, float(np.abs(reference[..., 4:] - quantized[..., 4:]).max()))
        confident = reference[..., 4] * reference[..., 5:].max(-1) > 0.3
        if confident.any():
            box_diff = max(box_diff, float(np.abs(reference[confident, :4]
                                                  - quantized[confident, :4]).max()))
    if cosines:
        report.min_cosine = float(min(cosines))
    else:
        report.score_diff, report.box_diff = score_diff, box_diff
    return report


def _session(model: bytes | Path):
    """Return an ONNX Runtime session of ``model`` (the node's session settings)."""
    return OnnxRunner(model, InferenceOptions(backend="onnxruntime"), "exported network").session

