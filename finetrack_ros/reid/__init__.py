"""FineTrack Re-ID (Ren et al., CVPR 2023): ResNet, FAFPN, MPMG part heads, FeatureExtractor.

Usage::

    model = load_reid(path, device) or FineTrackReID(ReIDConfig(...))
    extractor = FeatureExtractor(model, device="cpu")  # or FeatureExtractor.load(path)
    features = extractor(frame_bgr, boxes_xyxy)  # (N, D) float32, unit rows
"""
from .backbone import ResNet
from .checkpoint import load_reid, read_reid_checkpoint, save_reid, save_reid_for_inference
from .config import PRESETS, ReIDConfig
from .crops import crop_and_normalise, crop_boxes, upload_frame, valid_boxes
from .extractor import FeatureExtractor
from .flow_fpn import FAFPN, FlowAlignment, flow_warp
from .model import FineTrackReID, fuse_embedding
from .part_heads import MPMG

__all__ = [
    "FAFPN", "MPMG", "PRESETS", "FeatureExtractor", "FineTrackReID", "FlowAlignment",
    "ReIDConfig", "ResNet", "crop_and_normalise", "crop_boxes", "flow_warp", "fuse_embedding",
    "load_reid", "read_reid_checkpoint", "save_reid", "save_reid_for_inference", "upload_frame",
    "valid_boxes",
]
