"""How the networks run: backend, precision and CPU threads; the one loader of both networks.

:class:`InferenceOptions` says how a network runs; :func:`make_runner` turns a torch module
or an ``.onnx`` file into a *runner*, a callable ``(B, ...) float tensor → tuple of float32
tensors`` that :class:`~finetrack_ros.detector.YOLOXDetector` and
:class:`~finetrack_ros.reid.FeatureExtractor` call per batch. The node (parameters
``backend``, ``precision``, ``num_threads``, ``spin_wait``), the CLI (the same names as
flags) and the benchmarks all load networks through it.

=============  =========  ==================================================================
backend        precision  what runs
=============  =========  ==================================================================
torch          fp32       the checkpoint's network (any device); channels-last on the CPU
torch          bf16       bfloat16 weights and activations (CPUs with AVX-512 BF16 or AMX;
                          slow emulation elsewhere), or CUDA
torch          fp16       float16, CUDA only
onnxruntime    fp32       an ``.onnx`` file of ``finetrack export onnx``, or a ``.pth``
                          checkpoint exported in memory when the network is loaded
onnxruntime    int8       an ``.onnx`` file of ``finetrack export onnx --int8 --calib SRC``
                          (static quantization calibrated on the user's frames)
=============  =========  ==================================================================

ONNX files of ``finetrack export`` describe themselves (:data:`METADATA_KEY` metadata: which
network, its configuration, precision, calibration), so the loader refuses a file that does
not fit the parameters with a message naming both.
"""
from __future__ import annotations

import copy
import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import torch
from torch import nn

BACKENDS = ("torch", "onnxruntime")
PRECISIONS = ("fp32", "bf16", "fp16", "int8")
ONNX_SUFFIX = ".onnx"
# ONNX metadata_props key of the JSON that describes a finetrack network file.
METADATA_KEY = "finetrack"
METADATA_VERSION = 1
DEFAULT_OPSET = 17  # supported by onnxruntime >= 1.12
# Runners take one input batch and return every output as float32 tensors.
Runner = Callable[[torch.Tensor], tuple]

_TORCH_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class InferenceOptions:
    """How a network runs (not what it computes).

    Attributes:
        backend: ``torch`` or ``onnxruntime`` (parameter ``backend``).
        precision: ``fp32``, ``bf16``, ``fp16`` or ``int8`` (parameter ``precision``).
        device: torch device string; ONNX Runtime runs on the CPU.
        threads: intra-op threads of an ONNX Runtime session; 0 = its default (one per
            core). torch's threads are process-wide: :func:`set_torch_threads`.
        spin_wait: let idle ONNX Runtime pool threads busy-wait for work. Off by default:
            the detector's and the Re-ID's pools (and any other process) then do not spin
            against each other; on 2 cores spinning halved the fps, idle or shared.
        fuse: fold BatchNorm into convs (detector; same outputs, faster).
        compile: ``torch.compile`` the torch network (slow first call).
    """

    backend: str = "torch"
    precision: str = "fp32"
    device: str = "cpu"
    threads: int = 0
    spin_wait: bool = False
    fuse: bool = True
    compile: bool = False

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"parameter 'backend' = {self.backend!r}: choose one of "
                             f"{list(BACKENDS)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"parameter 'precision' = {self.precision!r}: choose one of "
                             f"{list(PRECISIONS)}")
        device = torch.device(self.device)
        if self.precision == "fp16" and device.type != "cuda":
            raise ValueError(f"parameter 'precision' = 'fp16': fp16 needs a CUDA device, got "
                             f"device {self.device!r}; on the CPU use bf16 (torch) or int8 "
                             "(onnxruntime)")
        if self.backend == "onnxruntime":
            if device.type != "cpu":
                raise ValueError(f"parameter 'backend' = 'onnxruntime' runs on the CPU, got "
                                 f"device {self.device!r}; on a GPU use backend torch with "
                                 "precision fp16")
            if self.precision not in ("fp32", "int8"):
                raise ValueError(f"parameter 'precision' = {self.precision!r}: backend "
                                 "onnxruntime runs fp32 or int8; bf16 runs in backend torch")
        elif self.precision == "int8":
            raise ValueError("parameter 'precision' = 'int8' runs in ONNX Runtime: set "
                             "backend onnxruntime and give int8 .onnx files made by "
                             "'finetrack export onnx --int8 --calib SRC'")

    @property
    def torch_dtype(self) -> torch.dtype:
        """Weights and activations dtype of a torch runner."""
        return _TORCH_DTYPES.get(self.precision, torch.float32)


# torch's thread count before this package changed it (``threads`` 0 restores it)
DEFAULT_TORCH_THREADS = torch.get_num_threads()


def set_torch_threads(threads: int) -> None:
    """Set torch's intra-op threads for the process (0: torch's default)."""
    torch.set_num_threads(int(threads) if threads > 0 else DEFAULT_TORCH_THREADS)


def is_onnx_path(path: Union[str, Path, None]) -> bool:
    return path is not None and str(path).lower().endswith(ONNX_SUFFIX)


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


def describe(options: InferenceOptions) -> str:
    """Return a few words for logs: ``onnxruntime int8, 2 threads, no spinning``."""
    text = f"{options.backend} {options.precision}"
    if options.backend == "onnxruntime":
        text += f", {options.threads or 'default'} threads"
        text += "" if options.spin_wait else ", no spin-waiting"
    return text
