"""People on the ground from a bag's own camera_info and tf (no ROS, no tf2).

What the node does with ``world.camera_info_topic`` and tf2
(:mod:`finetrack_ros.ros.world_outputs`), done offline from the bag. Every
``sensor_msgs/CameraInfo`` of the camera-info topic and every transform of ``/tf_static`` and
``/tf`` is read first. Then, per tracked frame: the camera model is the latest valid CameraInfo
stamped at or before the image (else the first one); the camera pose is
``world.ground_frame`` <- the image's ``header.frame_id`` (else the CameraInfo's) at the image
stamp, composed in numpy by :class:`~finetrack_ros.world.transforms.TransformTree`; and
:class:`~finetrack_ros.world.WorldStep` (the node's code) gives the people. A frame whose
transform is missing gets no 3D (wx, wy, wz NaN, counted, warned once per cause), as the node
skips 3D for it.

With a depth topic (``--depth-topic``: ``sensor_msgs/Image`` registered to the camera), the
node's pairing is used (:class:`~finetrack_ros.world.depth.DepthQueue`: the exact stamp, else
the newest older depth image within ``world.depth_max_age_sec``): the depth images are read
lazily in stored order beside the frames (a second reader of the bag; never all in memory),
and a frame without usable depth (stale, missing, another encoding or size; counted, warned
once per cause) is placed from the ground plane, as in the node.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

import numpy as np

from finetrack_ros import messages as m
from finetrack_ros.bag.typestore import CAMERA_INFO_TYPE, IMAGE_TYPE, TF_MESSAGE_TYPE
from finetrack_ros.world import CameraModel, PersonInWorld, WorldConfig, WorldStep
from finetrack_ros.world.depth import DepthQueue, depth_for_camera
from finetrack_ros.world.outputs import PersonShape, people_in_frame
from finetrack_ros.world.step import WorldColumns
from finetrack_ros.world.transforms import TransformTree

TF_TOPICS = {"/tf_static": True, "/tf": False}  # topic → static
AUTO = "auto"  # --camera-info-topic auto: the bag's one CameraInfo topic


@dataclass(frozen=True)
class BagWorldConfig:
    """What 3D a bag replay computes (the node's ``world.*`` parameters).

    Attributes:
        camera_info_topic: the bag's CameraInfo topic, or ``auto`` (its only one).
        ground_frame: tf frame whose z = 0 plane is the ground.
        target_frame: frame of the output ``tracks_3d``; empty = ``ground_frame``.
        world: projection and filter settings.
        shape: the box drawn around each person.
        depth_topic: the bag's registered depth image topic; empty = ground plane only.
        depth_max_age_sec: the oldest depth image used, s before the image.
    """

    camera_info_topic: str = AUTO
    ground_frame: str = "base_footprint"
    target_frame: str = ""
    world: WorldConfig = WorldConfig()
    shape: PersonShape = PersonShape()
    depth_topic: str = ""
    depth_max_age_sec: float = 0.1

    @classmethod
    def from_params(cls, flat: dict, camera_info_topic: str, filtered: bool = True,
                    depth_topic: Optional[str] = None) -> "BagWorldConfig":
        """Build from node parameters (``world.*``; missing ones: the table's defaults).

        ``depth_topic`` (``--depth-topic``), when given, replaces ``world.depth_topic``.
        """
        import dataclasses

        from finetrack_ros import settings

        flat = {**settings.defaults(), **flat}
        world = dataclasses.replace(WorldConfig.from_params(flat), filtered=filtered)
        depth = flat["world.depth_topic"] if depth_topic is None else depth_topic
        return cls(camera_info_topic, flat["world.ground_frame"], flat["world.target_frame"],
                   world, PersonShape.from_params(flat), depth,
                   float(flat["world.depth_max_age_sec"]))


def camera_info_topic(bag, asked: str) -> str:
    """Return ``asked``, or with ``auto`` the bag's only sensor_msgs/CameraInfo topic."""
    if asked != AUTO:
        bag.require_topic(asked, (CAMERA_INFO_TYPE,))
        return asked
    found = sorted(t for t, (kind, _) in bag.topics.items() if kind == CAMERA_INFO_TYPE)
    if len(found) != 1:
        raise ValueError(f"bag {bag.path}: --camera-info-topic auto needs exactly one "
                         f"{CAMERA_INFO_TYPE} topic, found {', '.join(found) or 'none'}; "
                         "name it")
    return found[0]


@dataclass
class BagCameras:
    """The valid camera models of a CameraInfo topic by header stamp, and its frame_id."""

    stamps: list = field(default_factory=list)
    models: list = field(default_factory=list)
    frame_id: str = ""
    refused: int = 0

    def at(self, stamp_ns: int) -> CameraModel:
        """Return the latest model stamped at or before ``stamp_ns`` (else the first)."""
        return self.models[max(bisect.bisect_right(self.stamps, stamp_ns) - 1, 0)]


def read_cameras(bag, topic: str, report: Callable[[str], None]) -> BagCameras:
    """Every CameraInfo of ``topic`` that can project; the first refusal is reported."""
    cameras, first_error = BagCameras(), None
    for _, msg in bag.messages(topic, (CAMERA_INFO_TYPE,)):
        try:
            model = CameraModel.from_camera_info(msg, f"bag {bag.path}: {topic}")
        except ValueError as err:
            cameras.refused += 1
            first_error = first_error or str(err)
            continue
        stamp = m.header_stamp_ns(msg.header)
        at = bisect.bisect_right(cameras.stamps, stamp)
        cameras.stamps.insert(at, stamp)
        cameras.models.insert(at, model)
        cameras.frame_id = cameras.frame_id or msg.header.frame_id
    if not cameras.models:
        raise ValueError(first_error or f"bag {bag.path}: {topic} has no CameraInfo message")
    if cameras.refused:
        report(f"{cameras.refused} CameraInfo messages refused, e.g. {first_error}")
    return cameras


def read_transforms(bag) -> TransformTree:
    """Read the bag's /tf_static and /tf (those present) into a :class:`TransformTree`."""
    tree = TransformTree()
    for topic, static in TF_TOPICS.items():
        if topic in bag.topics:
            for _, msg in bag.messages(topic, (TF_MESSAGE_TYPE,)):
                tree.add_message(msg, static)
    return tree


def depth_stream(path, topic: str) -> Iterator[tuple[int, Any]]:
    """(header stamp ns, depth image) of ``topic`` in stored order, from a reader of its own."""
    from finetrack_ros.bag.reader import BagReader

    with BagReader(path) as bag:
        for _, msg in bag.messages(topic, (IMAGE_TYPE,)):
            yield m.header_stamp_ns(msg.header), msg


class BagDepth:
    """The bag's depth images for each frame, as the node pairs them (read lazily)."""

    def __init__(self, path, topic: str, max_age_sec: float,
                 report: Callable[[str], None]) -> None:
        self.topic, self.report = topic, report
        self.queue = DepthQueue(int(max_age_sec * 1e9))
        self._stream, self._next = depth_stream(path, topic), None
        self.refused = 0  # frames whose depth image had another encoding or size
        self._warned: set = set()

    def at(self, stamp_ns: int, camera: CameraModel) -> Optional[np.ndarray]:
        """Return the frame's depth in metres, or None (then the ground plane; warned once)."""
        while True:  # every depth image stamped up to the frame's goes into the queue
            self._next = self._next or next(self._stream, None)
            if self._next is None or self._next[0] > stamp_ns:
                break
            self.queue.add(*self._next)
            self._next = None
        msg, age_s = self.queue.pick(stamp_ns)
        if msg is None:
            cause = "no depth image at or before the image stamp" if age_s is None else (
                f"stale depth not used: {age_s:.3f} s older than the image, more than "
                "world.depth_max_age_sec")
            self._warn(cause.split(":")[0], f"3D from the ground plane for a frame: {cause}")
            return None
        try:
            return depth_for_camera(msg, camera, f"depth image on {self.topic}")
        except ValueError as err:
            self.refused += 1
            self._warn((msg.encoding, msg.width, msg.height),
                       f"3D from the ground plane for a frame: refused {err}")
            return None

    def _warn(self, key: Any, line: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.report(line)

    def line(self) -> str:
        return (f", depth {self.topic}: {self.queue.stale} frames stale, "
                f"{self.queue.missing} without, {self.refused} refused")


class BagWorld(WorldColumns):
    """A ``track_offline`` sink: each frame's people from the bag's camera_info and tf.

    ``columns`` (wx, wy, wz per result row, ground frame, NaN without 3D) as
    :class:`~finetrack_ros.world.step.WorldColumns`; ``last`` holds the frame's people in the
    target frame for the output bag (None when the frame had no 3D).
    """

    def __init__(self, config: BagWorldConfig, cameras: BagCameras, tree: TransformTree,
                 report: Callable[[str], None]) -> None:
        super().__init__(WorldStep(cameras.models[0], config.world), None)
        self.config, self.cameras, self.tree, self.report = config, cameras, tree, report
        self.target = config.target_frame or config.ground_frame
        self.last: Optional[list[PersonInWorld]] = None
        self.no_transform = 0  # frames without 3D: a transform missing at the image stamp
        self._warned: set = set()
        self.depth: Optional[BagDepth] = None  # with config.depth_topic (from_bag)

    @classmethod
    def from_bag(cls, bag, config: BagWorldConfig, report: Callable[[str], None]
                 ) -> "BagWorld":
        topic = camera_info_topic(bag, config.camera_info_topic)
        cameras, tree = read_cameras(bag, topic, report), read_transforms(bag)
        world = cls(config, cameras, tree, report)
        if config.depth_topic:
            bag.require_topic(config.depth_topic, (IMAGE_TYPE,))
            world.depth = BagDepth(bag.path, config.depth_topic, config.depth_max_age_sec,
                                   report)
        missing = sorted({config.ground_frame, world.target} - set(tree.frames))
        if missing:
            raise ValueError(f"bag {bag.path}: frame '{missing[0]}' (world.ground_frame / "
                             f"world.target_frame) is in no transform of /tf_static or /tf "
                             f"(frames: {', '.join(tree.frames) or 'none'}); set "
                             "--set world.ground_frame=<frame>")
        return world

    def write(self, tracked) -> None:
        if tracked.reset:
            self.step.reset()
        header = tracked.header
        stamp_ns = m.header_stamp_ns(header)
        camera_frame = header.frame_id or self.cameras.frame_id
        try:
            ground_from_camera = self.tree.lookup(self.config.ground_frame, camera_frame,
                                                  stamp_ns)
            target_from_ground = self.tree.lookup(self.target, self.config.ground_frame,
                                                  stamp_ns)
        except LookupError as err:
            self.no_transform += 1
            self.last = None
            self.columns += [(np.nan, np.nan, np.nan)] * len(tracked.tracks)
            cause = str(err).split(" at ")[0]
            if cause not in self._warned:
                self._warned.add(cause)
                self.report(f"3D skipped for a frame: {err}")
            return
        self.step.set_camera(self.cameras.at(stamp_ns))
        depth = self.depth.at(stamp_ns, self.step.camera) if self.depth else None
        people = self.step.process(tracked.tracks, stamp_ns, ground_from_camera, depth)
        self.total_ms += self.step.last_ms
        self.columns += [tuple(map(float, p.position)) for p in people]
        self.last = people_in_frame(people, target_from_ground)

    def line(self) -> str:
        """One line on what 3D did (for the CLI)."""
        return (f"world ({'filtered' if self.config.world.filtered else 'projected'}, "
                f"'{self.config.ground_frame}'): {self.step.no_ground} boxes without a ground "
                f"point, {self.no_transform} frames without a transform"
                f"{self.depth.line() if self.depth else ''}; "
                f"{self.total_ms / max(self.step.frames, 1):.3f} ms per frame")
