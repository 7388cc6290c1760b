"""MOTChallenge sequences and videos → rosbag2 (mcap or sqlite3), without ROS.

Topics written (names are :class:`BagTopics` defaults):

* ``/camera/image_raw`` (sensor_msgs/Image, bgr8) or ``/camera/image_raw/compressed``
  (sensor_msgs/CompressedImage, JPEG), one per frame;
* ``/camera/camera_info`` (sensor_msgs/CameraInfo, image size only), one per frame; with a
  ``camera_calibration_parsers`` YAML (``camera``) its calibration (K, D, distortion model,
  R = I, P = [K | 0]), and one ``/tf_static`` (tf2_msgs/TFMessage) at the first stamp with the
  file's ``world_from_camera`` as ``world`` → ``camera`` (the ground is z = 0 of ``world``);
* ``/ground_truth`` (vision_msgs/Detection2DArray) from ``gt/gt.txt`` when present: every row,
  ``Detection2D.id`` = the MOT id, ``class_id`` = the MOT class name (:data:`MOT_CLASSES`),
  ``score`` = the MOT ``conf`` column (0 = ignore region);
* ``/detections`` (vision_msgs/Detection2DArray) from ``det/det.txt`` when present, empty ``id``.

Every frame gets one message per topic (empty arrays included), all with the same header
stamp: ``start + i / frame_rate`` for 0-based frame ``i``, strictly increasing.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from finetrack_ros import messages as m
from finetrack_ros.bag.bag_writer import BagWriter
from finetrack_ros.bag.typestore import (
    CAMERA_INFO_TYPE,
    COMPRESSED_IMAGE_TYPE,
    DETECTION_ARRAY_TYPE,
    IMAGE_TYPE,
    TF_MESSAGE_TYPE,
)
from finetrack_ros.mot import open_sequence, read_mot_txt

# MOTChallenge (MOT17/MOT20) class column → name written to ObjectHypothesis.class_id.
# Class 1 is the detector's "person" so ground truth can stand in for detections.
MOT_CLASSES = {
    1: "person", 2: "person_on_vehicle", 3: "car", 4: "bicycle", 5: "motorbike",
    6: "non_mot_vehicle", 7: "static_person", 8: "distractor", 9: "occluder",
    10: "occluder_on_ground", 11: "occluder_full", 12: "reflection", 13: "crowd",
}
MOT_CLASS_IDS = {name: cid for cid, name in MOT_CLASSES.items()}


@dataclass
class BagTopics:
    """Topic names and frame ids of bags written and replayed by finetrack."""

    image: str = "/camera/image_raw"
    compressed_image: str = "/camera/image_raw/compressed"
    camera_info: str = "/camera/camera_info"
    ground_truth: str = "/ground_truth"
    detections: str = "/detections"
    camera_frame_id: str = "camera"  # header.frame_id of every message
    tf_static: str = "/tf_static"
    world_frame_id: str = "world"  # parent of camera_frame_id on /tf_static (with a camera)


@dataclass
class StampConfig:
    """How frame indices become header stamps."""

    start_ns: int = 1_600_000_000 * m.NS_PER_SEC  # stamp of frame 0 (a fixed, readable epoch)

    def stamp_ns(self, index: int, fps: float) -> int:
        """Stamp of 0-based frame ``index`` at ``fps`` frames per second, integer ns."""
        return self.start_ns + int(round(index * m.NS_PER_SEC / fps))


def _read_sequence(seq_dir: str | Path):
    """Read the sequence (``finetrack_ros.mot``), its frame paths, gt rows and det rows.

    The gt rows and det rows are each None when the sequence has no such file.
    """
    seq = open_sequence(seq_dir)
    if seq.info is None:
        raise FileNotFoundError(f"{seq_dir}: not a MOTChallenge sequence (no seqinfo.ini)")
    if seq.info.frame_rate <= 0 or seq.info.seq_length <= 0:
        raise ValueError(
            f"{seq.path / 'seqinfo.ini'}: frameRate and seqLength must be > 0, got "
            f"{seq.info.frame_rate} and {seq.info.seq_length}"
        )
    images = [seq.image_path(i) for i in range(1, seq.info.seq_length + 1)]
    missing = [p for p in images if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{seq_dir}: {len(missing)} frames missing, first {missing[0]}")
    gt = read_mot_txt(seq.gt_path) if seq.gt_path.is_file() else None
    det = read_mot_txt(seq.det_path) if seq.det_path.is_file() else None
    return seq, images, gt, det


def _gt_array(store, header, rows: np.ndarray):
    tlwh = rows[:, 2:6]
    boxes = np.concatenate([tlwh[:, :2], tlwh[:, :2] + tlwh[:, 2:]], axis=1)
    names = [MOT_CLASSES.get(int(c), str(int(c))) for c in rows[:, 7]]
    ids = [int(i) for i in rows[:, 1]]
    return m.detection_array_msg(store, header, boxes, rows[:, 6], names, ids)


def _det_array(store, header, rows: np.ndarray):
    tlwh = rows[:, 2:6]
    boxes = np.concatenate([tlwh[:, :2], tlwh[:, :2] + tlwh[:, 2:]], axis=1)
    return m.detection_array_msg(store, header, boxes, rows[:, 6], ["person"] * len(rows))


def _rows_by_frame(rows: np.ndarray | None, length: int) -> list | None:
    if rows is None:
        return None
    frames = rows[:, 0].astype(np.int64)
    return [rows[frames == f] for f in range(1, length + 1)]


def calibrated_camera_info(store, header, camera) -> object:
    """sensor_msgs/CameraInfo of a :class:`~finetrack_ros.world.CameraModel` (R = I, P = [K|0])."""
    info = m.camera_info_msg(store, header, camera.width, camera.height)
    info.k = camera.k.reshape(-1).astype(np.float64)
    info.d = camera.d.astype(np.float64)
    info.distortion_model = camera.distortion_model
    info.r = np.eye(3).reshape(-1)
    info.p = np.hstack([camera.k, np.zeros((3, 1))]).reshape(-1)
    return info


def tf_static_msg(store, header, child_frame_id: str, pose) -> object:
    """tf2_msgs/TFMessage with one transform: ``header.frame_id`` ← ``child_frame_id``."""
    from scipy.spatial.transform import Rotation

    cls = store.types
    x, y, z = map(float, pose.translation)
    qx, qy, qz, qw = map(float, Rotation.from_matrix(pose.rotation).as_quat())
    transform = cls["geometry_msgs/msg/Transform"](
        translation=cls["geometry_msgs/msg/Vector3"](x=x, y=y, z=z),
        rotation=cls["geometry_msgs/msg/Quaternion"](x=qx, y=qy, z=qz, w=qw))
    stamped = cls["geometry_msgs/msg/TransformStamped"](
        header=header, child_frame_id=child_frame_id, transform=transform)
    return cls[TF_MESSAGE_TYPE](transforms=[stamped])


def _load_camera(path, seq):
    """Load the camera model and pose of ``--camera`` (image size: the sequence's if absent)."""
    import dataclasses

    from finetrack_ros.world import load_camera_yaml

    camera, pose = load_camera_yaml(path)
    if pose is None:
        raise ValueError(f"--camera {path}: no world_from_camera (the camera's pose above the "
                         "ground) in the file")
    if not camera.width:
        camera = dataclasses.replace(camera, width=seq.info.width,
                                     height=seq.info.height)
    return camera, pose


def write_mot_bag(
    seq_dir: str | Path,
    out: str | Path,
    compressed: bool = False,
    storage: str = "mcap",
    topics: BagTopics | None = None,
    stamps: StampConfig | None = None,
    camera: str | Path | None = None,
) -> dict:
    """Write a MOTChallenge sequence as a rosbag2 folder (see the module docstring).

    Args:
        camera: a ``camera_calibration_parsers`` YAML with ``world_from_camera``: calibrated
            camera_info and ``/tf_static`` (None: image-size-only camera_info, no tf).

    Returns:
        dict topic → message count.
    """
    seq, images, gt, det = _read_sequence(seq_dir)
    calibration = _load_camera(camera, seq) if camera is not None else None
    topics, stamps = topics or BagTopics(), stamps or StampConfig()
    length = seq.info.seq_length
    gt_frames, det_frames = _rows_by_frame(gt, length), _rows_by_frame(det, length)
    image_topic = topics.compressed_image if compressed else topics.image
    with BagWriter(out, storage) as bag:
        bag.add_topic(image_topic, COMPRESSED_IMAGE_TYPE if compressed else IMAGE_TYPE)
        bag.add_topic(topics.camera_info, CAMERA_INFO_TYPE)
        if gt_frames is not None:
            bag.add_topic(topics.ground_truth, DETECTION_ARRAY_TYPE)
        if det_frames is not None:
            bag.add_topic(topics.detections, DETECTION_ARRAY_TYPE)
        if calibration is not None:
            bag.add_topic(topics.tf_static, TF_MESSAGE_TYPE)
            start = stamps.stamp_ns(0, seq.info.frame_rate)
            bag.write(topics.tf_static, start, tf_static_msg(
                bag.store, m.make_header(bag.store, start, topics.world_frame_id),
                topics.camera_frame_id, calibration[1]))
        for i, image_path in enumerate(tqdm(images, desc=f"bag {seq.name}", unit="frame")):
            frame = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
            if frame is None:
                raise ValueError(f"{image_path}: cannot read image")
            stamp = stamps.stamp_ns(i, seq.info.frame_rate)
            header = m.make_header(bag.store, stamp, topics.camera_frame_id)
            make_image = m.compressed_image_msg if compressed else m.image_msg
            if calibration is not None:  # before the image: a node's 3D has it first
                bag.write(topics.camera_info, stamp,
                          calibrated_camera_info(bag.store, header, calibration[0]))
            bag.write(image_topic, stamp, make_image(bag.store, header, frame))
            if calibration is None:
                info = m.camera_info_msg(bag.store, header, frame.shape[1], frame.shape[0])
                bag.write(topics.camera_info, stamp, info)
            if gt_frames is not None:
                bag.write(topics.ground_truth, stamp, _gt_array(bag.store, header, gt_frames[i]))
            if det_frames is not None:
                bag.write(topics.detections, stamp, _det_array(bag.store, header, det_frames[i]))
        return dict(bag.counts)


def write_video_bag(
    video: str | Path,
    out: str | Path,
    fps: float | None = None,
    compressed: bool = False,
    storage: str = "mcap",
    topics: BagTopics | None = None,
    stamps: StampConfig | None = None,
) -> dict:
    """Write every frame of a video file as images (+ camera_info) to a rosbag2 folder.

    Args:
        fps: frame rate for the stamps; None takes the video's own (error if it has none).

    Returns:
        dict topic → message count.
    """
    video = Path(video)
    if not video.is_file():
        raise FileNotFoundError(f"video {video} not found")
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise ValueError(f"video {video}: OpenCV cannot open it")
    fps = fps or capture.get(cv2.CAP_PROP_FPS)
    if not fps or fps <= 0:
        raise ValueError(f"video {video}: no frame rate in the file; pass --fps")
    topics, stamps = topics or BagTopics(), stamps or StampConfig()
    image_topic = topics.compressed_image if compressed else topics.image
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    try:
        with BagWriter(out, storage) as bag:
            bag.add_topic(image_topic, COMPRESSED_IMAGE_TYPE if compressed else IMAGE_TYPE)
            bag.add_topic(topics.camera_info, CAMERA_INFO_TYPE)
            index = 0
            with tqdm(total=total, desc=f"bag {video.name}", unit="frame") as progress:
                while True:
                    ok, frame = capture.read()
                    if not ok:
                        break
                    stamp = stamps.stamp_ns(index, fps)
                    header = m.make_header(bag.store, stamp, topics.camera_frame_id)
                    make = m.compressed_image_msg if compressed else m.image_msg
                    bag.write(image_topic, stamp, make(bag.store, header, frame))
                    info = m.camera_info_msg(bag.store, header, frame.shape[1], frame.shape[0])
                    bag.write(topics.camera_info, stamp, info)
                    index += 1
                    progress.update(1)
            if index == 0:
                raise ValueError(f"video {video}: no frames could be decoded")
            return dict(bag.counts)
    finally:
        capture.release()
