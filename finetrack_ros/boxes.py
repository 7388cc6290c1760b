"""Box format conversions and ByteTrack's IoU.

Formats (all in pixels of the original image, float):
    ``xyxy`` = (x1, y1, x2, y2), ``tlwh`` = (x, y, w, h) with (x, y) the top-left corner,
    ``xyah`` = (cx, cy, a = w / h, h), the Kalman filter's measurement space.
Every function accepts a single box (4,) or a batch (N, 4) and returns the same rank.
"""
from __future__ import annotations

import numpy as np


def _as_boxes(boxes: np.ndarray) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.shape[-1:] != (4,) or arr.ndim > 2:
        raise ValueError(f"boxes: expected shape (4,) or (N, 4), got {arr.shape}")
    return arr


def tlwh_to_xyxy(tlwh: np.ndarray) -> np.ndarray:
    """(x, y, w, h) -> (x1, y1, x2, y2)."""
    out = _as_boxes(tlwh).copy()
    out[..., 2:] += out[..., :2]
    return out


def xyxy_to_tlwh(xyxy: np.ndarray) -> np.ndarray:
    """(x1, y1, x2, y2) -> (x, y, w, h)."""
    out = _as_boxes(xyxy).copy()
    out[..., 2:] -= out[..., :2]
    return out


def tlwh_to_xyah(tlwh: np.ndarray) -> np.ndarray:
    """(x, y, w, h) -> (cx, cy, w / h, h), ByteTrack's ``STrack.tlwh_to_xyah``."""
    out = _as_boxes(tlwh).copy()
    out[..., :2] += out[..., 2:] / 2
    out[..., 2] /= out[..., 3]
    return out


def xyxy_to_xyah(xyxy: np.ndarray) -> np.ndarray:
    """(x1, y1, x2, y2) -> (cx, cy, w / h, h)."""
    return tlwh_to_xyah(xyxy_to_tlwh(xyxy))


def xyah_to_tlwh(xyah: np.ndarray) -> np.ndarray:
    """(cx, cy, a, h) -> (x, y, w, h), ByteTrack's ``STrack.tlwh`` from the Kalman mean."""
    out = _as_boxes(xyah).copy()
    out[..., 2] *= out[..., 3]
    out[..., :2] -= out[..., 2:] / 2
    return out


def xyah_to_xyxy(xyah: np.ndarray) -> np.ndarray:
    """(cx, cy, a, h) -> (x1, y1, x2, y2)."""
    return tlwh_to_xyxy(xyah_to_tlwh(xyah))


def iou_matrix(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Pairwise IoU exactly as ByteTrack's ``cython_bbox.bbox_overlaps``.

    Pixel-inclusive: widths and heights are ``x2 - x1 + 1`` and ``y2 - y1 + 1`` (the
    PASCAL VOC convention), so borderline matches agree with ByteTrack's.

    Args:
        boxes_a: (N, 4) xyxy.
        boxes_b: (M, 4) xyxy.

    Returns:
        (N, M) float64 IoU in [0, 1]; (N, 0) or (0, M) for empty input.
    """
    a = np.asarray(boxes_a, np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, np.float64).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float64)
    area_a = (a[:, 2] - a[:, 0] + 1) * (a[:, 3] - a[:, 1] + 1)
    area_b = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + 1
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + 1
    overlap = (iw > 0) & (ih > 0)
    inter = np.where(overlap, iw * ih, 0.0)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(overlap, inter / np.where(overlap, union, 1.0), 0.0)
