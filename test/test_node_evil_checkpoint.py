"""finetrack_node given a Re-ID checkpoint with a pickle payload.

Configure fails with one error line naming the file, the payload never runs, the node stays
unconfigured and alive.
"""
from __future__ import annotations

import pytest
from node_helpers import change_state, lifecycle_state, node_command
from ros_helpers import rclpy_node, ros_install, running_process  # noqa: F401  (fixtures)
from test_hostile_input import evil_checkpoint

pytestmark = pytest.mark.ros


def test_node_refuses_a_checkpoint_with_a_payload(rclpy_node, ros_install, tmp_path):  # noqa: F811
    marker = tmp_path / "payload_ran"
    evil = evil_checkpoint(tmp_path / "evil.pth", marker)
    command = node_command(ros_install, "-p", "detector.checkpoint:=random",
                           "-p", "detector.size:=nano", "-p", "detector.input_size:=[64,96]",
                           "-p", f"reid.checkpoint:={evil}", "-p", "device:=cpu")
    with running_process(command) as proc:
        assert lifecycle_state(rclpy_node) == "unconfigured"  # waits for the node's service
        assert not change_state(rclpy_node, "configure")
        assert lifecycle_state(rclpy_node) == "unconfigured"
        proc.assert_running()
        output = proc.output()
    assert not marker.exists(), "the pickle payload ran in the node"
    errors = [line for line in output.splitlines() if "ERROR" in line and str(evil) in line]
    assert len(errors) == 1, output
    assert "nothing in it was run" in errors[0]
    assert "Traceback" not in output
