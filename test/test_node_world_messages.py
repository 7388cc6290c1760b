"""The node's 3D messages without ROS.

Detection3DArray and the TrackedObject world fields built with rosbags classes (which need
every field given), people moved between frames, the rviz layout.
"""
from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from finetrack_ros import messages
from finetrack_ros.world import PersonInWorld, Pose
from finetrack_ros.world.outputs import PersonShape, detection3d_array_msg, people_in_frame

REPO = Path(__file__).resolve().parents[1]
UNDERLAY_MSGS = REPO / "ci" / "underlay" / "vision_msgs" / "msg"


@pytest.fixture(scope="module")
def store():
    typesys = pytest.importorskip("rosbags.typesys")
    from finetrack_ros.bag.typestore import msg_types_from_dir, vision_msgs_types

    store = typesys.get_typestore(typesys.Stores.ROS2_KILTED)
    store.register(vision_msgs_types())
    store.register(msg_types_from_dir("vision_msgs", UNDERLAY_MSGS))  # + the 3D messages
    store.register(msg_types_from_dir("finetrack_ros", REPO / "msg"))
    return store


def track(track_id, class_id=0, score=0.8):
    return SimpleNamespace(track_id=track_id, class_id=class_id, score=score, state="TRACKED",
                           velocity_xy=np.zeros(2), age=3, frames_since_update=0,
                           feature=None, xyxy=np.array([10.0, 20.0, 40.0, 90.0]))


def person(track_id, xyz, v=(0.0, 0.0, 0.0)):
    return PersonInWorld(track_id, np.array(xyz, float), np.array(v, float), True)


def test_detection3d_array_stands_each_person_on_the_ground(store):
    header = messages.make_header(store, 5_000_000_000, "odom")
    people = [person(7, (4.0, 0.5, 0.0)), person(8, (np.nan, np.nan, np.nan))]
    msg = detection3d_array_msg(store, header, people, [track(7), track(8, 1, 0.4)],
                                ["person", "forklift"].__getitem__, PersonShape(1.8, 0.25))
    assert msg.header.frame_id == "odom"
    (det,) = msg.detections  # no ground position: left out
    assert det.id == "7"
    assert (det.results[0].hypothesis.class_id, det.results[0].hypothesis.score) == \
        ("person", pytest.approx(0.8))
    c = det.bbox.center.position
    assert (c.x, c.y, c.z) == pytest.approx((4.0, 0.5, 0.9))
    assert (det.bbox.size.x, det.bbox.size.y, det.bbox.size.z) == pytest.approx((0.5, 0.5, 1.8))
    assert det.bbox.center.orientation.w == 1.0


def test_tracked_objects_carry_world_fields_or_nan(store):
    header = messages.make_header(store, 5_000_000_000, "cam")
    world = {7: person(7, (1.0, 2.0, 0.0), (0.5, -0.25, 0.0))}
    msg = messages.tracks_to_tracked_objects(store, header, [track(7), track(9)],
                                             ["person"].__getitem__, 30.0, False, world, "map")
    seen, lost = msg.objects
    assert seen.world_frame_id == "map"
    assert (seen.world_position.x, seen.world_position.y) == (1.0, 2.0)
    assert (seen.world_velocity.x, seen.world_velocity.y) == (0.5, -0.25)
    assert math.isnan(lost.world_position.x) and math.isnan(lost.world_velocity.z)
    off = messages.tracks_to_tracked_objects(store, header, [track(7)],
                                             ["person"].__getitem__, 30.0, False)
    assert off.objects[0].world_frame_id == "" and math.isnan(off.objects[0].world_position.y)


def test_people_in_another_frame_turn_velocity_but_do_not_move_it():
    quarter = Pose.from_xyzw([10.0, 0.0, 0.0], [0.0, 0.0, math.sin(math.pi / 4),
                                                 math.cos(math.pi / 4)])  # 90° about z
    (moved,) = people_in_frame([person(1, (1.0, 0.0, 0.0), (1.0, 0.0, 0.0))], quarter)
    np.testing.assert_allclose(moved.position, [10.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(moved.velocity, [0.0, 1.0, 0.0], atol=1e-12)


def test_rviz_config_shows_the_markers():
    config = yaml.safe_load((REPO / "config" / "finetrack.rviz").read_text())
    displays = config["Visualization Manager"]["Displays"]
    markers = [d for d in displays if d["Class"] == "rviz_default_plugins/MarkerArray"]
    assert markers and markers[0]["Topic"]["Value"] == "finetrack_node/markers"
    source = (REPO / "finetrack_ros" / "ros" / "world_outputs.py").read_text()
    assert '"~/markers"' in source
