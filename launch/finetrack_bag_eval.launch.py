"""Replay a bag into finetrack_node on simulated time, record its outputs, then stop.

    ros2 launch finetrack_ros finetrack_bag_eval.launch.py bag:=/data/MOT17-04.bag \
        output_bag:=/tmp/tracks_bag detector_weights:=/path/yolox.pth reid_weights:=/path/reid.pth

``ros2 bag record`` starts with the node and records the node's (namespaced) ~/tracks,
~/tracked_objects, ~/label_info and debug topics; ``ros2 bag play --clock`` starts once the
node is active (lifecycle event, so model loading never races the first frames). When play
ends, record gets SIGINT after ``drain_sec`` and writes the bag, then the launch ends by itself
(exit code 0; non-zero when play, record or the node fail). Evaluate with
``finetrack eval --gt <bag> --results <output_bag>``. Play at a rate the node keeps up with
(``rate``): dropped frames make online results differ from ``finetrack track``'s offline replay.
"""
import os
import signal

from launch.actions import (
    EmitEvent,
    ExecuteProcess,
    OpaqueFunction,
    RegisterEventHandler,
    TimerAction,
)
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown, matches_action
from launch.events.process import SignalProcess

from finetrack_ros.ros import launch_common as common
from launch import LaunchDescription

RECORDED = ["tracks", "tracked_objects", "label_info", "debug/processing_time_ms",
            "debug/pipeline_latency_ms"]
ARGUMENTS = [
    ("bag", "", "input bag folder (ros2 bag play); e.g. from `finetrack bag from-mot`"),
    ("output_bag", "finetrack_tracks", "output bag folder for ros2 bag record (must not exist)"),
    ("rate", "1.0", "playback rate; lower it if the node drops frames"),
    ("play_delay", "1.0", "seconds ros2 bag play waits before the first message (--delay), "
     "for DDS discovery of its publishers"),
    ("drain_sec", "2.0", "seconds between the end of play and stopping record (last outputs)"),
    *common.NODE_ARGUMENTS,
]


def _check(args):
    """Everything that can be checked before a process starts; LaunchArgumentError if not."""
    common.require_program("ros2", None, "ros2 bag play/record need the ROS 2 command line "
                           "(ros2cli, rosbag2): source /opt/ros/$ROS_DISTRO/setup.bash")
    if not args["bag"]:
        raise common.LaunchArgumentError("bag:= is required: the bag folder to play")
    if not os.path.exists(args["bag"]):
        raise common.LaunchArgumentError(f"bag:={args['bag']}: no such bag")
    if os.path.exists(args["output_bag"]):
        raise common.LaunchArgumentError(f"output_bag:={args['output_bag']} exists already: "
                                         "remove it or pick another")
    for name in ("rate", "play_delay", "drain_sec"):
        try:
            ok = float(args[name]) > 0 or (name != "rate" and float(args[name]) == 0)
        except ValueError:
            ok = False
        if not ok:
            raise common.LaunchArgumentError(f"{name}:={args[name]} is not a valid number of "
                                             f"{'times real time' if name == 'rate' else 's'}")


def _launch_setup(context):
    args = common.values(context, ARGUMENTS)
    _check(args)
    node, note = common.finetrack_node(args, use_sim_time=True)
    prefix = f"{common.namespace_prefix(args['namespace'])}/{common.NODE_NAME}"
    record = ExecuteProcess(
        name="ros2_bag_record", output="screen",
        cmd=["ros2", "bag", "record", "--use-sim-time", "-o", args["output_bag"],
             *[f"{prefix}/{topic}" for topic in RECORDED]])
    play = ExecuteProcess(
        name="ros2_bag_play", output="screen",
        cmd=["ros2", "bag", "play", args["bag"], "--clock", "--rate", args["rate"],
             "--delay", args["play_delay"]])
    played = {"ok": False}

    def play_ended(context):
        code = context.locals.event.returncode
        if context.is_shutdown:
            return None
        if code != 0:
            raise common.LaunchArgumentError(f"ros2 bag play exited with code {code}")
        played["ok"] = True
        stop_record = EmitEvent(event=SignalProcess(
            signal_number=signal.SIGINT, process_matcher=matches_action(record)))
        return [TimerAction(period=float(args["drain_sec"]), actions=[stop_record])]

    def record_ended(context):
        code = context.locals.event.returncode
        if context.is_shutdown:
            return None
        if code != 0 or not played["ok"]:
            raise common.LaunchArgumentError(f"ros2 bag record exited with code {code} "
                                             "before the bag was played")
        return [EmitEvent(event=Shutdown(reason="bag played and recorded"))]

    return [
        note,
        RegisterEventHandler(OnProcessExit(target_action=play,
                                           on_exit=[OpaqueFunction(function=play_ended)])),
        RegisterEventHandler(OnProcessExit(target_action=record,
                                           on_exit=[OpaqueFunction(function=record_ended)])),
        *common.lifecycle_handlers(node, on_active=[play]),
        *common.transport_profile(args), record, node,
    ]


def generate_launch_description():
    return LaunchDescription([*common.declare(ARGUMENTS),
                              OpaqueFunction(function=_launch_setup)])
