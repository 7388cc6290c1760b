"""The one offline loop: MOT folders and rosbag2 bags through :class:`FramePath` (no ROS).

``finetrack track`` (folders and bags), the bag replay and the demo's offline baseline all
run :func:`track_offline`, the same per-frame code as the node. Inputs come from
:func:`mot_inputs` (det.txt + images) or :func:`bag_inputs` (image and detections messages
paired as the node pairs them); every tracked frame goes to the optional sink (an output bag)
and becomes MOTChallenge rows (frame = 1-based image index).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Iterable, Iterator, Optional, Protocol

import numpy as np

from finetrack_ros import progress as bars
from finetrack_ros.frame_path import FramePath, TrackedFrame
from finetrack_ros.messages import NS_PER_SEC
from finetrack_ros.mot import track_rows
from finetrack_ros.structures import Detections

# Header stamp of frame 1 of a MOT folder (the bag writer's epoch, so folder and bag agree).
MOT_START_NS = 1_600_000_000 * NS_PER_SEC


@dataclass
class FrameInput:
    """One image for :func:`track_offline`: messages (bags) or arrays (MOT folders).

    Attributes:
        index: 0-based position of the image in its sequence or topic.
        image_msg: sensor_msgs/Image or CompressedImage (any message class), or None.
        detections_msg: its vision_msgs/Detection2DArray, or None (run the detector).
        header: header of an array frame (``stamp.sec``, ``stamp.nanosec``, ``frame_id``).
        frame_bgr: (H, W, 3) uint8 image of an array frame; None for IoU-only tracking.
        detections: Detections of an array frame.
    """

    index: int
    image_msg: Any = None
    detections_msg: Any = None
    header: Any = None
    frame_bgr: Optional[np.ndarray] = None
    detections: Optional[Detections] = None


class FrameSink(Protocol):
    def write(self, tracked: TrackedFrame) -> None: ...


@dataclass
class OfflineSummary:
    """What a run did: images read, frames tracked and skipped, tracks, MOT rows."""

    name: str = ""
    images: int = 0
    tracked: int = 0
    bad: int = 0
    seconds: float = 0.0
    track_ids: set = field(default_factory=set)
    rows: list = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.tracked / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        line = (f"{self.name}: tracked {self.tracked}/{self.images} frames in "
                f"{self.seconds:.1f} s ({self.fps:.1f} fps), {len(self.track_ids)} tracks, "
                f"{len(self.rows)} boxes")
        if self.bad:
            line += f", {self.bad} bad frames skipped"
        unpaired = self.images - self.tracked - self.bad
        if unpaired:
            line += f", {unpaired} images without a detections message"
        return line


def warn(line: str) -> None:
    """Offline warnings (bad frames, dropped boxes) above the progress bar."""
    bars.write(f"warning: {line}")


def plain_header(stamp_ns: int, frame_id: str = "") -> SimpleNamespace:
    """Build a std_msgs/Header look-alike for frames that come as arrays."""
    stamp = SimpleNamespace(sec=int(stamp_ns // NS_PER_SEC), nanosec=int(stamp_ns % NS_PER_SEC))
    return SimpleNamespace(stamp=stamp, frame_id=frame_id)


def mot_inputs(seq, detections_by_frame: dict, num_frames: int, fps: float,
               with_images: bool) -> Iterator[FrameInput]:
    """Frames 1..``num_frames`` of a MOT sequence (images only ``with_images``).

    Stamps are ``MOT_START_NS + (frame - 1) / fps``, as ``finetrack bag from-mot`` writes them.
    """
    import cv2

    for frame in range(1, num_frames + 1):
        image = None
        if with_images:
            image = cv2.imread(str(seq.image_path(frame)))
            if image is None:
                raise FileNotFoundError(f"Re-ID and camera motion need images: cannot read "
                                        f"{seq.image_path(frame)}")
        stamp = MOT_START_NS + round((frame - 1) * NS_PER_SEC / fps)
        yield FrameInput(frame - 1, header=plain_header(stamp), frame_bgr=image,
                         detections=detections_by_frame.get(frame, Detections()))


def bag_inputs(bag, image_topic: str, detections_topic: Optional[str],
               queue_size: int = 10) -> Iterator[FrameInput]:
    """Yield the images of an open :class:`~finetrack_ros.bag.reader.BagReader`.

    Each comes with its detections messages, paired as the node pairs them
    (:meth:`BagReader.paired_messages`).
    """
    for pair in bag.paired_messages(image_topic, detections_topic, queue_size):
        yield FrameInput(pair.index, image_msg=pair.image, detections_msg=pair.detections)


def track_offline(inputs: Iterable[FrameInput], frames: FramePath, total: int, name: str,
                  sink: Optional[FrameSink] = None, progress: bool = True) -> OfflineSummary:
    """Run every input through ``frames`` (reset first); rows and counts in the summary.

    Args:
        total: images in the input (progress bar, and the count of images read).
    """
    summary = OfflineSummary(name=name, images=total)
    frames.reset()
    bad_before = frames.bad.count
    start = time.perf_counter()
    for item in bars.progress_bar(inputs, total=total, desc=name, unit="frame",
                                  disable=not progress, leave=False):
        if item.image_msg is not None:
            tracked = frames.process(item.image_msg, item.detections_msg)
        else:
            tracked = frames.process_arrays(item.header, item.frame_bgr, item.detections)
        if tracked is None:
            continue
        summary.tracked += 1
        summary.rows += track_rows(item.index + 1, tracked.tracks)
        summary.track_ids.update(int(t.track_id) for t in tracked.tracks)
        if sink is not None:
            sink.write(tracked)
    summary.seconds = time.perf_counter() - start
    summary.bad = frames.bad.count - bad_before
    return summary
