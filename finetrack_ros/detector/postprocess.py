"""From decoded YOLOX predictions to detections: score filter, class-aware NMS, un-letterbox.

All boxes here are ``xyxy`` float pixels; areas use ``(x2 - x1)·(y2 - y1)`` like
torchvision's NMS (no +1).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

# Boxes per block of the blocked NMS sweep (memory ~ NMS_BLOCK² booleans per block).
NMS_BLOCK = 1024


@dataclass(frozen=True)
class PostprocessConfig:
    """Thresholds applied after the network."""

    conf: float = 0.1  # keep obj·cls >= conf; lower keeps more (ByteTrack wants low ones too)
    nms: float = 0.7  # IoU above which a lower-scored box of the same class is dropped
    max_detections: int = 1000  # stop NMS after this many kept boxes per image
    class_agnostic: bool = False  # NMS across classes instead of within each class

    def __post_init__(self) -> None:
        if not 0.0 <= self.conf <= 1.0:
            raise ValueError(f"conf must be in [0, 1], got {self.conf}")
        if not 0.0 <= self.nms <= 1.0:
            raise ValueError(f"nms must be an IoU in [0, 1], got {self.nms}")
        if self.max_detections < 1:
            raise ValueError(f"max_detections must be >= 1, got {self.max_detections}")


def cxcywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) centre-size boxes → (..., 4) corner boxes."""
    cxcy, wh = boxes[..., :2], boxes[..., 2:4]
    return torch.cat([cxcy - wh / 2, cxcy + wh / 2], dim=-1)


def box_iou(boxes_a: torch.Tensor, boxes_b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy boxes → (N, M)."""
    top_left = torch.maximum(boxes_a[:, None, :2], boxes_b[None, :, :2])
    bottom_right = torch.minimum(boxes_a[:, None, 2:], boxes_b[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=2)
    area_a = (boxes_a[:, 2:] - boxes_a[:, :2]).clamp(min=0).prod(dim=1)
    area_b = (boxes_b[:, 2:] - boxes_b[:, :2]).clamp(min=0).prod(dim=1)
    return inter / (area_a[:, None] + area_b[None, :] - inter).clamp(min=1e-12)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float,
        max_keep: int | None = None, block_size: int = NMS_BLOCK) -> torch.Tensor:
    """Greedy NMS: indices (into ``boxes``) of kept boxes, highest score first.

    Args:
        boxes: (N, 4) xyxy. scores: (N,). A box is dropped when its IoU with a kept,
            higher-scored box is > ``iou_threshold``. ``max_keep`` stops early.

    Boxes are visited in score order in blocks of ``block_size``: IoUs are computed on
    the device (block × kept, block × block), and only the inherently sequential sweep
    inside a block runs on the host, on a boolean matrix. Memory is O(block · (block + kept)).
    """
    order = torch.argsort(scores, descending=True, stable=True)
    sorted_boxes = boxes[order]
    kept: list[int] = []  # positions in ``order``
    limit = len(order) if max_keep is None else max_keep
    for start in range(0, len(order), block_size):
        if len(kept) >= limit:
            break
        block = sorted_boxes[start:start + block_size]
        alive = torch.ones(len(block), dtype=torch.bool, device=boxes.device)
        if kept:
            previous = sorted_boxes[torch.tensor(kept, device=boxes.device)]
            alive &= ~(box_iou(block, previous) > iou_threshold).any(dim=1)
        suppresses = torch.triu(box_iou(block, block) > iou_threshold, diagonal=1)
        alive_np, suppresses_np = alive.cpu().numpy(), suppresses.cpu().numpy()
        for i in range(len(block)):
            if alive_np[i]:
                kept.append(start + i)
                if len(kept) >= limit:
                    break
                alive_np &= ~suppresses_np[i]
    return order[torch.tensor(kept, dtype=torch.long, device=boxes.device)]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, class_ids: torch.Tensor,
                iou_threshold: float, max_keep: int | None = None,
                block_size: int = NMS_BLOCK) -> torch.Tensor:
    """Class-aware NMS: boxes of different classes never suppress each other.

    Shifts each class's boxes by ``class_id · (max coordinate + 1)`` so classes cannot
    overlap, then runs :func:`nms` once. Returns kept indices, highest score first.
    """
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    offset = boxes.max() - boxes.min() + 1
    shifted = boxes - boxes.min() + class_ids.to(boxes.dtype)[:, None] * offset
    return nms(shifted, scores, iou_threshold, max_keep, block_size)


def postprocess(predictions: torch.Tensor, config: PostprocessConfig
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Turn the decoded predictions of one image into kept detections in network-input pixels.

    Args:
        predictions: (A, 5 + C) rows ``[cx, cy, w, h, obj, cls_1..cls_C]``, probabilities.

    Returns:
        boxes_xyxy (K, 4) float32, scores (K,) = obj · max cls, class_ids (K,) int64,
        sorted by score, highest first.
    """
    if predictions.ndim != 2 or predictions.shape[1] < 6:
        raise ValueError(f"postprocess: expected (A, 5 + C) predictions, got "
                         f"{tuple(predictions.shape)}")
    predictions = predictions.float()
    class_conf, class_ids = predictions[:, 5:].max(dim=1)
    scores = predictions[:, 4] * class_conf
    mask = scores >= config.conf
    boxes = cxcywh_to_xyxy(predictions[mask, :4])
    scores, class_ids = scores[mask], class_ids[mask]
    if config.class_agnostic:
        keep = nms(boxes, scores, config.nms, config.max_detections)
    else:
        keep = batched_nms(boxes, scores, class_ids, config.nms, config.max_detections)
    return boxes[keep], scores[keep], class_ids[keep].long()


def unletterbox(boxes_xyxy: torch.Tensor, ratio: float) -> torch.Tensor:
    """Network-input pixels → original-image pixels, the inverse of a top-left letterbox."""
    return boxes_xyxy / ratio
