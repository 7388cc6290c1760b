"""ROS-free conversions between numpy data and rosbags message objects.

The field mapping of a track or detection to ``vision_msgs/Detection2D`` lives in
:func:`detection2d_fields` so the ROS node can mirror it with rclpy message classes:
``id`` = str(track_id) (empty for untracked detections), ``results[0].hypothesis.class_id`` =
class name, ``results[0].hypothesis.score`` = detection score, ``bbox`` center/size in pixels
(axis-aligned, ``theta`` = 0).
"""
from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np
from rosbags.typesys.store import Typestore

# sensor_msgs/Image encodings we read, with channel count; frames are converted to BGR.
IMAGE_ENCODINGS = {"bgr8": 3, "rgb8": 3, "mono8": 1, "bgra8": 4, "rgba8": 4}
# JPEG quality for sensor_msgs/CompressedImage (0-100, higher = larger and sharper).
JPEG_QUALITY = 95

NS_PER_SEC = 1_000_000_000


def detection2d_fields(
    xyxy: Sequence[float], class_name: str, score: float, track_id: Optional[int]
) -> dict:
    """The vision_msgs/Detection2D values of one box (the one mapping node and bags share).

    Args:
        xyxy: (x1, y1, x2, y2) pixels of the input image.
        class_name: class name, e.g. "person".
        score: detection confidence in [0, 1].
        track_id: track id (>= 1), or None for an untracked detection.

    Returns:
        dict with ``id`` (str), ``class_id`` (str), ``score`` (float), ``center_x``,
        ``center_y``, ``size_x``, ``size_y`` (float pixels).
    """
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    return {
        "id": "" if track_id is None else str(int(track_id)),
        "class_id": str(class_name),
        "score": float(score),
        "center_x": (x1 + x2) / 2.0,
        "center_y": (y1 + y2) / 2.0,
        "size_x": x2 - x1,
        "size_y": y2 - y1,
    }


def make_header(store: Typestore, stamp_ns: int, frame_id: str):
    """std_msgs/Header for a stamp in integer nanoseconds."""
    time_cls = store.types["builtin_interfaces/msg/Time"]
    stamp = time_cls(sec=int(stamp_ns // NS_PER_SEC), nanosec=int(stamp_ns % NS_PER_SEC))
    return store.types["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)


def header_stamp_ns(header) -> int:
    """Integer nanoseconds of a std_msgs/Header stamp."""
    return int(header.stamp.sec) * NS_PER_SEC + int(header.stamp.nanosec)


def bbox2d_msg(store: Typestore, fields: dict):
    """vision_msgs/BoundingBox2D (axis-aligned) from :func:`detection2d_fields` output."""
    types = store.types
    point = types["vision_msgs/msg/Point2D"](x=fields["center_x"], y=fields["center_y"])
    center = types["vision_msgs/msg/Pose2D"](position=point, theta=0.0)
    return types["vision_msgs/msg/BoundingBox2D"](
        center=center, size_x=fields["size_x"], size_y=fields["size_y"]
    )


def _empty_pose_with_covariance(store: Typestore):
    types = store.types
    pose = types["geometry_msgs/msg/Pose"](
        position=types["geometry_msgs/msg/Point"](x=0.0, y=0.0, z=0.0),
        orientation=types["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
    )
    return types["geometry_msgs/msg/PoseWithCovariance"](
        pose=pose, covariance=np.zeros(36, np.float64)
    )


def detection2d_msg(store: Typestore, header, fields: dict):
    """vision_msgs/Detection2D from :func:`detection2d_fields` output."""
    types = store.types
    hypothesis = types["vision_msgs/msg/ObjectHypothesis"](
        class_id=fields["class_id"], score=fields["score"]
    )
    result = types["vision_msgs/msg/ObjectHypothesisWithPose"](
        hypothesis=hypothesis, pose=_empty_pose_with_covariance(store)
    )
    return types["vision_msgs/msg/Detection2D"](
        header=header, results=[result], bbox=bbox2d_msg(store, fields), id=fields["id"]
    )


def detection_array_msg(
    store: Typestore,
    header,
    boxes_xyxy: np.ndarray,
    scores: np.ndarray,
    class_names: Sequence[str],
    track_ids: Optional[Sequence[int]] = None,
):
    """vision_msgs/Detection2DArray of N boxes.

    Args:
        boxes_xyxy: (N, 4) pixels. scores: (N,). class_names: N names.
        track_ids: N ids, or None for untracked detections (empty ``id``).
    """
    boxes_xyxy = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    detections = []
    for i, box in enumerate(boxes_xyxy):
        track_id = None if track_ids is None else track_ids[i]
        fields = detection2d_fields(box, class_names[i], scores[i], track_id)
        detections.append(detection2d_msg(store, header, fields))
    return store.types["vision_msgs/msg/Detection2DArray"](header=header, detections=detections)


def detection_array_to_numpy(msg) -> dict:
    """Unpack a vision_msgs/Detection2DArray.

    Returns:
        dict with ``boxes_xyxy`` (N, 4) float32 pixels, ``scores`` (N,) float32 (1.0 where a
        detection has no result), ``class_names`` list[str], ``ids`` list[str] (may be "").
    """
    boxes, scores, class_names, ids = [], [], [], []
    for det in msg.detections:
        cx, cy = det.bbox.center.position.x, det.bbox.center.position.y
        w, h = det.bbox.size_x, det.bbox.size_y
        boxes.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
        if det.results:
            scores.append(det.results[0].hypothesis.score)
            class_names.append(det.results[0].hypothesis.class_id)
        else:
            scores.append(1.0)
            class_names.append("")
        ids.append(det.id)
    return {
        "boxes_xyxy": np.asarray(boxes, np.float32).reshape(-1, 4),
        "scores": np.asarray(scores, np.float32),
        "class_names": class_names,
        "ids": ids,
    }


def image_msg(store: Typestore, header, frame_bgr: np.ndarray):
    """sensor_msgs/Image, encoding bgr8, from an (H, W, 3) uint8 BGR frame."""
    frame = np.ascontiguousarray(frame_bgr, np.uint8)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"image_msg: expected an (H, W, 3) BGR frame, got shape {frame.shape}")
    height, width = frame.shape[:2]
    return store.types["sensor_msgs/msg/Image"](
        header=header, height=height, width=width, encoding="bgr8", is_bigendian=0,
        step=width * 3, data=frame.reshape(-1),
    )


def compressed_image_msg(store: Typestore, header, frame_bgr: np.ndarray):
    """sensor_msgs/CompressedImage (JPEG) from an (H, W, 3) uint8 BGR frame."""
    ok, encoded = cv2.imencode(".jpg", frame_bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError(f"compressed_image_msg: JPEG encoding failed for shape {frame_bgr.shape}")
    return store.types["sensor_msgs/msg/CompressedImage"](
        header=header, format="jpeg", data=encoded.reshape(-1)
    )


def image_from_msg(msg) -> np.ndarray:
    """(H, W, 3) uint8 BGR frame from a sensor_msgs/Image or CompressedImage object."""
    if hasattr(msg, "format"):  # CompressedImage
        frame = cv2.imdecode(np.asarray(msg.data, np.uint8), cv2.IMREAD_COLOR)
        if frame is None:
            raise ValueError(f"CompressedImage: cannot decode format {msg.format!r}")
        return frame
    channels = IMAGE_ENCODINGS.get(msg.encoding)
    if channels is None:
        raise ValueError(
            f"sensor_msgs/Image: encoding {msg.encoding!r} not supported "
            f"(supported: {', '.join(IMAGE_ENCODINGS)})"
        )
    data = np.asarray(msg.data, np.uint8)
    rows = data.reshape(msg.height, msg.step)[:, : msg.width * channels]
    frame = rows.reshape(msg.height, msg.width, channels)
    conversions = {
        "rgb8": cv2.COLOR_RGB2BGR, "mono8": cv2.COLOR_GRAY2BGR,
        "bgra8": cv2.COLOR_BGRA2BGR, "rgba8": cv2.COLOR_RGBA2BGR,
    }
    if msg.encoding in conversions:
        frame = cv2.cvtColor(frame, conversions[msg.encoding])
    return np.ascontiguousarray(frame)


def camera_info_msg(store: Typestore, header, width: int, height: int):
    """sensor_msgs/CameraInfo with the image size and an uncalibrated pinhole (zeros).

    MOT sequences and videos carry no calibration, so K, R, P stay zero (ROS's convention
    for "uncalibrated").
    """
    return store.types["sensor_msgs/msg/CameraInfo"](
        header=header, height=int(height), width=int(width), distortion_model="",
        d=np.zeros(0, np.float64), k=np.zeros(9, np.float64), r=np.zeros(9, np.float64),
        p=np.zeros(12, np.float64), binning_x=0, binning_y=0,
        roi=store.types["sensor_msgs/msg/RegionOfInterest"](
            x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
        ),
    )
