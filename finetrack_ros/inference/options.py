"""How a network runs, in words: backend, precision, device, threads (no torch needed).

The one list of the choices: the node's parameter table (``settings.py``), the CLI flags
(``arguments.py``) and the launch arguments take ``BACKENDS`` and ``PRECISIONS`` from here,
and import this module without loading torch.

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
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Union

BACKENDS = ("torch", "onnxruntime")
PRECISIONS = ("fp32", "bf16", "fp16", "int8")
ONNX_SUFFIX = ".onnx"
# torch dtype (by name: torch is not imported here) of each precision a torch runner runs
TORCH_DTYPE_NAMES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


@dataclass(frozen=True)
class InferenceOptions:
    """How a network runs (not what it computes).

    Attributes:
        backend: ``torch`` or ``onnxruntime`` (parameter ``backend``).
        precision: ``fp32``, ``bf16``, ``fp16`` or ``int8`` (parameter ``precision``).
        device: torch device string; ONNX Runtime runs on the CPU.
        threads: intra-op threads of an ONNX Runtime session; 0 = its default (one per
            core). torch's threads are process-wide: :mod:`~finetrack_ros.inference.threads`.
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
        device = _device_type(self.device)
        if self.precision == "fp16" and device != "cuda":
            raise ValueError(f"parameter 'precision' = 'fp16': fp16 needs a CUDA device, got "
                             f"device {self.device!r}; on the CPU use bf16 (torch) or int8 "
                             "(onnxruntime)")
        if self.backend == "onnxruntime":
            if device != "cpu":
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
    def torch_dtype(self):
        """Weights and activations dtype of a torch runner (a ``torch.dtype``)."""
        import torch

        return getattr(torch, TORCH_DTYPE_NAMES.get(self.precision, "float32"))


def is_onnx_path(path: Union[str, Path, None]) -> bool:
    return path is not None and str(path).lower().endswith(ONNX_SUFFIX)


def _device_type(device) -> str:
    """``"cuda:1"`` (or a ``torch.device``) → ``"cuda"``."""
    return str(device).split(":", 1)[0]


def describe(options: InferenceOptions) -> str:
    """Return a few words for logs: ``onnxruntime int8, 2 threads, no spinning``."""
    text = f"{options.backend} {options.precision}"
    if options.backend == "onnxruntime":
        text += f", {options.threads or 'default'} threads"
        text += "" if options.spin_wait else ", no spin-waiting"
    return text
