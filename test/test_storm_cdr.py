"""Detection2DArray read from its CDR bytes equals the message's own fields (issue 22).

The node subscribes detections raw so that a 20,000-box storm is never turned into 20,000
Python message objects; the reader must give exactly what ``detection_array_to_numpy`` gives
for the deserialized message, on every layout (no results, several results, strings of any
length, both byte orders), and refuse bytes that are not such a message with a clear error.
"""
from __future__ import annotations

import numpy as np
import pytest

from finetrack_ros.bag.typestore import build_typestore
from finetrack_ros.detection_cdr import parse_detection_array
from finetrack_ros.messages import detection_array_to_numpy

TYPE = "vision_msgs/msg/Detection2DArray"
STORE = build_typestore()


def _cls(name: str):
    return STORE.types[name]


def random_array(rng, count: int):
    """Return a Detection2DArray (rosbags classes) with every field drawn at random."""
    header_cls, time_cls = _cls("std_msgs/msg/Header"), _cls("builtin_interfaces/msg/Time")
    texts = ["", "person", "3", "²", "x" * int(rng.integers(0, 300)), "héllo wörld"]

    def header():
        return header_cls(stamp=time_cls(sec=int(rng.integers(-2**31, 2**31)),
                                         nanosec=int(rng.integers(0, 2**32))),
                          frame_id=str(rng.choice(texts)))

    def result():
        pose = _cls("geometry_msgs/msg/PoseWithCovariance")(
            pose=_cls("geometry_msgs/msg/Pose")(
                position=_cls("geometry_msgs/msg/Point")(x=1.0, y=2.0, z=3.0),
                orientation=_cls("geometry_msgs/msg/Quaternion")(x=0.0, y=0.0, z=0.0, w=1.0)),
            covariance=rng.normal(size=36))
        hypothesis = _cls("vision_msgs/msg/ObjectHypothesis")(
            class_id=str(rng.choice(texts)), score=float(rng.choice([rng.random(), np.nan,
                                                                     -np.inf, 1e308])))
        return _cls("vision_msgs/msg/ObjectHypothesisWithPose")(hypothesis=hypothesis, pose=pose)

    detections = []
    for _ in range(count):
        values = rng.normal(100, 80, 5)
        values[rng.random(5) < 0.05] = np.nan
        bbox = _cls("vision_msgs/msg/BoundingBox2D")(
            center=_cls("vision_msgs/msg/Pose2D")(
                position=_cls("vision_msgs/msg/Point2D")(x=values[0], y=values[1]),
                theta=values[2]),
            size_x=values[3], size_y=values[4])
        detections.append(_cls("vision_msgs/msg/Detection2D")(
            header=header(), results=[result() for _ in range(int(rng.integers(0, 3)))],
            bbox=bbox, id=str(rng.choice(texts))))
    return _cls(TYPE)(header=header(), detections=detections)


def assert_same(parsed, msg):
    want = detection_array_to_numpy(msg)
    np.testing.assert_array_equal(parsed.boxes_xyxy, want["boxes_xyxy"])
    np.testing.assert_array_equal(parsed.scores, want["scores"])
    assert parsed.class_names == want["class_names"] and parsed.ids == want["ids"]
    assert (parsed.header.stamp.sec, parsed.header.stamp.nanosec, parsed.header.frame_id) == \
        (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id)


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("little_endian", [True, False])
def test_bytes_read_as_the_message_fields(seed, little_endian):
    rng = np.random.default_rng(seed)
    msg = random_array(rng, int(rng.integers(0, 40)))
    data = bytes(STORE.serialize_cdr(msg, TYPE, little_endian=little_endian))
    assert_same(parse_detection_array(data), msg)


def test_a_20000_box_storm_reads_into_arrays():
    rng = np.random.default_rng(22)
    msg = random_array(rng, 20_000)
    parsed = parse_detection_array(bytes(STORE.serialize_cdr(msg, TYPE)))
    assert parsed.boxes_xyxy.shape == (20_000, 4)
    assert_same(parsed, msg)


@pytest.mark.parametrize("cut", [0, 3, 4, 10, 50, -1])
def test_truncated_bytes_are_refused_naming_the_offset(cut):
    data = bytes(STORE.serialize_cdr(random_array(np.random.default_rng(1), 3), TYPE))
    with pytest.raises(ValueError, match="detections message: "):
        parse_detection_array(data[:cut] if cut >= 0 else data[:-5])


def test_a_count_that_cannot_fit_is_refused_before_any_loop():
    data = bytearray(STORE.serialize_cdr(random_array(np.random.default_rng(2), 0), TYPE))
    data[-4:] = (2**32 - 1).to_bytes(4, "little")  # the detections count
    with pytest.raises(ValueError, match="4294967295 detections cannot fit in 0 bytes"):
        parse_detection_array(bytes(data))


def test_other_encodings_are_refused():
    with pytest.raises(ValueError, match="not CDR-encoded"):
        parse_detection_array(b"\x00\x07\x00\x00" + bytes(16))
