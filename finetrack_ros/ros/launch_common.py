"""Pieces shared by finetrack.launch.py and finetrack_bag_eval.launch.py (not a launch file).

The launch files import this module (the install is sourced for ``ros2 launch``). It checks
the launch arguments
before anything starts (a bad value ends the launch at once, with one line naming the
argument), picks the params file and weights, and builds ``finetrack_node`` as a
``LifecycleNode`` driven by lifecycle events: configure when the process has started,
activate when it is inactive, the caller's actions when it is active. A failed configure, or
the node exiting, ends the launch (non-zero when it failed), so no launch keeps running
around a dead or unconfigured node and no node outlives its launch.
"""
import os
import shutil

from ament_index_python.packages import (
    PackageNotFoundError,
    get_package_prefix,
    get_package_share_directory,
)
from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    LogInfo,
    OpaqueFunction,
    RegisterEventHandler,
    SetEnvironmentVariable,
)
from launch.event_handlers import OnProcessExit, OnProcessStart
from launch.events import Shutdown, matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from lifecycle_msgs.msg import Transition

from finetrack_ros.inference.options import BACKENDS, PRECISIONS
from finetrack_ros.package_paths import (
    DEMO_DETECTOR,
    DEMO_PARAMS,
    DEMO_REID,
    PACKAGE,
    PROFILE_FILE,
    PROFILE_VARIABLE,
)

NODE_NAME = "finetrack_node"
LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")
TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")
FULL_PARAMS = "finetrack.yaml"

# (name, default, description) of the node's launch arguments: deployment settings only;
# algorithm parameters live in the params file.
NODE_ARGUMENTS = [
    ("image_topic", "/camera/image_raw", "sensor_msgs/Image topic (its /compressed sibling "
     "is used when image_transport is compressed); relative names resolve in namespace"),
    ("detections_topic", "/detections", "vision_msgs/Detection2DArray topic of an external "
     "detector (with external_detections:=true)"),
    ("params_file", "", "ROS 2 parameter file of the node; empty: config/demo.yaml with the "
     "shipped demo weights when no weights are given, else config/finetrack.yaml"),
    ("detector_weights", "", "YOLOX checkpoint; empty: the params file's detector.checkpoint "
     "(the shipped demo weights with the default params file)"),
    ("reid_weights", "", "FineTrack Re-ID checkpoint; empty: the params file's "
     "reid.checkpoint (the shipped demo weights with the default params file)"),
    ("device", "", "torch device (auto, cpu, cuda, cuda:1); empty keeps the params file's"),
    ("backend", "", " or ".join(BACKENDS) + " (weights may then be .onnx files of finetrack "
     "export onnx); empty keeps the params file's"),
    ("precision", "", ", ".join(PRECISIONS) + " (bf16: torch; fp16: torch on CUDA; int8: "
     "onnxruntime, int8 .onnx files); empty keeps the params file's"),
    ("namespace", "", "namespace of the node (and rviz)"),
    ("external_detections", "false", "track detections from detections_topic instead of "
     "running YOLOX"),
    ("log_level", "info", "node log level: " + ", ".join(LOG_LEVELS)),
    ("large_images_profile", "true", "set FASTDDS_DEFAULT_PROFILES_FILE to config/"
     "fastdds_large_images.xml for the processes this launch starts, unless already set "
     "(Fast DDS loses most best-effort frames over 0.5 MB without it; docs/node.md, QoS notes)"),
]


class LaunchArgumentError(RuntimeError):
    """A launch argument or a required program is wrong or missing (ends the launch)."""


def declare(arguments):
    """``DeclareLaunchArgument`` actions of (name, default, description) rows."""
    return [DeclareLaunchArgument(name, default_value=default, description=text)
            for name, default, text in arguments]


def values(context, arguments):
    """``{name: value}`` of the given argument rows, substitutions performed."""
    return {name: LaunchConfiguration(name).perform(context) for name, _, _ in arguments}


def as_bool(args, name):
    """Read the boolean launch argument ``name``; LaunchArgumentError on other words."""
    text = args[name].strip().lower()
    if text not in TRUE_WORDS + FALSE_WORDS:
        raise LaunchArgumentError(f"{name}:={args[name]} is not a boolean: use true or false")
    return text in TRUE_WORDS


def check_node_arguments(args):
    """Raise LaunchArgumentError naming the argument for a bad log level or params file."""
    if args["log_level"].strip().lower() not in LOG_LEVELS:
        raise LaunchArgumentError(f"log_level:={args['log_level']} is not a log level: use "
                                  f"one of {', '.join(LOG_LEVELS)}")
    as_bool(args, "external_detections")
    as_bool(args, "large_images_profile")
    if args["params_file"] and not os.path.isfile(args["params_file"]):
        raise LaunchArgumentError(f"params_file:={args['params_file']}: no such file")


def namespace_prefix(namespace):
    """``robot1`` → ``/robot1``; empty → empty (topic names are ``prefix/node/topic``)."""
    namespace = namespace.strip().strip("/")
    return f"/{namespace}" if namespace else ""


def params_and_overrides(args, use_sim_time):
    """(params file, parameter overrides, demo?) from the launch arguments.

    With no params_file and no weights given the node runs the shipped demo weights with
    config/demo.yaml; an empty weights argument keeps the params file's value.
    """
    share = get_package_share_directory(PACKAGE)
    demo = not (args["params_file"] or args["detector_weights"] or args["reid_weights"])
    params_file = args["params_file"] or os.path.join(
        share, "config", DEMO_PARAMS if demo else FULL_PARAMS)
    overrides = {"autostart": False, "use_sim_time": use_sim_time,
                 "external_detections": as_bool(args, "external_detections")}
    weights = {"detector.checkpoint": (args["detector_weights"], DEMO_DETECTOR),
               "reid.checkpoint": (args["reid_weights"], DEMO_REID)}
    for name, (given, shipped) in weights.items():
        if given:
            overrides[name] = os.path.abspath(os.path.expanduser(given))
        elif demo:
            overrides[name] = os.path.join(share, "weights", shipped)
    for name in ("device", "backend", "precision"):  # the node checks the values
        if args[name]:
            overrides[name] = args[name]
    return params_file, overrides, demo


def transport_profile(args):
    """``SetEnvironmentVariable`` actions selecting the large-images Fast DDS profile."""
    if not as_bool(args, "large_images_profile") or os.environ.get(PROFILE_VARIABLE):
        return []
    path = os.path.join(get_package_share_directory(PACKAGE), "config", PROFILE_FILE)
    return [SetEnvironmentVariable(PROFILE_VARIABLE, path)]


def finetrack_node(args, use_sim_time=False):
    """(LifecycleNode action, LogInfo saying which params and weights) of the arguments."""
    check_node_arguments(args)
    params_file, overrides, demo = params_and_overrides(args, use_sim_time)
    image = args["image_topic"]
    node = LifecycleNode(
        package=PACKAGE, executable=NODE_NAME, name=NODE_NAME,
        namespace=namespace_prefix(args["namespace"]) or "", output="screen",
        parameters=[params_file, overrides],
        remappings=[("image", image), ("image/compressed", image + "/compressed"),
                    ("detections", args["detections_topic"])],
        ros_arguments=["--log-level", args["log_level"].strip().lower()],
    )
    what = ("the shipped DEMO weights (synthetic scenes only; pass detector_weights:= and "
            "reid_weights:= for a real camera)" if demo else "the given weights")
    return node, LogInfo(msg=f"finetrack_node: params {params_file}, {what}")


def lifecycle_handlers(node, on_active=()):
    """Build event handlers that configure and activate ``node``.

    They end the launch when it fails to configure (non-zero exit) or exits; ``on_active``
    runs once it is active.
    """
    def transition(transition_id):
        return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                           transition_id=transition_id))

    def on_state(start, goal, entities):
        return RegisterEventHandler(OnStateTransition(
            target_lifecycle_node=node, start_state=start, goal_state=goal,
            entities=entities))

    return [
        RegisterEventHandler(OnProcessStart(
            target_action=node, on_start=[transition(Transition.TRANSITION_CONFIGURE)])),
        on_state("configuring", "inactive", [transition(Transition.TRANSITION_ACTIVATE)]),
        on_state("configuring", "unconfigured", [OpaqueFunction(function=_configure_failed)]),
        on_state("activating", "active", [LogInfo(msg="finetrack_node is active"),
                                          *on_active]),
        RegisterEventHandler(OnProcessExit(
            target_action=node, on_exit=[OpaqueFunction(function=_node_exited)])),
    ]


def _configure_failed(context):
    raise LaunchArgumentError(f"{NODE_NAME} failed to configure (its error line above says "
                              "why); stopping the launch")


def _node_exited(context):
    if context.is_shutdown:
        return None
    code = context.locals.event.returncode
    if code != 0:
        raise LaunchArgumentError(f"{NODE_NAME} exited with code {code}; stopping the launch")
    return [EmitEvent(event=Shutdown(reason=f"{NODE_NAME} exited"))]


def require_program(name, package, hint):
    """Find executable ``name`` of ROS package ``package`` (None: on PATH).

    Raises LaunchArgumentError with ``hint`` when missing (before anything was started).
    """
    if package is None:
        found = shutil.which(name)
        if found:
            return found
        raise LaunchArgumentError(f"'{name}' not found on PATH: {hint}")
    try:
        path = os.path.join(get_package_prefix(package), "lib", package, name)
    except PackageNotFoundError:
        raise LaunchArgumentError(f"package '{package}' not found: {hint}") from None
    if not os.access(path, os.X_OK):
        raise LaunchArgumentError(f"{path} missing or not executable: {hint}")
    return path
