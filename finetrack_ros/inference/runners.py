"""Runners: how a network is called, in torch or ONNX Runtime; the one loader of both networks.

:func:`make_runner` turns a torch module, and :func:`load_onnx_network` an ``.onnx`` file,
into a *runner*: a callable ``(B, ...) float tensor → tuple of float32 tensors`` that
:class:`~finetrack_ros.detector.YOLOXDetector` and :class:`~finetrack_ros.reid.FeatureExtractor`
call per batch, as an :class:`~finetrack_ros.inference.options.InferenceOptions` says (the
table of backends and precisions is in ``options.py``).

ONNX files of ``finetrack export`` describe themselves (:data:`METADATA_KEY` metadata: which
network, its configuration, precision, calibration), so the loader refuses a file that does
not fit the parameters with a message naming both.
"""
from __future__ import annotations

import copy
import io
import json
import warnings
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import torch
from torch import nn

from finetrack_ros.inference.options import InferenceOptions

# ONNX metadata_props key of the JSON that describes a finetrack network file.
METADATA_KEY = "finetrack"
METADATA_VERSION = 1
DEFAULT_OPSET = 17  # supported by onnxruntime >= 1.12
# Runners take one input batch and return every output as float32 tensors.
Runner = Callable[[torch.Tensor], tuple]


class TorchRunner:
    """Run a torch module, in eval mode, in the options' precision and layout.

    The module is converted in place (:func:`runner_module` says when to copy it). On
    the CPU the weights and inputs are channels-last (oneDNN's fast convolution layout:
    YOLOX-s 480x640 fp32 75 → 54 ms on this 2-core Zen 4, bf16 35 ms).
    """

    def __init__(self, module: nn.Module, options: InferenceOptions) -> None:
        self.device = torch.device(options.device)
        self.dtype = options.torch_dtype
        self.channels_last = self.device.type == "cpu"
        module.eval().to(self.device, self.dtype)
        if self.channels_last:
            module.to(memory_format=torch.channels_last)
        self.module = torch.compile(module) if options.compile else module

    def __call__(self, inputs: torch.Tensor) -> tuple:
        inputs = inputs.to(self.device, self.dtype)
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            outputs = self.module(inputs)
        if isinstance(outputs, torch.Tensor):
            outputs = (outputs,)
        return tuple(out.float() for out in outputs)


def import_onnxruntime():
    """Import onnxruntime, or fail naming the parameter that asked for it."""
    try:
        import onnxruntime
    except ImportError as error:
        raise ValueError("parameter 'backend' = 'onnxruntime' needs the onnxruntime package, "
                         "which is not installed (pip install onnxruntime, or "
                         "pip install 'finetrack_ros[export]'); or set backend torch"
                         ) from error
    return onnxruntime


class OnnxRunner:
    """Run an ONNX model (file path or serialised bytes) in ONNX Runtime on the CPU."""

    def __init__(self, model: Union[str, Path, bytes], options: InferenceOptions,
                 name: str = "network") -> None:
        ort = import_onnxruntime()
        session_options = ort.SessionOptions()
        session_options.log_severity_level = 3  # errors only: no buffer-reuse warnings
        session_options.inter_op_num_threads = 1  # one graph, run op after op
        if options.threads > 0:
            session_options.intra_op_num_threads = int(options.threads)
        session_options.add_session_config_entry(
            "session.intra_op.allow_spinning", "1" if options.spin_wait else "0")
        source = model if isinstance(model, bytes) else str(model)
        try:
            self.session = ort.InferenceSession(source, session_options,
                                                providers=["CPUExecutionProvider"])
        except Exception as error:  # ORT raises its own Fail/InvalidGraph/... types
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise ValueError(f"{name}: ONNX Runtime cannot load it: "
                             f"{type(error).__name__}: {first_line}") from error
        self.input_name = self.session.get_inputs()[0].name
        self.metadata = read_metadata(self.session, name)

    def __call__(self, inputs: torch.Tensor) -> tuple:
        array = inputs.detach().to("cpu", torch.float32).contiguous().numpy()
        return tuple(torch.from_numpy(out) for out in self.session.run(None, {
            self.input_name: array}))


def read_metadata(session, name: str) -> dict[str, Any]:
    """Return the finetrack description stored in an ONNX model ({} for a file without one)."""
    text = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    if text is None:
        return {}
    try:
        metadata = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{name}: its '{METADATA_KEY}' metadata is not JSON ({error})") from None
    if not isinstance(metadata, dict):
        raise ValueError(f"{name}: its '{METADATA_KEY}' metadata is not a JSON object")
    return metadata


def load_onnx_network(path: Union[str, Path], network: str, options: InferenceOptions,
                      parameter: str) -> OnnxRunner:
    """Open an ``.onnx`` file of ``finetrack export`` and check it fits the options.

    Args:
        network: ``detector`` or ``reid``: what the file must hold.
        parameter: the parameter that named the file (``detector.checkpoint``), for errors.

    Raises:
        ValueError naming ``parameter`` and the file: no finetrack metadata, another network,
            a precision other than ``options.precision``, or a torch backend.
        FileNotFoundError: no such file.
    """
    path = Path(path)
    if options.backend != "onnxruntime":
        raise ValueError(f"{parameter} {path} is an ONNX file: set parameter 'backend' to "
                         "onnxruntime, or give a .pth checkpoint")
    if not path.is_file():
        raise FileNotFoundError(f"{parameter}: no such file: {path}")
    runner = OnnxRunner(path, options, f"{parameter} {path}")
    metadata = runner.metadata
    if metadata.get("network") is None:
        raise ValueError(f"{parameter} {path}: not made by 'finetrack export onnx' (no "
                         f"'{METADATA_KEY}' metadata, so its configuration is unknown); "
                         "export it again")
    if metadata["network"] != network:
        raise ValueError(f"{parameter} {path} holds the {metadata['network']} network, not the "
                         f"{network}")
    stored = metadata.get("precision", "fp32")
    if stored != options.precision:
        raise ValueError(f"{parameter} {path} holds a {stored} network but parameter "
                         f"'precision' is {options.precision}: set precision {stored}, or "
                         "export the file again")
    return runner


def runner_module(module: nn.Module, options: InferenceOptions, fuse: bool = False
                  ) -> nn.Module:
    """Return what a runner may convert: ``module`` where that changes no value, else a copy.

    A torch fp32 runner only puts the weights in eval mode and channels-last (same values,
    so the caller's module stays usable and is held once); onnxruntime exports a copy of its
    own. Fusing BatchNorm (``fuse``) or another dtype would change the caller's network:
    those get a deep copy, so ``.model`` stays trainable and exportable as it was.
    """
    if options.backend == "torch" and (fuse or options.torch_dtype != torch.float32
                                       or options.compile):
        return copy.deepcopy(module)
    return module


def make_runner(module: nn.Module, options: InferenceOptions, example: torch.Tensor,
                input_name: str, output_names: tuple[str, ...], parameter: str) -> Runner:
    """Build the runner of a torch network (a ``.pth`` checkpoint) for ``options``.

    ``module`` is converted in place by torch: pass :func:`runner_module`'s choice.

    torch runs the module; onnxruntime exports it in memory first (fp32 only: int8 needs a
    calibrated file, which :func:`load_onnx_network` opens). The export needs the ``onnx``
    package beside onnxruntime; an ``.onnx`` file needs only onnxruntime.
    """
    if options.backend == "torch":
        return TorchRunner(module, options)
    if options.precision != "fp32":
        raise ValueError(f"parameter 'precision' = {options.precision!r} with a .pth "
                         f"{parameter}: int8 needs a calibrated file: run 'finetrack export "
                         f"onnx ... --int8 --calib SRC --out FILE.onnx' and set {parameter} "
                         "to FILE.onnx")
    import_onnxruntime()  # fail before the export, naming the parameter
    try:
        import onnx  # noqa: F401  (torch's exporter writes with it)
    except ImportError:
        raise ValueError(f"parameter 'backend' = 'onnxruntime' with a .pth {parameter} exports "
                         "the network when it loads, which needs the onnx package (pip install "
                         "onnx, or pip install 'finetrack_ros[export]'); or give an .onnx file "
                         "of 'finetrack export onnx'") from None
    model = onnx_bytes(module, example, input_name, output_names)
    return OnnxRunner(model, options, parameter)


def onnx_bytes(model: nn.Module, example: torch.Tensor, input_name: str,
               output_names: Sequence[str], metadata: Optional[dict[str, Any]] = None,
               opset: int = DEFAULT_OPSET) -> bytes:
    """Serialise ``model`` (an eval copy, CPU float32) to ONNX with a dynamic batch axis.

    ``metadata`` is stored as the ``finetrack`` JSON entry (precision fp32 unless given).
    """
    model = copy.deepcopy(model).cpu().float().eval()
    example = example.detach().cpu().float()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # shape checks and sizes become constants: intended, the image size is fixed
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        dynamic = {name: {0: "batch"} for name in (input_name, *output_names)}
        torch.onnx.export(model, (example,), buffer, dynamo=False, opset_version=opset,
                          input_names=[input_name], output_names=list(output_names),
                          dynamic_axes=dynamic)
    data = buffer.getvalue()
    if metadata is not None:
        data = with_metadata(data, {"precision": "fp32", **metadata})
    return data


def with_metadata(model: bytes, metadata: dict[str, Any]) -> bytes:
    """Return ``model`` with its ``finetrack`` metadata entry set to ``metadata``."""
    import onnx

    proto = onnx.load_from_string(model)
    entries = [entry for entry in proto.metadata_props if entry.key != METADATA_KEY]
    del proto.metadata_props[:]
    proto.metadata_props.extend(entries)
    proto.metadata_props.add(key=METADATA_KEY,
                             value=json.dumps({"version": METADATA_VERSION, **metadata}))
    return proto.SerializeToString()
