"""Online replay: a bag played into the running ``finetrack_node``, its outputs recorded.

What ``ros2 bag play --clock <bag>`` + ``ros2 bag record`` do around the node on a ROS
install, with the wheel-lane stand-ins of :mod:`finetrack_ros.ros.bag_player`:

1. start the installed node as a subprocess with ``use_sim_time`` and ``autostart``, its
   ``image`` (or ``image/compressed``) and ``detections`` remapped onto the bag's topics;
2. wait until it is active (it subscribes the image topic) and its outputs are matched;
3. play the bag lock-step: after each frame, wait until the node has published that frame's
   ``~/tracks``, so no frame is dropped and the tracks equal the offline replay's
   (:func:`finetrack_ros.bag.replay.replay_bag`); a frame without output within
   ``frame_timeout_s`` is counted as dropped;
4. record ``~/tracks`` and ``~/tracked_objects`` to a bag and, optionally, write
   ``~/annotated_image`` to an MP4.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from finetrack_ros import messages as m
from finetrack_ros.bag.bag_writer import BagWriter
from finetrack_ros.bag.reader import BagReader
from finetrack_ros.bag.typestore import (
    COMPRESSED_IMAGE_TYPE,
    DETECTION3D_ARRAY_TYPE,
    DETECTION_ARRAY_TYPE,
    IMAGE_TYPE,
    TRACKED_OBJECT_ARRAY_TYPE,
)
from finetrack_ros.progress import progress_bar
from finetrack_ros.ros import runtime
from finetrack_ros.ros.bag_player import BagPlayer, PlayerConfig, TopicRecorder, reliable_qos

NODE_NAME = "finetrack_node"
# FourCC of the annotated video (MPEG-4 part 2: in every OpenCV build, plays everywhere).
VIDEO_FOURCC = "mp4v"


@dataclass
class OnlineReplayConfig:
    """How the bag is fed to the node.

    Attributes:
        image_topic: bag topic with sensor_msgs/Image or CompressedImage (the node is set to
            ``image_transport: compressed`` for the latter).
        detections_topic: bag topic of vision_msgs/Detection2DArray fed to the node's
            ``detections`` (``external_detections: true``); None runs the node's YOLOX.
        startup_timeout_s: seconds for the node to start, load its networks and subscribe.
        frame_timeout_s: seconds to wait for a frame's tracks before counting it dropped.
        drain_timeout_s: seconds to wait after the last frame for late outputs.
        storage: storage of the recorded bag, "mcap" or "sqlite3".
        world_topics: bag topics for the node's 3D (its ``world.camera_info_topic``,
            ``/tf_static``, ``/tf``), played too; the first message of each also goes out
            before the first frame (``world_settle_s`` to land), so frame 1 has its camera.
        record_3d: also record ``~/tracks_3d``.
    """

    image_topic: str = "/camera/image_raw"
    detections_topic: Optional[str] = None
    startup_timeout_s: float = 180.0
    frame_timeout_s: float = 30.0
    drain_timeout_s: float = 5.0
    storage: str = "mcap"
    world_topics: tuple = ()
    record_3d: bool = False
    world_settle_s: float = 1.0


@dataclass
class OnlineReplayResult:
    """What happened: frames sent / tracked / dropped, wall time, files written.

    An image whose detections message is missing from the bag is sent but not expected to
    be tracked (the node pairs by stamp, as the offline replay does); it is not "dropped".
    """

    frames_sent: int = 0
    frames_tracked: int = 0
    frames_dropped: int = 0
    seconds: float = 0.0
    tracks_bag: Optional[Path] = None
    video: Optional[Path] = None
    video_frames: int = 0
    node_log: Optional[Path] = None
    tracks_topic: str = f"/{NODE_NAME}/tracks"
    image_stamps: list = field(default_factory=list)
    expected: set = field(default_factory=set)  # image indices paired with detections

    @property
    def fps(self) -> float:
        return self.frames_sent / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (f"node tracked {self.frames_tracked}/{self.frames_sent} frames in "
                f"{self.seconds:.1f} s ({self.fps:.1f} fps), {self.frames_dropped} dropped")


class VideoSink:
    """Writes every sensor_msgs/Image of a topic into an MP4.

    The file is written as ``.partial`` and renamed by :meth:`close`.

    Args:
        session: rclpy node owning the subscription.
        topic: image topic (e.g. ``/finetrack_node/annotated_image``).
        path: the .mp4 to write.
        fps: frame rate of the video.
    """

    def __init__(self, session: runtime.RclpySession, topic: str, path: Path, fps: float) -> None:
        from sensor_msgs.msg import Image

        self.session, self.path, self.fps = session, Path(path), float(fps)
        self.partial = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self.writer = None
        self.frames = 0
        self.subscription = session.node.create_subscription(
            Image, topic, self._on_image, reliable_qos(100))

    def _on_image(self, msg: Any) -> None:
        import cv2

        from finetrack_ros.image_codec import image_msg_to_bgr

        frame = image_msg_to_bgr(msg)
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            size = (frame.shape[1], frame.shape[0])
            self.writer = cv2.VideoWriter(str(self.partial),
                                          cv2.VideoWriter_fourcc(*VIDEO_FOURCC), self.fps, size)
            if not self.writer.isOpened():
                raise ValueError(f"video {self.path}: OpenCV cannot write {VIDEO_FOURCC} MP4")
        self.writer.write(frame)
        self.frames += 1

    def close(self) -> Optional[Path]:
        """Finish the file; returns its path, or None when no frame arrived."""
        self.session.node.destroy_subscription(self.subscription)
        if self.writer is None:
            return None
        self.writer.release()
        os.replace(self.partial, self.path)
        return self.path


def _image_setup(bag_path: Path, config: OnlineReplayConfig) -> tuple[dict, dict, list, set]:
    """Set up the bag's image topic: node parameters, remaps, image stamps, tracked images.

    Returns (node parameters, remaps, image header stamps, indices of the images the node will
    track) for the bag's image topic; the last comes from the pairing the node does.
    """
    with BagReader(bag_path) as bag:
        bag.require_topic(config.image_topic, (IMAGE_TYPE, COMPRESSED_IMAGE_TYPE))
        msgtype = bag.topics[config.image_topic][0]
        stamps = [m.header_stamp_ns(msg.header) for _, msg in bag.messages(config.image_topic)]
        paired = {pair.index for pair in bag.paired_messages(config.image_topic,
                                                             config.detections_topic)}
    if msgtype == COMPRESSED_IMAGE_TYPE:
        return ({"image_transport": "compressed"}, {"image/compressed": config.image_topic},
                stamps, paired)
    return {"image_transport": "raw"}, {"image": config.image_topic}, stamps, paired


def replay_into_node(bag_path: str | Path, out_bag: str | Path, parameters: dict,
                     config: Optional[OnlineReplayConfig] = None,
                     video_path: Optional[str | Path] = None, video_fps: float = 30.0,
                     log_path: Optional[str | Path] = None,
                     domain_id: Optional[int] = None) -> OnlineReplayResult:
    """Run ``finetrack_node`` on a bag (see the module docstring).

    Args:
        bag_path: input rosbag2 folder.
        out_bag: recorded output bag (``/finetrack_node/tracks``, ``.../tracked_objects``).
        parameters: node parameters (``name: value``, dotted names) on top of the node's
            defaults; ``use_sim_time``, ``autostart``, ``image_qos``, ``image_transport``
            and ``external_detections`` are set here.
        video_path: write ``~/annotated_image`` to this MP4 (None: the node draws nothing).
        log_path: the node's output (default: beside ``out_bag``).
        domain_id: DDS domain (default :func:`runtime.pick_domain_id`).
    """
    config = config or OnlineReplayConfig()
    bag_path, out_bag = Path(bag_path), Path(out_bag)
    runtime.check_ros_available()
    image_params, remaps, stamps, paired = _image_setup(bag_path, config)
    params = {**parameters, **image_params, "use_sim_time": True, "autostart": True,
              # reliable: lock-step replay has one frame in flight, so none is dropped
              "image_qos": "reliable",
              "external_detections": bool(config.detections_topic)}
    if config.detections_topic:
        remaps["detections"] = config.detections_topic
    domain_id = runtime.pick_domain_id() if domain_id is None else domain_id
    log_path = Path(log_path or out_bag.with_name(f"{out_bag.name}_node.log"))
    command = runtime.node_command() + runtime.ros_args(params, remaps)
    result = OnlineReplayResult(node_log=log_path, image_stamps=stamps, expected=paired)
    with runtime.rclpy_session("finetrack_bag_player", domain_id, use_sim_time=True) as session, \
            BagWriter(out_bag, config.storage) as writer, \
            runtime.running_node(command, runtime.ros_environment(domain_id), log_path) as proc:
        _run(session, proc, bag_path, writer, config, video_path, video_fps, result)
    result.tracks_bag = out_bag
    return result


def _run(session, proc, bag_path: Path, writer: BagWriter, config: OnlineReplayConfig,
         video_path, video_fps: float, result: OnlineReplayResult) -> None:
    prefix = f"/{NODE_NAME}"
    result.tracks_topic = f"{prefix}/tracks"
    outputs = {result.tracks_topic: DETECTION_ARRAY_TYPE,
               f"{prefix}/tracked_objects": TRACKED_OBJECT_ARRAY_TYPE}
    if config.record_3d:
        outputs[f"{prefix}/tracks_3d"] = DETECTION3D_ARRAY_TYPE
    recorder = TopicRecorder(session, writer, outputs)
    sink = VideoSink(session, f"{prefix}/annotated_image", Path(video_path), video_fps) \
        if video_path else None
    inputs = [config.image_topic] + ([config.detections_topic] if config.detections_topic else [])
    inputs += list(config.world_topics)
    player = BagPlayer(session, bag_path, inputs, config=PlayerConfig(rate=0.0))
    try:
        _wait_until_ready(session, proc, player, recorder, sink, inputs, config)
        _send_world_first(session, player, bag_path, config)
        start = time.monotonic()
        with progress_bar(total=len(result.image_stamps), desc="finetrack_node",
                          unit="frame") as bar:
            player.play(_LockStep(session, proc, recorder, result, config, bar))
        session.spin_until(lambda: _drained(recorder, sink, result.tracks_topic),
                           config.drain_timeout_s)
        result.seconds = time.monotonic() - start
        result.frames_tracked = recorder.counts[result.tracks_topic]
    finally:
        player.close()
        recorder.close()
        if sink is not None:
            result.video = sink.close()
            result.video_frames = sink.frames


def _drained(recorder: TopicRecorder, sink: Optional[VideoSink], tracks_topic: str) -> bool:
    """Every output of every tracked frame has arrived (outputs follow ``~/tracks``)."""
    done = recorder.counts[tracks_topic]
    return min(recorder.counts.values()) >= done and (sink is None or sink.frames >= done)


def _send_world_first(session, player: BagPlayer, bag_path: Path,
                      config: OnlineReplayConfig) -> None:
    """Publish the first message of each world topic and let it land before frame 1."""
    if not config.world_topics:
        return
    with BagReader(bag_path) as bag:
        for topic in config.world_topics:
            first = next(bag.raw_messages([topic]), None)
            if first is not None:
                player.publishers[topic].publish(first.rawdata)
    session.spin_for(config.world_settle_s)


def _wait_until_ready(session, proc, player, recorder, sink, inputs, config) -> None:
    """Wait until the node is active (subscribes our inputs) and outputs to our subscriptions."""
    player.wait_for_subscribers(inputs, config.startup_timeout_s, proc.check_running)
    outputs_ready = session.spin_until(
        lambda: recorder.publisher_count() > 0 and
        (sink is None or sink.subscription.get_publisher_count() > 0),
        config.startup_timeout_s, proc.check_running)
    if not outputs_ready:
        raise RuntimeError(f"finetrack_node published no outputs after "
                           f"{config.startup_timeout_s:.0f} s; log: {proc.log_path}")
    # the node decides per frame whether to draw (annotated_image has a subscriber): give
    # discovery a moment to be mutual
    session.spin_for(0.5)


class _LockStep:
    """Pace callback: after each frame, wait for the node's tracks of it."""

    def __init__(self, session, proc, recorder, result: OnlineReplayResult,
                 config: OnlineReplayConfig, progress: Any) -> None:
        self.session, self.proc, self.recorder = session, proc, recorder
        self.result, self.config, self.progress = result, config, progress
        self.seen = 0

    def __call__(self, index: int, stamp_ns: int, topics: set) -> None:
        if self.config.image_topic not in topics:
            return
        image_index = self.result.frames_sent
        self.result.frames_sent += 1
        if image_index not in self.result.expected:
            self.progress.update(1)
            return
        target = self.seen + 1
        counts, topic = self.recorder.counts, self.result.tracks_topic
        if not self.session.spin_until(lambda: counts[topic] >= target,
                                       self.config.frame_timeout_s, self.proc.check_running):
            self.result.frames_dropped += 1
        self.seen = counts[topic]
        self.progress.update(1)
        self.progress.set_postfix(dropped=self.result.frames_dropped)
