"""A rosbags typestore for ROS 2 Kilted plus vision_msgs 4.x and finetrack_ros messages.

No ROS install is needed: the vision_msgs definitions are kept here as ``.msg`` text (the
fields of vision_msgs 4.x, the release shipped with Humble and later), and the finetrack_ros
definitions are read from the package's ``msg/*.msg`` files.
"""
from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

# The ROS 2 distribution whose standard messages (std_msgs, sensor_msgs, ...) bags use.
ROS_DISTRO_STORE = Stores.ROS2_KILTED

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE_TYPE = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"
DETECTION_ARRAY_TYPE = "vision_msgs/msg/Detection2DArray"
DETECTION3D_ARRAY_TYPE = "vision_msgs/msg/Detection3DArray"
TF_MESSAGE_TYPE = "tf2_msgs/msg/TFMessage"
TRACKED_OBJECT_ARRAY_TYPE = "finetrack_ros/msg/TrackedObjectArray"

# vision_msgs 4.x, only the messages the 2-D pipeline and ~/tracks_3d use (and what they
# depend on); the 3-D texts are those of ci/underlay/vision_msgs.
VISION_MSGS_DEFS: dict[str, str] = {
    "Point2D": """\
# Represents a 2-D point in pixel coordinates.
float64 x
float64 y
""",
    "Pose2D": """\
# Represents a 2-D pose: position in pixels and orientation in radians.
vision_msgs/Point2D position
float64 theta
""",
    "BoundingBox2D": """\
# A 2D bounding box that can be rotated about its center.
# All dimensions are in pixels, but represented using floating-point
#   values to allow sub-pixel precision.

# The 2D position (in pixels) and orientation of the bounding box center.
vision_msgs/Pose2D center

# The total size (in pixels) of the bounding box surrounding the object relative
#   to the pose of its center.
float64 size_x
float64 size_y
""",
    "ObjectHypothesis": """\
# An object hypothesis that contains no pose information.
# The unique ID of the object class.
string class_id
# The probability or confidence value of the detected object.
float64 score
""",
    "ObjectHypothesisWithPose": """\
# An object hypothesis that contains pose information.
vision_msgs/ObjectHypothesis hypothesis
# The 6D pose of the object hypothesis.
geometry_msgs/PoseWithCovariance pose
""",
    "Detection2D": """\
# Defines a 2D detection result.
std_msgs/Header header
# Class probabilities
vision_msgs/ObjectHypothesisWithPose[] results
# 2D bounding box surrounding the object.
vision_msgs/BoundingBox2D bbox
# ID used for consistency across multiple detection messages. Detections
# of the same object in different detection messages should have the same id.
# This field may be empty.
string id
""",
    "Detection2DArray": """\
# A list of 2D detections, for a multi-object 2D detector.
std_msgs/Header header
# A list of the detected proposals.
vision_msgs/Detection2D[] detections
""",
    "BoundingBox3D": """\
# A 3-D bounding box that may be positioned and rotated about its center (6 DOF).
# All values are in metres, in the frame of the message that holds the box.

# Position and orientation of the box center.
geometry_msgs/Pose center

# Full size of the box along its own x, y and z axes (metres), about its center pose.
geometry_msgs/Vector3 size
""",
    "Detection3D": """\
# One 3-D detection: class hypotheses and the box around the object.

std_msgs/Header header

# Class hypotheses; classes not listed have score 0. May be empty.
vision_msgs/ObjectHypothesisWithPose[] results

# Box around the object, metres.
vision_msgs/BoundingBox3D bbox

# Identity of the object, kept across messages by a tracker; may be empty.
string id
""",
    "Detection3DArray": """\
# The 3-D detections of one input (frame, scan), for a multi-object 3-D detector or tracker.

std_msgs/Header header

# The detections; may be empty.
vision_msgs/Detection3D[] detections
""",
}


def finetrack_msg_dir() -> Path:
    """Return the directory with finetrack_ros's ``.msg`` files.

    Looked up, in order: ``$FINETRACK_MSG_DIR``; ``msg/`` inside the installed package
    (package data); ``msg/`` beside the package (source checkout / editable install);
    ``share/finetrack_ros/msg`` under ``sys.prefix`` (pip ``data_files``) and under
    ``$AMENT_PREFIX_PATH`` (colcon install).

    Raises:
        FileNotFoundError: when none of these holds ``TrackedObject.msg``.
    """
    package_dir = Path(__file__).resolve().parents[1]
    candidates = []
    if os.environ.get("FINETRACK_MSG_DIR"):
        candidates.append(Path(os.environ["FINETRACK_MSG_DIR"]))
    candidates += [package_dir / "msg", package_dir.parent / "msg"]
    prefixes = [sys.prefix] + os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)
    for prefix in prefixes:
        if prefix:
            candidates.append(Path(prefix) / "share" / "finetrack_ros" / "msg")
    for candidate in candidates:
        if (candidate / "TrackedObject.msg").is_file():
            return candidate
    raise FileNotFoundError(
        "finetrack_ros message definitions (TrackedObject.msg) not found in any of: "
        + ", ".join(str(c) for c in candidates)
    )


def msg_types_from_dir(package: str, msg_dir: Path) -> dict:
    """Parse every ``<msg_dir>/*.msg`` as ``<package>/msg/<Stem>`` into rosbags type dicts."""
    types: dict = {}
    for path in sorted(Path(msg_dir).glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"{package}/msg/{path.stem}"))
    return types


def vision_msgs_types() -> dict:
    """Return the vision_msgs 4.x definitions of :data:`VISION_MSGS_DEFS` as rosbags type dicts."""
    types: dict = {}
    for name, text in VISION_MSGS_DEFS.items():
        types.update(get_types_from_msg(text, f"vision_msgs/msg/{name}"))
    return types


@lru_cache(maxsize=1)
def build_typestore() -> Typestore:
    """ROS 2 Kilted standard types + vision_msgs + finetrack_ros, built once per process."""
    store = get_typestore(ROS_DISTRO_STORE)
    store.register(vision_msgs_types())
    store.register(msg_types_from_dir("finetrack_ros", finetrack_msg_dir()))
    return store
