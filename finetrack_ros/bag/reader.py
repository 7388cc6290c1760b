"""Read rosbag2 folders without ROS: clear errors, frames paired with their detections.

Every error names the bag and, where one is involved, the topic: a missing or unreadable bag
(``FileNotFoundError``/``ValueError``), a corrupt or truncated bag, a missing topic, a topic
of the wrong message type (``ValueError``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence

import numpy as np
from rosbags.rosbag2 import Reader
from rosbags.rosbag2.errors import ReaderError

from finetrack_ros import messages as m
from finetrack_ros.bag.typestore import (
    COMPRESSED_IMAGE_TYPE,
    DETECTION_ARRAY_TYPE,
    IMAGE_TYPE,
    build_typestore,
)
from finetrack_ros.image_codec import image_msg_to_bgr
from finetrack_ros.stamp_sync import ExactTimeSync

IMAGE_TYPES = (IMAGE_TYPE, COMPRESSED_IMAGE_TYPE)


@dataclass
class RawMessage:
    """One stored message: topic, type name, receive stamp (ns) and its CDR bytes."""

    topic: str
    msgtype: str
    stamp_ns: int
    rawdata: bytes


@dataclass
class PairedMessages:
    """An image message of a bag and the detections message with its header stamp.

    Attributes:
        index: 0-based position of the image among the topic's messages, in stored order.
        image: the sensor_msgs/Image or CompressedImage (rosbags object).
        detections: the vision_msgs/Detection2DArray with the same header stamp; None when
            no detections topic was asked for.
    """

    index: int
    image: object
    detections: Optional[object]


@dataclass
class BagFrame:
    """One image of a bag with the detections stamped like it.

    Attributes:
        index: 0-based position among the image messages, in stored order.
        stamp_ns: the image's header stamp, integer nanoseconds.
        frame_id: the image's header frame_id.
        image_bgr: (H, W, 3) uint8 BGR.
        detections: :func:`messages.detection_array_to_numpy` output of the detections
            message with the same header stamp; None without a detections topic, an empty
            array set when that topic has no message at this stamp.
    """

    index: int
    stamp_ns: int
    frame_id: str
    image_bgr: np.ndarray
    detections: Optional[dict]


def is_bag(path: str | Path) -> bool:
    """Check whether ``path`` is a rosbag2: a folder with metadata.yaml, or an .mcap / .db3 file."""
    path = Path(path)
    return (path.is_dir() and (path / "metadata.yaml").is_file()) or \
        path.suffix in (".mcap", ".db3")


def bag_folder(path: Path) -> Path:
    """Return the bag folder of ``path``.

    That is ``path`` itself, or the folder of a ``.mcap``/``.db3`` inside one.
    """
    if path.is_file() and (path.parent / "metadata.yaml").is_file():
        return path.parent
    return path


class BagReader:
    """An open rosbag2 folder (mcap or sqlite3). Use as a context manager.

    Args:
        path: the bag folder (the one holding ``metadata.yaml``), or its ``.mcap``/``.db3``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = bag_folder(Path(path))
        if not self.path.exists():
            raise FileNotFoundError(f"bag {self.path} not found")
        if not self.path.is_dir():
            raise ValueError(f"bag {self.path}: expected a rosbag2 folder with metadata.yaml")
        self.store = build_typestore()
        self._reader = Reader(self.path)
        try:
            self._reader.open()
        except (ReaderError, OSError, KeyError, ValueError) as err:
            raise ValueError(
                f"bag {self.path}: cannot open, corrupt or truncated ({err})"
            ) from None

    def __enter__(self) -> "BagReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._reader.close()

    @property
    def topics(self) -> dict:
        """Topic → (message type, message count), from the bag's metadata."""
        return {
            c.topic: (c.msgtype, c.msgcount) for c in self._reader.connections
        }

    @property
    def message_count(self) -> int:
        return int(self._reader.message_count)

    @property
    def duration_s(self) -> float:
        """Receive-time span of the bag, seconds (0 for an empty bag)."""
        return self._reader.duration / 1e9 if self.message_count else 0.0

    def msgdef(self, topic: str) -> str:
        """Return the message definition text stored for ``topic``."""
        return self._connections(topic)[0].msgdef.data

    def _connections(self, topic: str, msgtypes: Sequence[str] = ()) -> list:
        connections = [c for c in self._reader.connections if c.topic == topic]
        if not connections:
            known = ", ".join(sorted(self.topics)) or "none"
            raise ValueError(f"bag {self.path}: topic {topic} not found (topics: {known})")
        for connection in connections:
            if msgtypes and connection.msgtype not in msgtypes:
                raise ValueError(
                    f"bag {self.path}: topic {topic} has type {connection.msgtype}, "
                    f"expected {' or '.join(msgtypes)}"
                )
        return connections

    def require_topic(self, topic: str, msgtypes: Sequence[str] = ()) -> None:
        """Raise ValueError naming bag and topic when it is missing or of another type."""
        self._connections(topic, msgtypes)

    def raw_messages(self, topics: Iterable[str] = ()) -> Iterator[RawMessage]:
        """Messages of ``topics`` (all when empty) in receive-stamp order, CDR bytes untouched."""
        connections = [c for t in topics for c in self._connections(t)]
        try:
            for connection, stamp, rawdata in self._reader.messages(connections=connections):
                yield RawMessage(connection.topic, connection.msgtype, stamp, bytes(rawdata))
        except (ReaderError, OSError, KeyError, ValueError, EOFError) as err:
            names = ", ".join(topics) or "all topics"
            raise ValueError(
                f"bag {self.path}: corrupt or truncated while reading {names} ({err})"
            ) from None

    def messages(self, topic: str, msgtypes: Sequence[str] = ()) -> Iterator[tuple[int, object]]:
        """(receive stamp ns, deserialized message) of one topic, checked against ``msgtypes``."""
        self._connections(topic, msgtypes)
        for raw in self.raw_messages([topic]):
            yield raw.stamp_ns, self._deserialize(raw)

    def _deserialize(self, raw: RawMessage) -> object:
        try:
            return self.store.deserialize_cdr(raw.rawdata, raw.msgtype)
        except Exception as err:  # rosbags raises assorted errors on bad CDR
            raise ValueError(
                f"bag {self.path}: topic {raw.topic}: message at {raw.stamp_ns} ns cannot be "
                f"decoded as {raw.msgtype} ({type(err).__name__}: {err})"
            ) from None

    def detection_arrays(self, topic: str) -> Iterator[tuple[int, dict]]:
        """Yield (header stamp ns, numpy detections) of each message of a Detection2DArray topic.

        The numpy detections are :func:`messages.detection_array_to_numpy` of the message.
        """
        for _, msg in self.messages(topic, (DETECTION_ARRAY_TYPE,)):
            yield m.header_stamp_ns(msg.header), m.detection_array_to_numpy(msg)

    def count(self, topic: str) -> int:
        """Messages on ``topic`` (errors when it is missing)."""
        return sum(c.msgcount for c in self._connections(topic))

    def paired_messages(self, image_topic: str, detections_topic: Optional[str] = None,
                        queue_size: int = 10) -> Iterator[PairedMessages]:
        """Images of ``image_topic`` in stored order, each with its detections message.

        Pairing is :class:`~finetrack_ros.stamp_sync.ExactTimeSync` over the messages of both
        topics in stored (receive) order, exactly what the node does with them when the bag
        is played into it: an image whose detections message never comes is not returned.
        """
        self._connections(image_topic, IMAGE_TYPES)
        if not detections_topic:
            for index, (_, msg) in enumerate(self.messages(image_topic, IMAGE_TYPES)):
                yield PairedMessages(index, msg, None)
            return
        self._connections(detections_topic, (DETECTION_ARRAY_TYPE,))
        sync, index = ExactTimeSync(queue_size), 0
        for raw in self.raw_messages([image_topic, detections_topic]):
            msg = self._deserialize(raw)
            stamp = m.header_stamp_ns(msg.header)
            if raw.topic == image_topic:
                pair = sync.add_first(stamp, (index, msg))
                index += 1
            else:
                pair = sync.add_second(stamp, msg)
            if pair is not None:
                (image_index, image), detections = pair
                yield PairedMessages(image_index, image, detections)

    def frames(
        self, image_topic: str, detections_topic: Optional[str] = None
    ) -> Iterator[BagFrame]:
        """Yield the decoded images of :meth:`paired_messages` with their detections as numpy."""
        for pair in self.paired_messages(image_topic, detections_topic):
            header = pair.image.header
            detections = None
            if pair.detections is not None:
                detections = m.detection_array_to_numpy(pair.detections)
            yield BagFrame(pair.index, m.header_stamp_ns(header), header.frame_id,
                           image_msg_to_bgr(pair.image), detections)


def play(bag_path: str | Path, topics: Sequence[str] = ()) -> Iterator[RawMessage]:
    """Player helper: every message of ``topics`` (all when empty) in receive-stamp order.

    Yields :class:`RawMessage` (topic, type name such as ``sensor_msgs/msg/Image``, stamp ns,
    raw CDR bytes) — what a publisher needs to republish a bag, e.g. with rclpy's
    ``Publisher.publish`` on serialized bytes. No rclpy here.
    """
    with BagReader(bag_path) as bag:
        yield from bag.raw_messages(topics)
