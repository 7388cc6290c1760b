"""The launch files under real launch / launch_ros, as a ROS user runs them (issue 13).

Each test runs a docs/node.md "How to run" command (``ros2 launch ...``, the stand-in ``ros2`` of
test/fake_ros2) and checks what the user would: tracks for published frames, namespaced
topics, a launch that ends by itself, a non-zero exit with the reason, and no process left
behind whatever ended the launch.
"""
from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from launch_helpers import LaunchRun, kill_marked, launch_environment
from ros_helpers import REPO_ROOT, rclpy_node, ros_install  # noqa: F401  (fixtures)

pytestmark = pytest.mark.ros

# The commands of docs/node.md, "How to run" (test_docs_run_these_commands keeps them equal).
DEFAULT_LAUNCH = "ros2 launch finetrack_ros finetrack.launch.py"
NAMESPACED_LAUNCH = ("ros2 launch finetrack_ros finetrack.launch.py namespace:=robot1 "
                     "image_topic:=front/image_raw")
BAG_EVAL = ("ros2 launch finetrack_ros finetrack_bag_eval.launch.py bag:=scene.bag "
            "output_bag:=tracks namespace:=robot1 rate:=0.5")
RVIZ_LAUNCH = "ros2 launch finetrack_ros finetrack.launch.py use_rviz:=true"
MISSING_WEIGHTS = ("ros2 launch finetrack_ros finetrack.launch.py "
                   "detector_weights:=/models/missing_yolox.pth")
STARTUP_TIMEOUT_S = 120.0  # torch import and model loading on a loaded 2-core CPU
FRAMES = 4


@pytest.fixture
def launch(ros_install, tmp_path):  # noqa: F811
    """Start ``ros2 launch ...`` commands; every process they left is reported and killed."""
    runs = []

    def start(command, env=None, cwd=None):
        run = LaunchRun(command, env or launch_environment(), tmp_path / f"launch{len(runs)}.log",
                        cwd=cwd or tmp_path)
        runs.append(run)
        return run

    yield start
    for run in runs:
        if run.popen.poll() is None:
            run.kill()
        kill_marked(run.env["FINETRACK_LAUNCH_TEST"])


@pytest.fixture(scope="module")
def frames(tmp_path_factory) -> list[np.ndarray]:
    """Render 320x240 BGR frames of a synthetic street.

    The demo detector's scale, and under Fast DDS's 0.5 MB shared-memory limit, so the
    test's own publisher needs no transport profile.
    """
    from finetrack_ros.sim import SceneConfig, write_sequence

    seq = write_sequence(tmp_path_factory.mktemp("scene") / "seq", SceneConfig(
        width=640, height=480, fps=10.0, frames=FRAMES, people=5, seed=9001), progress=False)
    return [cv2.resize(cv2.imread(str(p)), (320, 240), interpolation=cv2.INTER_AREA)
            for p in sorted((seq / "img1").glob("*.jpg"))]


def _track_frames(node, run, frames, image_topic, tracks_topic) -> list:
    """Publish each frame (resent until answered) and collect the tracks of its stamp."""
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray

    from finetrack_ros.ros.image_conversion import numpy_to_image_msg

    received = {}
    node.node.create_subscription(Detection2DArray, tracks_topic,
                                  lambda m: received.setdefault(m.header.stamp.sec, m), 10)
    publisher = node.node.create_publisher(Image, image_topic, 10)
    node.spin_until(lambda: publisher.get_subscription_count() > 0, STARTUP_TIMEOUT_S,
                    f"finetrack_node subscribing {image_topic}")
    for index, frame in enumerate(frames):
        msg = numpy_to_image_msg(frame, "bgr8")
        msg.header.stamp.sec = 100 + index
        for _ in range(10):  # best effort, depth 1: a frame may be dropped while busy
            assert run.popen.poll() is None, run.output()[-3000:]
            publisher.publish(msg)
            node.spin_for(1.0)
            if msg.header.stamp.sec in received:
                break
    return [received.get(100 + i) for i in range(len(frames))]


@pytest.mark.slow
def test_default_launch_runs_the_demo_weights_and_tracks(launch, rclpy_node, frames):  # noqa: F811
    run = launch(DEFAULT_LAUNCH)
    tracks = _track_frames(rclpy_node, run, frames, "/camera/image_raw",
                           "/finetrack_node/tracks")
    assert all(t is not None for t in tracks), f"tracks missing: {run.output()[-3000:]}"
    assert any(len(t.detections) > 0 for t in tracks), "the demo detector found nobody"
    log = run.output()
    assert re.search(r"configured: .*YOLOX-nano, 1 classes, input 256x320.*"
                     r"share/finetrack_ros/weights/detector_nano_demo\.pth", log), log[-3000:]
    assert "demo weights: trained only on this package's synthetic" in log
    run.stop()
    assert run.leftovers() == []


@pytest.mark.slow
def test_namespace_and_relative_image_topic(launch, rclpy_node, frames):  # noqa: F811
    run = launch(NAMESPACED_LAUNCH)
    tracks = _track_frames(rclpy_node, run, frames[:1], "/robot1/front/image_raw",
                           "/robot1/finetrack_node/tracks")
    assert tracks[0] is not None, run.output()[-3000:]
    run.stop()
    assert run.leftovers() == []


@pytest.mark.slow
def test_bag_eval_ends_by_itself_with_the_namespaced_tracks(launch, tmp_path):
    from finetrack_ros.bag.reader import BagReader
    from finetrack_ros.bag.writer import write_mot_bag
    from finetrack_ros.sim import SceneConfig, write_sequence

    seq = write_sequence(tmp_path / "seq", SceneConfig(
        width=320, height=240, fps=10.0, frames=8, people=3, seed=9002), progress=False)
    write_mot_bag(seq, tmp_path / "scene.bag")
    run = launch(BAG_EVAL, cwd=tmp_path)
    code = run.wait(STARTUP_TIMEOUT_S + 60)
    assert code == 0, run.output()[-4000:]
    with BagReader(tmp_path / "tracks") as bag:
        topics = bag.topics
    assert "/robot1/finetrack_node/tracks" in topics, topics
    assert run.leftovers() == []


def test_missing_rviz2_fails_at_once_and_starts_nothing(launch):
    run = launch(RVIZ_LAUNCH)
    assert run.wait(60) != 0
    log = run.output()
    assert "package 'rviz2' not found" in log and "use_rviz:=false" in log, log
    assert "process started" not in log
    assert run.leftovers() == []


def test_missing_weights_fail_configure_and_the_launch(launch):
    run = launch(MISSING_WEIGHTS)
    assert run.wait(STARTUP_TIMEOUT_S) != 0
    log = run.output()
    assert "configure failed" in log and "/models/missing_yolox.pth" in log, log[-3000:]
    assert "finetrack_node failed to configure" in log
    assert run.leftovers() == []


@pytest.mark.parametrize("arguments, message", [
    ("log_level:=verbose", "log_level:=verbose is not a log level"),
    ("params_file:=/no/such/params.yaml", "params_file:=/no/such/params.yaml: no such file"),
], ids=["log_level", "params_file"])
def test_bad_arguments_end_the_launch_before_the_node_starts(launch, arguments, message):
    run = launch(f"{DEFAULT_LAUNCH} {arguments}")
    assert run.wait(60) != 0
    assert message in run.output() and "process started" not in run.output()
    assert run.leftovers() == []


def test_bag_eval_without_ros2_says_so_and_does_not_hang(launch, tmp_path):
    run = launch(BAG_EVAL, env=launch_environment(with_fake_ros2=False))
    assert run.wait(60) != 0
    assert "'ros2' not found on PATH" in run.output()
    assert run.leftovers() == []


def test_docs_run_these_commands():
    readme = " ".join(Path(REPO_ROOT / "docs" / "node.md").read_text().replace("\\\n", " ").split())
    for command in (DEFAULT_LAUNCH, NAMESPACED_LAUNCH, BAG_EVAL, RVIZ_LAUNCH):
        assert command in readme, command
