"""A small ``ros2 bag play`` / ``ros2 bag record`` with rclpy and ``finetrack_ros.bag``.

The PyPI wheel lane has no ``rosbag2_py`` and no ``ros2 bag``; these two classes stand in for
them where finetrack needs them (the demo, the online replay test). On a full ROS install the
documented path stays ``ros2 bag play --clock <bag>`` and ``ros2 bag record``.

* :class:`BagPlayer` publishes a bag's stored CDR bytes unchanged (``Publisher.publish``
  accepts serialized ``bytes``), grouped by receive stamp: every message of one stamp (image,
  camera info, detections of a frame) goes out together, after a ``rosgraph_msgs/Clock`` with
  that stamp when ``publish_clock`` is set (``ros2 bag play --clock``). Between groups it
  either keeps the bag's timing (``rate``) or calls a pace callback, e.g. "wait until the
  node has published the tracks of this frame", so nothing is dropped.
* :class:`TopicRecorder` subscribes topics as serialized bytes and writes them to a
  :class:`~finetrack_ros.bag.bag_writer.BagWriter` (atomic: the bag appears only when complete),
  with the recording node's clock (sim time under ``use_sim_time``) as receive stamp.
"""
from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

from finetrack_ros.bag.reader import BagReader, RawMessage, play
from finetrack_ros.ros.runtime import RclpySession

CLOCK_TOPIC = "/clock"
# Topics published latched (transient local), as their ROS publishers do: tf2's listener
# subscribes /tf_static transient local and takes no message of a volatile publisher.
LATCHED_TOPICS = ("/tf_static",)
CLOCK_TYPE = "rosgraph_msgs/msg/Clock"
NS_PER_SEC = 1_000_000_000


@dataclass
class PlayerConfig:
    """How :class:`BagPlayer` publishes.

    Attributes:
        rate: playback speed relative to the bag's receive stamps (1 = real time, 2 = twice
            as fast); 0 = no timing at all, only the pace callback decides (lock-step replay).
        publish_clock: publish ``/clock`` (rosgraph_msgs/Clock) with each group's stamp before
            its messages, so nodes with ``use_sim_time`` follow the bag.
        qos_depth: history depth of the (reliable) publishers; raise if a slow subscriber
            should be able to lag more messages behind without loss.
    """

    rate: float = 0.0
    publish_clock: bool = True
    qos_depth: int = 10

    def __post_init__(self) -> None:
        if self.rate < 0:
            raise ValueError(f"PlayerConfig.rate: need >= 0 (0 = lock-step), got {self.rate}")
        if self.qos_depth < 1:
            raise ValueError(f"PlayerConfig.qos_depth: need >= 1, got {self.qos_depth}")


def message_class(type_name: str) -> Any:
    """Return the rclpy message class of a type name such as ``sensor_msgs/msg/Image``."""
    parts = type_name.split("/")
    if len(parts) != 3:
        raise ValueError(f"message type {type_name!r}: expected package/msg/Name")
    package, kind, name = parts
    try:
        return getattr(importlib.import_module(f"{package}.{kind}"), name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"message type {type_name}: no rclpy class ({err}); is the "
                         "package that defines it built and sourced?") from None


def reliable_qos(depth: int, latched: bool = False) -> Any:
    """Reliable, volatile, keep-last ``depth`` (matches best-effort and reliable readers).

    ``latched``: transient local instead (late and transient-local readers get the messages).
    """
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL if latched
                      else DurabilityPolicy.VOLATILE)


def stamp_groups(messages: Iterator[RawMessage]) -> Iterator[list[RawMessage]]:
    """Consecutive messages with the same receive stamp, as lists (stored order kept)."""
    group: list[RawMessage] = []
    for raw in messages:
        if group and raw.stamp_ns != group[0].stamp_ns:
            yield group
            group = []
        group.append(raw)
    if group:
        yield group


@dataclass
class PlaySummary:
    """What :meth:`BagPlayer.play` sent: messages per output topic and the stamp groups."""

    counts: dict
    groups: int = 0
    seconds: float = 0.0


# Called after each stamp group: (0-based group index, stamp ns, output topics in the group).
PaceFn = Callable[[int, int, set], None]


class BagPlayer:
    """Publishes the messages of a bag with rclpy (see the module docstring).

    Args:
        session: the rclpy node (and executor) that owns the publishers.
        bag_path: rosbag2 folder.
        topics: bag topics to publish (all when empty).
        remap: bag topic → published topic name (others keep their name).
        config: timing, clock and QoS.
    """

    def __init__(self, session: RclpySession, bag_path: str | Path, topics: Sequence[str] = (),
                 remap: Optional[dict] = None, config: Optional[PlayerConfig] = None) -> None:
        self.session = session
        self.bag_path = Path(bag_path)
        self.config = config or PlayerConfig()
        self.remap = dict(remap or {})
        with BagReader(self.bag_path) as bag:
            available = bag.topics
            for topic in topics:
                bag.require_topic(topic)
        self.topics = list(topics) or sorted(available)
        node = session.node
        self.publishers = {
            topic: node.create_publisher(
                message_class(available[topic][0]), self.output_topic(topic),
                reliable_qos(self.config.qos_depth, topic in LATCHED_TOPICS))
            for topic in self.topics
        }
        self.clock_publisher = None
        if self.config.publish_clock:
            self.clock_publisher = node.create_publisher(message_class(CLOCK_TYPE), CLOCK_TOPIC,
                                                         reliable_qos(self.config.qos_depth))

    def output_topic(self, topic: str) -> str:
        return self.remap.get(topic, topic)

    def wait_for_subscribers(self, topics: Sequence[str], timeout_s: float,
                             check: Optional[Callable[[], None]] = None) -> None:
        """Spin until every bag topic in ``topics`` has a subscriber; ValueError on timeout."""
        pubs = [self.publishers[t] for t in topics]
        if not self.session.spin_until(
                lambda: all(p.get_subscription_count() > 0 for p in pubs), timeout_s, check):
            missing = [p.topic_name for p in pubs if p.get_subscription_count() == 0]
            raise ValueError(f"bag {self.bag_path}: no subscriber on {', '.join(missing)} "
                             f"after {timeout_s:.0f} s")

    def play(self, pace: Optional[PaceFn] = None) -> PlaySummary:
        """Publish every message once, in receive-stamp order; returns what was sent.

        ``pace`` runs after each stamp group (it may spin, wait and raise); with
        ``config.rate`` > 0 the player also waits for the bag's own timing.
        """
        from rosgraph_msgs.msg import Clock

        summary = PlaySummary(counts={self.output_topic(t): 0 for t in self.topics})
        start_wall, first_stamp = time.monotonic(), None
        for index, group in enumerate(stamp_groups(play(self.bag_path, self.topics))):
            stamp = group[0].stamp_ns
            first_stamp = stamp if first_stamp is None else first_stamp
            if self.config.rate > 0:
                due = start_wall + (stamp - first_stamp) / NS_PER_SEC / self.config.rate
                self.session.spin_until(lambda: time.monotonic() >= due, float("inf"))
            if self.clock_publisher is not None:
                clock = Clock()
                clock.clock.sec, clock.clock.nanosec = divmod(stamp, NS_PER_SEC)
                self.clock_publisher.publish(clock)
            for raw in group:
                self.publishers[raw.topic].publish(raw.rawdata)
                summary.counts[self.output_topic(raw.topic)] += 1
            summary.groups += 1
            if pace is not None:
                pace(index, stamp, {self.output_topic(raw.topic) for raw in group})
            else:
                self.session.executor.spin_once(timeout_sec=0)
        summary.seconds = time.monotonic() - start_wall
        return summary

    def close(self) -> None:
        node = self.session.node
        for publisher in [*self.publishers.values(), self.clock_publisher]:
            if publisher is not None:
                node.destroy_publisher(publisher)
        self.publishers, self.clock_publisher = {}, None


class TopicRecorder:
    """Subscribes topics as serialized bytes and writes each message to a bag.

    Args:
        session: the rclpy node (and executor) that owns the subscriptions; its clock
            stamps the messages (sim time when it runs with ``use_sim_time``).
        writer: an open :class:`~finetrack_ros.bag.bag_writer.BagWriter`.
        topics: topic → type name (e.g. ``vision_msgs/msg/Detection2DArray``); the type must
            be known to ``finetrack_ros.bag.typestore``.
        qos_depth: history depth of the reliable subscriptions.
    """

    def __init__(self, session: RclpySession, writer, topics: dict,
                 qos_depth: int = 100) -> None:
        self.session = session
        self.writer = writer
        self.counts = {topic: 0 for topic in topics}
        self.subscriptions = []
        for topic, type_name in topics.items():
            writer.add_topic(topic, type_name)
            self.subscriptions.append(session.node.create_subscription(
                message_class(type_name), topic, self._callback(topic), reliable_qos(qos_depth),
                raw=True))

    def _callback(self, topic: str) -> Callable[[bytes], None]:
        def record(data: bytes) -> None:
            stamp_ns = self.session.node.get_clock().now().nanoseconds
            self.writer.write_raw(topic, stamp_ns, bytes(data))
            self.counts[topic] += 1

        return record

    def publisher_count(self) -> int:
        """Least number of publishers matched with any recorded topic."""
        return min((s.get_publisher_count() for s in self.subscriptions), default=0)

    def close(self) -> None:
        for subscription in self.subscriptions:
            self.session.node.destroy_subscription(subscription)
        self.subscriptions = []
