"""``finetrack detect``: run YOLOX over a sequence, image folder, image or video.

Writes MOTChallenge detections (``frame,-1,x,y,w,h,score,-1,-1,-1``, 1-based frames, tlwh
pixels): the "precompute public detections" step before ``finetrack track``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from finetrack_ros.arguments import (
    add_inference_arguments,
    add_overwrite_argument,
    inference_from_args,
    parse_hw,
)

if TYPE_CHECKING:  # numpy is imported where it is used, not when the CLI starts
    import numpy as np

HELP = "Run the YOLOX detector over frames and write MOTChallenge detections (det.txt)."

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm")


def add_detector_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the flags that define a YOLOXDetector (shared with ``finetrack export onnx``)."""
    parser.add_argument("--detector", type=Path,
                        help="ByteTrack/YOLOX checkpoint (.pth/.tar), or an .onnx file of "
                             "'finetrack export onnx' (with --backend onnxruntime)")
    parser.add_argument("--random-weights", action="store_true",
                        help="allow running without --detector, on RANDOM weights (smoke tests)")
    parser.add_argument("--model-size", default="auto",
                        choices=["auto", "nano", "tiny", "s", "m", "l", "x"],
                        help="YOLOX size of the checkpoint; auto (default, as the node's "
                             "detector.size): the size, classes and input the checkpoint "
                             "describes or its weights show (s with --random-weights)")
    parser.add_argument("--num-classes", type=int, default=1,
                        help="classes of the checkpoint: 1 for ByteTrack MOT, 80 for COCO "
                             "(with --model-size auto, the checkpoint's own count wins)")
    parser.add_argument("--input-size", type=parse_hw, default=None, metavar="HxW",
                        help="network input, multiples of 32 (default: the size the "
                             "checkpoint was trained at, else the size's test size, "
                             "608x1088 for nano/tiny/s, 800x1440 for m/l/x)")
    parser.add_argument("--raw-bgr", action="store_true",
                        help="raw BGR 0-255 input (official YOLOX >= 0.2 checkpoints); "
                             "default is ByteTrack's RGB ImageNet normalisation")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path,
                        help="MOTChallenge sequence folder, image folder, image or video file")
    add_detector_arguments(parser)
    parser.add_argument("--conf", type=float, default=0.1, help="minimum score (default 0.1)")
    parser.add_argument("--nms", type=float, default=0.7, help="NMS IoU threshold (default 0.7)")
    parser.add_argument("--classes", type=parse_classes, default=(), metavar="0,2",
                        help="class indices to keep (default: all)")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1)")
    add_inference_arguments(parser)
    parser.add_argument("--compile", action="store_true", help="torch.compile the network")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after N frames")
    parser.add_argument("--out", type=Path, required=True, help="det.txt to write")
    add_overwrite_argument(parser, "--out")


def parse_classes(text: str) -> tuple[int, ...]:
    """``"0,2"`` → (0, 2)."""
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected class indices such as 0,2, got {text!r}")


def build_detector(args: argparse.Namespace, **overrides):
    """Build a YOLOXDetector from the shared flags; refuse to run on random weights silently."""
    import warnings

    from finetrack_ros.detector import SIZES, YOLOXDetector
    from finetrack_ros.detector.checkpoint import AUTO_SIZE
    from finetrack_ros.inference.options import is_onnx_path

    if args.detector is None and not args.random_weights:
        raise ValueError("--detector CHECKPOINT is required (or --random-weights for a smoke "
                         "test whose detections mean nothing)")
    if args.detector is None:
        print("WARNING: no --detector given: using RANDOM weights, detections are meaningless",
              file=sys.stderr)
    size = args.model_size
    if size == AUTO_SIZE and args.detector is None:
        size = "s"  # random weights store no size: YOLOX-s, as the node
    input_size = args.input_size
    if input_size is None and size != AUTO_SIZE:
        input_size = SIZES[size].test_size
    options = dict(size=size, num_classes=args.num_classes, input_size=input_size,
                   raw_bgr=args.raw_bgr)
    if is_onnx_path(args.detector):  # the file stores its architecture and input size
        options.update(size="auto", input_size=args.input_size)
    options.update(overrides)
    with warnings.catch_warnings():  # the loud stderr line above replaces the warning
        warnings.filterwarnings("ignore", message="YOLOXDetector: no checkpoint")
        return YOLOXDetector(args.detector, **options)


def iter_frames(source: Path) -> tuple[int, Iterator[tuple[int, "np.ndarray"]]]:
    """(frame count, iterator of (1-based frame, BGR image)) for any supported source."""
    import cv2

    from finetrack_ros.mot import is_sequence_dir, open_sequence

    if not source.exists():
        raise FileNotFoundError(f"detect: source not found: {source}")
    if source.is_file() and source.suffix.lower() in VIDEO_EXTENSIONS:
        return _video_frames(source)
    if source.is_file():
        paths = [source]
    elif is_sequence_dir(source):
        sequence = open_sequence(source)
        folder = source / (sequence.info.im_dir if sequence.info else "img1")
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    else:
        paths = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not paths:
        raise ValueError(f"detect: no images ({', '.join(IMAGE_EXTENSIONS)}) in {source}")

    def frames():
        for index, path in enumerate(paths, start=1):
            image = cv2.imread(str(path))
            if image is None:
                raise ValueError(f"detect: cannot read image {path}")
            yield (int(path.stem) if path.stem.isdigit() else index), image

    return len(paths), frames()


def _video_frames(path: Path) -> tuple[int, Iterator]:
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f"detect: cannot open video {path}")

    def frames():
        index = 0
        try:
            while True:
                ok, image = capture.read()
                if not ok:
                    return
                index += 1
                yield index, image
        finally:
            capture.release()

    return int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), frames()


def format_rows(frame: int, detections) -> list[str]:
    """MOTChallenge detection lines of one frame (tlwh, score with 5 decimals)."""
    boxes, scores = detections.boxes_xyxy, detections.scores
    return [f"{frame},-1,{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{s:.5f},-1,-1,-1\n"
            for (x1, y1, x2, y2), s in zip(boxes.tolist(), scores.tolist())]


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from finetrack_ros.outputs import atomic_path, check_output
    from finetrack_ros.progress import progress_bar

    bad = [c for c in args.classes if not 0 <= c < args.num_classes]
    if bad:
        raise ValueError(f"--classes {bad}: class indices must be in [0, {args.num_classes}) "
                         f"for --num-classes {args.num_classes}")
    check_output(args.out, overwrite=args.overwrite)
    detector = build_detector(args, conf=args.conf, nms=args.nms, compile=args.compile,
                              inference=inference_from_args(args, args.device))
    total, frames = iter_frames(args.source)
    if args.max_frames is not None:
        total = min(total, args.max_frames)
    count = boxes = 0
    with atomic_path(args.out) as tmp, open(tmp, "w") as out:
        for frame, image in progress_bar(frames, total=total, desc="detect", unit="frame"):
            if args.max_frames is not None and count >= args.max_frames:
                break
            detections = detector(image)
            if args.classes:
                detections = detections.select(np.isin(detections.class_ids, args.classes))
            out.writelines(format_rows(frame, detections))
            count += 1
            boxes += len(detections)
    print(f"wrote {boxes} detections of {count} frames to {args.out}")
    return 0
