"""Camera model and ground-plane projection (finetrack_ros.world.camera), no ROS."""
from __future__ import annotations

import math

import numpy as np
import pytest

from finetrack_ros.world import CameraModel, Pose, WorldStep, ground_points, load_camera_yaml

cv2 = pytest.importorskip("cv2")

PETS_K = [1185.0, 0, 324.2, 0, 1194.6, 282.6, 0, 0, 1]
FISHEYE_K = [380.0, 0, 640.0, 0, 382.0, 400.0, 0, 0, 1]


def robot_camera(height: float, tilt_down_deg: float, yaw_deg: float = 0.0,
                 x: float = 0.0, y: float = 0.0) -> Pose:
    """ground_from_camera of a camera at (x, y, height) looking along yaw, tilted down.

    Optical frame: x right, y down, z forward; ground frame: x forward, y left, z up.
    """
    level = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], float)  # optical axes in base
    t = math.radians(tilt_down_deg)
    pitch = np.array([[math.cos(t), 0, math.sin(t)], [0, 1, 0],
                      [-math.sin(t), 0, math.cos(t)]])  # about base y: positive looks down
    a = math.radians(yaw_deg)
    yaw = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    return Pose(yaw @ pitch @ level, np.array([x, y, height]))


def pixels_of(camera: CameraModel, pose: Pose, ground_xy: np.ndarray) -> np.ndarray:
    """Distorted pixels of ground points (z = 0), through cv2.projectPoints."""
    points = np.column_stack([ground_xy, np.zeros(len(ground_xy))])
    return camera.project(pose.inverse().apply(points))


@pytest.mark.parametrize("model, k, d, pose", [
    ("plumb_bob", PETS_K, [-0.157, 0.064, 0.001, -0.0005, 0.0],
     robot_camera(7.0, 16.5, yaw_deg=30, x=-3, y=2)),
    ("equidistant", FISHEYE_K, [0.08, -0.02, 0.004, -0.001], robot_camera(1.2, 10.0)),
    ("rational_polynomial", PETS_K, [-0.2, 0.05, 0, 0, 0, 0.01, 0.002, 0.0],
     robot_camera(2.0, 20.0)),
])
def test_ground_points_round_trip_within_a_millimetre(model, k, d, pose):
    camera = CameraModel.checked(k, d, model, 1280, 800)
    ahead = pose.rotation[:2, 2] / np.linalg.norm(pose.rotation[:2, 2])  # camera's heading
    side = np.array([-ahead[1], ahead[0]])
    grid = [pose.translation[:2] + a * ahead + s * side
            for a in (3.0, 6.0, 12.0, 25.0) for s in (-2.0, 0.0, 1.5)]
    world = np.array(grid)
    pixels = pixels_of(camera, pose, world)
    assert np.ptp(pixels[:, 1]) > 50  # spread over the image, through the distortion
    back, ok = ground_points(camera, pose, pixels)
    assert ok.all()
    np.testing.assert_allclose(back[:, :2], world, atol=1e-3)
    assert (back[:, 2] == 0).all()


def test_a_foot_at_or_above_the_horizon_has_no_ground_point_and_is_counted():
    camera = CameraModel.checked(FISHEYE_K, [], "plumb_bob")
    level = robot_camera(1.2, 0.0)  # horizon = the principal row 400
    pixels = np.array([[640.0, 300.0], [640.0, 400.0], [640.0, 401.0], [640.0, 600.0]])
    points, ok = ground_points(camera, level, pixels, max_range_m=50.0)
    # above, on, just below (1.2 m * 382 px = 458 m away: beyond range), well below
    assert ok.tolist() == [False, False, False, True]
    assert np.isnan(points[~ok]).all()
    sky = robot_camera(1.2, -30.0)  # looking up: a foot low in the image is still above
    assert not ground_points(camera, sky, pixels[3:])[1].any()
    upside_down = Pose(level.rotation @ np.diag([-1.0, -1.0, 1.0]), level.translation)
    assert not ground_points(camera, upside_down, pixels[3:])[1].any()
    step = WorldStep(camera)
    boxes = [(620.0, 200.0, 660.0, 300.0), (620.0, 500.0, 660.0, 600.0)]
    tracks = [_track(i + 1, b) for i, b in enumerate(boxes)]
    people = step.process(tracks, 1, level)
    assert step.no_ground == 1
    assert np.isnan(people[0].position).all() and not people[0].measured
    assert people[1].measured and np.isfinite(people[1].position).all()


def _track(track_id, box):
    from types import SimpleNamespace

    box = np.asarray(box, float)
    return SimpleNamespace(track_id=track_id, observed_xyxy=box, xyxy=box)


@pytest.mark.parametrize("k, field", [
    ([0.0] * 9, "k"), ([np.nan] + PETS_K[1:], "k"), ([-5.0] + PETS_K[1:], "k"),
    (PETS_K[:8], "k"),
])
def test_a_bad_k_is_refused_naming_the_field(k, field):
    with pytest.raises(ValueError, match=rf"CameraInfo: {field} "):
        CameraModel.checked(k, [0.0] * 5, "plumb_bob", source="CameraInfo")


def test_bad_distortion_is_refused_naming_the_field():
    with pytest.raises(ValueError, match=r"CameraInfo: d \[.*plumb_bob must be 0 or 4 or 5"):
        CameraModel.checked(PETS_K, [0.1, 0.2], "plumb_bob", source="CameraInfo")
    with pytest.raises(ValueError, match="CameraInfo: d .*finite"):
        CameraModel.checked(PETS_K, [0.1, np.nan, 0, 0], "equidistant", source="CameraInfo")
    with pytest.raises(ValueError, match="distortion_model 'kannala' is not supported"):
        CameraModel.checked(PETS_K, [], "kannala", source="CameraInfo")


def test_camera_info_message_gives_the_same_model_as_the_yaml(shared_data):
    from finetrack_ros.bag.typestore import build_typestore

    camera, _ = load_camera_yaml(shared_data / "PETS09-S2L1-dev" / "camera.yaml")
    store = build_typestore()
    info_class = store.types["sensor_msgs/msg/CameraInfo"]
    header = store.types["std_msgs/msg/Header"](
        stamp=store.types["builtin_interfaces/msg/Time"](sec=1, nanosec=0), frame_id="cam")
    roi = store.types["sensor_msgs/msg/RegionOfInterest"](
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    msg = info_class(header=header, height=576, width=768, distortion_model="plumb_bob",
                     d=camera.d.copy(), k=camera.k.reshape(-1).copy(),
                     r=np.eye(3).reshape(-1), p=np.zeros(12), binning_x=0, binning_y=0,
                     roi=roi)
    from_msg = CameraModel.from_camera_info(msg)
    np.testing.assert_array_equal(from_msg.k, camera.k)
    np.testing.assert_array_equal(from_msg.d, camera.d)
    assert (from_msg.width, from_msg.height) == (768, 576)
    msg.k[0] = 0.0
    with pytest.raises(ValueError, match="CameraInfo: k has fx = 0"):
        CameraModel.from_camera_info(msg)


def test_camera_yaml_errors_name_the_file_and_field(tmp_path):
    path = tmp_path / "camera.yaml"
    path.write_text("camera_matrix: {rows: 3, cols: 3, data: [0, 0, 0, 0, 0, 0, 0, 0, 0]}\n")
    with pytest.raises(ValueError, match=r"camera.yaml: camera_matrix has fx = 0"):
        load_camera_yaml(path)
    path.write_text("camera_matrix: {rows: 3, cols: 3, data: [100, 0, 50, 0, 100, 50, 0, 0, 1]}"
                    "\nworld_from_camera: {translation: [0, 0, 1], rotation_xyzw: [0, 0, 0, 0]}\n")
    with pytest.raises(ValueError, match=r"world_from_camera: rotation \[0.0, 0.0, 0.0, 0.0\]"):
        load_camera_yaml(path)
    with pytest.raises(FileNotFoundError, match="camera file not found"):
        load_camera_yaml(tmp_path / "missing.yaml")


def test_pets09_gt_boxes_land_on_their_ground_truth_positions(shared_data):
    from finetrack_ros.mot import read_mot_txt
    from finetrack_ros.world import foot_pixels

    seq = shared_data / "PETS09-S2L1-dev"
    camera, pose = load_camera_yaml(seq / "camera.yaml")
    assert pose is not None and camera.distortion_model == "plumb_bob"
    rows = read_mot_txt(seq / "gt" / "gt.txt")
    boxes = np.column_stack([rows[:, 2:4], rows[:, 2:4] + rows[:, 4:6]])
    points, ok = ground_points(camera, pose, foot_pixels(boxes))
    assert ok.all()
    error = np.hypot(points[:, 0] - rows[:, 7], points[:, 1] - rows[:, 8])
    assert np.median(error) < 0.15, np.median(error)
    assert np.percentile(error, 99) < 0.5
