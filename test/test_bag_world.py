"""3D from a bag's own camera_info and tf (finetrack_ros.world.transforms, bag/world.py).

The numpy tf tree composes and interpolates as the poses do; ``finetrack bag from-mot
--camera`` writes calibrated camera_info and /tf_static; ``finetrack track BAG
--camera-info-topic`` then gives the wx, wy, wz of ``finetrack track SEQ --camera`` and the
output bag's ``tracks_3d`` the same positions; bad input is one line naming what is wrong.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from bag_scene import HEIGHT, WIDTH, make_mot_sequence
from scipy.spatial.transform import Rotation
from test_camera_ground import robot_camera

from finetrack_ros.cli import main
from finetrack_ros.mot import read_mot_txt
from finetrack_ros.world import Pose
from finetrack_ros.world.transforms import TransformTree

FRAMES = 8
K = [120.0, 0.0, WIDTH / 2, 0.0, 120.0, HEIGHT / 2, 0.0, 0.0, 1.0]
D = [-0.04, 0.01, 0.0, 0.0, 0.0]


def write_camera_yaml(path, pose: Pose):
    """Write a camera_calibration_parsers YAML of the scene camera with world_from_camera."""
    q = Rotation.from_matrix(pose.rotation).as_quat()
    path.write_text(
        f"image_width: {WIDTH}\nimage_height: {HEIGHT}\ncamera_name: scene\n"
        f"camera_matrix: {{rows: 3, cols: 3, data: {K}}}\ndistortion_model: plumb_bob\n"
        f"distortion_coefficients: {{rows: 1, cols: 5, data: {D}}}\n"
        f"world_from_camera: {{translation: {pose.translation.tolist()}, "
        f"rotation_xyzw: {q.tolist()}}}\n")
    return path


def _xyzw(pose: Pose) -> list:
    return Rotation.from_matrix(pose.rotation).as_quat().tolist()


def _assert_pose(actual: Pose, expected: Pose, atol: float = 1e-9) -> None:
    np.testing.assert_allclose(actual.rotation, expected.rotation, atol=atol)
    np.testing.assert_allclose(actual.translation, expected.translation, atol=atol)


def _compose(a: Pose, b: Pose) -> Pose:
    return Pose(a.rotation @ b.rotation, a.apply(b.translation[None])[0])


def test_tree_composes_chains_across_branches_and_interpolates_moving_links():
    odom_from_base = [Pose(np.eye(3), np.array([1.0, 2.0, 0.0])),
                      Pose(np.eye(3), np.array([3.0, 2.0, 0.0]))]
    base_from_cam = robot_camera(1.2, 10.0, yaw_deg=5.0, x=0.3, y=-0.2)
    base_from_lidar = Pose(Rotation.from_euler("z", 30, degrees=True).as_matrix(),
                           np.array([0.5, 0.0, 0.8]))
    tree = TransformTree()
    for stamp, pose in zip((10, 20), odom_from_base):
        tree.add("odom", "base", pose.translation, _xyzw(pose), stamp, static=False)
    tree.add("/base", "cam", base_from_cam.translation, _xyzw(base_from_cam))
    tree.add("base", "lidar", base_from_lidar.translation, _xyzw(base_from_lidar))

    _assert_pose(tree.lookup("odom", "cam", 10), _compose(odom_from_base[0], base_from_cam))
    _assert_pose(tree.lookup("cam", "odom", 20),
                 _compose(odom_from_base[1], base_from_cam).inverse())
    _assert_pose(tree.lookup("lidar", "cam", 15),  # siblings: through their parent
                 _compose(base_from_lidar.inverse(), base_from_cam))
    middle = tree.lookup("odom", "base", 15)  # halfway: x = 2, the rotation unchanged
    np.testing.assert_allclose(middle.translation, odom_from_base[0].translation + [1, 0, 0])
    tree.add("odom", "base", [0, 0, 0], Rotation.from_euler("z", 90, degrees=True).as_quat(),
             30, static=False)
    yaw = Rotation.from_matrix(tree.lookup("odom", "base", 25).rotation).as_euler("zyx")[0]
    assert math.degrees(yaw) == pytest.approx(45.0)  # slerp between 0 and 90 degrees


@pytest.mark.parametrize("target, source, stamp, words", [
    ("odom", "camera", 10, "'camera' is in no transform"),
    ("odom", "cam", 5, "outside the stored stamps"),
    ("odom", "cam", 40, "outside the stored stamps"),
    ("map", "cam", 10, "not connected"),
])
def test_tree_lookup_errors_name_the_frames(target, source, stamp, words):
    tree = TransformTree()
    tree.add("odom", "base", [0, 0, 0], [0, 0, 0, 1], 10, static=False)
    tree.add("odom", "base", [1, 0, 0], [0, 0, 0, 1], 30, static=False)
    tree.add("base", "cam", [0, 0, 1], [0, 0, 0, 1])
    tree.add("map", "marker", [0, 0, 0], [0, 0, 0, 1])
    with pytest.raises(LookupError, match=words):
        tree.lookup(target, source, stamp)


@pytest.fixture
def calibrated(tmp_path):
    """(MOT sequence, its camera.yaml, a bag of it from ``bag from-mot --camera``)."""
    seq = make_mot_sequence(tmp_path, FRAMES)
    camera = write_camera_yaml(tmp_path / "camera.yaml", robot_camera(3.0, 40.0, x=-1.0))
    bag = tmp_path / "bag"
    assert main(["bag", "from-mot", str(seq), str(bag), "--camera", str(camera)]) == 0
    return seq, camera, bag


def test_bag_gives_the_world_positions_of_the_folder(calibrated, tmp_path, capsys):
    from finetrack_ros.bag.reader import BagReader
    from finetrack_ros.bag.replay import ReplayTopics

    seq, camera, bag = calibrated
    with BagReader(bag) as reader:
        assert reader.count("/tf_static") == 1
        info = next(msg for _, msg in reader.messages("/camera/camera_info"))
        assert list(info.k) == K and list(info.d) == D and info.width == WIDTH
    folder, from_bag = tmp_path / "folder.txt", tmp_path / "bag.txt"
    # --seq-frame-rate: the folder's stamps at the bag's 10 fps (the filter's time steps)
    assert main(["track", str(seq), "--seq-frame-rate", "--camera", str(camera), "--out",
                 str(folder)]) == 0
    assert main(["track", str(bag), "--seq-frame-rate", "--camera-info-topic", "auto", "--set",
                 "world.ground_frame=world", "--out", str(from_bag), "--out-bag",
                 str(tmp_path / "out_bag")]) == 0
    assert "0 frames without a transform" in capsys.readouterr().out
    rows, bag_rows = read_mot_txt(folder), read_mot_txt(from_bag)
    assert len(rows) == 3 * FRAMES and np.isfinite(rows[:, 7:]).all()
    np.testing.assert_array_equal(bag_rows, rows)  # 2D and 3D, every column
    shape_height = 1.7  # world.person_height default
    with BagReader(tmp_path / "out_bag") as out:
        messages = [msg for _, msg in out.messages(ReplayTopics().tracks_3d)]
    assert len(messages) == FRAMES and all(m.header.frame_id == "world" for m in messages)
    published = np.array([(int(d.id), d.bbox.center.position.x, d.bbox.center.position.y,
                           d.bbox.center.position.z - shape_height / 2)
                          for msg in messages for d in msg.detections])
    np.testing.assert_array_equal(published[:, 0], rows[:, 1])
    np.testing.assert_allclose(published[:, 1:], rows[:, 7:], atol=5e-5)  # 4 decimals


def test_bag_3d_errors_are_one_line_naming_the_cause(calibrated, tmp_path, capsys):
    seq, camera, bag = calibrated
    plain = tmp_path / "plain_bag"
    assert main(["bag", "from-mot", str(seq), str(plain)]) == 0
    capsys.readouterr()
    out = ["--out", str(tmp_path / "r.txt")]
    cases = [
        ([str(plain), "--camera-info-topic", "auto"], "k has fx = 0"),  # uncalibrated
        ([str(bag), "--camera-info-topic", "auto"], "frame 'base_footprint'"),
        ([str(bag), "--camera-info-topic", "/detections"], "expected sensor_msgs/msg/Camera"),
        ([str(bag), "--camera", str(camera)], "--camera-info-topic"),
        ([str(seq), "--camera-info-topic", "auto"], "only for a bag"),
    ]
    for args, words in cases:
        assert main(["track", *args, *out]) == 2, args
        err = capsys.readouterr().err.strip()
        assert words in err and len(err.splitlines()) == 1, (args, err)


DEPTH_TOPIC, DEPTH_MM = "/camera/depth", 6000  # a flat depth: every box placed 6 m away


def write_with_depth(src, out, encoding: str = "16UC1", frames: int = FRAMES):
    """Copy bag ``src`` to ``out`` with a registered depth image before its first images."""
    from finetrack_ros import messages as msgs
    from finetrack_ros.bag.bag_writer import BagWriter
    from finetrack_ros.bag.reader import BagReader
    from finetrack_ros.bag.typestore import IMAGE_TYPE
    from finetrack_ros.bag.writer import BagTopics

    with BagReader(src) as reader, BagWriter(out) as writer:
        for topic, (kind, _) in reader.topics.items():
            writer.add_topic(topic, kind)
        writer.add_topic(DEPTH_TOPIC, IMAGE_TYPE)
        images = 0
        for raw in reader.raw_messages():
            images += raw.topic == BagTopics().image
            if raw.topic == BagTopics().image and images <= frames:  # header = receive stamp
                header = msgs.make_header(writer.store, raw.stamp_ns, "camera")
                pixels = np.full((HEIGHT, WIDTH), DEPTH_MM, np.uint16).view(np.uint8)
                depth = writer.store.types[IMAGE_TYPE](
                    header=header, height=HEIGHT, width=WIDTH, encoding=encoding,
                    is_bigendian=0, step=WIDTH * 2, data=pixels.reshape(-1))
                writer.write(DEPTH_TOPIC, raw.stamp_ns, depth)
            writer.write_raw(raw.topic, raw.stamp_ns, raw.rawdata)
    return out


def depth_positions(rows: np.ndarray) -> np.ndarray:
    """Return where each row's box is placed from the flat depth (x, y on the ground)."""
    from finetrack_ros.world import CameraModel

    camera = CameraModel.checked(K, D, "plumb_bob", WIDTH, HEIGHT)
    x, y, w, h = rows[:, 2:6].T
    rays = np.ones((len(rows), 3))
    rays[:, :2] = camera.undistort(np.stack([x + w / 2, y + 0.35 * h], 1))  # band 10-60 %
    points = robot_camera(3.0, 40.0, x=-1.0).apply(rays * DEPTH_MM / 1000.0)
    return points[:, :2]


def test_bag_depth_places_people_as_the_node_and_falls_back_per_frame(calibrated, tmp_path,
                                                                     capsys):
    _, _, bag = calibrated
    common = ["--seq-frame-rate", "--camera-info-topic", "auto", "--set",
              "world.ground_frame=world", "--world", "projected"]

    def track(name, path, *extra):
        out = tmp_path / f"{name}.txt"
        assert main(["track", str(path), *common, *extra, "--out", str(out)]) == 0
        return read_mot_txt(out), capsys.readouterr()

    plain, _ = track("plain", bag)
    rows, said = track("depth", write_with_depth(bag, tmp_path / "depth_bag"), "--depth-topic",
                       DEPTH_TOPIC)
    assert "depth /camera/depth: 0 frames stale, 0 without, 0 refused" in said.out
    np.testing.assert_array_equal(rows[:, :7], plain[:, :7])  # 2D unchanged
    np.testing.assert_allclose(rows[:, 7:9], depth_positions(rows), atol=1e-3)
    assert np.abs(rows[:, 7:9] - plain[:, 7:9]).max() > 0.5  # not the ground plane's
    assert (rows[:, 9] == 0).all()

    # depth of the first image only, at most 50 ms old: 0.1 s later it is stale
    rows, said = track("stale", write_with_depth(bag, tmp_path / "stale_bag", frames=1),
                       "--depth-topic", DEPTH_TOPIC, "--set", "world.depth_max_age_sec=0.05")
    first = rows[:, 0] == 1
    np.testing.assert_allclose(rows[first, 7:9], depth_positions(rows[first]), atol=1e-3)
    np.testing.assert_array_equal(rows[~first], plain[~first])  # the ground plane's
    text = said.out + said.err
    assert text.count("stale depth not used") == 1, text  # warned once
    assert "stale depth not used: 0.100 s older than the image" in text
    assert f"{FRAMES - 1} frames stale" in said.out

    rows, said = track("rgb8", write_with_depth(bag, tmp_path / "rgb8_bag", "rgb8"),
                       "--depth-topic", DEPTH_TOPIC)
    np.testing.assert_array_equal(rows, plain)  # every frame from the ground plane
    text = said.out + said.err
    assert text.count("encoding 'rgb8' is not a depth image") == 1, text  # warned once
    assert f"{FRAMES} refused" in said.out

    assert main(["track", str(bag), "--depth-topic", DEPTH_TOPIC, "--out",
                 str(tmp_path / "x.txt")]) == 2
    assert "only with --camera-info-topic" in capsys.readouterr().err
