"""Deterministic offline replay of a bag through :class:`TrackingPipeline`.

Every image of the image topic is processed, in stored order, none dropped: the same pipeline
object the node runs, so offline and online tracks agree when the node drops no frame.
Outputs MOTChallenge results (frame = 1-based image index) and optionally a bag with
``/finetrack/tracks`` (vision_msgs/Detection2DArray), ``/finetrack/tracked_objects``
(finetrack_ros/TrackedObjectArray) and ``/finetrack/annotated_image`` (sensor_msgs/Image), each
stamped (header and receive time) like its input image.
"""
from __future__ import annotations

import os
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
from tqdm import tqdm

from finetrack_ros.bag import messages as m
from finetrack_ros.bag.bag_writer import BagWriter
from finetrack_ros.bag.reader import IMAGE_TYPES, BagReader, bag_folder
from finetrack_ros.bag.track_messages import tracks_to_detection_array, tracks_to_tracked_objects
from finetrack_ros.bag.typestore import DETECTION_ARRAY_TYPE, IMAGE_TYPE, TRACKED_OBJECT_ARRAY_TYPE
from finetrack_ros.mot import track_rows, write_results
from finetrack_ros.structures import Detections
from finetrack_ros.visualization import TrailHistory, draw_tracks


@dataclass
class ReplayTopics:
    """Output topics of a replay bag (the node's ``~/...`` topics under ``/finetrack``)."""

    tracks: str = "/finetrack/tracks"
    tracked_objects: str = "/finetrack/tracked_objects"
    annotated_image: str = "/finetrack/annotated_image"


@dataclass
class ReplaySummary:
    """What a replay did: frames, wall time, distinct track ids, frames without detections."""

    frames: int = 0
    seconds: float = 0.0
    track_ids: set = field(default_factory=set)
    frames_without_detections: int = 0

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        line = (
            f"replayed {self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps), "
            f"{len(self.track_ids)} tracks"
        )
        if self.frames_without_detections:
            line += f", {self.frames_without_detections} frames without detections"
        return line


def bag_fps(bag: BagReader, image_topic: str) -> Optional[float]:
    """Frame rate from the receive stamps of ``image_topic``; None with fewer than 2 images."""
    stamps = [raw.stamp_ns for raw in bag.raw_messages([image_topic])]
    if len(stamps) < 2 or stamps[-1] <= stamps[0]:
        return None
    return (len(stamps) - 1) * m.NS_PER_SEC / (stamps[-1] - stamps[0])


def detections_from_bag(dets: dict, class_names: list) -> Detections:
    """Detections of a frame from :func:`messages.detection_array_to_numpy` output.

    Class names map to their index in ``class_names`` and purely numeric names ("0") to that
    index, as the node's ``ClassTable`` does; boxes of any other class are dropped, so the
    replay equals the node run with ``detector.keep_classes`` = all of ``class_names`` (for
    MOT ground truth: only "person"). Boxes without a hypothesis are class 0, as in the node.
    """
    index = {name: i for i, name in enumerate(class_names)}
    class_ids = np.asarray(
        [index.get(name, int(name) if name.strip().isdigit() else (0 if name == "" else -1))
         for name in dets["class_names"]], np.int64)
    keep = (class_ids >= 0) & (class_ids < len(class_names))
    return Detections(dets["boxes_xyxy"][keep], dets["scores"][keep], class_ids[keep])


def write_results_atomic(path: str | Path, rows: list) -> Path:
    """:func:`finetrack_ros.mot.write_results` to a temp file, renamed on success."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        write_results(tmp, rows)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


class _OutBag:
    """The optional replay output bag."""

    def __init__(self, writer: BagWriter, topics: ReplayTopics, pipeline, fps: float) -> None:
        self.writer, self.topics, self.pipeline, self.fps = writer, topics, pipeline, fps
        self.trails = TrailHistory()
        writer.add_topic(topics.tracks, DETECTION_ARRAY_TYPE)
        writer.add_topic(topics.tracked_objects, TRACKED_OBJECT_ARRAY_TYPE)
        writer.add_topic(topics.annotated_image, IMAGE_TYPE)

    def write(self, frame, tracks) -> None:
        store, name = self.writer.store, self.pipeline.class_name
        header = m.make_header(store, frame.stamp_ns, frame.frame_id)
        self.writer.write(
            self.topics.tracks, frame.stamp_ns,
            tracks_to_detection_array(store, header, tracks, name),
        )
        self.writer.write(
            self.topics.tracked_objects, frame.stamp_ns,
            tracks_to_tracked_objects(store, header, tracks, name, self.fps),
        )
        annotated = draw_tracks(frame.image_bgr, tracks, self.trails.update(tracks))
        self.writer.write(self.topics.annotated_image, frame.stamp_ns,
                          m.image_msg(store, header, annotated))


def replay_bag(
    bag_path: str | Path,
    pipeline,
    out_txt: Optional[str | Path],
    image_topic: str = "/camera/image_raw",
    detections_topic: Optional[str] = "/detections",
    out_bag: Optional[str | Path] = None,
    out_storage: str = "mcap",
    topics: Optional[ReplayTopics] = None,
) -> ReplaySummary:
    """Run every image of a bag through ``pipeline`` (a :class:`TrackingPipeline`).

    Args:
        bag_path: input rosbag2 folder.
        pipeline: the tracking pipeline; reset before the first frame.
        out_txt: MOTChallenge results file (written atomically), or None.
        image_topic: sensor_msgs/Image or CompressedImage topic.
        detections_topic: vision_msgs/Detection2DArray topic paired by header stamp; None or ""
            runs the pipeline's detector on every image instead.
        out_bag: output bag folder (written atomically), or None.
        out_storage: "mcap" or "sqlite3" for ``out_bag``.
    """
    summary, rows = ReplaySummary(), []
    pipeline.reset()
    start = time.perf_counter()
    with BagReader(bag_path) as bag:
        bag.require_topic(image_topic, IMAGE_TYPES)
        total = bag.count(image_topic)
        sink = BagWriter(out_bag, out_storage) if out_bag else nullcontext()
        with sink as writer:
            out = None
            if out_bag:  # velocities in the out bag need the stream's frame rate
                fps = bag_fps(bag, image_topic) or float(pipeline.tracker.config.frame_rate)
                out = _OutBag(writer, topics or ReplayTopics(), pipeline, fps)
            frames = bag.frames(image_topic, detections_topic or None)
            for frame in tqdm(frames, total=total, desc=f"replay {Path(bag_path).name}",
                              unit="frame"):
                detections = None
                if frame.detections is not None:
                    detections = detections_from_bag(frame.detections, pipeline.class_names)
                    summary.frames_without_detections += int(len(detections) == 0)
                tracks = pipeline.process(frame.image_bgr, detections).tracks
                rows += track_rows(frame.index + 1, tracks)
                summary.track_ids.update(int(t.track_id) for t in tracks)
                if out is not None:
                    out.write(frame, tracks)
                summary.frames += 1
    if out_txt is not None:
        write_results_atomic(out_txt, rows)
    summary.seconds = time.perf_counter() - start
    return summary


def track_bag(args) -> int:
    """``finetrack track <bag>``: replay a bag through the pipeline (see :func:`replay_bag`).

    Uses ``args`` of ``finetrack_ros.cli.track``: ``path``, ``out`` (default
    ``results/<bag>.txt``), ``config``, ``overrides``, ``seq_frame_rate`` (tracker frame rate
    from the bag's image stamps), ``reid``, ``device``, ``image_topic``, ``detections_topic``,
    ``out_bag``. Detections come from ``detections_topic``; there is no detector option.
    """
    from finetrack_ros.cli.track import load_config
    from finetrack_ros.pipeline import offline_pipeline

    bag_path = bag_folder(Path(args.path))
    config = load_config(getattr(args, "config", None), getattr(args, "overrides", []))
    if getattr(args, "seq_frame_rate", False):
        with BagReader(bag_path) as bag:
            bag.require_topic(args.image_topic, IMAGE_TYPES)
            fps = bag_fps(bag, args.image_topic)
        if fps is not None:
            config = config.replace({"frame_rate": fps})
    pipeline = offline_pipeline(config, getattr(args, "reid", None),
                                getattr(args, "device", "cpu"))
    out_txt = args.out or Path("results") / f"{bag_path.name}.txt"
    out_txt.parent.mkdir(parents=True, exist_ok=True)
    summary = replay_bag(bag_path, pipeline, out_txt, args.image_topic, args.detections_topic,
                         getattr(args, "out_bag", None))
    outputs = f"{out_txt}" + (f", {args.out_bag}" if getattr(args, "out_bag", None) else "")
    print(f"{bag_path.name}: {summary.line()} -> {outputs}")
    return 0
