"""The node's 3D: CameraInfo + tf2 → people on the ground, ``~/tracks_3d`` and ``~/markers``.

Off unless ``world.camera_info_topic`` is set, and off (said at configure) without tf2.
Per tracked frame (:meth:`WorldOutputs.locate`, before the output seam
:mod:`finetrack_ros.frame_messages` builds the frame's messages): the camera's optical frame
(the image's ``header.frame_id``, else the CameraInfo's) is looked up in ``world.ground_frame``
at the image stamp with tf2, :class:`~finetrack_ros.world.WorldStep` (the same code as
``finetrack track --camera``) moves each track's matched foot point onto the ground and
filters it, and the people are published in ``world.target_frame`` (default: the ground
frame). Nothing here can cost the 2D outputs a frame: a CameraInfo that cannot project
(zero or NaN K, ...) is refused, a missing transform skips 3D for the frame, each with a
warning at most every :data:`WARN_PERIOD_S` per cause.

With ``world.depth_topic`` a registered depth image (``sensor_msgs/Image``, 16UC1 mm or
32FC1 m, the CameraInfo's size) is paired with each image: the one of the same stamp, else
the newest older one within ``world.depth_max_age_sec``
(:class:`~finetrack_ros.world.depth.DepthQueue`); each box with a valid depth is placed from
it. No depth for the frame (stale, missing, another encoding or size): that frame's 3D
comes from the ground plane, with a warning per cause; the 2D outputs are never touched.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Optional

import numpy as np
from geometry_msgs.msg import Point
from rclpy.duration import Duration
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, Image
from vision_msgs.msg import Detection3DArray
from visualization_msgs.msg import Marker, MarkerArray

from finetrack_ros.frame_messages import FrameWorld
from finetrack_ros.messages import header_stamp_ns
from finetrack_ros.visualization import color_for_id
from finetrack_ros.world import CameraModel, PersonInWorld, Pose, WorldConfig, WorldStep
from finetrack_ros.world.depth import DEPTH_KEEP, DepthQueue, depth_for_camera
from finetrack_ros.world.outputs import (
    PersonShape,
    on_ground,
    people_in_frame,
)

OUTPUT_DEPTH = 10
# The same cause (a bad CameraInfo, a missing transform) is warned about at most this often, s.
WARN_PERIOD_S = 30.0
# Markers of a person no longer published vanish after this (rviz), s; each message also
# starts with DELETEALL, so people who left disappear with the next frame.
MARKER_LIFETIME_S = 1.0
LABEL_SIZE_M = 0.3  # text height of the id above each person
ARROW_LIFT_M = 0.1  # the velocity arrow (1 s of motion) floats this high above the ground


class Throttle:
    """Warnings at most once per ``period_s`` per key (steady clock)."""

    def __init__(self, report: Callable[[str], None], period_s: float = WARN_PERIOD_S) -> None:
        self.report, self.period_s = report, period_s
        self.last: dict = {}

    def warn(self, key: Any, line: str) -> None:
        now = time.monotonic()
        if now - self.last.get(key, -np.inf) >= self.period_s:
            self.last[key] = now
            self.report(line)


class WorldOutputs:
    """3D for one node; ``enabled`` is False when off (then every method does nothing)."""

    def __init__(self, node: Any, flat: dict) -> None:
        self.node, self.enabled = node, False
        self.topic = flat["world.camera_info_topic"]
        self.ground = flat["world.ground_frame"]
        self.target = flat["world.target_frame"] or self.ground
        self.shape = PersonShape.from_params(flat)
        self.warnings = Throttle(node.get_logger().warning)
        self.depth_topic = flat["world.depth_topic"]
        self.depths = DepthQueue(int(flat["world.depth_max_age_sec"] * 1e9))
        self.pubs: dict = {}
        self.sub = self.depth_sub = None
        self.camera_key: Optional[tuple] = None
        self.camera_frame = ""
        if not self.topic:
            return
        try:
            from tf2_ros import Buffer, TransformListener
        except ImportError as err:
            node.get_logger().warning(
                f"3D off: world.camera_info_topic is '{self.topic}' but tf2_ros cannot be "
                f"imported ({err}); install ros-$ROS_DISTRO-tf2-ros (without ROS: "
                "scripts/setup_env.sh builds it); the 2D outputs are unchanged")
            return
        self.buffer = Buffer(node=node)
        self.listener = TransformListener(self.buffer, node)
        self.step = WorldStep(None, WorldConfig.from_params(flat))
        make = node.create_lifecycle_publisher
        self.pubs = {"tracks_3d": make(Detection3DArray, "~/tracks_3d", OUTPUT_DEPTH),
                     "markers": make(MarkerArray, "~/markers", OUTPUT_DEPTH)}
        self.enabled = True
        depth = (f", depth from {self.depth_topic} (at most "
                 f"{flat['world.depth_max_age_sec']} s older than the image)"
                 if self.depth_topic else "")
        node.get_logger().info(f"3D on: CameraInfo from {self.topic}{depth}, ground plane "
                               f"z = 0 of '{self.ground}', people in '{self.target}' on "
                               "~/tracks_3d and ~/markers")

    # --- lifecycle ---------------------------------------------------------------------
    def activate(self) -> None:
        if self.enabled:
            qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                             reliability=ReliabilityPolicy.BEST_EFFORT)  # matches any driver
            self.sub = self.node.create_subscription(CameraInfo, self.topic,
                                                     self._on_camera_info, qos)
            if self.depth_topic:
                depth_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=DEPTH_KEEP,
                                       reliability=qos_profile_sensor_data.reliability)
                self.depth_sub = self.node.create_subscription(
                    Image, self.depth_topic, self._on_depth, depth_qos)

    def deactivate(self) -> None:
        for sub in (self.sub, self.depth_sub):
            if sub is not None:
                self.node.destroy_subscription(sub)
        self.sub = self.depth_sub = None
        self.depths.clear()

    def release(self) -> None:
        self.deactivate()
        for pub in self.pubs.values():
            self.node.destroy_lifecycle_publisher(pub)
        if self.enabled:
            self.listener.unregister()
        self.pubs, self.enabled = {}, False

    # --- inputs ------------------------------------------------------------------------
    def _on_camera_info(self, msg: CameraInfo) -> None:
        """Keep the latest CameraInfo that can project; refuse (and warn about) the others."""
        try:
            key = (tuple(msg.k), tuple(msg.d), msg.distortion_model, msg.width, msg.height)
            if key != self.camera_key:
                camera = CameraModel.from_camera_info(msg, f"CameraInfo on {self.topic}")
                self.step.set_camera(camera)
                self.camera_key = key
            self.camera_frame = msg.header.frame_id
        except Exception as err:  # noqa: BLE001 - a bad message is refused, never a crash
            kept = "the last valid one is kept" if self.camera_key else "3D waits for a valid one"
            self.warnings.warn("camera_info", f"3D: refused {err}; {kept}")

    def _on_depth(self, msg: Image) -> None:
        """Keep the depth image by its stamp (converted only when a frame picks it)."""
        self.depths.add(header_stamp_ns(msg.header), msg)

    def _depth_for(self, header: Any) -> Optional[np.ndarray]:
        """Return the frame's depth in metres, or None (warned per cause: ground plane)."""
        if not self.depth_topic:
            return None
        msg, age_s = self.depths.pick(header_stamp_ns(header))
        if msg is None:
            if age_s is None:
                self.warnings.warn("no_depth", f"3D from the ground plane: no depth image on "
                                   f"{self.depth_topic} at or before the image stamp")
            else:
                self.warnings.warn("stale_depth", (
                    f"3D from the ground plane: the newest depth image on {self.depth_topic} "
                    f"is {age_s:.3f} s older than the image (world.depth_max_age_sec "
                    f"{self.depths.max_age_ns / 1e9:g}); stale depth is not used "
                    f"({self.depths.stale} so far)"))
            return None
        try:
            return depth_for_camera(msg, self.step.camera, f"depth image on {self.depth_topic}")
        except ValueError as err:
            key = ("bad_depth", str(msg.encoding), msg.width, msg.height)
            self.warnings.warn(key, f"3D from the ground plane: refused {err}; the 2D outputs "
                               "continue")
            return None

    # --- per frame ---------------------------------------------------------------------
    def locate(self, tracked: Any) -> Optional[FrameWorld]:
        """Return the frame's people in the target frame; None: 3D off or skipped (warned)."""
        if not self.enabled:
            return None
        if self.step.camera is None:
            self.warnings.warn("no_camera", f"3D waits for a valid sensor_msgs/CameraInfo on "
                               f"{self.topic}; the 2D outputs continue")
            return None
        try:
            return self._locate(tracked)
        except Exception as err:  # noqa: BLE001 - 3D must never cost the 2D outputs
            self.warnings.warn(type(err), f"3D skipped for a frame: {type(err).__name__}: "
                               f"{err}")
            return None

    def _locate(self, tracked: Any) -> Optional[FrameWorld]:
        header = tracked.header
        if tracked.reset:  # the tracker's reset (time jumped back) also when 3D skips it
            self.step.reset()
        camera_frame = header.frame_id or self.camera_frame
        stamp = Time.from_msg(header.stamp)
        ground_from_camera = self._pose(self.ground, camera_frame, stamp)
        target_from_ground = self._pose(self.target, self.ground, stamp)
        if ground_from_camera is None or target_from_ground is None:
            return None
        people = self.step.process(tracked.tracks, header_stamp_ns(header), ground_from_camera,
                                   self._depth_for(header))
        return FrameWorld(people_in_frame(people, target_from_ground), self.target, self.shape)

    def publish(self, tracks_3d: Detection3DArray, world: FrameWorld) -> None:
        """Publish ``~/tracks_3d`` (built by the output seam) and its rviz ``~/markers``."""
        try:
            self.pubs["tracks_3d"].publish(tracks_3d)
            self.pubs["markers"].publish(self._markers(tracks_3d.header, list(world.people)))
        except Exception as err:  # noqa: BLE001 - the 2D outputs of this frame are out
            self.warnings.warn(type(err), f"3D skipped for a frame: {type(err).__name__}: "
                               f"{err}")

    def _pose(self, parent: str, child: str, stamp: Time) -> Optional[Pose]:
        """``parent_from_child`` at ``stamp`` from tf2, or None (warned) when there is none."""
        if parent == child:
            return Pose(np.eye(3), np.zeros(3))
        if not child:
            self.warnings.warn("no_frame", "3D skipped: the image has no header.frame_id (nor "
                               "the CameraInfo): set the camera driver's frame_id to its "
                               "optical frame; the 2D outputs continue")
            return None
        try:
            t = self.buffer.lookup_transform(parent, child, stamp, Duration(seconds=0.0))
        except Exception as err:  # noqa: BLE001 - tf2's lookup, connectivity, extrapolation
            self.warnings.warn(("tf", parent, child), (
                f"3D skipped: no transform from '{child}' to '{parent}' at the image stamp "
                f"{stamp.nanoseconds / 1e9:.3f} ({type(err).__name__}: "
                f"{str(err).splitlines()[0] if str(err) else ''}); the 2D outputs continue"))
            return None
        tr, q = t.transform.translation, t.transform.rotation
        return Pose.from_xyzw([tr.x, tr.y, tr.z], [q.x, q.y, q.z, q.w],
                              f"tf '{parent}' <- '{child}'")

    # --- rviz ----------------------------------------------------------------------------
    def _markers(self, header: Any, people: list[PersonInWorld]) -> MarkerArray:
        """Build a cylinder, an id label and a velocity arrow per person, after a DELETEALL."""
        clear = Marker(header=header, action=Marker.DELETEALL)
        out = MarkerArray(markers=[clear])
        for person in filter(on_ground, people):
            x, y, z = map(float, person.position)
            height, radius = self.shape.height, self.shape.radius
            body = self._marker(header, "people", person.track_id, Marker.CYLINDER)
            body.pose.position = Point(x=x, y=y, z=z + height / 2)
            body.scale.x = body.scale.y = 2 * radius
            body.scale.z = height
            label = self._marker(header, "ids", person.track_id, Marker.TEXT_VIEW_FACING)
            label.pose.position = Point(x=x, y=y, z=z + height + LABEL_SIZE_M)
            label.scale.z, label.text = LABEL_SIZE_M, str(person.track_id)
            label.color.r = label.color.g = label.color.b = 1.0
            out.markers += [body, label]
            if np.isfinite(person.velocity).all():
                vx, vy, vz = map(float, person.velocity)
                arrow = self._marker(header, "velocities", person.track_id, Marker.ARROW)
                arrow.points = [Point(x=x, y=y, z=z + ARROW_LIFT_M),
                                Point(x=x + vx, y=y + vy, z=z + vz + ARROW_LIFT_M)]
                arrow.scale.x, arrow.scale.y, arrow.scale.z = 0.05, 0.1, 0.1
                out.markers.append(arrow)
        return out

    @staticmethod
    def _marker(header: Any, ns: str, track_id: int, kind: int) -> Marker:
        blue, green, red = color_for_id(int(track_id))  # the colour of ~/annotated_image
        marker = Marker(header=header, ns=ns, id=int(track_id) % 2**31, type=kind,
                        action=Marker.ADD)
        marker.pose.orientation.w = 1.0
        marker.color.r, marker.color.g, marker.color.b = red / 255, green / 255, blue / 255
        marker.color.a = 0.8
        marker.lifetime = Duration(seconds=MARKER_LIFETIME_S).to_msg()
        return marker
