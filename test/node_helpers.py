"""Shared pieces of the finetrack_node tests (test_node_*.py).

How to start the node, message builders, service calls. Uses ros_helpers for processes and
the rclpy test node.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from ros_helpers import DEFAULT_TIMEOUT_S, RosInstall, installed_executable

NODE = "/finetrack_node"
# Tiny random-weight networks: the node's test-only "random" checkpoints.
RANDOM_MODELS = [
    "-p", "detector.checkpoint:=random", "-p", "detector.size:=nano",
    "-p", "detector.input_size:=[64,96]", "-p", "reid.checkpoint:=random",
    "-p", "reid.crop_size:=[64,32]", "-p", "device:=cpu",
]


def node_command(install: RosInstall, *ros_args: str) -> list[str]:
    """Command running the colcon-installed finetrack_node with ``--ros-args ros_args``."""
    exe = installed_executable(install, "finetrack_ros", "finetrack_node")
    return [str(exe), "--ros-args", *ros_args]


def image_msg(sec: int, shape=(240, 320), value: int = 90, frame_id: str = "cam"):
    """bgr8 sensor_msgs/Image of a flat grey frame stamped ``sec``.5 s."""
    from std_msgs.msg import Header

    from finetrack_ros.ros.image_conversion import numpy_to_image_msg

    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = int(sec), 500_000_000
    frame = np.full((*shape, 3), value, np.uint8)
    return numpy_to_image_msg(frame, "bgr8", header=header)


def detections_msg(header, boxes_xyxy, class_name: str = "person", score: float = 0.9):
    """vision_msgs/Detection2DArray of ``boxes_xyxy`` (N, 4) pixels with ``header``."""
    from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

    msg = Detection2DArray(header=header)
    for x1, y1, x2, y2 in boxes_xyxy:
        det = Detection2D(header=header)
        det.bbox.center.position.x, det.bbox.center.position.y = (x1 + x2) / 2, (y1 + y2) / 2
        det.bbox.size_x, det.bbox.size_y = float(x2 - x1), float(y2 - y1)
        result = ObjectHypothesisWithPose()
        result.hypothesis.class_id, result.hypothesis.score = class_name, score
        det.results = [result]
        msg.detections.append(det)
    return msg


def stamp_of(msg) -> tuple[int, int]:
    return msg.header.stamp.sec, msg.header.stamp.nanosec


def call_service(test_node, srv_type: Any, name: str, request: Any,
                 timeout: float = DEFAULT_TIMEOUT_S) -> Any:
    """Call ``name`` and spin until the response arrives (fail on timeout)."""
    client = test_node.node.create_client(srv_type, name)
    try:
        test_node.spin_until(lambda: client.service_is_ready(), timeout, f"service {name}")
        future = client.call_async(request)
        test_node.spin_until(future.done, timeout, f"response of {name}")
        return future.result()
    finally:
        test_node.node.destroy_client(client)


def lifecycle_state(test_node, node: str = NODE) -> str:
    """Label of the node's current lifecycle state (e.g. 'unconfigured', 'active')."""
    from lifecycle_msgs.srv import GetState

    return call_service(test_node, GetState, f"{node}/get_state", GetState.Request()
                        ).current_state.label


def change_state(test_node, transition: str, node: str = NODE) -> bool:
    """Trigger a lifecycle transition by label (configure, activate, ...); its success."""
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState

    ids = {"configure": Transition.TRANSITION_CONFIGURE,
           "activate": Transition.TRANSITION_ACTIVATE,
           "deactivate": Transition.TRANSITION_DEACTIVATE,
           "cleanup": Transition.TRANSITION_CLEANUP}
    request = ChangeState.Request(transition=Transition(id=ids[transition]))
    return call_service(test_node, ChangeState, f"{node}/change_state", request).success


def get_parameters(test_node, names: list[str], node: str = NODE) -> dict[str, Any]:
    """Get the current values of the node's parameters (via its get_parameters service)."""
    from rcl_interfaces.srv import GetParameters
    from rclpy.parameter import parameter_value_to_python

    response = call_service(test_node, GetParameters, f"{node}/get_parameters",
                            GetParameters.Request(names=names))
    return {n: parameter_value_to_python(v) for n, v in zip(names, response.values, strict=True)}


def set_parameters(test_node, values: dict[str, Any], node: str = NODE) -> list:
    """Set parameters via the node's service; returns the SetParametersResult list."""
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter

    request = SetParameters.Request(
        parameters=[Parameter(k, value=v).to_parameter_msg() for k, v in values.items()])
    return call_service(test_node, SetParameters, f"{node}/set_parameters", request).results
