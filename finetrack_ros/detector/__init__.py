"""YOLOX detector, checkpoint-compatible with ByteTrack and official YOLOX releases.

``YOLOXDetector(checkpoint, size, num_classes, ...)(frame_bgr) -> Detections``; the network
alone is ``build_yolox(size, num_classes)``.
"""
from finetrack_ros.detector.checkpoint import (
    guess_yolox_config,
    load_yolox_weights,
    read_state_dict,
)
from finetrack_ros.detector.detector import DetectorConfig, YOLOXDetector
from finetrack_ros.detector.postprocess import PostprocessConfig, batched_nms, nms, postprocess
from finetrack_ros.detector.preprocess import PreprocessConfig, letterbox, preprocess
from finetrack_ros.detector.yolox import SIZES, YOLOX, build_yolox

__all__ = [
    "SIZES", "YOLOX", "DetectorConfig", "PostprocessConfig",
    "PreprocessConfig", "YOLOXDetector", "batched_nms", "build_yolox", "guess_yolox_config",
    "letterbox", "load_yolox_weights", "nms", "postprocess", "preprocess", "read_state_dict",
]
