"""How the networks run: options, runners, threads, ONNX export and int8 calibration.

* ``options.py``: :class:`InferenceOptions` and the backend/precision choices (no torch).
* ``runners.py``: torch and ONNX Runtime runners, the ONNX file loader and its checks.
* ``threads.py``: the one thread policy of the node and the CLI; ``CpuShare``.
* ``export.py``: ONNX export of both networks, checked in ONNX Runtime; ``export_int8``.
* ``calibration.py``: int8 calibration inputs, from a MOT folder or a bag.

Importing this package (or ``options``) does not load torch: argparse, the parameter
table and the launch arguments read the choices from here.
"""
from finetrack_ros.inference.options import (
    BACKENDS,
    PRECISIONS,
    InferenceOptions,
    describe,
    is_onnx_path,
)

__all__ = ["BACKENDS", "PRECISIONS", "InferenceOptions", "describe", "is_onnx_path"]
