"""Replay a bag into finetrack_node on simulated time and record its outputs.

    ros2 launch finetrack_ros finetrack_bag_eval.launch.py bag:=/data/MOT17-04.bag \
        output_bag:=/tmp/tracks_bag detector_weights:=/path/yolox.pth reid_weights:=/path/reid.pth

``ros2 bag play --clock`` publishes /clock and the frames; the node (use_sim_time) tracks
against the image stamps; ``ros2 bag record`` writes ~/tracks, ~/tracked_objects and the
debug topics. Evaluate with ``finetrack eval --gt <bag> --results <output_bag>``. Play at a
rate the node keeps up with (``rate``): dropped frames make online results differ from
``finetrack track``'s offline replay.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    ExecuteProcess,
    IncludeLaunchDescription,
    TimerAction,
)
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

PACKAGE = "finetrack_ros"
NODE = "finetrack_node"
RECORDED = ["tracks", "tracked_objects", "label_info", "debug/processing_time_ms",
            "debug/pipeline_latency_ms"]


def generate_launch_description():
    share = get_package_share_directory(PACKAGE)
    arguments = [
        ("bag", "", "input bag (ros2 bag play); from `finetrack bag from-mot`"),
        ("output_bag", "finetrack_tracks", "output bag folder for ros2 bag record"),
        ("rate", "1.0", "playback rate; lower it if the node drops frames"),
        ("start_delay", "5.0", "seconds to wait for the node to load its models before play"),
        ("image_topic", "/camera/image_raw", "image topic in the bag"),
        ("detections_topic", "/detections", "detections topic in the bag"),
        ("external_detections", "false", "track the bag's detections instead of YOLOX"),
        ("params_file", os.path.join(share, "config", "finetrack.yaml"),
         "ROS 2 parameter file of the node"),
        ("detector_weights", "", "YOLOX checkpoint; empty keeps the params file's value"),
        ("reid_weights", "", "FineTrack Re-ID checkpoint; empty keeps the params file's value"),
        ("device", "", "torch device; empty keeps the params file's value"),
    ]
    declared = [DeclareLaunchArgument(name, default_value=default, description=text)
                for name, default, text in arguments]
    node = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(share, "launch", "finetrack.launch.py")),
        launch_arguments={
            "use_sim_time": "true",
            "image_topic": LaunchConfiguration("image_topic"),
            "detections_topic": LaunchConfiguration("detections_topic"),
            "external_detections": LaunchConfiguration("external_detections"),
            "params_file": LaunchConfiguration("params_file"),
            "detector_weights": LaunchConfiguration("detector_weights"),
            "reid_weights": LaunchConfiguration("reid_weights"),
            "device": LaunchConfiguration("device"),
        }.items(),
    )
    record = ExecuteProcess(
        cmd=["ros2", "bag", "record", "--use-sim-time", "-o", LaunchConfiguration("output_bag"),
             *[f"/{NODE}/{topic}" for topic in RECORDED]],
        output="screen",
    )
    play = ExecuteProcess(
        cmd=["ros2", "bag", "play", LaunchConfiguration("bag"), "--clock",
             "--rate", LaunchConfiguration("rate")],
        output="screen",
    )
    delayed_play = TimerAction(period=LaunchConfiguration("start_delay"), actions=[play])
    return LaunchDescription([*declared, node, record, delayed_play])
