"""Tracks ↔ vision_msgs / finetrack_ros messages (finetrack_ros.messages).

Built with the real rclpy message classes, and detections read back through the frame path's
ClassTable.
"""
from __future__ import annotations

import numpy as np
import pytest
from ros_helpers import ros_install  # noqa: F401  (fixture)

from finetrack_ros import messages as m
from finetrack_ros.frame_path import ClassTable, detections_from_msg
from finetrack_ros.tracker import ByteTracker, TrackerConfig, TrackerInput

pytestmark = pytest.mark.ros


@pytest.fixture
def rclpy_type(ros_install):  # noqa: F811
    from finetrack_ros.ros.rclpy_types import rclpy_type

    return rclpy_type


def two_tracks():
    """Tracks of two boxes followed for 3 frames, moving +4 px/frame in x."""
    tracker = ByteTracker(TrackerConfig())
    for frame in range(3):
        boxes = np.array([[10, 20, 50, 120], [200, 30, 240, 130]], np.float32)
        boxes[:, [0, 2]] += 4 * frame
        tracks = tracker.update(TrackerInput(boxes, np.array([0.9, 0.8], np.float32),
                                np.array([0, 1]), None))
    return tracks


def test_tracks_to_detection_array(rclpy_type):
    from std_msgs.msg import Header

    header = Header(frame_id="cam")
    header.stamp.sec = 12
    names = ClassTable(["person", "bike"])
    msg = m.tracks_to_detection_array(rclpy_type, header, two_tracks(), names.name)
    assert msg.header.frame_id == "cam" and msg.header.stamp.sec == 12
    by_id = {d.id: d for d in msg.detections}
    assert set(by_id) == {"1", "2"}
    first = by_id["1"]
    assert first.results[0].hypothesis.class_id == "person"
    assert first.results[0].hypothesis.score == pytest.approx(0.9)
    assert first.bbox.center.position.x == pytest.approx(38, abs=2)  # (18 + 58) / 2
    assert first.bbox.size_x == pytest.approx(40, abs=2)
    assert by_id["2"].results[0].hypothesis.class_id == "bike"


def test_tracked_objects_velocity_in_pixels_per_second(rclpy_type):
    from std_msgs.msg import Header

    tracks = two_tracks()
    tracks[0].feature = np.ones(4, np.float32) / 2
    names = ClassTable(["person", "bike"])
    msg = m.tracks_to_tracked_objects(rclpy_type, Header(), tracks, names.name, 10.0, True)
    obj = next(o for o in msg.objects if o.track_id == tracks[0].track_id)
    assert obj.velocity_x == pytest.approx(tracks[0].velocity_xy[0] * 10.0)
    assert obj.state == obj.STATE_TRACKED and obj.class_id == "person"
    assert list(obj.embedding) == pytest.approx([0.5] * 4)
    no_emb = m.tracks_to_tracked_objects(rclpy_type, Header(), tracks, names.name, 10.0, False)
    assert all(len(o.embedding) == 0 for o in no_emb.objects)


def test_detection_array_round_trip_and_class_table(rclpy_type):
    from std_msgs.msg import Header

    names = ClassTable(["person"])
    msg = m.tracks_to_detection_array(rclpy_type, Header(), two_tracks(), lambda i: ["person",
                                                                                 "cyclist"][i])
    msg.detections[0].results = []  # a detector that sends no hypothesis
    dets, dropped = detections_from_msg(msg, names)
    assert dropped == 0
    assert dets.boxes_xyxy.shape == (2, 4) and dets.scores[0] == 1.0
    assert names.name(int(dets.class_ids[1])) == "cyclist"  # learned, published back
    assert names.index("3") == 3 and names.index("person") == 0


def test_label_info(rclpy_type):
    from std_msgs.msg import Header

    info = m.label_info_msg(rclpy_type, Header(), ["person", "car"], 0.25)
    assert [(c.class_id, c.class_name) for c in info.class_map] == [(0, "person"), (1, "car")]
    assert info.threshold == pytest.approx(0.25)
