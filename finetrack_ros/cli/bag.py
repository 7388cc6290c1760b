"""``finetrack bag``: write rosbag2 files from MOTChallenge sequences or videos; inspect bags."""
from __future__ import annotations

import argparse

from finetrack_ros.arguments import add_overwrite_argument

HELP = "rosbag2 tools without ROS: from-mot, from-video, info"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bag_command", metavar="ACTION", required=True)

    mot = sub.add_parser("from-mot", help="MOTChallenge sequence folder -> bag "
                         "(images, camera_info, /ground_truth, /detections)")
    mot.add_argument("seq", help="sequence folder with seqinfo.ini and img1/")
    mot.add_argument("out", help="bag folder to create (must not exist, see --overwrite)")
    mot.add_argument("--camera", help="camera_calibration_parsers YAML with world_from_camera: "
                     "calibrated camera_info and /tf_static world -> camera (for track "
                     "--camera-info-topic and the node's 3D with world.ground_frame world)")
    _add_common(mot)

    video = sub.add_parser("from-video", help="video file -> bag (images, camera_info)")
    video.add_argument("file", help="any video OpenCV can decode")
    video.add_argument("out", help="bag folder to create (must not exist, see --overwrite)")
    video.add_argument("--fps", type=float, default=None,
                       help="frame rate for the stamps (default: the video's)")
    _add_common(video)

    info = sub.add_parser("info", help="topics, types, counts and duration of a bag")
    info.add_argument("bag", help="bag folder")


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--compressed", action="store_true",
                        help="JPEG frames on /camera/image_raw/compressed instead of raw bgr8")
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap",
                        help="rosbag2 storage plugin (default: mcap)")
    add_overwrite_argument(parser, "an existing bag at OUT")


def run(args: argparse.Namespace) -> int:
    if args.bag_command == "info":
        _print_info(args.bag)
        return 0
    from finetrack_ros.bag.writer import write_mot_bag, write_video_bag
    from finetrack_ros.outputs import DIRECTORY, atomic_path, check_output

    check_output(args.out, kind=DIRECTORY, overwrite=args.overwrite, option="bag output")
    with atomic_path(args.out) as tmp:  # the old bag stays until the new one is complete
        if args.bag_command == "from-mot":
            counts = write_mot_bag(args.seq, tmp, args.compressed, args.storage,
                                   camera=args.camera)
        else:
            counts = write_video_bag(args.file, tmp, args.fps, args.compressed, args.storage)
    _print_counts(args.out, counts)
    return 0


def _print_counts(out: str, counts: dict) -> None:
    print(f"wrote {out}: " + ", ".join(f"{topic} {n}" for topic, n in counts.items()))


def _print_info(path: str) -> None:
    from finetrack_ros.bag.reader import BagReader

    with BagReader(path) as bag:
        print(f"bag {path}: {bag.message_count} messages, {bag.duration_s:.3f} s")
        for topic, (msgtype, count) in sorted(bag.topics.items()):
            print(f"  {topic:40s} {msgtype:40s} {count}")
