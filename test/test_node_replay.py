"""Online equals offline: the node and an in-process pipeline give identical ~/tracks.

The same frames and detections through the running node (external detections,
config/finetrack.yaml) and through an in-process TrackingPipeline built as the offline
replay builds it give identical ~/tracks (ids and boxes), frame by frame.
"""
from __future__ import annotations

import numpy as np
import pytest
from node_helpers import NODE, detections_msg, image_msg, node_command, stamp_of
from ros_helpers import (  # noqa: F401  (fixtures)
    REPO_ROOT,
    MessageCollector,
    rclpy_node,
    ros_install,
    running_process,
    wait_for_subscribers,
)

from finetrack_ros.messages import detection2d_fields
from finetrack_ros.pipeline import TrackingPipeline
from finetrack_ros.structures import Detections
from finetrack_ros.tracker import ByteTracker, TrackerConfig

pytestmark = pytest.mark.ros

PARAMS_FILE = REPO_ROOT / "config" / "finetrack.yaml"
IMAGE_TOPIC = "/replay_cam/image"
DETECTIONS_TOPIC = "/replay_cam/detections"
FRAMES = 12
REPLY_TIMEOUT_S = 8.0


def scene(frame: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Three 40x100 boxes (two crossing) with pixel jitter; scores span high and low."""
    x = np.array([20 + 9 * frame, 220 - 9 * frame, 150.0])
    y = np.array([60.0, 70.0, 20.0])
    boxes = np.stack([x, y, x + 40, y + 100], axis=1) + rng.normal(0, 1.0, (3, 4))
    scores = np.array([0.9, 0.8, 0.35 if frame % 3 else 0.75])
    return boxes.astype(np.float32), scores.astype(np.float32)


def as_rows(ids, fields) -> list[tuple]:
    return sorted((str(i), round(f["center_x"], 3), round(f["center_y"], 3),
                   round(f["size_x"], 3), round(f["size_y"], 3)) for i, f in zip(ids, fields,
                                                                                   strict=True))


def test_online_tracks_equal_offline_tracks(ros_install, rclpy_node):  # noqa: F811
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray

    command = node_command(ros_install, "--params-file", str(PARAMS_FILE),
                           "-p", "autostart:=true", "-p", "external_detections:=true",
                           "-p", "reid.enabled:=false", "-p", "image_qos:=reliable",
                           "-r", f"image:={IMAGE_TOPIC}", "-r", f"detections:={DETECTIONS_TOPIC}")
    offline = TrackingPipeline(ByteTracker(TrackerConfig.from_yaml(PARAMS_FILE)))
    node = rclpy_node.node
    with running_process(command) as proc:
        images = node.create_publisher(Image, IMAGE_TOPIC, 10)
        detections = node.create_publisher(Detection2DArray, DETECTIONS_TOPIC, 10)
        tracks = MessageCollector(rclpy_node, Detection2DArray, f"{NODE}/tracks")
        wait_for_subscribers(rclpy_node, images, timeout=60.0)
        wait_for_subscribers(rclpy_node, detections)
        rng = np.random.default_rng(3)
        for frame in range(FRAMES):
            boxes, scores = scene(frame, rng)
            image = image_msg(100 + frame)
            detections.publish(_with_scores(image.header, boxes, scores))
            images.publish(image)  # reliable; next frame only after this reply
            rclpy_node.spin_until(lambda im=image: any(stamp_of(m) == stamp_of(im)
                                                       for m in tracks.messages),
                                  REPLY_TIMEOUT_S, f"tracks of frame {frame}")
            expected = offline.process(None, Detections(boxes, scores, np.zeros(3, np.int64)))
            online = tracks.messages[-1]
            got = as_rows([d.id for d in online.detections], [
                {"center_x": d.bbox.center.position.x, "center_y": d.bbox.center.position.y,
                 "size_x": d.bbox.size_x, "size_y": d.bbox.size_y} for d in online.detections])
            want = as_rows([t.track_id for t in expected.tracks],
                           [detection2d_fields(t.xyxy, "", t.score, t.track_id)
                            for t in expected.tracks])
            assert got == want, f"frame {frame}"
        proc.assert_running()
    assert len({row[0] for row in want}) >= 2  # the scene really has several tracks


def _with_scores(header, boxes, scores):
    msg = detections_msg(header, boxes.tolist())
    for det, score in zip(msg.detections, scores, strict=True):
        det.results[0].hypothesis.score = float(score)
    return msg
