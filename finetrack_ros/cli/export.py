"""``finetrack export onnx``: export the detector or the Re-ID network to ONNX.

The fp32 file is checked in ONNX Runtime against PyTorch (max abs diff printed; exit code 2
above tolerance). ``--int8 --calib SRC`` then quantizes it (static int8, calibrated on frames
of SRC, a MOT folder or a bag) and reports its distance to fp32 on held-out inputs. Either
file loads in the node and ``finetrack track`` with ``backend: onnxruntime``.
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
    onnx.add_argument("--int8", action="store_true",
                      help="write a static int8 network (ONNX Runtime, CPU) calibrated on "
                           "--calib")
    onnx.add_argument("--calib", type=Path, metavar="SRC",
                      help="calibration frames for --int8: a MOT sequence folder (boxes from "
                           "det/det.txt or gt/gt.txt) or a rosbag2 (boxes from "
                           "--detections-topic)")
    onnx.add_argument("--calib-frames", type=int, default=None,
                      help="frames read from SRC, spread evenly (default 64)")
    onnx.add_argument("--image-topic", default="/camera/image_raw",
                      help="bag --calib: image topic (default /camera/image_raw)")
    onnx.add_argument("--detections-topic", default="/detections",
                      help="bag --calib: Detection2DArray topic with the boxes Re-ID crops "
                           "(default /detections)")


def run(args: argparse.Namespace) -> int:
    from finetrack_ros.outputs import check_output

    check_output(args.out, overwrite=args.overwrite)
    wants_reid = args.reid is not None or args.random_reid is not None
    wants_detector = args.detector is not None or args.random_weights
    if wants_reid == wants_detector:
        raise ValueError("export onnx: give exactly one network: --detector CKPT "
                         "(or --random-weights) for YOLOX, or --reid CKPT (or --random-reid "
                         "PRESET) for the Re-ID network")
    if args.int8 and args.calib is None:
        raise ValueError("--int8 needs calibration data: --calib SRC, a MOT sequence folder or "
                         "a rosbag2 with frames like those the robot will see (int8 without "
                         "calibration would guess every activation range)")
    if args.calib is not None and not args.int8:
        raise ValueError("--calib is for --int8 (an fp32 export needs no calibration)")
    calibration = None
    if args.int8:  # read (and check) the frames before the export work
        from finetrack_ros.inference.calibration import DEFAULT_FRAMES, read_calibration_frames

        calibration = read_calibration_frames(args.calib, args.calib_frames or DEFAULT_FRAMES,
                                              args.image_topic, args.detections_topic)
    if wants_reid:
        _export_reid(args, calibration)
    else:
        _export_detector(args, calibration)
    return 0


def _export_detector(args: argparse.Namespace, calibration) -> None:
    from finetrack_ros.inference.export import export_detector

    detector = build_detector(args)
    if calibration is None:
        print(export_detector(detector, args.out, args.opset, args.tolerance).summary())
        return
    _quantize(args, detector, calibration)


def _export_reid(args: argparse.Namespace, calibration) -> None:
    from finetrack_ros.inference.export import export_reid

    model = _load_reid(args)
    if calibration is None:
        print(export_reid(model, args.out, args.opset, args.tolerance).summary())
        return
    _quantize(args, model, calibration)


def _quantize(args: argparse.Namespace, network, calibration) -> None:
    """Export ``network`` to fp32, check it in ONNX Runtime, write its int8 file."""
    from finetrack_ros.inference.export import export_int8

    fp32, int8 = export_int8(network, args.out, calibration, opset=args.opset,
                             tolerance=args.tolerance)
    print(fp32.summary())
    print(int8.summary())


def _load_reid(args: argparse.Namespace):
    import sys

    from finetrack_ros.reid import FineTrackReID, ReIDConfig, load_reid

    if args.reid is not None:
        return load_reid(args.reid, "cpu")
    print(f"WARNING: exporting a RANDOM Re-ID network (preset {args.random_reid!r})",
          file=sys.stderr)
    return FineTrackReID(ReIDConfig.preset(args.random_reid)).eval()
