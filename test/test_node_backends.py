"""The node on ONNX Runtime int8 files: a mismatched precision fails configure, then it tracks.

A real node in a subprocess, lifecycle and parameters through its services, images and tracks
through real messages. The int8 files are made here by the CLI (random-weight YOLOX-nano and
a tiny Re-ID, calibrated on a generated scene).
"""
from __future__ import annotations

import pytest
from node_helpers import NODE, change_state, image_msg, node_command, set_parameters
from ros_helpers import MessageCollector, rclpy_node, ros_install, running_process  # noqa: F401  (fixtures)

from finetrack_ros.cli import main
from finetrack_ros.reid import FineTrackReID, ReIDConfig, save_reid

pytestmark = pytest.mark.ros

IMAGE_TOPIC = "/backend_cam/image"


@pytest.fixture(scope="module")
def int8_files(tmp_path_factory):
    from finetrack_ros.sim import SceneConfig, write_sequence

    tmp = tmp_path_factory.mktemp("node_int8")
    scene = write_sequence(tmp / "scene", SceneConfig(seed=3, frames=10), progress=False)
    reid = save_reid(tmp / "reid.pt", FineTrackReID(ReIDConfig.preset("tiny")))
    files = tmp / "det_int8.onnx", tmp / "reid_int8.onnx"
    assert main(["export", "onnx", "--random-weights", "--model-size", "nano", "--input-size",
                 "64x96", "--int8", "--calib", str(scene), "--out", str(files[0])]) == 0
    assert main(["export", "onnx", "--reid", str(reid), "--int8", "--calib", str(scene),
                 "--out", str(files[1])]) == 0
    return files


def test_node_runs_int8_onnx_files(ros_install, rclpy_node, int8_files):  # noqa: F811
    from sensor_msgs.msg import Image  # noqa: F401  (the message class image_msg builds)

    from finetrack_ros.msg import TrackedObjectArray

    detector, reid = int8_files
    command = node_command(ros_install, "-p", "backend:=onnxruntime", "-p", "precision:=fp32",
                           "-p", f"detector.checkpoint:={detector}",
                           "-p", "detector.input_size:=[64,96]",
                           "-p", f"reid.checkpoint:={reid}", "-p", "num_threads:=1",
                           "-p", "spin_wait:=false", "-r", f"image:={IMAGE_TOPIC}")
    with running_process(command) as node_process:
        # the files hold int8 networks: fp32 fails configure, naming file and parameter
        assert not change_state(rclpy_node, "configure")
        assert "holds a int8 network but parameter 'precision' is fp32" in node_process.output()
        assert all(r.successful for r in set_parameters(rclpy_node, {"precision": "int8"}))
        assert change_state(rclpy_node, "configure")
        assert change_state(rclpy_node, "activate")
        assert "onnxruntime int8" in node_process.output()

        node = rclpy_node.node
        publisher = node.create_publisher(type(image_msg(1)), IMAGE_TOPIC, 10)
        tracks = MessageCollector(rclpy_node, TrackedObjectArray, f"{NODE}/tracked_objects")
        rclpy_node.spin_until(lambda: node.count_subscribers(IMAGE_TOPIC) == 1,
                              what=f"the node's subscription on {IMAGE_TOPIC}")
        sent = 0

        def replied() -> bool:
            nonlocal sent
            sent += 1
            publisher.publish(image_msg(sent, shape=(120, 160)))
            return len(tracks.messages) > 0

        rclpy_node.spin_until(replied, what="a tracks message from the int8 node")
        node_process.assert_running()
