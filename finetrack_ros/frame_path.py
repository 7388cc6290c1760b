"""One frame path for the node, the bag replay and ``finetrack track`` (no ROS import).

Everything between a received image (plus, optionally, a detections message) and the tracks
published for it happens here, once, for every entry point:

1. **stamp** (:class:`StampGate`): zero/negative, repeated and slightly out-of-order stamps
   are skipped and counted; a jump backwards by ``time_reset_sec`` or more (a looped bag)
   resets the tracker;
2. **decode** (:func:`finetrack_ros.image_codec.image_msg_to_bgr`): every encoding, one codec;
3. **detections** (:func:`detections_from_msg`): class names through one bounded
   :class:`ClassTable`, non-finite or empty boxes dropped and counted, scores clipped;
4. **pipeline** (:class:`~finetrack_ros.pipeline.TrackingPipeline`): detector → Re-ID →
   tracker;
5. **outputs** (:class:`TrackedFrame`): the tracks to publish, LOST tracks when asked, the
   decoded frame for drawing; :mod:`finetrack_ros.frame_messages` turns it into messages.

Any failure inside one frame (a bad message, an exception from OpenCV or torch) skips that
frame with its reason and a count (:class:`BadFrames`); the caller keeps going. Pairing images
with detections messages is :class:`finetrack_ros.stamp_sync.ExactTimeSync`, used the same way
online and offline: an image whose detections never arrive is not tracked (the tracker does
not step), because a missing message is not the same as "no objects".
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np

from finetrack_ros.detection_cdr import DetectionArrayData
from finetrack_ros.image_codec import image_msg_to_bgr
from finetrack_ros.messages import NS_PER_SEC, detection_array_to_numpy, stamp_to_ns
from finetrack_ros.stamp_rate import StampRate
from finetrack_ros.structures import Detections
from finetrack_ros.tracker import TrackState

# Distinct class names a ClassTable learns from external detections before it refuses more:
# any process may publish detections, and an unbounded table is a memory leak.
MAX_CLASSES = 1024
# Largest numeric class id taken from a detections message ("3" → class 3).
MAX_CLASS_ID = 1_000_000
# Boxes with a coordinate beyond this many pixels are garbage, not a camera's image.
MAX_COORDINATE_PX = 1.0e6
# Default of the ``max_detections`` parameter: most detections tracked per frame. More people
# than a robot's camera sees (the densest public crowds, MOT20, reach ~200 a frame: raise it
# there if Re-ID keeps up); a 20,000-box storm then costs the node 0.85 s to its next good
# frame and +56 MB (``finetrack bench storm``, 2 shared cores; 300 took 1.1 s), where uncut it
# took minutes and 19 GB. The cut keeps the highest scores, so a crowd loses its least sure.
DEFAULT_MAX_DETECTIONS = 200


class BadFrame(ValueError):
    """A frame that cannot be tracked; the message says why (field and value)."""


@dataclass(frozen=True)
class FrameOptions:
    """What the frame path publishes and when it resets (node parameters of the same names).

    Attributes:
        publish_lost_tracks: also return LOST tracks in ``TrackedFrame.objects``.
        publish_embeddings: callers fill TrackedObject.embedding with the Re-ID feature.
        time_reset_sec: a stamp at least this much older than the last one resets the
            tracker (a looped bag); a smaller step back is an out-of-order frame, skipped.
        max_detections: most detections tracked per frame (the highest scores); the rest
            are cut, counted and reported.
    """

    publish_lost_tracks: bool = False
    publish_embeddings: bool = False
    time_reset_sec: float = 1.0
    max_detections: int = DEFAULT_MAX_DETECTIONS


class ClassTable:
    """Class names ↔ class indices for detections from an external detector.

    Known names map to their index in ``names``; an ASCII-digit class_id ("3") is taken as
    that index (detectors that publish COCO ids), up to :data:`MAX_CLASS_ID`; any other unseen
    name gets the next free index and is remembered (at most :data:`MAX_CLASSES` names), so it
    is published back with its own name. An empty class_id is class 0.
    """

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self._index = {name: i for i, name in enumerate(self.names)}

    def index(self, name: str) -> int:
        """Class index of ``name``; BadFrame for an out-of-range id or a full table."""
        if name in self._index:
            return self._index[name]
        text = name.strip()
        if text == "":
            return 0
        if text.isascii() and text.isdigit():
            if len(text) > 7 or int(text) > MAX_CLASS_ID:
                raise BadFrame(f"class_id '{text[:20]}' is above {MAX_CLASS_ID}")
            return int(text)
        if len(self.names) >= MAX_CLASSES:
            raise BadFrame(f"class_id '{name[:40]}': already {MAX_CLASSES} class names known")
        self._index[name] = len(self.names)
        self.names.append(name)
        return self._index[name]

    def name(self, index: int) -> str:
        return self.names[index] if 0 <= index < len(self.names) else str(index)


def detections_from_msg(msg: Any, classes: ClassTable) -> tuple[Detections, int]:
    """vision_msgs/Detection2DArray (any message class) → (valid Detections, boxes dropped).

    Each detection's first (best) hypothesis gives score and class; one without results has
    score 1 and class 0. Boxes with a non-finite or huge coordinate, a width or height <= 0,
    or a non-finite score are dropped (counted); scores are clipped to [0, 1]. ``msg`` may
    also be a :class:`~finetrack_ros.detection_cdr.DetectionArrayData` (read from the bytes).
    """
    raw = msg.arrays() if isinstance(msg, DetectionArrayData) else detection_array_to_numpy(msg)
    boxes, scores = raw["boxes_xyxy"], raw["scores"]
    valid = np.isfinite(boxes).all(axis=1) & np.isfinite(scores)
    valid &= (np.abs(boxes) <= MAX_COORDINATE_PX).all(axis=1)
    valid &= (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    class_ids = np.asarray([classes.index(raw["class_names"][i]) if ok else -1
                            for i, ok in enumerate(valid)], np.int64)
    detections = Detections(boxes[valid], np.clip(scores[valid], 0.0, 1.0), class_ids[valid])
    return detections, int((~valid).sum())


class StampGate:
    """Decides per image stamp: track it, reset first (bag loop), or skip it (bad stamp)."""

    def __init__(self, time_reset_sec: float) -> None:
        self.reset_ns = int(time_reset_sec * NS_PER_SEC)
        self.last_ns: Optional[int] = None

    def check(self, stamp: Any) -> tuple[int, bool]:
        """(stamp ns, reset the tracker first?) for this image; BadFrame to skip it.

        Only :meth:`accept` moves the gate on, so a frame that fails later (bad pixels)
        leaves no trace in the stamp history.
        """
        if not 0 <= int(stamp.nanosec) < NS_PER_SEC:
            raise BadFrame(f"header.stamp.nanosec = {stamp.nanosec} is outside [0, 1e9)")
        stamp_ns = stamp_to_ns(stamp)
        if stamp_ns <= 0:
            raise BadFrame(f"header.stamp = {stamp.sec}.{int(stamp.nanosec):09d} is not a "
                           "time (zero or negative: stamp not set?)")
        last = self.last_ns
        if last is None or stamp_ns > last:
            return stamp_ns, False
        if stamp_ns == last:
            raise BadFrame("header.stamp repeats the previous frame's stamp")
        if last - stamp_ns < self.reset_ns:
            raise BadFrame(f"header.stamp is {(last - stamp_ns) / NS_PER_SEC:.3f} s older "
                           "than the previous frame's (out of order)")
        return stamp_ns, True

    def accept(self, stamp_ns: int) -> None:
        self.last_ns = stamp_ns

    def clear(self) -> None:
        self.last_ns = None


class BadFrames:
    """Counts skipped frames; reports each new reason at once, repeats at most every period.

    Args:
        report: called with one line (the node's logger, progress.write offline).
        period_s: minimum seconds between two reports of the same reason.
    """

    def __init__(self, report: Callable[[str], None], period_s: float = 2.0) -> None:
        self.report, self.period_s = report, period_s
        self.count = 0
        self._last_reason, self._last_time = "", -math.inf

    def skip(self, stamp_text: str, reason: str) -> None:
        self.count += 1
        now = time.monotonic()
        if reason == self._last_reason and now - self._last_time < self.period_s:
            return
        self._last_reason, self._last_time = reason, now
        self.report(f"skipping bad frame at stamp {stamp_text}: {reason} "
                    f"({self.count} bad so far)")


@dataclass
class TrackedFrame:
    """One tracked frame, ready to publish.

    Attributes:
        header: the image's header (stamp and frame_id are copied to every output).
        frame_bgr: the decoded (H, W, 3) uint8 BGR image (for drawing); None for an array
            frame tracked without pixels.
        tracks: activated, tracked tracks (ByteTrack's output; ``~/tracks``).
        objects: ``tracks`` plus LOST tracks when ``publish_lost_tracks`` (``~/tracked_objects``).
        reset: the tracker was reset before this frame (time jumped backwards).
    """

    header: Any
    frame_bgr: Optional[np.ndarray]
    tracks: list
    objects: list
    reset: bool = False


class FramePath:
    """Stamp check → decode → detections → pipeline → outputs, for one image at a time.

    Args:
        pipeline: a :class:`~finetrack_ros.pipeline.TrackingPipeline`.
        options: :class:`FrameOptions`.
        report: where warnings go (bad frames, resets, dropped boxes).
    """

    def __init__(self, pipeline, options: FrameOptions = FrameOptions(),
                 report: Callable[[str], None] = print) -> None:
        self.pipeline, self.options, self.report = pipeline, options, report
        self.classes = ClassTable(pipeline.class_names)
        pipeline.class_names = self.classes.names  # one list: learnt names are published
        self.stamps = StampGate(options.time_reset_sec)
        self.stamp_rate = StampRate()  # tracker.frame_rate_from_stamps
        self.bad = BadFrames(report)
        self.dropped_boxes = 0
        self._last_drop_report = -math.inf
        # detections left out by max_detections, and the frames that had too many
        self.boxes_cut = 0
        self.frames_cut = 0
        self._last_cut_report = -math.inf
        pipeline.max_detections = options.max_detections

    def set_options(self, options: FrameOptions) -> None:
        """Set new options (run-time parameter change), applied from the next frame."""
        self.options = options
        self.stamps.reset_ns = int(options.time_reset_sec * NS_PER_SEC)
        self.pipeline.max_detections = options.max_detections

    # --- what the callers need, without reaching into the pipeline ---------------------
    def class_name(self, index: int) -> str:
        """Name of a class index (learnt names included; the index itself when unknown)."""
        return self.classes.name(index)

    @property
    def frame_rate(self) -> float:
        """The tracker's frame rate, Hz (measured from the stamps with frame_rate_from_stamps)."""
        return self.pipeline.tracker.config.frame_rate

    @property
    def tracker_config(self):
        """The tracker's :class:`~finetrack_ros.tracker.TrackerConfig` now."""
        return self.pipeline.tracker.config

    def set_tracker_config(self, config) -> None:
        """Use ``config`` (a :class:`~finetrack_ros.tracker.TrackerConfig`) from the next frame."""
        self.pipeline.tracker.config = config

    def lost_tracks(self) -> list:
        """Tracks LOST now (kept for re-identification, not matched this frame)."""
        return [t for t in self.pipeline.tracker.lost_tracks if t.state == TrackState.LOST]

    def reset(self) -> None:
        """Forget tracks and the last stamp (a new sequence)."""
        self.pipeline.reset()
        self.stamps.clear()
        self.stamp_rate.clear()

    def process(self, image_msg: Any, detections_msg: Any = None) -> Optional[TrackedFrame]:
        """Track one image message (with its detections message, or None to run the detector).

        Returns None for a skipped frame (reported and counted in ``self.bad``); never raises
        for anything in the messages.
        """
        return self._guarded(getattr(image_msg, "header", None), self._decode_and_track,
                             image_msg, detections_msg)

    def process_arrays(self, header: Any, frame_bgr: Optional[np.ndarray],
                       detections: Detections) -> Optional[TrackedFrame]:
        """Track a frame given as arrays (a MOT folder): same stamp rules and outputs.

        ``frame_bgr`` may be None when appearance is off (IoU-only tracking needs no pixels).
        """
        return self._guarded(header, self._track, header, frame_bgr, detections)

    def _guarded(self, header: Any, work: Callable, *args: Any) -> Optional[TrackedFrame]:
        try:
            return work(*args)
        except Exception as err:  # noqa: BLE001 - one bad frame must never stop the caller
            reason = str(err) if isinstance(err, BadFrame) else f"{type(err).__name__}: {err}"
            self.bad.skip(_stamp_text(header), reason[:300])
            return None

    def _decode_and_track(self, image_msg: Any, detections_msg: Any) -> TrackedFrame:
        checked = self.stamps.check(image_msg.header.stamp)  # a bad stamp costs no decoding
        frame = image_msg_to_bgr(image_msg)
        detections = None
        if detections_msg is not None:
            detections, dropped = detections_from_msg(detections_msg, self.classes)
            if dropped:
                self.dropped_boxes += dropped
                now = time.monotonic()
                if now - self._last_drop_report >= self.bad.period_s:  # throttled, as BadFrames
                    self._last_drop_report = now
                    self.report(f"stamp {_stamp_text(image_msg.header)}: dropped {dropped} "
                                f"invalid detection boxes ({self.dropped_boxes} so far)")
        return self._track(image_msg.header, frame, detections, checked)

    def _track(self, header: Any, frame: Optional[np.ndarray],
               detections: Optional[Detections],
               checked: Optional[tuple[int, bool]] = None) -> TrackedFrame:
        stamp_ns, reset = checked if checked is not None else self.stamps.check(header.stamp)
        self.stamps.accept(stamp_ns)
        if reset:
            self.report(f"time jumped backwards to {_stamp_text(header)} (bag looped?): "
                        "resetting the tracker")
            self.pipeline.reset()
            self.stamp_rate.clear()
        self._follow_stamp_rate(stamp_ns)
        result = self.pipeline.process(frame, detections)
        if result.boxes_cut:
            self._count_cut(header, result.boxes_in, result.boxes_cut)
        objects = list(result.tracks)
        if self.options.publish_lost_tracks:
            objects += self.lost_tracks()
        return TrackedFrame(header, frame, result.tracks, objects, reset)

    def _follow_stamp_rate(self, stamp_ns: int) -> None:
        """With ``frame_rate_from_stamps``, set the tracker's frame rate to the measured one."""
        rate = self.stamp_rate.observe(stamp_ns)
        config = self.tracker_config
        if not config.frame_rate_from_stamps or rate is None:
            return
        rate = min(max(round(rate, 2), 0.1), 10000.0)  # the parameter's range
        if StampRate.differs(rate, config.frame_rate):
            self.set_tracker_config(config.replace({"frame_rate": rate}))
            self.report(f"tracker frame rate {rate:g} Hz, measured from the image stamps "
                        f"(was {config.frame_rate:g}); track memory and velocities follow it")

    def _count_cut(self, header: Any, boxes_in: int, cut: int) -> None:
        """Count boxes cut by max_detections; report at most every BadFrames period."""
        self.boxes_cut += cut
        self.frames_cut += 1
        now = time.monotonic()
        if now - self._last_cut_report >= self.bad.period_s:
            self._last_cut_report = now
            self.report(f"stamp {_stamp_text(header)}: {boxes_in} detections, tracking the "
                        f"{boxes_in - cut} of highest score (max_detections); {cut} cut "
                        f"({self.boxes_cut} boxes in {self.frames_cut} frames so far)")


def _stamp_text(header: Any) -> str:
    try:
        return f"{int(header.stamp.sec)}.{int(header.stamp.nanosec):09d}"
    except Exception:  # noqa: BLE001 - only for the log line
        return "?"
