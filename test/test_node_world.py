"""finetrack_node's 3D with real rclpy, real tf2 and real messages (the node in a subprocess).

A StaticTransformBroadcaster in this process publishes odom → cam (a camera 1.2 m above the
ground, tilted 10° down, yawed 5°), a publisher sends the camera's CameraInfo (pinhole with
plumb_bob distortion), and external detections put a person box whose foot is the pixel of
a known ground point. ~/tracks_3d, ~/markers and the TrackedObject world fields must put the
person there, in odom; a missing transform and a bad CameraInfo are warned about while the
2D outputs go on. With a registered depth image (ray cast: the person as a slab before a
wall, the floor), a person whose legs are hidden (the box ends at the knees) is placed from
depth within 5 cm, where the ground plane puts them metres off; stale depth and depth of
another encoding or size fall back to the ground plane with one warning each.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from node_helpers import NODE, detections_msg, image_msg, node_command, stamp_of
from ros_helpers import (  # noqa: F401  (fixtures)
    MessageCollector,
    rclpy_node,
    ros_environment,
    ros_install,
    running_process,
    wait_for_subscribers,
)

pytestmark = pytest.mark.ros

PREFIX = "/world_cam"
CAMERA_FRAME, GROUND_FRAME = "cam", "odom"
K = [300.0, 0.0, 160.0, 0.0, 300.0, 120.0, 0.0, 0.0, 1.0]
D = [-0.05, 0.01, 0.0, 0.0, 0.0]
WIDTH, HEIGHT = 320, 240
BOX_W, BOX_H = 30.0, 70.0  # pixels: a person about 4 m away
PERSON_HEIGHT = 1.7  # world.person_height default
TOLERANCE_M = 0.02  # the filter of a standing person returns its (exact) foot point
REPLY_TIMEOUT_S = 6.0
SEND_ATTEMPTS = 3
NODE_ARGS = ("-p", "autostart:=true", "-p", "external_detections:=true",
             "-p", "reid.enabled:=false", "-p", "tracker.use_appearance:=false",
             "-p", "device:=cpu", "-p", f"world.camera_info_topic:={PREFIX}/camera_info",
             "-p", f"world.ground_frame:={GROUND_FRAME}",
             "-p", f"world.depth_topic:={PREFIX}/depth",
             "-r", f"image:={PREFIX}/image_raw", "-r", f"detections:={PREFIX}/detections")


@pytest.fixture(scope="module")
def node_process(ros_install):  # noqa: F811
    with running_process(node_command(ros_install, *NODE_ARGS)) as proc:
        yield proc


def camera_pose():
    from test_camera_ground import robot_camera

    return robot_camera(1.2, 10.0, yaw_deg=5.0, x=0.3, y=-0.2)  # ground_from_camera


def person_box(x: float, y: float) -> tuple[float, float, float, float]:
    """Return the xyxy box whose foot (bottom centre) is the pixel of ground point (x, y)."""
    from finetrack_ros.world import CameraModel

    camera = CameraModel.checked(K, D, "plumb_bob", WIDTH, HEIGHT)
    u, v = camera.project(camera_pose().inverse().apply(np.array([[x, y, 0.0]])))[0]
    return (u - BOX_W / 2, v - BOX_H, u + BOX_W / 2, v)


def static_transform(node):
    """Broadcast odom → cam (latched); keep the returned broadcaster alive."""
    from geometry_msgs.msg import TransformStamped
    from scipy.spatial.transform import Rotation
    from tf2_ros import StaticTransformBroadcaster

    pose = camera_pose()
    msg = TransformStamped()
    msg.header.frame_id, msg.child_frame_id = GROUND_FRAME, CAMERA_FRAME
    t = msg.transform.translation
    t.x, t.y, t.z = map(float, pose.translation)
    q = msg.transform.rotation
    q.x, q.y, q.z, q.w = map(float, Rotation.from_matrix(pose.rotation).as_quat())
    broadcaster = StaticTransformBroadcaster(node)
    broadcaster.sendTransform(msg)
    return broadcaster


def camera_info(header):
    from sensor_msgs.msg import CameraInfo

    return CameraInfo(header=header, width=WIDTH, height=HEIGHT, distortion_model="plumb_bob",
                      d=D, k=K)


def stamped_image(stamp_ns: int, frame_id: str = CAMERA_FRAME):
    image = image_msg(0, shape=(HEIGHT, WIDTH), frame_id=frame_id)
    image.header.stamp.sec, image.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    return image


class World:
    """The test's side: tf, CameraInfo, images and detections in; every output collected."""

    def __init__(self, test_node, node_process):
        from sensor_msgs.msg import CameraInfo, Image
        from vision_msgs.msg import Detection2DArray, Detection3DArray
        from visualization_msgs.msg import MarkerArray

        from finetrack_ros.msg import TrackedObjectArray

        pytest.importorskip("tf2_ros")
        node = test_node.node
        self.test_node, self.process = test_node, node_process
        self.broadcaster = static_transform(node)
        self.images = node.create_publisher(Image, f"{PREFIX}/image_raw", 10)
        self.detections = node.create_publisher(Detection2DArray, f"{PREFIX}/detections", 10)
        self.infos = node.create_publisher(CameraInfo, f"{PREFIX}/camera_info", 10)
        self.depths = node.create_publisher(Image, f"{PREFIX}/depth", 10)
        self.tracks = MessageCollector(test_node, Detection2DArray, f"{NODE}/tracks")
        self.tracks_3d = MessageCollector(test_node, Detection3DArray, f"{NODE}/tracks_3d")
        self.markers = MessageCollector(test_node, MarkerArray, f"{NODE}/markers")
        self.objects = MessageCollector(test_node, TrackedObjectArray,
                                        f"{NODE}/tracked_objects")
        wait_for_subscribers(test_node, self.images, timeout=60.0)  # torch import
        wait_for_subscribers(test_node, self.infos)
        wait_for_subscribers(test_node, self.depths)
        test_node.spin_until(lambda: node.count_publishers(f"{NODE}/tracks_3d") >= 1,
                             what="the node's ~/tracks_3d publisher")

    def send(self, image, boxes, info=True, depth=None):
        """Publish CameraInfo, depth, detections and the image; return the ~/tracks reply."""
        def reply():
            return [m for m in self.tracks.messages if stamp_of(m) == stamp_of(image)]

        for _ in range(SEND_ATTEMPTS):
            if info is not None:
                self.infos.publish(info if info is not True else camera_info(image.header))
                self.test_node.spin_for(0.02)
            if depth is not None:
                self.depths.publish(depth)
                self.test_node.spin_for(0.05)
            self.detections.publish(detections_msg(image.header, boxes))
            self.images.publish(image)
            try:
                self.test_node.spin_until(reply, REPLY_TIMEOUT_S, "~/tracks")
            except pytest.fail.Exception:
                continue
            self.test_node.spin_for(0.1)  # the 3D messages follow the 2D ones
            return reply()[0]
        pytest.fail(f"no ~/tracks reply for stamp {stamp_of(image)}", pytrace=False)

    def at(self, collector, image):
        """Messages of ``collector`` stamped as ``image`` (a MarkerArray: by its markers)."""
        def stamp(msg):
            return stamp_of(msg.markers[0] if hasattr(msg, "markers") else msg)

        return [m for m in collector.messages if stamp(m) == stamp_of(image)]


def test_a_person_of_known_ground_position_comes_out_in_odom(rclpy_node,  # noqa: F811
                                                             node_process):
    from visualization_msgs.msg import Marker

    world = World(rclpy_node, node_process)
    person = (4.0, 0.5)
    for frame in range(4):
        image = stamped_image(2_000_000_000_000 + frame * 100_000_000)
        reply = world.send(image, [person_box(*person)])
    (track,) = reply.detections
    (msg,) = world.at(world.tracks_3d, image)
    assert msg.header.frame_id == GROUND_FRAME
    (det,) = msg.detections
    assert det.id == track.id  # the 2D track's id
    assert det.results[0].hypothesis.class_id == "person"
    assert det.results[0].hypothesis.score == pytest.approx(0.9)
    center = det.bbox.center.position
    assert abs(center.x - person[0]) < TOLERANCE_M and abs(center.y - person[1]) < TOLERANCE_M
    assert center.z == pytest.approx(PERSON_HEIGHT / 2)
    assert (det.bbox.size.x, det.bbox.size.y, det.bbox.size.z) == pytest.approx((0.6, 0.6, 1.7))

    (markers,) = world.at(world.markers, image)
    assert markers.markers[0].action == Marker.DELETEALL  # who left is gone
    by_ns = {m.ns: m for m in markers.markers[1:]}
    assert set(by_ns) == {"people", "ids", "velocities"}
    assert all(m.header.frame_id == GROUND_FRAME for m in markers.markers)
    body = by_ns["people"]
    assert body.type == Marker.CYLINDER and str(body.id) == track.id
    assert abs(body.pose.position.x - person[0]) < TOLERANCE_M
    assert body.scale.z == pytest.approx(PERSON_HEIGHT)
    assert by_ns["ids"].type == Marker.TEXT_VIEW_FACING and by_ns["ids"].text == track.id
    assert by_ns["velocities"].type == Marker.ARROW and len(by_ns["velocities"].points) == 2

    (objects,) = world.at(world.objects, image)
    (obj,) = objects.objects
    assert str(obj.track_id) == track.id and obj.world_frame_id == GROUND_FRAME
    p, v = obj.world_position, obj.world_velocity
    assert abs(p.x - person[0]) < TOLERANCE_M and abs(p.y - person[1]) < TOLERANCE_M
    assert p.z == pytest.approx(0.0, abs=1e-9)
    assert np.hypot(v.x, v.y) < 0.05  # standing still
    node_process.assert_running()


def test_a_walking_person_gets_their_velocity_in_metres_per_second(rclpy_node,  # noqa: F811
                                                                    node_process):
    world = World(rclpy_node, node_process)
    speed_y = -1.0  # m/s along odom y, 10 frames per second
    for frame in range(15):
        t = frame * 0.1
        image = stamped_image(2_100_000_000_000 + frame * 100_000_000)
        world.send(image, [person_box(5.0, 1.0 + speed_y * t)])
    (msg,) = world.at(world.tracks_3d, image)
    (det,) = msg.detections
    assert abs(det.bbox.center.position.y - (1.0 + speed_y * 1.4)) < 0.05
    (obj,) = world.at(world.objects, image)[0].objects
    assert obj.world_velocity.x == pytest.approx(0.0, abs=0.15)
    assert obj.world_velocity.y == pytest.approx(speed_y, abs=0.15)
    (markers,) = world.at(world.markers, image)
    (arrow,) = [m for m in markers.markers if m.ns == "velocities"]
    assert arrow.points[1].y - arrow.points[0].y == pytest.approx(speed_y, abs=0.15)


def test_a_missing_transform_is_warned_and_2d_tracks_continue(rclpy_node,  # noqa: F811
                                                              node_process):
    world = World(rclpy_node, node_process)
    for frame in range(3):
        image = stamped_image(2_200_000_000_000 + frame * 100_000_000, frame_id="nowhere_cam")
        reply = world.send(image, [person_box(4.0, 0.0)])
        assert len(reply.detections) == min(frame, 1)  # 2D as always (confirmed on frame 1)
        assert not world.at(world.tracks_3d, image)  # no 3D without a pose
        for obj in world.at(world.objects, image)[0].objects:
            assert obj.world_frame_id == "" and np.isnan(obj.world_position.x)
            assert np.isnan(obj.world_velocity.y)
    log = node_process.output()
    assert "no transform from 'nowhere_cam' to 'odom'" in log, log[-3000:]
    assert log.count("no transform from 'nowhere_cam'") == 1  # throttled: one warning
    node_process.assert_running()


def test_a_bad_camera_info_is_refused_and_the_node_keeps_running(rclpy_node,  # noqa: F811
                                                                 node_process):
    world = World(rclpy_node, node_process)
    person = (4.0, -0.5)
    base = 2_300_000_000_000
    image = stamped_image(base)
    world.send(image, [person_box(*person)])  # a valid CameraInfo first
    bad = [{"k": [0.0] * 9}, {"k": [float("nan")] * 9}, {"k": K[:8] + [float("inf")]},
           {"d": [0.1, 0.2, 0.3]}, {"distortion_model": "no_such_model"}]
    for frame, fields in enumerate(bad, start=1):
        image = stamped_image(base + frame * 100_000_000)
        info = camera_info(image.header)
        for name, value in fields.items():
            setattr(info, name, value)
        reply = world.send(image, [person_box(*person)], info=info)
        assert len(reply.detections) == 1
        (msg,) = world.at(world.tracks_3d, image)  # 3D goes on with the last valid camera
        center = msg.detections[0].bbox.center.position
        assert abs(center.x - person[0]) < TOLERANCE_M
    log = node_process.output()
    refusals = [line for line in log.splitlines() if "refused CameraInfo" in line]
    assert len(refusals) == 1, refusals  # one warning, then throttled
    assert "k has fx = 0" in refusals[0] and "the last valid one is kept" in refusals[0]
    node_process.assert_running()


# --- depth (world.depth_topic) ---------------------------------------------------------
SLAB_HALF_WIDTH, KNEE_M = 0.25, 0.6  # the person: a 0.5 m wide slab; legs hidden below 0.6 m
WALL_X = 12.0  # odom x of a wall behind
DEPTH_TOLERANCE_M = 0.05


def depth_scene(person) -> np.ndarray:
    """(H, W) z-depth in metres of the floor, the person (a slab at x) and a wall (ray cast)."""
    from finetrack_ros.world import CameraModel

    camera = CameraModel.checked(K, D, "plumb_bob", WIDTH, HEIGHT)
    u, v = np.meshgrid(np.arange(WIDTH) + 0.5, np.arange(HEIGHT) + 0.5)
    rays = np.ones((HEIGHT * WIDTH, 3))
    rays[:, :2] = camera.undistort(np.stack([u.ravel(), v.ravel()], 1))  # z = 1: t = depth
    pose = camera_pose()
    dirs, origin = rays @ pose.rotation.T, pose.translation
    with np.errstate(divide="ignore", invalid="ignore"):
        floor = np.where(dirs[:, 2] < 0, -origin[2] / dirs[:, 2], np.inf)
        wall = (WALL_X - origin[0]) / dirs[:, 0]
        t = (person[0] - origin[0]) / dirs[:, 0]
        y, z = origin[1] + t * dirs[:, 1], origin[2] + t * dirs[:, 2]
        body = np.where((np.abs(y - person[1]) <= SLAB_HALF_WIDTH) & (z >= 0)
                        & (z <= PERSON_HEIGHT) & (t > 0), t, np.inf)
    hits = np.stack([floor, wall, body])
    return np.min(np.where(hits > 0, hits, np.inf), axis=0).reshape(HEIGHT, WIDTH)


def knee_box(x: float, y: float) -> tuple[float, float, float, float]:
    """Return the xyxy box of the slab person at (x, y) from the head down to the knees."""
    from finetrack_ros.world import CameraModel

    camera = CameraModel.checked(K, D, "plumb_bob", WIDTH, HEIGHT)
    corners = np.array([[x, y + dy, z] for dy in (-SLAB_HALF_WIDTH, SLAB_HALF_WIDTH)
                        for z in (KNEE_M, PERSON_HEIGHT)])
    pixels = camera.project(camera_pose().inverse().apply(corners))
    return (*pixels.min(axis=0), *pixels.max(axis=0))


def depth_msg(pixels: np.ndarray, encoding: str, stamp_ns: int):
    """Return (H, W) uint16 or float32 ``pixels`` as a little-endian sensor_msgs/Image."""
    from sensor_msgs.msg import Image

    msg = Image(height=pixels.shape[0], width=pixels.shape[1], encoding=encoding,
                is_bigendian=0, step=pixels.shape[1] * pixels.itemsize)
    msg.data = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
    msg.header.frame_id = CAMERA_FRAME
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    return msg


def depth_image(person, stamp_ns: int, encoding: str):
    """Return the scene's registered depth as a sensor_msgs/Image in ``encoding``, stamped."""
    depth = depth_scene(person)
    if encoding == "16UC1":
        pixels = np.nan_to_num(depth * 1000.0, posinf=0.0).round().astype(np.uint16)
    else:
        pixels = depth.astype(np.float32)
    return depth_msg(pixels, encoding, stamp_ns)


def ground_plane_position(box) -> np.ndarray:
    """Return where the foot point of ``box`` meets the ground (what 3D gives without depth)."""
    from finetrack_ros.world import CameraModel, ground_points

    camera = CameraModel.checked(K, D, "plumb_bob", WIDTH, HEIGHT)
    foot = np.array([[(box[0] + box[2]) / 2, box[3]]])
    return ground_points(camera, camera_pose(), foot, 1e4)[0][0]


@pytest.mark.parametrize("encoding, base, depth_lag_ns, person", [
    ("32FC1", 2_500_000_000_000, 0, (4.0, 0.5)),  # the depth of the image's stamp
    ("16UC1", 2_510_000_000_000, 30_000_000, (3.0, -0.4)),  # the newest older, 30 ms
])
def test_depth_places_a_person_whose_legs_are_hidden(rclpy_node, node_process,  # noqa: F811
                                                     encoding, base, depth_lag_ns, person):
    world = World(rclpy_node, node_process)
    box = knee_box(*person)
    by_foot = ground_plane_position(box)
    assert np.hypot(*(by_foot[:2] - person)) > 1.0  # what the ground plane alone would say
    for frame in range(4):
        stamp = base + frame * 100_000_000
        image = stamped_image(stamp)
        depth = depth_image(person, stamp - depth_lag_ns, encoding)
        world.send(image, [box], depth=depth)
    (msg,) = world.at(world.tracks_3d, image)
    (det,) = msg.detections
    center = det.bbox.center.position
    assert np.hypot(center.x - person[0], center.y - person[1]) < DEPTH_TOLERANCE_M, \
        (center.x, center.y)
    (obj,) = world.at(world.objects, image)[0].objects
    assert np.hypot(obj.world_position.x - person[0],
                    obj.world_position.y - person[1]) < DEPTH_TOLERANCE_M
    node_process.assert_running()


def test_stale_or_unusable_depth_falls_back_to_the_ground_plane(rclpy_node,  # noqa: F811
                                                               node_process):
    world = World(rclpy_node, node_process)
    person = (4.0, -0.3)  # feet visible: the ground plane places them
    base = 2_600_000_000_000
    cases = [("stale", depth_image(person, base - 500_000_000, "32FC1")),
             ("encoding", depth_image(person, base + 100_000_000, "32FC1")),
             ("size", depth_image(person, base + 200_000_000, "32FC1")),
             ("encoding again", depth_image(person, base + 300_000_000, "32FC1"))]
    cases[1][1].encoding = cases[3][1].encoding = "rgb8"  # a colour image on the depth topic
    half = depth_scene(person)[::2, ::2].astype(np.float32)
    cases[2] = ("size", depth_msg(half, "32FC1", base + 200_000_000))
    for frame, (name, depth) in enumerate(cases):
        image = stamped_image(base + frame * 100_000_000)
        reply = world.send(image, [person_box(*person)], depth=depth)
        assert len(reply.detections) == min(frame, 1), name  # 2D as always
        if frame:
            (msg,) = world.at(world.tracks_3d, image)  # 3D goes on from the ground plane
            center = msg.detections[0].bbox.center.position
            assert np.hypot(center.x - person[0], center.y - person[1]) < TOLERANCE_M, name
    log = node_process.output()
    stale = [line for line in log.splitlines() if "stale depth is not used" in line]
    assert len(stale) == 1 and "0.500 s older than the image" in stale[0], stale
    encoding = [line for line in log.splitlines() if "encoding 'rgb8' is not a depth" in line]
    assert len(encoding) == 1, encoding  # one warning for the cause, then throttled
    assert "the 2D outputs continue" in encoding[0]
    assert "160 x 120 is not the camera's 320 x 240" in log, log[-3000:]
    node_process.assert_running()


def test_without_tf2_the_node_says_so_and_tracks_in_2d(ros_install, rclpy_node):  # noqa: F811
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray

    name, prefix = "finetrack_no_tf2", "/no_tf2_cam"  # beside the module's node
    environment = ros_environment()
    environment["PYTHONPATH"] = os.pathsep.join(
        p for p in environment.get("PYTHONPATH", "").split(os.pathsep)
        if "tf2" not in p)  # as on a machine without the tf2 packages
    command = node_command(
        ros_install, "-p", "autostart:=true", "-p", "external_detections:=true",
        "-p", "reid.enabled:=false", "-p", "tracker.use_appearance:=false",
        "-p", "device:=cpu", "-p", f"world.camera_info_topic:={prefix}/camera_info",
        "-r", f"__node:={name}", "-r", f"image:={prefix}/image_raw",
        "-r", f"detections:={prefix}/detections")
    with running_process(command, env=environment) as proc:
        images = rclpy_node.node.create_publisher(Image, f"{prefix}/image_raw", 10)
        detections = rclpy_node.node.create_publisher(Detection2DArray,
                                                      f"{prefix}/detections", 10)
        tracks = MessageCollector(rclpy_node, Detection2DArray, f"/{name}/tracks")
        wait_for_subscribers(rclpy_node, images, timeout=60.0)
        assert "3D off" in proc.output() and "tf2_ros cannot be imported" in proc.output()
        image = stamped_image(2_400_000_000_000)
        for _ in range(SEND_ATTEMPTS):
            detections.publish(detections_msg(image.header, [person_box(4.0, 0.0)]))
            images.publish(image)
            rclpy_node.spin_for(1.0)
            if tracks.messages:
                break
        assert tracks.messages and len(tracks.messages[-1].detections) == 1
        assert rclpy_node.node.count_publishers(f"/{name}/tracks_3d") == 0
        assert rclpy_node.node.count_subscribers(f"{prefix}/camera_info") == 0
        proc.assert_running()
