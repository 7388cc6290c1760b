"""ROS messages ↔ numpy and tracks, for rclpy and rosbags message classes alike (no ROS import).

The node (rclpy classes) and the offline tools (``rosbags`` classes) build and read their
messages with these functions, so ``~/tracks`` of the node and ``/finetrack/tracks`` of a
replay bag are the same messages field by field. ``types`` is where message classes come
from: a ``rosbags`` ``Typestore``, or a callable ``"pkg/msg/Name" -> class``
(:func:`finetrack_ros.ros.rclpy_types.rclpy_type` in the node). Every builder passes every
field, which both kinds of class accept.

vision_msgs/Detection2D mapping: ``id`` = str(track_id) (empty for untracked detections),
``results[0].hypothesis.class_id`` = class name, ``results[0].hypothesis.score`` = detection
score, ``bbox`` center/size in pixels of the input image (axis-aligned, ``theta`` = 0).
Reading uses only field names, so it works on rclpy, rosbags and plain-namespace messages.
"""
from __future__ import annotations

import array
from typing import Any, Callable, Optional, Sequence

import numpy as np

from finetrack_ros.image_codec import compressed_fields, image_fields

NS_PER_SEC = 1_000_000_000
# JPEG quality for sensor_msgs/CompressedImage (0-100, higher = larger and sharper).
JPEG_QUALITY = 95
# TrackState name → TrackedObject.STATE_* value (REMOVED tracks are never published).
STATE_VALUES = {"TENTATIVE": 0, "TRACKED": 1, "LOST": 2}


# --- message classes --------------------------------------------------------------------
def _is_rosbags(types: Any) -> bool:
    return hasattr(types, "types")  # a rosbags Typestore


def message_class(types: Any, name: str) -> type:
    """Get the class of ``name`` ("vision_msgs/msg/Detection2D") from a Typestore or a resolver."""
    return types.types[name] if _is_rosbags(types) else types(name)


def _bytes(types: Any, data: array.array) -> Any:
    """uint8[] field value: numpy for rosbags, array.array('B') for rclpy."""
    return np.frombuffer(data, np.uint8) if _is_rosbags(types) else data


def _floats(types: Any, values: np.ndarray, dtype: type) -> Any:
    """float[] field value: numpy for rosbags, array.array for rclpy."""
    values = np.asarray(values, dtype).reshape(-1)
    if _is_rosbags(types):
        return values
    return array.array("f" if dtype == np.float32 else "d", values.tobytes())


# --- stamps and headers -----------------------------------------------------------------
def stamp_to_ns(stamp: Any) -> int:
    """builtin_interfaces/Time → integer nanoseconds (may be negative for a bad stamp)."""
    return int(stamp.sec) * NS_PER_SEC + int(stamp.nanosec)


def header_stamp_ns(header: Any) -> int:
    """Integer nanoseconds of a std_msgs/Header stamp."""
    return stamp_to_ns(header.stamp)


def make_header(types: Any, stamp_ns: int, frame_id: str) -> Any:
    """std_msgs/Header for a stamp in integer nanoseconds."""
    stamp = message_class(types, "builtin_interfaces/msg/Time")(
        sec=int(stamp_ns // NS_PER_SEC), nanosec=int(stamp_ns % NS_PER_SEC))
    return message_class(types, "std_msgs/msg/Header")(stamp=stamp, frame_id=frame_id)


# --- detections and tracks --------------------------------------------------------------
def detection2d_fields(
    xyxy: Sequence[float], class_name: str, score: float, track_id: Optional[int]
) -> dict:
    """Return the vision_msgs/Detection2D values of one box.

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


def bbox2d_msg(types: Any, fields: dict) -> Any:
    """vision_msgs/BoundingBox2D (axis-aligned) from :func:`detection2d_fields` output."""
    point = message_class(types, "vision_msgs/msg/Point2D")(x=fields["center_x"],
                                                             y=fields["center_y"])
    center = message_class(types, "vision_msgs/msg/Pose2D")(position=point, theta=0.0)
    return message_class(types, "vision_msgs/msg/BoundingBox2D")(
        center=center, size_x=fields["size_x"], size_y=fields["size_y"])


def _identity_pose(types: Any) -> Any:
    point, quaternion, pose, with_covariance = (
        message_class(types, f"geometry_msgs/msg/{name}")
        for name in ("Point", "Quaternion", "Pose", "PoseWithCovariance"))
    identity = pose(position=point(x=0.0, y=0.0, z=0.0),
                    orientation=quaternion(x=0.0, y=0.0, z=0.0, w=1.0))
    return with_covariance(pose=identity, covariance=np.zeros(36, np.float64))


def detection2d_msg(types: Any, header: Any, fields: dict) -> Any:
    """vision_msgs/Detection2D from :func:`detection2d_fields` output."""
    hypothesis = message_class(types, "vision_msgs/msg/ObjectHypothesis")(
        class_id=fields["class_id"], score=fields["score"])
    result = message_class(types, "vision_msgs/msg/ObjectHypothesisWithPose")(
        hypothesis=hypothesis, pose=_identity_pose(types))
    return message_class(types, "vision_msgs/msg/Detection2D")(
        header=header, results=[result], bbox=bbox2d_msg(types, fields), id=fields["id"])


def detection_array_msg(
    types: Any,
    header: Any,
    boxes_xyxy: np.ndarray,
    scores: Sequence[float],
    class_names: Sequence[str],
    track_ids: Optional[Sequence[int]] = None,
) -> Any:
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
        detections.append(detection2d_msg(types, header, fields))
    return message_class(types, "vision_msgs/msg/Detection2DArray")(
        header=header, detections=detections)


def tracks_to_detection_array(
    types: Any, header: Any, tracks: Sequence, class_name: Callable[[int], str]
) -> Any:
    """vision_msgs/Detection2DArray of tracks: id = str(track_id), class name, score, bbox."""
    boxes = np.asarray([t.xyxy for t in tracks], np.float64).reshape(-1, 4)
    return detection_array_msg(
        types, header, boxes, [t.score for t in tracks],
        [class_name(int(t.class_id)) for t in tracks], [t.track_id for t in tracks])


def tracked_object_fields(track: Any, fps: float, with_embedding: bool) -> dict:
    """Return the TrackedObject values of a track other than class and bbox.

    Args:
        track: a tracker ``Track`` (``track_id``, ``score``, ``state``, ``velocity_xy`` in
            pixels per frame, ``age``, ``frames_since_update``, ``feature``).
        fps: frame rate used to turn pixels/frame into pixels/second.
        with_embedding: put ``track.feature`` in ``embedding`` (empty when False or None).
    """
    state_name = getattr(track.state, "name", str(track.state)).upper()
    if state_name not in STATE_VALUES:
        raise ValueError(f"tracked_object_fields: track {track.track_id} has state {state_name}")
    velocity = np.asarray(track.velocity_xy, np.float64).reshape(2) * float(fps)
    feature = getattr(track, "feature", None)
    embedding = (
        np.asarray(feature, np.float32).reshape(-1) if with_embedding and feature is not None
        else np.zeros(0, np.float32)
    )
    return {
        "track_id": int(track.track_id),
        "score": float(track.score),
        "velocity_x": float(velocity[0]),
        "velocity_y": float(velocity[1]),
        "state": STATE_VALUES[state_name],
        "age": int(track.age),
        "frames_since_update": int(track.frames_since_update),
        "embedding": embedding,
    }


def world_fields(types: Any, person: Any = None, frame_id: str = "") -> dict:
    """TrackedObject's ``world_frame_id``, ``world_position`` and ``world_velocity``.

    Args:
        person: a :class:`~finetrack_ros.world.PersonInWorld` (``position``, ``velocity``:
            (3,) metres and m/s in ``frame_id``), or None: no 3D for this track (NaN, and an
            empty frame when ``frame_id`` is empty too).
    """
    nan3 = np.full(3, np.nan)
    position = nan3 if person is None else np.asarray(person.position, np.float64)
    velocity = nan3 if person is None else np.asarray(person.velocity, np.float64)
    x, y, z = map(float, position)
    vx, vy, vz = map(float, velocity)
    return {"world_frame_id": frame_id,
            "world_position": message_class(types, "geometry_msgs/msg/Point")(x=x, y=y, z=z),
            "world_velocity": message_class(types, "geometry_msgs/msg/Vector3")(
                x=vx, y=vy, z=vz)}


def tracks_to_tracked_objects(
    types: Any,
    header: Any,
    tracks: Sequence,
    class_name: Callable[[int], str],
    fps: float,
    with_embedding: bool,
    world: Optional[dict] = None,
    world_frame: str = "",
) -> Any:
    """finetrack_ros/TrackedObjectArray of tracks (see ``msg/TrackedObject.msg``).

    ``world`` maps track id → :class:`~finetrack_ros.world.PersonInWorld` in ``world_frame``
    (the node's 3D); tracks not in it, or all when None, get NaN world fields.
    """
    world = world or {}
    objects = []
    for track in tracks:
        fields = tracked_object_fields(track, fps, with_embedding)
        fields.update(world_fields(types, world.get(int(track.track_id)),
                                   world_frame if world else ""))
        det = detection2d_fields(track.xyxy, class_name(int(track.class_id)), track.score, None)
        fields["class_id"] = det["class_id"]
        fields["bbox"] = bbox2d_msg(types, det)
        fields["embedding"] = _floats(types, fields["embedding"], np.float32)
        objects.append(message_class(types, "finetrack_ros/msg/TrackedObject")(**fields))
    return message_class(types, "finetrack_ros/msg/TrackedObjectArray")(
        header=header, objects=objects)


def label_info_msg(types: Any, header: Any, class_names: Sequence[str], threshold: float) -> Any:
    """vision_msgs/LabelInfo: class index → name, and the score threshold applied."""
    vision_class = message_class(types, "vision_msgs/msg/VisionClass")
    class_map = [vision_class(class_id=i, class_name=name) for i, name in enumerate(class_names)]
    return message_class(types, "vision_msgs/msg/LabelInfo")(
        header=header, class_map=class_map, threshold=float(threshold))


def detection_array_to_numpy(msg: Any) -> dict:
    """Unpack a vision_msgs/Detection2DArray (any message class; no validation).

    Returns:
        dict with ``boxes_xyxy`` (N, 4) float64 pixels, ``scores`` (N,) float64 (1.0 where a
        detection has no result), ``class_names`` list[str] ("" without a result),
        ``ids`` list[str] (may be "").
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
        "boxes_xyxy": np.asarray(boxes, np.float64).reshape(-1, 4),
        "scores": np.asarray(scores, np.float64),
        "class_names": class_names,
        "ids": ids,
    }


# --- images -----------------------------------------------------------------------------
def image_msg(types: Any, header: Any, frame_bgr: np.ndarray, encoding: str = "bgr8") -> Any:
    """sensor_msgs/Image (default bgr8) from an array in ``encoding``'s layout."""
    fields = image_fields(frame_bgr, encoding)
    fields["data"] = _bytes(types, fields["data"])
    return message_class(types, "sensor_msgs/msg/Image")(header=header, **fields)


def compressed_image_msg(types: Any, header: Any, frame_bgr: np.ndarray) -> Any:
    """sensor_msgs/CompressedImage (JPEG) from an (H, W, 3) uint8 BGR frame."""
    fields = compressed_fields(frame_bgr, "jpeg", JPEG_QUALITY)
    fields["data"] = _bytes(types, fields["data"])
    return message_class(types, "sensor_msgs/msg/CompressedImage")(header=header, **fields)


def camera_info_msg(types: Any, header: Any, width: int, height: int) -> Any:
    """sensor_msgs/CameraInfo with the image size and an uncalibrated pinhole (zeros).

    MOT sequences and videos carry no calibration, so K, R, P stay zero (ROS's convention
    for "uncalibrated").
    """
    roi = message_class(types, "sensor_msgs/msg/RegionOfInterest")(
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return message_class(types, "sensor_msgs/msg/CameraInfo")(
        header=header, height=int(height), width=int(width), distortion_model="",
        d=_floats(types, np.zeros(0), np.float64), k=np.zeros(9, np.float64),
        r=np.zeros(9, np.float64), p=np.zeros(12, np.float64), binning_x=0, binning_y=0,
        roi=roi)
