"""People on the ground as output messages: vision_msgs/Detection3DArray (no ROS import).

The node's ``~/tracks_3d`` (and any offline writer) builds its message here, from the
:class:`~finetrack_ros.world.PersonInWorld` list of :class:`~finetrack_ros.world.WorldStep`
and the frame's tracks, with message classes from a ``rosbags`` Typestore or the node's
``rclpy_type`` (as :mod:`finetrack_ros.messages`).

vision_msgs/Detection3D mapping: ``header.frame_id`` = the target frame; ``id`` =
str(track_id); ``results[0].hypothesis`` = class name and detection score, its pose the box
centre; ``bbox.center`` = the person's ground position raised by half ``height`` (the box
stands on the ground), orientation identity; ``bbox.size`` = (2 radius, 2 radius, height).
A person without a ground position (NaN) is left out.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from finetrack_ros.messages import message_class
from finetrack_ros.world.camera import Pose
from finetrack_ros.world.step import PersonInWorld


@dataclass(frozen=True)
class PersonShape:
    """The box drawn around each person (node parameters ``world.person_*``).

    Attributes:
        height: box height, metres (from the ground up).
        radius: half the box width and depth, metres (the cylinder's radius on ~/markers).
    """

    height: float = 1.7
    radius: float = 0.3

    @classmethod
    def from_params(cls, flat: dict) -> "PersonShape":
        return cls(float(flat["world.person_height"]), float(flat["world.person_radius"]))


def people_in_frame(people: Sequence[PersonInWorld], parent_from_ground: Pose
                    ) -> list[PersonInWorld]:
    """Positions and velocities of ``people`` (ground frame) in another frame."""
    out = []
    for person in people:
        position = parent_from_ground.apply(np.asarray(person.position)[None])[0]
        velocity = parent_from_ground.rotation @ np.asarray(person.velocity, np.float64)
        out.append(PersonInWorld(person.track_id, position, velocity, person.measured))
    return out


def on_ground(person: PersonInWorld) -> bool:
    """Return True when the person has a finite position."""
    return bool(np.isfinite(person.position).all())


def _pose(types: Any, xyz: Sequence[float]) -> Any:
    point = message_class(types, "geometry_msgs/msg/Point")(
        x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2]))
    quaternion = message_class(types, "geometry_msgs/msg/Quaternion")(x=0.0, y=0.0, z=0.0,
                                                                       w=1.0)
    return message_class(types, "geometry_msgs/msg/Pose")(position=point,
                                                          orientation=quaternion)


def detection3d_msg(types: Any, header: Any, person: PersonInWorld, class_name: str,
                    score: float, shape: PersonShape) -> Any:
    """vision_msgs/Detection3D of one person (see the module docstring)."""
    x, y, z = map(float, person.position)
    center = _pose(types, (x, y, z + shape.height / 2))
    size = message_class(types, "geometry_msgs/msg/Vector3")(
        x=2 * shape.radius, y=2 * shape.radius, z=float(shape.height))
    hypothesis = message_class(types, "vision_msgs/msg/ObjectHypothesis")(
        class_id=class_name, score=float(score))
    with_covariance = message_class(types, "geometry_msgs/msg/PoseWithCovariance")(
        pose=_pose(types, (x, y, z + shape.height / 2)), covariance=np.zeros(36, np.float64))
    result = message_class(types, "vision_msgs/msg/ObjectHypothesisWithPose")(
        hypothesis=hypothesis, pose=with_covariance)
    bbox = message_class(types, "vision_msgs/msg/BoundingBox3D")(center=center, size=size)
    return message_class(types, "vision_msgs/msg/Detection3D")(
        header=header, results=[result], bbox=bbox, id=str(int(person.track_id)))


def detection3d_array_msg(types: Any, header: Any, people: Sequence[PersonInWorld],
                          tracks: Sequence, class_name: Callable[[int], str],
                          shape: PersonShape) -> Any:
    """vision_msgs/Detection3DArray of the people on the ground.

    Args:
        header: the output header (target frame, image stamp).
        people: one per track, in the order of ``tracks`` (``WorldStep.process``).
        tracks: the frame's tracks (``class_id``, ``score``).
        class_name: class index → name.
    """
    detections = [detection3d_msg(types, header, person, class_name(int(track.class_id)),
                                  track.score, shape)
                  for person, track in zip(people, tracks, strict=True) if on_ground(person)]
    return message_class(types, "vision_msgs/msg/Detection3DArray")(header=header,
                                                                    detections=detections)
