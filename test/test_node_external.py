"""finetrack_node in external-detections mode, in a subprocess, with real rclpy.

Images plus vision_msgs/Detection2DArray of two moving boxes go in; ~/tracks must keep one
id per box, ignore unpaired messages, survive bad frames, reset on a backwards time jump,
and subscribe images best-effort by default.
"""
from __future__ import annotations

import re

import pytest
from node_helpers import (
    NODE,
    detections_msg,
    get_parameters,
    image_msg,
    node_command,
    set_parameters,
    stamp_of,
)
from ros_helpers import (  # noqa: F401  (fixtures)
    MessageCollector,
    rclpy_node,
    ros_install,
    running_process,
    wait_for_subscribers,
)

pytestmark = pytest.mark.ros

IMAGE_TOPIC = "/ext_cam/image_raw"
DETECTIONS_TOPIC = "/ext_cam/detections"
TRACKS_TOPIC = f"{NODE}/tracks"
# Wait for one reply before sending again (a best-effort frame may be lost), s.
REPLY_TIMEOUT_S = 6.0
SEND_ATTEMPTS = 3
# bad frames get no reply: resend one this often (s), this many times, until it is logged
RESEND_PERIOD_S = 2.0
RESENDS = 10
STEP_PX = 6  # box motion per frame, pixels


@pytest.fixture(scope="module")
def node_process(ros_install):  # noqa: F811
    command = node_command(
        ros_install, "-p", "autostart:=true", "-p", "external_detections:=true",
        "-p", "reid.checkpoint:=random", "-p", "reid.crop_size:=[64,32]",
        "-p", "tracker.use_appearance:=true", "-p", "device:=cpu",
        "-r", f"image:={IMAGE_TOPIC}", "-r", f"detections:={DETECTIONS_TOPIC}")
    with running_process(command) as proc:
        yield proc


@pytest.fixture
def link(rclpy_node, node_process):  # noqa: F811
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray

    images = rclpy_node.node.create_publisher(Image, IMAGE_TOPIC, 10)
    detections = rclpy_node.node.create_publisher(Detection2DArray, DETECTIONS_TOPIC, 10)
    tracks = MessageCollector(rclpy_node, Detection2DArray, TRACKS_TOPIC)
    wait_for_subscribers(rclpy_node, images, timeout=60.0)  # torch import + Re-ID build
    wait_for_subscribers(rclpy_node, detections)
    rclpy_node.spin_until(lambda: rclpy_node.node.count_publishers(TRACKS_TOPIC) >= 1,
                          what=f"publisher on {TRACKS_TOPIC}")
    node_process.assert_running()
    return images, detections, tracks


def boxes_at(frame: int) -> list[tuple[float, float, float, float]]:
    """Two 40x100 boxes moving right by STEP_PX per frame (xyxy pixels)."""
    dx = STEP_PX * frame
    return [(30 + dx, 60, 70 + dx, 160), (190 + dx, 70, 230 + dx, 170)]


def replies(collector, image) -> list:
    return [m for m in collector.messages if stamp_of(m) == stamp_of(image)]


def send_frame(test_node, link, image, dets):
    """Publish an image and its detections until the node replies on ~/tracks."""
    images, detections, tracks = link
    for _ in range(SEND_ATTEMPTS):
        detections.publish(dets)
        images.publish(image)
        try:
            test_node.spin_until(lambda: replies(tracks, image), REPLY_TIMEOUT_S, "tracks")
        except pytest.fail.Exception:
            continue
        return replies(tracks, image)[0]
    pytest.fail(f"no ~/tracks reply for stamp {stamp_of(image)}", pytrace=False)


def test_same_id_per_object_and_unpaired_messages_ignored(rclpy_node, link):  # noqa: F811
    images, detections, tracks = link
    ids_left, ids_right = set(), set()
    for frame in range(8):
        image = image_msg(1000 + frame)
        reply = send_frame(rclpy_node, link, image, detections_msg(image.header,
                                                                   boxes_at(frame)))
        assert reply.header.frame_id == "cam"
        by_x = sorted(reply.detections, key=lambda d: d.bbox.center.position.x)
        assert len(by_x) == 2, f"frame {frame}: {len(by_x)} tracks"
        for det, box in zip(by_x, boxes_at(frame), strict=True):
            assert abs(det.bbox.center.position.x - (box[0] + box[2]) / 2) < 3 * STEP_PX
            assert det.results[0].hypothesis.class_id == "person"
        ids_left.add(by_x[0].id)
        ids_right.add(by_x[1].id)
        # unpaired: an image whose detections never come, detections without an image
        lonely_image = image_msg(1000 + frame, frame_id="lonely")
        lonely_image.header.stamp.nanosec = 700_000_000
        images.publish(lonely_image)
        lonely_dets = detections_msg(image_msg(1000 + frame).header, boxes_at(frame))
        lonely_dets.header.stamp.nanosec = 800_000_000
        detections.publish(lonely_dets)
    assert len(ids_left) == 1 and len(ids_right) == 1, (ids_left, ids_right)
    assert ids_left != ids_right
    rclpy_node.spin_for(0.5)
    assert all(m.header.stamp.nanosec == 500_000_000 for m in tracks.messages)


def test_image_subscription_is_best_effort_by_default(rclpy_node, link):  # noqa: F811
    from rclpy.qos import ReliabilityPolicy

    infos = rclpy_node.node.get_subscriptions_info_by_topic(IMAGE_TOPIC)
    # the node is the only subscriber (graph node names may still read _NODE_NAME_UNKNOWN_)
    assert len(infos) == 1, f"expected the node's one subscription on {IMAGE_TOPIC}: {infos}"
    mine = infos
    assert mine[0].qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT


def test_bad_frames_are_logged_counted_and_skipped(rclpy_node, link, node_process):  # noqa
    from sensor_msgs.msg import Image

    images, detections, tracks = link
    bad_encoding = Image(height=2, width=2, encoding="32FC1", step=8, data=bytes(16))
    empty = Image(height=0, width=0, encoding="bgr8", step=0)
    for count, (sec, bad) in enumerate(((2000, bad_encoding), (2001, empty)), start=1):
        bad.header.stamp.sec = sec
        # one at a time (the image queue holds one frame); best effort may drop a message,
        # so resend until the node has seen it
        for _ in range(RESENDS):
            detections.publish(detections_msg(bad.header, boxes_at(0)))
            images.publish(bad)
            rclpy_node.spin_for(RESEND_PERIOD_S)
            if node_process.output().count("skipping bad frame") >= count:
                break
    log = node_process.output()
    counts = [int(n) for n in re.findall(r"(\d+) bad so far", log)]
    assert "32FC1" in log and counts and max(counts) >= 2, log
    assert not [m for m in tracks.messages if m.header.stamp.sec in (2000, 2001)]
    image = image_msg(2002)
    assert send_frame(rclpy_node, link, image, detections_msg(image.header, boxes_at(0)))
    node_process.assert_running()


def test_time_jump_backwards_resets_the_tracker(rclpy_node, link, node_process):  # noqa: F811
    for sec in (3000, 3001, 5):  # 5 s: the bag looped
        image = image_msg(sec)
        reply = send_frame(rclpy_node, link, image, detections_msg(image.header,
                                                                   boxes_at(0)))
    assert "time jumped backwards" in node_process.output()
    assert sorted(int(d.id) for d in reply.detections) == [1, 2]  # ids restart


def test_tracker_thresholds_change_at_run_time_others_do_not(rclpy_node, link):  # noqa: F811
    ok, = set_parameters(rclpy_node, {"tracker.match_thresh": 0.6})
    assert ok.successful, ok.reason
    assert get_parameters(rclpy_node, ["tracker.match_thresh"]) == {"tracker.match_thresh": 0.6}
    rejected, = set_parameters(rclpy_node, {"detector.size": "m"})
    assert not rejected.successful and "configure" in rejected.reason
    out_of_range, = set_parameters(rclpy_node, {"tracker.track_thresh": 1.5})
    assert not out_of_range.successful


def test_label_info_grows_with_a_learnt_class_name(rclpy_node, link):  # noqa: F811
    from rclpy.qos import DurabilityPolicy, QoSProfile
    from vision_msgs.msg import LabelInfo

    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    label_info = MessageCollector(rclpy_node, LabelInfo, f"{NODE}/label_info", latched)
    label_info.wait_for_count(1)
    image = image_msg(4000)
    reply = send_frame(rclpy_node, link, image, detections_msg(image.header, boxes_at(0),
                                                               class_name="forklift"))
    assert reply.detections[0].results[0].hypothesis.class_id == "forklift"
    infos = label_info.wait_for(
        lambda msgs: any("forklift" in [c.class_name for c in m.class_map] for m in msgs),
        what="a LabelInfo naming the learnt class")
    learnt = [m for m in infos if "forklift" in [c.class_name for c in m.class_map]][0]
    names = {c.class_id: c.class_name for c in learnt.class_map}
    assert names[0] == "person" and names[len(names) - 1] == "forklift"
