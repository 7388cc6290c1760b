"""Calibration inputs for int8 quantization, from the user's own frames (no ROS).

``finetrack export onnx --int8 --calib SRC`` reads frames spread evenly over SRC, a MOT
sequence folder or a rosbag2, with the boxes of each frame (the folder's ``det/det.txt``, else
``gt/gt.txt``; the bag's Detection2DArray topic). The detector calibrates on the letterboxed
frames, the Re-ID network on crops of the boxes: the activation ranges int8 keeps are those of
the camera and scenes the robot will see.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from finetrack_ros.structures import Detections

DEFAULT_FRAMES = 64  # frames read from SRC
MAX_CROPS = 512  # Re-ID crops kept (spread over the frames)
CROP_BATCH = 16  # crops per calibration batch


@dataclass
class CalibrationFrames:
    """Frames of a calibration source and the boxes in each (``xyxy`` pixels)."""

    source: str
    frames: list = field(default_factory=list)  # (H, W, 3) uint8 BGR
    boxes: list = field(default_factory=list)  # (N, 4) float32 per frame

    @property
    def box_count(self) -> int:
        return sum(len(b) for b in self.boxes)


def read_calibration_frames(path: str | Path, count: int = DEFAULT_FRAMES,
                            image_topic: str = "/camera/image_raw",
                            detections_topic: str = "/detections") -> CalibrationFrames:
    """Read ``count`` frames spread evenly over a MOT folder or a bag, with their boxes.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: neither a MOT folder nor a bag, or it holds no frames.
    """
    from finetrack_ros.bag.reader import is_bag
    from finetrack_ros.mot import is_sequence_dir

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"--calib {path}: no such file or folder")
    if count < 1:
        raise ValueError(f"--calib-frames {count}: need at least 1")
    if is_bag(path):
        calibration = _from_bag(path, count, image_topic, detections_topic)
    elif is_sequence_dir(path):
        calibration = _from_sequence(path, count)
    else:
        raise ValueError(f"--calib {path}: neither a MOT sequence folder (seqinfo.ini, img1/, "
                         "det/) nor a rosbag2 (metadata.yaml, .mcap, .db3)")
    if not calibration.frames:
        raise ValueError(f"--calib {path}: no frames to calibrate on")
    return calibration


def _spread(total: int, count: int) -> list[int]:
    """``count`` indices in 0..total-1 spread evenly (all of them when count >= total)."""
    if total <= count:
        return list(range(total))
    return sorted({int(i) for i in np.linspace(0, total - 1, count).round()})


def _from_sequence(path: Path, count: int) -> CalibrationFrames:
    import cv2

    from finetrack_ros.mot import load_detections, open_sequence

    seq = open_sequence(path)
    boxes_file = seq.det_path if seq.det_path.is_file() else seq.gt_path
    by_frame = load_detections(boxes_file) if boxes_file.is_file() else {}
    total = seq.last_image_frame()
    calibration = CalibrationFrames(f"{path} ({count} of {total} frames)")
    for index in _spread(total, count):
        frame = cv2.imread(str(seq.image_path(index + 1)))
        if frame is None:
            raise ValueError(f"--calib {path}: cannot read {seq.image_path(index + 1)}")
        calibration.frames.append(frame)
        detections = by_frame.get(index + 1, Detections())
        calibration.boxes.append(np.asarray(detections.boxes_xyxy, np.float32).reshape(-1, 4))
    return calibration


def _from_bag(path: Path, count: int, image_topic: str, detections_topic: str
              ) -> CalibrationFrames:
    from finetrack_ros.bag.reader import IMAGE_TYPES, BagReader, bag_folder
    from finetrack_ros.image_codec import image_msg_to_bgr
    from finetrack_ros.messages import detection_array_to_numpy

    with BagReader(bag_folder(path)) as bag:
        bag.require_topic(image_topic, IMAGE_TYPES)
        topic = detections_topic if detections_topic in bag.topics else None
        total = bag.count(image_topic)
        wanted = set(_spread(total, count))
        calibration = CalibrationFrames(f"{path} {image_topic} ({len(wanted)} of {total} "
                                        "frames)")
        for pair in bag.paired_messages(image_topic, topic):
            if pair.index not in wanted:
                continue
            calibration.frames.append(image_msg_to_bgr(pair.image))
            boxes = np.zeros((0, 4), np.float32)
            if pair.detections is not None:
                boxes = detection_array_to_numpy(pair.detections)["boxes_xyxy"]
            calibration.boxes.append(np.asarray(boxes, np.float32).reshape(-1, 4))
    return calibration


def detector_inputs(detector, calibration: CalibrationFrames) -> list[np.ndarray]:
    """Return the detector's preprocessed (1, 3, H, W) float32 input of every frame."""
    return [detector.preprocess(frame)[0].float().cpu().numpy()
            for frame in calibration.frames]


def reid_inputs(config, calibration: CalibrationFrames, max_crops: int = MAX_CROPS,
                batch: int = CROP_BATCH) -> list[np.ndarray]:
    """Return normalised Re-ID crops of the boxes, in (``batch``, 3, h, w) float32 batches.

    Raises:
        ValueError: the source has no boxes to crop.
    """
    import torch

    from finetrack_ros.reid.crops import crop_and_normalise, valid_boxes

    if calibration.box_count == 0:
        raise ValueError(f"--calib {calibration.source}: no boxes to crop for Re-ID "
                         "calibration; give a MOT folder with det/det.txt or gt/gt.txt, or a "
                         "bag with a detections topic (--detections-topic)")
    step = max(1, calibration.box_count // max_crops)
    crops = []
    for frame, boxes in zip(calibration.frames, calibration.boxes):
        keep, _ = valid_boxes(boxes, config.min_box_side)
        if keep.any():
            crops.append(crop_and_normalise(frame, boxes[keep], config.crop_size,
                                            config.pixel_mean, config.pixel_std, "cpu"))
    if not crops:
        raise ValueError(f"--calib {calibration.source}: every box is smaller than the Re-ID "
                         f"network's min_box_side ({config.min_box_side} px)")
    every = torch.cat(crops)[::step][:max_crops]
    return [chunk.numpy() for chunk in every.split(batch)]
