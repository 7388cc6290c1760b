"""Start finetrack_node (autostarted lifecycle node) and, optionally, rviz2.

    ros2 launch finetrack_ros finetrack.launch.py image_topic:=/camera/image_raw \
        detector_weights:=/path/bytetrack_s_mot17.pth.tar reid_weights:=/path/reid.pth

Launch arguments are deployment settings only; every algorithm parameter lives in the
params file (default: this package's config/finetrack.yaml). A weights argument left empty
keeps the value of the params file.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node, PushRosNamespace

PACKAGE = "finetrack_ros"


def _as_bool(text):
    return text.strip().lower() in ("true", "1", "yes", "on")


def _launch_setup(context):
    def arg(name):
        return LaunchConfiguration(name).perform(context)

    overrides = {
        "autostart": True,
        "use_sim_time": _as_bool(arg("use_sim_time")),
        "external_detections": _as_bool(arg("external_detections")),
    }
    if arg("device"):
        overrides["device"] = arg("device")
    if arg("detector_weights"):
        overrides["detector.checkpoint"] = arg("detector_weights")
    if arg("reid_weights"):
        overrides["reid.checkpoint"] = arg("reid_weights")

    share = get_package_share_directory(PACKAGE)
    node = Node(
        package=PACKAGE,
        executable="finetrack_node",
        name="finetrack_node",
        output="screen",
        parameters=[arg("params_file"), overrides],
        remappings=[
            ("image", arg("image_topic")),
            ("image/compressed", arg("image_topic") + "/compressed"),
            ("detections", arg("detections_topic")),
        ],
        arguments=["--ros-args", "--log-level", arg("log_level")],
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        name="rviz2",
        arguments=["-d", os.path.join(share, "config", "finetrack.rviz")],
        parameters=[{"use_sim_time": _as_bool(arg("use_sim_time"))}],
        condition=IfCondition(arg("use_rviz")),
    )
    return [GroupAction([PushRosNamespace(arg("namespace")), node, rviz])]


def generate_launch_description():
    share = get_package_share_directory(PACKAGE)
    arguments = [
        ("image_topic", "/camera/image_raw", "sensor_msgs/Image topic (its /compressed "
         "sibling is used when image_transport is compressed)"),
        ("detections_topic", "/detections", "vision_msgs/Detection2DArray topic of an "
         "external detector (with external_detections:=true)"),
        ("params_file", os.path.join(share, "config", "finetrack.yaml"),
         "ROS 2 parameter file with the detector, reid and tracker sections"),
        ("detector_weights", "", "YOLOX checkpoint; empty keeps the params file's value"),
        ("reid_weights", "", "FineTrack Re-ID checkpoint; empty keeps the params file's value"),
        ("device", "", "torch device (auto, cpu, cuda, cuda:1); empty keeps the params file's"),
        ("use_sim_time", "false", "use /clock (bag replay with ros2 bag play --clock)"),
        ("namespace", "", "namespace of the node (and rviz)"),
        ("use_rviz", "false", "start rviz2 with config/finetrack.rviz"),
        ("external_detections", "false", "track detections from detections_topic instead "
         "of running YOLOX"),
        ("log_level", "info", "node log level: debug, info, warn, error"),
    ]
    declared = [DeclareLaunchArgument(name, default_value=default, description=text)
                for name, default, text in arguments]
    return LaunchDescription([*declared, OpaqueFunction(function=_launch_setup)])
