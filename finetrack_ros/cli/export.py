"""``finetrack export onnx``: export the detector or the Re-ID network to ONNX.

The file is then checked in ONNX Runtime against PyTorch (max abs diff printed; exit code 2
above tolerance).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from finetrack_ros.arguments import add_overwrite_argument
from finetrack_ros.cli.detect import add_detector_arguments, build_detector

HELP = "Export the YOLOX detector or the FineTrack Re-ID network to ONNX (checked in ORT)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="format", metavar="FORMAT", required=True)
    onnx = sub.add_parser("onnx", help="ONNX with an ONNX Runtime check",
                          description="Export one network: --detector CKPT (with its size "
                                      "flags) or --reid CKPT.")
    add_detector_arguments(onnx)
    onnx.add_argument("--reid", type=Path, help="FineTrack Re-ID checkpoint (save_reid format)")
    onnx.add_argument("--random-reid", metavar="PRESET", default=None,
                      help="export a randomly initialised Re-ID of this ReIDConfig preset "
                           "(smoke tests only)")
    onnx.add_argument("--out", type=Path, required=True, help=".onnx file to write")
    add_overwrite_argument(onnx, "--out")
    onnx.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    onnx.add_argument("--tolerance", type=float, default=1e-4,
                      help="largest accepted |ONNX Runtime - PyTorch| (default 1e-4)")


def run(args: argparse.Namespace) -> int:
    from finetrack_ros.export import export_detector, export_reid
    from finetrack_ros.outputs import check_output

    check_output(args.out, overwrite=args.overwrite)
    wants_reid = args.reid is not None or args.random_reid is not None
    wants_detector = args.detector is not None or args.random_weights
    if wants_reid == wants_detector:
        raise ValueError("export onnx: give exactly one network: --detector CKPT "
                         "(or --random-weights) for YOLOX, or --reid CKPT (or --random-reid "
                         "PRESET) for the Re-ID network")
    if wants_reid:
        model = _load_reid(args)
        report = export_reid(model, args.out, args.opset, args.tolerance)
    else:
        detector = build_detector(args)
        input_size = detector.config.preprocess.input_size
        report = export_detector(detector.model, args.out, input_size, args.opset,
                                 args.tolerance)
    print(report.summary())
    return 0


def _load_reid(args: argparse.Namespace):
    import sys

    from finetrack_ros.reid import FineTrackReID, ReIDConfig, load_reid

    if args.reid is not None:
        return load_reid(args.reid, "cpu")
    print(f"WARNING: exporting a RANDOM Re-ID network (preset {args.random_reid!r})",
          file=sys.stderr)
    return FineTrackReID(ReIDConfig.preset(args.random_reid)).eval()
