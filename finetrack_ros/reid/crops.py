"""Batched crops of detection boxes on the device, RoIAlign-like, with one ``grid_sample``.

The frame (or just the region holding all boxes) is uploaded once as uint8 and converted to
float once; every box is then resampled to the crop size by bilinear sampling at the centres
of the crop's output cells (half-pixel convention: image pixel i covers [i, i + 1), its
centre is i + 0.5). Only the crops are normalised, so the per-frame cost does not grow with
the image. Parts of a box outside the image read the pixel mean (zero after normalising).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def check_frame(frame_bgr: np.ndarray) -> None:
    """Raise ``ValueError`` naming shape and dtype unless ``frame_bgr`` is (H, W, 3) uint8."""
    if not isinstance(frame_bgr, np.ndarray) or frame_bgr.dtype != np.uint8 \
            or frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
        shape = getattr(frame_bgr, "shape", None)
        dtype = getattr(frame_bgr, "dtype", type(frame_bgr).__name__)
        raise ValueError(f"frame_bgr: expected an (H, W, 3) uint8 array, got shape {shape} "
                         f"dtype {dtype}")


def valid_boxes(boxes_xyxy: np.ndarray, min_side: float) -> tuple[np.ndarray, list[str]]:
    """Which boxes can be cropped, and why the others cannot.

    Args:
        boxes_xyxy: (N, 4) pixels.
        min_side: boxes with width or height below this (pixels) are rejected.

    Returns:
        keep (N,) bool, and one reason string per rejected box (e.g.
        ``"box 3 [10.0, 5.0, 10.0, 40.0]: width 0.00 or height 35.00 < min_box_side 1.0"``).
    """
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    finite = np.isfinite(boxes).all(axis=1)
    widths = np.where(finite, boxes[:, 2] - boxes[:, 0], 0.0)
    heights = np.where(finite, boxes[:, 3] - boxes[:, 1], 0.0)
    keep = finite & (widths >= min_side) & (heights >= min_side) & (widths > 0) & (heights > 0)
    reasons = []
    for i in np.flatnonzero(~keep):
        box = [round(float(v), 2) for v in boxes[i]]
        if not finite[i]:
            reasons.append(f"box {i} {box}: non-finite coordinates")
        else:
            reasons.append(f"box {i} {box}: width {widths[i]:.2f} or height {heights[i]:.2f} "
                           f"< min_box_side {min_side}")
    return keep, reasons


def boxes_region(boxes_xyxy: np.ndarray, image_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """Integer region (x0, y0, x1, y1) of the image that bilinear crops of the boxes read.

    One pixel of margin covers the bilinear neighbours; clipped to the image. Boxes fully
    outside give an empty region (x1 <= x0 or y1 <= y0).
    """
    height, width = image_hw
    x0 = int(np.clip(np.floor(boxes_xyxy[:, 0].min()) - 1, 0, width))
    y0 = int(np.clip(np.floor(boxes_xyxy[:, 1].min()) - 1, 0, height))
    x1 = int(np.clip(np.ceil(boxes_xyxy[:, 2].max()) + 1, 0, width))
    y1 = int(np.clip(np.ceil(boxes_xyxy[:, 3].max()) + 1, 0, height))
    return x0, y0, x1, y1


def upload_frame(frame_bgr: np.ndarray, device: torch.device | str) -> torch.Tensor:
    """(H, W, 3) uint8 BGR -> (1, 3, H, W) float32 BGR 0..255 on ``device``.

    Uploads uint8 (a quarter of the bytes); the result is a channels-last view, which
    ``grid_sample`` reads fastest on CPU. Channels are swapped later, on the small crops.
    """
    check_frame(frame_bgr)
    image = torch.from_numpy(np.ascontiguousarray(frame_bgr)).to(device)  # (H, W, 3) uint8
    return image.permute(2, 0, 1).unsqueeze(0).float()  # (1, 3, H, W) BGR


def boxes_to_grid(boxes_xyxy: torch.Tensor, image_hw: tuple[int, int],
                  crop_hw: tuple[int, int]) -> torch.Tensor:
    """Compute the sampling grid of every box, for ``grid_sample(align_corners=False)``.

    Args:
        boxes_xyxy: (N, 4) float pixels of the image.
        image_hw: (H, W) of the image.
        crop_hw: (h, w) of each crop.

    Returns:
        (N, h, w, 2) normalised (x, y): cell (i, j) samples image point
        (x1 + (j + 0.5) * bw / w, y1 + (i + 0.5) * bh / h).
    """
    height, width = image_hw
    xs, ys = sample_points(boxes_xyxy, crop_hw)  # (N, w), (N, h) image pixels
    crop_h, crop_w = crop_hw
    grid_x = (2.0 * xs / width - 1.0)[:, None, :].expand(-1, crop_h, -1)  # (N, h, w)
    grid_y = (2.0 * ys / height - 1.0)[:, :, None].expand(-1, -1, crop_w)  # (N, h, w)
    return torch.stack((grid_x, grid_y), dim=-1)  # (N, h, w, 2)


def sample_points(boxes_xyxy: torch.Tensor,
                  crop_hw: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Image x (N, w) and y (N, h) of the crop-cell centres (continuous pixel coordinates)."""
    crop_h, crop_w = crop_hw
    like = {"device": boxes_xyxy.device, "dtype": boxes_xyxy.dtype}
    steps_x = (torch.arange(crop_w, **like) + 0.5) / crop_w  # (w,) fractions of the width
    steps_y = (torch.arange(crop_h, **like) + 0.5) / crop_h  # (h,)
    x1, y1, x2, y2 = boxes_xyxy.unbind(dim=1)  # (N,) each
    xs = x1[:, None] + steps_x[None] * (x2 - x1)[:, None]  # (N, w)
    ys = y1[:, None] + steps_y[None] * (y2 - y1)[:, None]  # (N, h)
    return xs, ys


def inside_weight(boxes_xyxy: torch.Tensor, image_hw: tuple[int, int],
                  crop_hw: tuple[int, int]) -> torch.Tensor:
    """(N, 1, h, w): share of each bilinear sample's weight that falls inside the image.

    Equals ``grid_sample`` of an all-ones image with zero padding; 1 inside, 0 beyond
    half a pixel outside. Separable: along x it is clamp(min(p + 1, W - p), 0, 1) with
    p = x - 0.5 the pixel-index coordinate.
    """
    height, width = image_hw
    xs, ys = sample_points(boxes_xyxy, crop_hw)
    wx = torch.minimum(xs + 0.5, width + 0.5 - xs).clamp(0, 1)  # (N, w)
    wy = torch.minimum(ys + 0.5, height + 0.5 - ys).clamp(0, 1)  # (N, h)
    return (wy[:, :, None] * wx[:, None, :]).unsqueeze(1)  # (N, 1, h, w)


def crop_boxes(image: torch.Tensor, boxes_xyxy: torch.Tensor,
               crop_hw: tuple[int, int]) -> torch.Tensor:
    """Crop and resize all boxes of one image in a single ``grid_sample`` call.

    Args:
        image: (1, C, H, W) float.
        boxes_xyxy: (N, 4) pixels of ``image``, on its device; boxes may leave the image.
        crop_hw: (h, w).

    Returns:
        (N, C, h, w), a non-contiguous view of one (1, C, N h, w) sample. Out-of-image
        samples read zero (bilinear blend at the border).
    """
    if image.dim() != 4 or image.shape[0] != 1:
        raise ValueError(f"crop_boxes: image must be (1, C, H, W), got {tuple(image.shape)}")
    n, channels = boxes_xyxy.shape[0], image.shape[1]
    crop_h, crop_w = crop_hw
    if n == 0:
        return image.new_zeros((0, channels, crop_h, crop_w))
    grid = boxes_to_grid(boxes_xyxy.to(image.dtype), image.shape[-2:], crop_hw)  # (N, h, w, 2)
    # All crops stacked along the height of one grid: the image is not copied N times.
    stacked = F.grid_sample(image, grid.reshape(1, n * crop_h, crop_w, 2), mode="bilinear",
                            padding_mode="zeros", align_corners=False)  # (1, C, N h, w)
    return stacked.view(channels, n, crop_h, crop_w).transpose(0, 1)  # (N, C, h, w)


def crop_and_normalise(frame_bgr: np.ndarray, boxes_xyxy: np.ndarray,
                       crop_hw: tuple[int, int], mean_rgb: tuple[float, float, float],
                       std_rgb: tuple[float, float, float],
                       device: torch.device | str = "cpu") -> torch.Tensor:
    """Network input for every box: one upload, one ``grid_sample``.

    Args:
        frame_bgr: (H, W, 3) uint8 BGR.
        boxes_xyxy: (N, 4) float pixels (may leave the image; must have positive size).
        crop_hw: (h, w) crop size.
        mean_rgb, std_rgb: per-channel statistics of RGB scaled to [0, 1].
        device: where to crop.

    Returns:
        (N, 3, h, w) float32 RGB, ``(x / 255 - mean) / std``; outside the image 0 (the mean).
    """
    check_frame(frame_bgr)
    boxes = np.asarray(boxes_xyxy, np.float32).reshape(-1, 4)
    image_hw = frame_bgr.shape[:2]
    if len(boxes) == 0:
        return torch.zeros((0, 3, *crop_hw), device=device)
    x0, y0, x1, y1 = boxes_region(boxes, image_hw)
    if x1 <= x0 or y1 <= y0:  # every box lies outside: all crops are the mean
        return torch.zeros((len(boxes), 3, *crop_hw), device=device)
    image = upload_frame(frame_bgr[y0:y1, x0:x1], device)  # (1, 3, y1-y0, x1-x0) BGR
    boxes_t = torch.from_numpy(boxes).to(image.device)  # (N, 4)
    offset = boxes_t.new_tensor([x0, y0, x0, y0])
    crops_bgr = crop_boxes(image, boxes_t - offset, crop_hw)  # (N, 3, h, w) BGR 0..255
    inside = inside_weight(boxes_t, image_hw, crop_hw)[:, 0]  # (N, h, w)
    out = torch.empty((len(boxes), 3, *crop_hw), device=image.device)
    # (x - mean) / std with the mean standing in for the zero padding: x was sampled with
    # zeros outside, so x_padded = x + (1 - inside) mean and the result is
    # x / std - inside mean / std. Written channel by channel, swapping BGR -> RGB.
    for rgb in range(3):
        mean, std = 255.0 * mean_rgb[rgb], 255.0 * std_rgb[rgb]
        torch.mul(crops_bgr[:, 2 - rgb], 1.0 / std, out=out[:, rgb])
        out[:, rgb].add_(inside, alpha=-mean / std)
    return out  # (N, 3, h, w) RGB, normalised
