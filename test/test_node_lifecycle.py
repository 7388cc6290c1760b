"""finetrack_node's lifecycle driven through its services, and its params file.

With a real node in a subprocess: config/finetrack.yaml loads, missing weights fail configure
naming the file, configure/activate/deactivate/cleanup create and release
publishers/subscriptions.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from node_helpers import (
    NODE,
    change_state,
    get_parameters,
    lifecycle_state,
    node_command,
    set_parameters,
)
from ros_helpers import REPO_ROOT, MessageCollector, rclpy_node, ros_install, running_process  # noqa: F401  (fixtures)

pytestmark = pytest.mark.ros

PARAMS_FILE = REPO_ROOT / "config" / "finetrack.yaml"
MISSING_WEIGHTS = "/nonexistent/yolox_missing.pth"
IMAGE_TOPIC = "/life_cam/image"


def flat_params(path: Path) -> dict:
    """``/**: ros__parameters:`` of a params file as dotted names → values."""
    params = yaml.safe_load(path.read_text())["/**"]["ros__parameters"]
    flat = {}
    for key, value in params.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return flat


@pytest.fixture(scope="module")
def node_process(ros_install):  # noqa: F811
    command = node_command(ros_install, "--params-file", str(PARAMS_FILE),
                           "-p", f"detector.checkpoint:={MISSING_WEIGHTS}",
                           "-r", f"image:={IMAGE_TOPIC}")
    with running_process(command) as proc:
        yield proc


def test_params_file_loads_into_the_node(rclpy_node, node_process):  # noqa: F811
    expected = flat_params(PARAMS_FILE)
    expected["detector.checkpoint"] = MISSING_WEIGHTS  # the command-line override
    actual = get_parameters(rclpy_node, sorted(expected))  # waits for the node's service
    plain = {name: value if isinstance(value, (bool, int, float, str)) else list(value)
             for name, value in actual.items()}
    assert plain == expected


def test_lifecycle_transitions(rclpy_node, node_process):  # noqa: F811
    from rclpy.qos import DurabilityPolicy, QoSProfile
    from vision_msgs.msg import LabelInfo

    node = rclpy_node.node
    assert lifecycle_state(rclpy_node) == "unconfigured"
    # missing weights: configure fails, naming the file; the node stays unconfigured
    assert not change_state(rclpy_node, "configure")
    assert lifecycle_state(rclpy_node) == "unconfigured"
    assert MISSING_WEIGHTS in node_process.output()
    results = set_parameters(rclpy_node, {
        "detector.checkpoint": "random", "detector.size": "nano",
        "detector.input_size": [64, 96], "reid.checkpoint": "random",
        "reid.crop_size": [64, 32], "device": "cpu", "no_image_warning_sec": 1.0})
    assert all(r.successful for r in results), [r.reason for r in results]

    assert change_state(rclpy_node, "configure")
    assert lifecycle_state(rclpy_node) == "inactive"
    assert node.count_publishers(f"{NODE}/tracks") == 1
    assert node.count_subscribers(IMAGE_TOPIC) == 0  # subscribes only when active
    rejected, = set_parameters(rclpy_node, {"detector.size": "s"})
    assert not rejected.successful  # applied on configure: refused while configured

    assert change_state(rclpy_node, "activate")
    assert lifecycle_state(rclpy_node) == "active"
    rclpy_node.spin_until(lambda: node.count_subscribers(IMAGE_TOPIC) == 1,
                          what=f"the node's subscription on {IMAGE_TOPIC}")
    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    label_info = MessageCollector(rclpy_node, LabelInfo, f"{NODE}/label_info", latched)
    info = label_info.wait_for_count(1)[0]
    assert [c.class_name for c in info.class_map] == ["person"]
    rclpy_node.spin_until(lambda: "no image received" in node_process.output(),
                          what="the no-image warning")
    assert "QoS" in node_process.output()

    assert change_state(rclpy_node, "deactivate")
    assert lifecycle_state(rclpy_node) == "inactive"
    rclpy_node.spin_until(lambda: node.count_subscribers(IMAGE_TOPIC) == 0,
                          what="the subscription to go away")

    assert change_state(rclpy_node, "cleanup")
    assert lifecycle_state(rclpy_node) == "unconfigured"
    rclpy_node.spin_until(lambda: node.count_publishers(f"{NODE}/tracks") == 0,
                          what="the publishers to go away")
    ok, = set_parameters(rclpy_node, {"detector.size": "tiny"})
    assert ok.successful  # unconfigured again: every parameter may change
    node_process.assert_running()
    assert node_process.stop() == 0, node_process.output()  # SIGINT: clean exit
