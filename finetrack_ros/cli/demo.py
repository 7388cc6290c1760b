"""``finetrack demo``: generate a held-out scene, run the ROS 2 node on it, compare with IoU-only.

Needs the colcon install sourced (``scripts/demo.sh`` does the set-up and runs this).
See :mod:`finetrack_ros.demo` for what is written to ``--out``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from finetrack_ros.arguments import parse_hw, parse_wh

HELP = ("the main job: a held-out synthetic scene (or your bag/video) through the ROS 2 node; "
        "MP4, MOT results, FineTrack vs IoU-only metrics table and chart")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--video", type=Path, help="track this video instead of a generated scene")
    source.add_argument("--bag", type=Path, help="track this rosbag2 instead of a generated scene "
                        "(images; /detections and /ground_truth used when present)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder, empty or new (default outputs/demo_<UTC time>)")
    parser.add_argument("--detector", type=Path, default=None,
                        help="YOLOX checkpoint (default: weights/detector_*_demo.pth if "
                             "shipped, else the bag's detections)")
    parser.add_argument("--detector-size", default="nano", help="YOLOX size of --detector (nano)")
    parser.add_argument("--detector-input", type=parse_hw, default=(256, 320), metavar="HxW",
                        help="YOLOX input height x width, multiples of 32 (256x320)")
    parser.add_argument("--detector-nms", type=float, default=0.5,
                        help="YOLOX NMS IoU threshold (0.5)")
    parser.add_argument("--reid", type=Path, default=None,
                        help="FineTrack Re-ID checkpoint (default weights/reid_demo.pth)")
    parser.add_argument("--use-bag-detections", action="store_true",
                        help="take detections from the bag's /detections even if a detector "
                             "checkpoint exists")
    parser.add_argument("--frames", type=int, default=150, help="generated scene length (150)")
    parser.add_argument("--seed", type=int, default=9004,
                        help="generated scene seed (9004: no network trained and no setting "
                             "chosen on it)")
    parser.add_argument("--size", type=parse_wh, default=(640, 480), metavar="WxH",
                        help="generated scene size (640x480)")
    parser.add_argument("--people", type=int, default=10, help="identities in the scene (10)")
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda, auto (cpu)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="tracker parameter for both methods, e.g. relink_thresh=0 "
                             "(defaults: DemoConfig.tracker), or a node parameter, e.g. "
                             "backend=onnxruntime (repeatable)")


def run(args: argparse.Namespace) -> int:
    from finetrack_ros.demo import DemoConfig, run_demo

    start = time.perf_counter()
    out = args.out or Path("outputs") / time.strftime("demo_%Y%m%d_%H%M%S", time.gmtime())
    from finetrack_ros.cli.track import split_overrides

    tracker = dict(DemoConfig.__dataclass_fields__["tracker"].default_factory())
    # checked against TrackerConfig's fields and the parameter table here, before anything runs
    tracker_config, params = split_overrides(None, args.overrides)
    tracker_items = [item for item in args.overrides
                     if item.partition("=")[0].strip().removeprefix("tracker.") not in params]
    tracker.update(_changed_fields(tracker_config, tracker_items))
    config = DemoConfig(
        out=out, video=args.video, bag=args.bag, detector=args.detector,
        detector_size=args.detector_size, detector_input=args.detector_input,
        detector_nms=args.detector_nms, reid=args.reid,
        use_bag_detections=args.use_bag_detections, frames=args.frames, seed=args.seed,
        size=args.size, people=args.people, device=args.device, tracker=tracker,
        params=params,
    )
    summary = run_demo(config)
    if summary.get("table"):
        print(f"\n{summary['sequence']} ({summary['frames']} frames), same detections:")
        print(summary["table"])
    print(f"\nwrote {out}/: annotated.mp4, results/, "
          + ("metrics.txt, metrics.csv, comparison.png, " if summary.get("table") else "")
          + "summary.json")
    print(f"total run time {time.perf_counter() - start:.0f} s")
    return 0


def _changed_fields(config, overrides: list[str]) -> dict:
    """``{key: typed value}`` of the keys named in ``--set`` overrides."""
    keys = [item.partition("=")[0].strip().removeprefix("tracker.") for item in overrides]
    return {key: getattr(config, key) for key in keys}
