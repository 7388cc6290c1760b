"""Argument types and flags shared by the ``finetrack`` sub-commands and ``finetrack bench``.

Sizes are written ``AxB`` and parsed by one function, :func:`parse_pair`. Two orders exist
because two conventions do, and each option states its own in its metavar:

* **network inputs are HxW** (height first), as YOLOX and ByteTrack write them
  (``--input-size 608x1088``): :func:`parse_hw` → ``(height, width)``;
* **image / frame sizes are WxH** (width first), as cameras and video tools write them
  (``--size 640x480``): :func:`parse_wh` → ``(width, height)``.

Only ``argparse`` and the inference choices (``inference/options.py``, no torch) are
imported here. It sits beside, not inside, ``cli/`` so that the bench modules (command
modules with ``add_arguments``/``run`` too) share it without depending on the CLI package.
"""
from __future__ import annotations

import argparse

from finetrack_ros.inference.options import BACKENDS, PRECISIONS, InferenceOptions


def parse_pair(text: str, order: str) -> tuple[int, int]:
    """Parse ``"608x1088"`` → ``(608, 1088)``: two positive integers.

    ``order`` (``"HxW"`` or ``"WxH"``) only names the axes in the error message.
    """
    try:
        first, second = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected {order} such as {'608x1088' if order == 'HxW' else '640x480'}, "
            f"got {text!r}") from None
    if first <= 0 or second <= 0:
        raise argparse.ArgumentTypeError(f"expected positive {order}, got {text!r}")
    return first, second


def parse_hw(text: str) -> tuple[int, int]:
    """Parse a network input size ``"HxW"`` → ``(height, width)``."""
    return parse_pair(text, "HxW")


def parse_wh(text: str) -> tuple[int, int]:
    """Parse an image size ``"WxH"`` → ``(width, height)``."""
    return parse_pair(text, "WxH")


def add_overwrite_argument(parser: argparse.ArgumentParser, what: str = "the output") -> None:
    """Add ``--overwrite``: without it a command refuses an existing, non-empty output.

    The output is checked with :func:`finetrack_ros.outputs.check_output` before any work.
    """
    parser.add_argument("--overwrite", action="store_true",
                        help=f"replace {what} if it exists and is not empty (default: refuse)")


def add_inference_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--backend``, ``--precision``, ``--threads`` (the node's ``num_threads``)."""
    parser.add_argument("--backend", default="torch", choices=BACKENDS,
                        help="inference backend (default torch; onnxruntime takes .onnx files "
                             "of 'finetrack export onnx')")
    parser.add_argument("--precision", default="fp32", choices=PRECISIONS,
                        help="fp32 (default), bf16 (torch), fp16 (torch, CUDA), int8 "
                             "(onnxruntime, an --int8 export)")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads per network (default 0: the library's default)")


def inference_from_args(args: argparse.Namespace, device: str = "cpu"):
    """Return the :class:`~finetrack_ros.inference.options.InferenceOptions` of those flags.

    torch's threads follow the node's policy (``inference.threads``: one with onnxruntime).
    """
    from finetrack_ros.inference.threads import apply_thread_policy

    options = InferenceOptions(backend=args.backend, precision=args.precision, device=device,
                               threads=args.threads)
    apply_thread_policy(options)
    return options


def add_module_commands(sub: argparse._SubParsersAction, package: str,
                        modules: dict[str, str], run_key: str) -> None:
    """Add one sub-parser per module of ``package``; ``args.<run_key>`` is set to its ``run``.

    Each module defines ``HELP``, ``add_arguments(parser)`` and ``run(args)``.

    ``modules`` maps the name on the command line to the module name.
    """
    import importlib

    for name, module_name in modules.items():
        module = importlib.import_module(f"{package}.{module_name}")
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(**{run_key: module.run})
