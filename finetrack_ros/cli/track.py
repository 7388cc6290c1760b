"""``finetrack track``: track a MOT sequence from its detections, or replay a rosbag2.

Both run :func:`finetrack_ros.offline.track_offline`, the node's per-frame code. Tracker
settings: ``--config`` (a ROS 2 params file or a flat YAML) then ``--set`` (tracker keys such
as ``track_thresh=0.6``, or any node parameter such as ``publish_embeddings=true``), checked
against the one parameter table (:mod:`finetrack_ros.settings`). 3D: ``--camera`` (a MOT
folder: camera YAML with its pose) or ``--camera-info-topic`` (a bag: its CameraInfo, /tf_static
and /tf, :mod:`finetrack_ros.bag.world`).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from finetrack_ros.arguments import add_overwrite_argument

HELP = ("Track a MOTChallenge sequence from its detections (or a rosbag2) and write results; "
        "--camera (folder) or --camera-info-topic (bag) add ground positions wx, wy, wz")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path,
                        help="MOT sequence folder, or a rosbag2 (folder with metadata.yaml, "
                             ".mcap or .db3)")
    parser.add_argument("--detections", type=Path,
                        help="MOT det.txt to track (default: <seq>/det/det.txt)")
    parser.add_argument("--out", type=Path,
                        help="results txt (default: results/<seq>.txt)")
    parser.add_argument("--config", type=Path,
                        help="tracker YAML (ROS 2 params file with a tracker: section, or flat)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a tracker key (track_thresh=0.6) "
                        "or a node parameter (publish_lost_tracks=true)")
    parser.add_argument("--seq-frame-rate", action="store_true",
                        help="tracker frame_rate from seqinfo.ini (a bag: its image stamps) "
                             "instead of the config's (ByteTrack's MOT scripts keep 30)")
    parser.add_argument("--reid", type=Path,
                        help="Re-ID checkpoint: add FineTrack appearance (needs the images)")
    parser.add_argument("--device", default="cpu", help="torch device for --reid")
    parser.add_argument("--image-topic", default="/camera/image_raw",
                        help="bag input: sensor_msgs/Image or CompressedImage topic")
    parser.add_argument("--detections-topic", default="/detections",
                        help="bag input: vision_msgs/Detection2DArray topic")
    parser.add_argument("--out-bag", type=Path, help="bag input: write tracks to this new bag")
    parser.add_argument("--camera", type=Path,
                        help="MOT folder: camera_calibration_parsers YAML with "
                             "world_from_camera; results get wx, wy, wz (2DMOT2015 layout): "
                             "each person's ground position in metres")
    parser.add_argument("--camera-info-topic", metavar="TOPIC",
                        help="bag input: 3D from the bag itself: this sensor_msgs/CameraInfo "
                             "topic ('auto': the bag's only one) and /tf_static + /tf, the "
                             "camera pose world.ground_frame <- the image frame at each image "
                             "stamp (--set world.ground_frame=world for bags of bag from-mot "
                             "--camera); results get wx, wy, wz, --out-bag also tracks_3d")
    parser.add_argument("--depth-topic", metavar="TOPIC",
                        help="with --camera-info-topic: the bag's sensor_msgs/Image depth "
                             "registered to the camera (16UC1 mm or 32FC1 m); each box with a "
                             "valid depth is placed from it, as the node's world.depth_topic")
    parser.add_argument("--world", choices=["filtered", "projected"], default="filtered",
                        help="with --camera or --camera-info-topic: the ground filter's "
                             "positions, or each track box's bottom centre projected as it "
                             "is (the naive answer)")
    add_overwrite_argument(parser)


def run(args: argparse.Namespace) -> int:
    from finetrack_ros.bag.reader import bag_folder, is_bag
    from finetrack_ros.outputs import DIRECTORY, check_output

    bag = is_bag(args.path)
    if args.camera is not None and bag:
        raise ValueError(f"--camera {args.camera}: only for a MOT folder (a bag brings its "
                         "own: --camera-info-topic TOPIC or auto)")
    if args.camera_info_topic is not None and not bag:
        raise ValueError(f"--camera-info-topic {args.camera_info_topic}: only for a bag "
                         "(a MOT folder: --camera camera.yaml)")
    if args.depth_topic is not None and args.camera_info_topic is None:
        raise ValueError(f"--depth-topic {args.depth_topic}: only with --camera-info-topic "
                         "(depth places people in the bag's camera and tf)")
    name = bag_folder(args.path).name if bag else args.path.name
    out = check_output(args.out or Path("results") / f"{name}.txt", overwrite=args.overwrite)
    if args.out_bag is not None:
        if not bag:
            raise ValueError(f"--out-bag {args.out_bag}: only for a bag input")
        check_output(args.out_bag, kind=DIRECTORY, overwrite=args.overwrite, option="--out-bag")
    tracker, params = split_overrides(args.config, args.overrides)
    if args.reid and not tracker.use_appearance:
        if _sets_use_appearance(args.config, args.overrides):  # said so: IoU only, as told
            from finetrack_ros.offline import warn

            warn(f"--reid {args.reid} is not used: use_appearance is false (from --set or "
                 "--config); tracking by IoU only")
            args.reid = None
        else:  # --reid is how to ask for appearance when the preset does not say
            tracker = tracker.replace({"use_appearance": True})
    summary = (_track_bag(args, tracker, params, out) if bag
               else _track_folder(args, tracker, params, out))
    print(f"{summary.line()} -> {out}" + (f", {args.out_bag}" if args.out_bag else ""))
    return 0


def split_overrides(config_path, overrides: list[str]):
    """(TrackerConfig from ``--config`` + tracker ``--set`` items, other node parameters)."""
    from finetrack_ros import settings
    from finetrack_ros.tracker import TrackerConfig

    tracker = TrackerConfig.from_yaml(config_path) if config_path else TrackerConfig()
    tracker_items, params = [], {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip().removeprefix("tracker.")
        if sep and key in settings.BY_NAME:  # a node parameter, e.g. publish_lost_tracks
            params[key] = settings.parse_value(key, raw)
        else:  # TrackerConfig refuses unknown keys, listing the valid ones
            tracker_items.append(f"{key}{sep}{raw}")
    return tracker.with_overrides(tracker_items), params


def _sets_use_appearance(config_path, overrides: list[str]) -> bool:
    """Whether ``--set`` or the ``--config`` file gives ``use_appearance`` explicitly."""
    if any(item.partition("=")[0].strip().removeprefix("tracker.") == "use_appearance"
           for item in overrides):
        return True
    if not config_path:
        return False
    import yaml

    from finetrack_ros.tracker.config import tracker_section

    data = yaml.safe_load(Path(config_path).read_text()) or {}  # checked by split_overrides
    return "use_appearance" in tracker_section(data)


def _pipeline(args, tracker, params: dict):
    from finetrack_ros import settings

    params = {**params, "device": args.device, "external_detections": True,
              "reid.enabled": bool(args.reid), "reid.checkpoint": str(args.reid or "")}
    return settings.pipeline_from_params(params, tracker), settings.frame_options(params)


def _track_folder(args, tracker, params: dict, out: Path):
    from finetrack_ros.frame_path import FramePath
    from finetrack_ros.mot import load_detections, open_sequence, write_results
    from finetrack_ros.offline import mot_inputs, track_offline, warn
    from finetrack_ros.outputs import atomic_path

    seq = open_sequence(args.path)
    if args.seq_frame_rate and seq.info:
        tracker = tracker.replace({"frame_rate": seq.info.frame_rate})
    det_path = args.detections or seq.det_path
    num_frames = seq.num_frames()
    detections = load_detections(det_path, num_frames or None)
    num_frames = num_frames or max(detections, default=0)
    pipeline, options = _pipeline(args, tracker, params)
    frames = FramePath(pipeline, options, report=warn)
    inputs = mot_inputs(seq, detections, num_frames, tracker.frame_rate,
                        with_images=pipeline.needs_images)
    world = _world_columns(args.camera, params, args.world == "filtered") if args.camera else None
    summary = track_offline(inputs, frames, num_frames, seq.name, sink=world)
    rows = summary.rows
    if world is not None:
        rows = world.join(rows)
        print(f"world ({args.world}): {world.step.no_ground} boxes without a ground point; "
              f"{world.total_ms / max(world.step.frames, 1):.3f} ms per frame")
    with atomic_path(out) as tmp:
        write_results(tmp, rows)
    return summary


def _world_columns(camera_path: Path, params: dict, filtered: bool):
    """Build the ``--camera`` sink: a WorldStep with the file's camera and pose.

    ``world.*`` node parameters given with ``--set`` (e.g. ``world.max_range_m=80``) apply.
    """
    import dataclasses

    from finetrack_ros.world import WorldConfig, WorldStep, load_camera_yaml
    from finetrack_ros.world.step import WorldColumns

    camera, pose = load_camera_yaml(camera_path)
    if pose is None:
        raise ValueError(f"--camera {camera_path}: no world_from_camera (the camera's pose "
                         "above the ground) in the file")
    config = dataclasses.replace(WorldConfig.from_params(params), filtered=filtered)
    return WorldColumns(WorldStep(camera, config), pose)


def _track_bag(args, tracker, params: dict, out: Path):
    from finetrack_ros.bag.reader import IMAGE_TYPES, BagReader, bag_folder
    from finetrack_ros.bag.replay import bag_fps, replay_bag

    bag_path = bag_folder(args.path)
    if args.seq_frame_rate:
        with BagReader(bag_path) as bag:
            bag.require_topic(args.image_topic, IMAGE_TYPES)
            fps = bag_fps(bag, args.image_topic)
        if fps is not None:
            tracker = tracker.replace({"frame_rate": fps})
    pipeline, options = _pipeline(args, tracker, params)
    world = None
    if args.camera_info_topic is not None:
        from finetrack_ros.bag.world import BagWorldConfig

        world = BagWorldConfig.from_params(params, args.camera_info_topic,
                                           args.world == "filtered", args.depth_topic)
    summary = replay_bag(bag_path, pipeline, out, args.image_topic, args.detections_topic,
                         args.out_bag, options=options,
                         sync_queue_size=params.get("sync_queue_size", 10), world=world)
    if world is not None:
        print(summary.world.line())
    return summary
