"""Atomic rosbag2 writing: a bag appears at its final path only when it is complete.

The bag is written into a hidden temporary folder beside the target and renamed onto the
target on success; on any error the temporary folder is removed, so a half-written bag is
never left behind looking complete.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from rosbags.rosbag2 import StoragePlugin, Writer

from finetrack_ros.bag.typestore import build_typestore

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
# rosbag2 metadata version written (9 = Iron and later, read by Humble's rosbag2 too).
BAG_FORMAT_VERSION = 9


class BagWriter:
    """Write messages (rosbags objects) to a new rosbag2 folder, atomically.

    Use as a context manager::

        with BagWriter(out, "mcap") as bag:
            bag.add_topic("/detections", DETECTION_ARRAY_TYPE)
            bag.write("/detections", stamp_ns, msg)

    Args:
        path: the bag folder to create; must not exist.
        storage: "mcap" or "sqlite3".
    """

    def __init__(self, path: str | Path, storage: str = "mcap") -> None:
        if storage not in STORAGES:
            raise ValueError(f"bag storage {storage!r} unknown; use one of {sorted(STORAGES)}")
        self.path = Path(path)
        if self.path.exists():
            raise ValueError(f"output bag {self.path} exists already; remove it or pick another")
        self.storage = storage
        self.store = build_typestore()
        self.counts: dict[str, int] = {}
        self._connections: dict = {}
        self._tmp_dir: Path | None = None
        self._writer: Writer | None = None

    def __enter__(self) -> "BagWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp_dir = Path(
            tempfile.mkdtemp(prefix=f".{self.path.name}.partial-", dir=self.path.parent)
        )
        self._writer = Writer(
            self._tmp_dir / self.path.name, version=BAG_FORMAT_VERSION,
            storage_plugin=STORAGES[self.storage],
        )
        self._writer.open()
        return self

    def add_topic(self, topic: str, msgtype: str) -> None:
        """Declare a topic of type ``msgtype`` (e.g. ``sensor_msgs/msg/Image``)."""
        if topic in self._connections:
            raise ValueError(f"bag {self.path}: topic {topic} added twice")
        self._connections[topic] = self._writer.add_connection(
            topic, msgtype, typestore=self.store
        )
        self.counts[topic] = 0

    def write(self, topic: str, stamp_ns: int, msg) -> None:
        """Serialize ``msg`` (CDR) and write it on ``topic`` at receive time ``stamp_ns``."""
        connection = self._connections[topic]
        self._writer.write(
            connection, int(stamp_ns), self.store.serialize_cdr(msg, connection.msgtype)
        )
        self.counts[topic] += 1

    def write_raw(self, topic: str, stamp_ns: int, rawdata: bytes) -> None:
        """Write already serialized CDR bytes on ``topic``."""
        self._writer.write(self._connections[topic], int(stamp_ns), rawdata)
        self.counts[topic] += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self._writer is not None:
                self._writer.close()
            if exc_type is None:
                (self._tmp_dir / self.path.name).rename(self.path)
        finally:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)
