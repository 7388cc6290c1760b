"""Deterministic offline replay of a bag with the node's per-frame code.

Runs :func:`finetrack_ros.offline.track_offline` on its images, the node's per-frame code
(:class:`~finetrack_ros.frame_path.FramePath`).

Every image of the image topic is read in stored order, none dropped by timing; images and
detections are paired as the node pairs them. Outputs MOTChallenge results (frame = 1-based
image index) and optionally a bag with ``/finetrack/tracks`` (vision_msgs/Detection2DArray),
``/finetrack/tracked_objects`` (finetrack_ros/TrackedObjectArray) and
``/finetrack/annotated_image`` (sensor_msgs/Image), each stamped (header and receive time)
like its input image: the node's ``~/...`` topics, message for message. With a
:class:`~finetrack_ros.bag.world.BagWorldConfig` the bag's camera_info, /tf_static and /tf give
each row wx, wy, wz (ground frame) and the output bag ``/finetrack/tracks_3d``
(vision_msgs/Detection3DArray in the target frame), as the node's ``~/tracks_3d``.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from finetrack_ros import messages as m
from finetrack_ros.bag.bag_writer import BagWriter
from finetrack_ros.bag.reader import IMAGE_TYPES, BagReader
from finetrack_ros.bag.typestore import (
    DETECTION3D_ARRAY_TYPE,
    DETECTION_ARRAY_TYPE,
    IMAGE_TYPE,
    TRACKED_OBJECT_ARRAY_TYPE,
)
from finetrack_ros.bag.world import BagWorld, BagWorldConfig
from finetrack_ros.frame_messages import FrameMessageBuilder, FrameWorld
from finetrack_ros.frame_path import FrameOptions, FramePath, TrackedFrame
from finetrack_ros.mot import write_results
from finetrack_ros.offline import OfflineSummary, bag_inputs, track_offline, warn
from finetrack_ros.outputs import atomic_path


@dataclass
class ReplayTopics:
    """Output topics of a replay bag (the node's ``~/...`` topics under ``/finetrack``)."""

    tracks: str = "/finetrack/tracks"
    tracked_objects: str = "/finetrack/tracked_objects"
    annotated_image: str = "/finetrack/annotated_image"
    tracks_3d: str = "/finetrack/tracks_3d"


def bag_fps(bag: BagReader, image_topic: str) -> Optional[float]:
    """Frame rate from the receive stamps of ``image_topic``; None with fewer than 2 images."""
    stamps = [raw.stamp_ns for raw in bag.raw_messages([image_topic])]
    if len(stamps) < 2 or stamps[-1] <= stamps[0]:
        return None
    return (len(stamps) - 1) * m.NS_PER_SEC / (stamps[-1] - stamps[0])


class OutBag:
    """Writes each tracked frame as the node publishes it (tracks, objects, annotated image).

    The messages come from the node's output seam (:mod:`finetrack_ros.frame_messages`).
    With ``world`` (written before this sink each frame) the frames that had 3D also get
    ``tracks_3d`` and world positions in ``tracked_objects``, as the node's.
    """

    def __init__(self, writer: BagWriter, topics: ReplayTopics, frames: FramePath,
                 world: Optional[BagWorld] = None) -> None:
        self.writer, self.topics, self.world = writer, topics, world
        self.build = FrameMessageBuilder(writer.store, frames)
        writer.add_topic(topics.tracks, DETECTION_ARRAY_TYPE)
        writer.add_topic(topics.tracked_objects, TRACKED_OBJECT_ARRAY_TYPE)
        writer.add_topic(topics.annotated_image, IMAGE_TYPE)
        if world is not None:
            writer.add_topic(topics.tracks_3d, DETECTION3D_ARRAY_TYPE)

    def write(self, tracked: TrackedFrame) -> None:
        world = None
        if self.world is not None and self.world.last is not None:
            world = FrameWorld(self.world.last, self.world.target, self.world.config.shape)
        out = self.build(tracked, annotate=True, world=world)
        stamp = m.header_stamp_ns(tracked.header)
        self.writer.write(self.topics.tracks, stamp, out.tracks)
        self.writer.write(self.topics.tracked_objects, stamp, out.tracked_objects)
        if out.annotated_image is not None:
            self.writer.write(self.topics.annotated_image, stamp, out.annotated_image)
        if out.tracks_3d is not None:
            self.writer.write(self.topics.tracks_3d, stamp, out.tracks_3d)


class Sinks:
    """Several ``track_offline`` sinks, written in order (the world before the output bag)."""

    def __init__(self, *sinks) -> None:
        self.sinks = [s for s in sinks if s is not None]

    def write(self, tracked: TrackedFrame) -> None:
        for sink in self.sinks:
            sink.write(tracked)


def replay_bag(
    bag_path: str | Path,
    pipeline,
    out_txt: Optional[str | Path],
    image_topic: str = "/camera/image_raw",
    detections_topic: Optional[str] = "/detections",
    out_bag: Optional[str | Path] = None,
    out_storage: str = "mcap",
    topics: Optional[ReplayTopics] = None,
    options: FrameOptions = FrameOptions(),
    sync_queue_size: int = 10,
    progress: bool = True,
    world: Optional[BagWorldConfig] = None,
) -> OfflineSummary:
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
        options: what is published (LOST tracks, embeddings) and the stamp reset rule, as
            the node's parameters of the same names.
        world: 3D from the bag's camera_info and tf: rows get wx, wy, wz and the output bag
            ``tracks_3d``; the :class:`BagWorld` is ``summary.world``.
    """
    frames = FramePath(pipeline, options, report=warn)
    with BagReader(bag_path) as bag:
        bag.require_topic(image_topic, IMAGE_TYPES)
        total = bag.count(image_topic)
        in_world = BagWorld.from_bag(bag, world, warn) if world is not None else None
        sink = BagWriter(out_bag, out_storage) if out_bag else nullcontext()
        with sink as writer:
            out = OutBag(writer, topics or ReplayTopics(), frames, in_world) if out_bag else None
            inputs = bag_inputs(bag, image_topic, detections_topic or None, sync_queue_size)
            summary = track_offline(inputs, frames, total, Path(bag_path).name,
                                    Sinks(in_world, out), progress)
    if in_world is not None:
        summary.rows = in_world.join(summary.rows)
        summary.world = in_world  # what 3D did, for the caller's line (BagWorld.line)
    if out_txt is not None:
        with atomic_path(out_txt) as tmp:
            write_results(tmp, summary.rows)
    return summary
