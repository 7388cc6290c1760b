"""``finetrack track``: run the tracker offline on a MOT sequence (or replay a rosbag2)."""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Track a MOTChallenge sequence from its detections (or a rosbag2) and write results."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path,
                        help="MOT sequence folder, or a rosbag2 (folder with metadata.yaml, "
                             ".mcap or .db3)")
    parser.add_argument("--detections", type=Path,
                        help="MOT det.txt to track (default: <seq>/det/det.txt)")
    parser.add_argument("--out", type=Path,
                        help="results txt (default: results/<seq>.txt) or, for bags, see --out-bag")
    parser.add_argument("--config", type=Path,
                        help="tracker YAML (ROS 2 params file with a tracker: section, or flat)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a tracker key, e.g. track_thresh=0.6")
    parser.add_argument("--seq-frame-rate", action="store_true",
                        help="use seqinfo.ini's frameRate instead of the config's frame_rate "
                             "(ByteTrack's MOT scripts keep 30)")
    parser.add_argument("--reid", type=Path,
                        help="Re-ID checkpoint: add FineTrack appearance (needs img1/ images)")
    parser.add_argument("--device", default="cpu", help="torch device for --reid")
    # rosbag2 replay (finetrack_ros.bag.replay.track_bag)
    parser.add_argument("--image-topic", default="/camera/image_raw",
                        help="bag input: sensor_msgs/Image topic")
    parser.add_argument("--detections-topic", default="/detections",
                        help="bag input: vision_msgs/Detection2DArray topic")
    parser.add_argument("--out-bag", type=Path, help="bag input: write tracks to this new bag")


def run(args: argparse.Namespace) -> int:
    from finetrack_ros.cli.evaluate import is_bag

    if is_bag(args.path):
        from finetrack_ros.bag.replay import track_bag

        return track_bag(args)
    config = load_config(args.config, args.overrides)
    summary = track_sequence(args.path, config, args.detections, args.out,
                             args.seq_frame_rate, args.reid, args.device)
    print(summary)
    return 0


def load_config(path, overrides):
    """TrackerConfig from an optional YAML file, then ``--set`` overrides."""
    from finetrack_ros.tracker import TrackerConfig

    config = TrackerConfig.from_yaml(path) if path else TrackerConfig()
    return config.with_overrides(overrides)


def track_sequence(seq_dir, config, det_path=None, out_path=None, seq_frame_rate=False,
                   reid_path=None, device="cpu") -> str:
    """Track every frame of a MOT sequence; write results; return a one-line summary."""
    import time

    import cv2
    from tqdm import tqdm

    from finetrack_ros.mot import load_detections, open_sequence, track_rows, write_results
    from finetrack_ros.pipeline import offline_pipeline
    from finetrack_ros.structures import Detections

    seq = open_sequence(seq_dir)
    if seq_frame_rate and seq.info:
        config = config.replace({"frame_rate": seq.info.frame_rate})
    dets_by_frame = load_detections(det_path or seq.det_path)
    num_frames = seq.num_frames() or max(dets_by_frame, default=0)
    pipeline = offline_pipeline(config, reid_path, device)
    rows, ids = [], set()
    start = time.perf_counter()
    for frame in tqdm(range(1, num_frames + 1), desc=seq.name, unit="frame", leave=False):
        image = None
        if pipeline.uses_appearance:
            image = cv2.imread(str(seq.image_path(frame)))
            if image is None:
                raise FileNotFoundError(f"--reid needs images: cannot read {seq.image_path(frame)}")
        result = pipeline.process(image, dets_by_frame.get(frame, Detections()))
        rows += track_rows(frame, result.tracks)
        ids.update(t.track_id for t in result.tracks)
    elapsed = time.perf_counter() - start
    out = write_results(out_path or Path("results") / f"{seq.name}.txt", rows)
    fps = num_frames / elapsed if elapsed > 0 else float("inf")
    return (f"{seq.name}: {num_frames} frames, {fps:.1f} fps, {len(ids)} tracks, "
            f"{len(rows)} boxes -> {out}")
