"""Start finetrack_node (a lifecycle node, configured and activated by launch) and rviz2.

    ros2 launch finetrack_ros finetrack.launch.py               # shipped demo weights
    ros2 launch finetrack_ros finetrack.launch.py image_topic:=/camera/image_raw \
        detector_weights:=/models/bytetrack_s_mot17.pth.tar reid_weights:=/models/reid.pth

Launch arguments are deployment settings only; algorithm parameters live in the params file
(default: config/demo.yaml with the shipped demo weights, or config/finetrack.yaml once
detector_weights is given). Bad arguments, a missing params file or a missing rviz2 end the
launch before anything starts; a node that fails to configure ends it with a non-zero code.
"""
import os

from launch.actions import OpaqueFunction
from launch_ros.actions import Node

from finetrack_ros.ros import launch_common as common
from launch import LaunchDescription

ARGUMENTS = [
    *common.NODE_ARGUMENTS,
    ("use_sim_time", "false", "use /clock (bag replay with ros2 bag play --clock)"),
    ("use_rviz", "false", "start rviz2 with config/finetrack.rviz (needs rviz2 installed)"),
]


def _launch_setup(context):
    args = common.values(context, ARGUMENTS)
    use_sim_time = common.as_bool(args, "use_sim_time")
    actions = common.transport_profile(args)
    common.check_node_arguments(args)
    if common.as_bool(args, "use_rviz"):  # checked before the node starts: nothing to orphan
        rviz = common.require_program("rviz2", "rviz2", "install rviz2 (ros-$ROS_DISTRO-rviz2) "
                                      "or launch with use_rviz:=false")
        share = common.get_package_share_directory(common.PACKAGE)
        actions.append(Node(
            executable=rviz, name="rviz2",
            namespace=common.namespace_prefix(args["namespace"]) or "",
            arguments=["-d", os.path.join(share, "config", "finetrack.rviz")],
            parameters=[{"use_sim_time": use_sim_time}]))
    node, note = common.finetrack_node(args, use_sim_time)
    return [note, *common.lifecycle_handlers(node), *actions, node]


def generate_launch_description():
    return LaunchDescription([*common.declare(ARGUMENTS),
                              OpaqueFunction(function=_launch_setup)])
