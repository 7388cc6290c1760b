"""The node never dies on a message (issue 12).

The real finetrack_node in a subprocess, real rclpy, every hostile input of the issue plus a
property-based fuzz of Image, CompressedImage and Detection2DArray fields. After each case
the node must be alive and track a good frame.
"""
from __future__ import annotations

import re
import string

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from node_helpers import NODE, RANDOM_MODELS, detections_msg, image_msg, node_command, stamp_of
from ros_helpers import (  # noqa: F401  (fixtures)
    MessageCollector,
    rclpy_node,
    ros_install,
    running_process,
    wait_for_subscribers,
)

pytestmark = pytest.mark.ros

EXT_IMAGE, EXT_DETECTIONS = "/hostile/image", "/hostile/detections"
# a second node runs YOLOX (random weights) on compressed images
DET_NODE = "hostile_detector"
DET_COMPRESSED = "/hostile_det/image/compressed"
TRACKS, DET_TRACKS = f"{NODE}/tracks", f"/{DET_NODE}/tracks"
REPLY_TIMEOUT_S = 8.0
GOOD_BOXES = [(30, 60, 70, 160), (190, 70, 230, 170)]
INT32_MIN, INT32_MAX, UINT32_MAX = -2**31, 2**31 - 1, 2**32 - 1


class GoodFrames:
    """Good frames with stamps far above anything the fuzz sends first (sec ~ 2e9)."""

    def __init__(self) -> None:
        self.sec = 2_000_000_000

    def next(self):
        self.sec += 10
        return image_msg(self.sec)


GOOD = GoodFrames()  # one stamp sequence for the whole module


def _external_node(install, extra=()):
    return node_command(
        install, "-p", "autostart:=true", "-p", "external_detections:=true",
        "-p", "image_qos:=reliable", "-p", "reid.checkpoint:=random",
        "-p", "reid.crop_size:=[64,32]", "-p", "device:=cpu", "-p", "num_threads:=1",
        "-r", f"image:={EXT_IMAGE}", "-r", f"detections:={EXT_DETECTIONS}", *extra)


@pytest.fixture(scope="module")
def external(ros_install):  # noqa: F811
    with running_process(_external_node(ros_install)) as proc:
        yield proc


@pytest.fixture
def ext_link(rclpy_node, external):  # noqa: F811
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray

    qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
    images = rclpy_node.node.create_publisher(Image, EXT_IMAGE, qos)
    detections = rclpy_node.node.create_publisher(Detection2DArray, EXT_DETECTIONS, qos)
    tracks = MessageCollector(rclpy_node, Detection2DArray, TRACKS)
    wait_for_subscribers(rclpy_node, images, timeout=60.0)
    wait_for_subscribers(rclpy_node, detections)
    rclpy_node.spin_until(lambda: rclpy_node.node.count_publishers(TRACKS) >= 1,
                          what=f"publisher on {TRACKS}")
    return images, detections, tracks, GOOD


def track_good_frames(test_node, link, proc, attempts: int = 3) -> list:
    """Two good frames in a row; the reply to the second (both boxes tracked)."""
    images, detections, tracks, good = link
    for _ in range(attempts):
        replies = []
        for _ in range(2):
            image = good.next()
            detections.publish(detections_msg(image.header, GOOD_BOXES))
            images.publish(image)
            try:
                test_node.spin_until(lambda: [m for m in tracks.messages
                                              if stamp_of(m) == stamp_of(image)],
                                     REPLY_TIMEOUT_S, "tracks of a good frame")
            except pytest.fail.Exception:
                proc.assert_running()
                break
            replies.append([m for m in tracks.messages if stamp_of(m) == stamp_of(image)][0])
        if len(replies) == 2 and len(replies[1].detections) == 2:
            return replies[1].detections
    proc.assert_running()
    pytest.fail(f"the node is alive but tracked no good frame; log:\n{proc.output()[-3000:]}",
                pytrace=False)


def _send_pair(link, image, dets) -> None:
    images, detections, _, _ = link
    detections.publish(dets)
    images.publish(image)


# --- the cases of the issue, one by one --------------------------------------------------
def test_negative_stamp(rclpy_node, ext_link, external):  # noqa: F811
    image = image_msg(5)
    image.header.stamp.sec = -5
    _send_pair(ext_link, image, detections_msg(image.header, GOOD_BOXES))
    rclpy_node.spin_until(lambda: "not a time" in external.output(), REPLY_TIMEOUT_S,
                          "the bad-stamp log line")
    assert len(track_good_frames(rclpy_node, ext_link, external)) == 2


@pytest.mark.parametrize("class_id", ["99999999999999999999", "²", "-1", " 7 ", "x" * 5000])
def test_hostile_class_ids(rclpy_node, ext_link, external, class_id):  # noqa: F811
    image = ext_link[3].next()
    _send_pair(ext_link, image, detections_msg(image.header, GOOD_BOXES, class_name=class_id))
    rclpy_node.spin_for(0.3)
    assert len(track_good_frames(rclpy_node, ext_link, external)) == 2


def test_invalid_boxes_are_dropped_and_counted(rclpy_node, ext_link, external):  # noqa: F811
    image = ext_link[3].next()
    dets = detections_msg(image.header, GOOD_BOXES + [(10, 10, 5, 5)])
    dets.detections[-1].bbox.size_x = float("nan")
    _send_pair(ext_link, image, dets)
    rclpy_node.spin_until(lambda: "invalid detection boxes" in external.output(),
                          REPLY_TIMEOUT_S, "the dropped-boxes log line")
    assert len(track_good_frames(rclpy_node, ext_link, external)) == 2


def test_a_stray_zero_stamp_does_not_wipe_the_tracks(rclpy_node, ext_link, external):  # noqa
    before = {d.id for d in track_good_frames(rclpy_node, ext_link, external)}
    stray = image_msg(0)
    stray.header.stamp.nanosec = 0
    _send_pair(ext_link, stray, detections_msg(stray.header, GOOD_BOXES))
    rclpy_node.spin_for(0.5)
    after = {d.id for d in track_good_frames(rclpy_node, ext_link, external)}
    assert after == before  # same ids: no reset


def test_a_bag_loop_still_resets(rclpy_node, ext_link, external):  # noqa: F811
    track_good_frames(rclpy_node, ext_link, external)
    images, detections, tracks, good = ext_link
    good.sec -= 1000  # the next good frame is 1000 s older: a looped bag
    track_good_frames(rclpy_node, ext_link, external)
    assert "time jumped backwards" in external.output()


def test_a_detection_storm_is_cut_and_the_next_frame_tracks(rclpy_node, ext_link,  # noqa
                                                            external):
    """20,000 boxes in one message (issue 22): cut to max_detections, memory bounded."""
    from finetrack_ros.bench.soak import rss_mb

    track_good_frames(rclpy_node, ext_link, external)
    before = rss_mb(external.popen.pid)
    image = ext_link[3].next()
    xy = np.random.default_rng(22).uniform(0, 300, (20_000, 2))
    _send_pair(ext_link, image, detections_msg(image.header, np.concatenate([xy, xy + 20], 1)))
    rclpy_node.spin_until(lambda: "19800 cut" in external.output(), 4 * REPLY_TIMEOUT_S,
                          "the max_detections log line")
    assert len(track_good_frames(rclpy_node, ext_link, external)) == 2
    assert rss_mb(external.popen.pid) - before < 300


# --- property-based fuzz ------------------------------------------------------------------
ENCODINGS = ["bgr8", "rgb8", "mono8", "mono16", "bgra8", "rgba8", "yuv422", "uyvy", "yuyv",
             "32FC1", "", "BGR8", "bgr8\x00"]
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -1.0, 1e308, -1e-300, 5e9])


@st.composite
def stamps(draw):
    return draw(st.integers(INT32_MIN, INT32_MAX)), draw(st.integers(0, UINT32_MAX))


@st.composite
def raw_images(draw):
    from sensor_msgs.msg import Image

    height = draw(st.integers(0, 40) | st.sampled_from([1, 10000, UINT32_MAX]))
    width = draw(st.integers(0, 40) | st.sampled_from([1, 10000, UINT32_MAX]))
    step = draw(st.integers(0, 200) | st.sampled_from([UINT32_MAX, 3 * 10000]))
    data = draw(st.binary(max_size=64)) * draw(st.integers(0, 500))  # up to 32 kB
    return Image(height=height, width=width, step=step, encoding=draw(st.sampled_from(ENCODINGS)),
                 is_bigendian=draw(st.integers(0, 255)), data=data)


@st.composite
def compressed_images(draw):
    import cv2
    from sensor_msgs.msg import CompressedImage

    fmt = draw(st.sampled_from(["png", "jpeg", "bgr8; jpeg compressed bgr8", "tiff", ""]))
    if draw(st.booleans()):
        pixels = np.full((draw(st.integers(1, 30)), draw(st.integers(1, 30)), 3), 90, np.uint8)
        data = cv2.imencode(".png", pixels)[1].tobytes()
        cut = draw(st.integers(0, len(data)))  # a truncated file is garbage too
        data = data[:cut] if draw(st.booleans()) else data
    else:
        data = draw(st.binary(max_size=300))
    return CompressedImage(format=fmt, data=data)


@st.composite
def detection_arrays(draw):
    from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

    msg = Detection2DArray()
    for _ in range(draw(st.integers(0, 12))):
        det = Detection2D()
        det.bbox.center.position.x, det.bbox.center.position.y = draw(FLOATS), draw(FLOATS)
        det.bbox.size_x, det.bbox.size_y = draw(FLOATS), draw(FLOATS)
        for _ in range(draw(st.integers(0, 2))):
            result = ObjectHypothesisWithPose()
            result.hypothesis.score = draw(FLOATS)
            result.hypothesis.class_id = draw(
                TEXT | st.integers(0, 10**30).map(str) | st.sampled_from(string.digits))
            det.results.append(result)
        msg.detections.append(det)
    return msg


@st.composite
def frames(draw):
    """(image or compressed image or None, detections or None), mostly with one stamp."""
    image = draw(st.one_of(raw_images(), compressed_images(), st.none()))
    dets = draw(st.one_of(detection_arrays(), st.none()))
    sec, nanosec = draw(stamps())
    for msg in (image, dets):
        if msg is not None:
            msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
    if dets is not None and draw(st.booleans()):
        dets.header.stamp.nanosec = (nanosec + 1) % (UINT32_MAX + 1)  # no partner
    return image, dets


@pytest.fixture(scope="module")
def detector_node(ros_install):  # noqa: F811
    command = node_command(ros_install, "-p", "autostart:=true", "-p", "image_qos:=reliable",
                           "-p", "image_transport:=compressed", "-p", "num_threads:=1",
                           *RANDOM_MODELS, "-r", f"__node:={DET_NODE}",
                           "-r", f"image/compressed:={DET_COMPRESSED}")
    with running_process(command) as proc:
        yield proc


@pytest.fixture
def det_link(rclpy_node, detector_node):  # noqa: F811
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CompressedImage
    from vision_msgs.msg import Detection2DArray

    qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
    pub = rclpy_node.node.create_publisher(CompressedImage, DET_COMPRESSED, qos)
    tracks = MessageCollector(rclpy_node, Detection2DArray, DET_TRACKS)
    wait_for_subscribers(rclpy_node, pub, timeout=60.0)
    rclpy_node.spin_until(lambda: rclpy_node.node.count_publishers(DET_TRACKS) >= 1,
                          what=f"publisher on {DET_TRACKS}")
    return pub, tracks, GOOD


def detector_replies(test_node, link, proc, shape=(48, 64)) -> None:
    """Check a compressed frame of ``shape`` gets its ~/tracks message (random YOLOX weights)."""
    from finetrack_ros.ros.image_conversion import bgr_to_compressed_msg

    pub, tracks, good = link
    for _ in range(3):
        header = good.next().header
        msg = bgr_to_compressed_msg(np.full((*shape, 3), 90, np.uint8), "png", header)
        pub.publish(msg)
        try:
            test_node.spin_until(lambda: [m for m in tracks.messages
                                          if stamp_of(m) == stamp_of(msg)],
                                 REPLY_TIMEOUT_S, f"tracks of a {shape} frame")
            return
        except pytest.fail.Exception:
            proc.assert_running()
    pytest.fail(f"the detector node is alive but answered no {shape} frame; log:\n"
                f"{proc.output()[-3000:]}", pytrace=False)


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(batch=st.lists(frames(), min_size=1, max_size=5))
def test_fuzzed_messages_never_stop_the_node(rclpy_node, ext_link, external,  # noqa: F811
                                             det_link, detector_node, batch):
    images, detections, _, _ = ext_link
    for image, dets in batch:
        if dets is not None:
            detections.publish(dets)
        if image is not None and hasattr(image, "format"):
            det_link[0].publish(image)
        elif image is not None:
            images.publish(image)
    rclpy_node.spin_for(0.05)
    external.assert_running()
    detector_node.assert_running()
    assert len(track_good_frames(rclpy_node, ext_link, external)) == 2
    detector_replies(rclpy_node, det_link, detector_node)


def test_fuzz_was_logged_counted_and_throttled(external):
    log = external.output()
    counts = [int(n) for n in re.findall(r"\((\d+) bad so far\)", log)]
    assert counts and max(counts) >= 5, log[-2000:]
    assert "Traceback" not in log
    # throttled: far fewer log lines than bad frames when reasons repeat
    assert log.count("skipping bad frame") <= max(counts)


# --- the detector's own path: degenerate image shapes --------------------------------------
@pytest.mark.parametrize("shape", [(1, 10000), (10000, 1), (1, 1), (2, 3)])
def test_detector_survives_degenerate_shapes(rclpy_node, det_link, detector_node,  # noqa: F811
                                             shape):
    detector_replies(rclpy_node, det_link, detector_node, shape)
    detector_replies(rclpy_node, det_link, detector_node)
    assert "cv2.error" not in detector_node.output()
