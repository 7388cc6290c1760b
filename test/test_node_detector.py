"""finetrack_node running its own YOLOX (tiny random weights), in a subprocess, real rclpy.

Every frame gets ~/tracks and ~/tracked_objects, ~/annotated_image while subscribed, and a
corrupt compressed frame does not stop it.
"""
from __future__ import annotations

import numpy as np
import pytest
from node_helpers import NODE, RANDOM_MODELS, node_command, stamp_of
from ros_helpers import (  # noqa: F401  (fixtures)
    MessageCollector,
    rclpy_node,
    ros_install,
    running_process,
    wait_for_subscribers,
)

pytestmark = pytest.mark.ros

COMPRESSED_TOPIC = "/det_cam/image_raw/compressed"
FRAMES = 6
REPLY_TIMEOUT_S = 20.0  # the first frame warms the networks up; CI machines are busy


@pytest.fixture(scope="module")
def node_process(ros_install):  # noqa: F811
    command = node_command(
        ros_install, "-p", "autostart:=true", "-p", "image_transport:=compressed",
        "-p", "image_qos:=reliable", "-p", "publish_embeddings:=true",
        "-p", "tracker.use_appearance:=true", *RANDOM_MODELS,
        "-r", f"image/compressed:={COMPRESSED_TOPIC}")
    with running_process(command) as proc:
        yield proc


@pytest.fixture
def link(rclpy_node, node_process):  # noqa: F811
    from sensor_msgs.msg import CompressedImage, Image
    from std_msgs.msg import Float32
    from vision_msgs.msg import Detection2DArray

    from finetrack_ros.msg import TrackedObjectArray

    images = rclpy_node.node.create_publisher(CompressedImage, COMPRESSED_TOPIC, 10)
    outputs = {
        "tracks": MessageCollector(rclpy_node, Detection2DArray, f"{NODE}/tracks"),
        "objects": MessageCollector(rclpy_node, TrackedObjectArray, f"{NODE}/tracked_objects"),
        "annotated": MessageCollector(rclpy_node, Image, f"{NODE}/annotated_image"),
        "time_ms": MessageCollector(rclpy_node, Float32, f"{NODE}/debug/processing_time_ms"),
    }
    wait_for_subscribers(rclpy_node, images, timeout=60.0)
    for collector in outputs.values():  # else a busy machine can lose the first replies
        collector.wait_matched()
    node_process.assert_running()
    return images, outputs


def compressed(sec: int, rng: np.random.Generator):
    from std_msgs.msg import Header

    from finetrack_ros.ros.image_conversion import bgr_to_compressed_msg

    frame = rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    header = Header(frame_id="det_cam")
    header.stamp.sec = sec
    return bgr_to_compressed_msg(frame, "jpeg", header)


def wait_reply(test_node, collector, msg):
    test_node.spin_until(
        lambda: any(stamp_of(m) == stamp_of(msg) for m in collector.messages),
        REPLY_TIMEOUT_S, f"reply stamped {stamp_of(msg)} on {collector.topic}")


def test_publishes_on_every_frame(rclpy_node, link):  # noqa: F811
    images, outputs = link
    rng = np.random.default_rng(0)
    for frame in range(FRAMES):
        msg = compressed(10 + frame, rng)
        images.publish(msg)  # reliable, and the next frame only after this one's reply
        for name in ("tracks", "objects", "annotated"):
            wait_reply(rclpy_node, outputs[name], msg)
    for name in ("tracks", "objects", "annotated"):
        stamps = [m.header.stamp.sec for m in outputs[name].messages]
        assert stamps == list(range(10, 10 + FRAMES)), name
    times = outputs["time_ms"].wait_for_count(FRAMES)
    assert all(m.data > 0 for m in times)
    annotated = outputs["annotated"].messages[-1]
    assert (annotated.height, annotated.width, annotated.encoding) == (120, 160, "bgr8")
    for msg in outputs["objects"].messages:
        for obj in msg.objects:  # random weights may or may not detect: check what came
            assert len(obj.embedding) > 0 and obj.state in (obj.STATE_TRACKED,)


def test_corrupt_compressed_frame_does_not_kill_the_node(rclpy_node, link,  # noqa: F811
                                                         node_process):
    from sensor_msgs.msg import CompressedImage

    images, outputs = link
    corrupt = CompressedImage(format="jpeg", data=b"\xff\xd8 not a jpeg")
    corrupt.header.stamp.sec = 50
    images.publish(corrupt)
    rclpy_node.spin_until(lambda: "skipping bad frame" in node_process.output(),
                          what="the bad-frame warning")
    assert "could not decode" in node_process.output()
    node_process.assert_running()
    good = compressed(51, np.random.default_rng(1))
    images.publish(good)
    wait_reply(rclpy_node, outputs["tracks"], good)
    assert not [m for m in outputs["tracks"].messages if m.header.stamp.sec == 50]
