"""Detector training samples from MOTChallenge sequences, with flip and scale jitter.

A sample is one frame of a sequence folder (``seqinfo.ini`` optional, ``img1/*.jpg``,
``gt/gt.txt``) and its pedestrian boxes: GT rows with ``conf = 1``, class 1 (pedestrian) and
visibility >= ``min_visibility``. Augmentation places the frame on the network canvas at a
jittered letterbox scale and a random offset, optionally mirrored, with brightness jitter;
boxes follow and those left mostly outside the canvas are dropped. No mosaic.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from finetrack_ros.mot import CLASS as GT_CLASS
from finetrack_ros.mot import CONF as GT_CONF
from finetrack_ros.mot import FRAME as GT_FRAME
from finetrack_ros.mot import VISIBILITY as GT_VIS
from finetrack_ros.mot import H as GT_H
from finetrack_ros.mot import X as GT_X
from finetrack_ros.mot import open_sequence, read_mot_txt

PEDESTRIAN_CLASS = 1
PAD_VALUE = 114  # letterbox canvas grey, as in detector preprocessing
MIN_KEPT_FRACTION = 0.4  # keep an augmented box if at least this much of it stays on canvas
MIN_BOX_SIDE = 2.0  # drop boxes thinner than this many canvas pixels


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation.

    Attributes:
        flip_prob: probability of a horizontal mirror.
        scale_range: (min, max) multiplier on the letterbox scale; > 1 zooms in (crops).
        brightness: max relative brightness change (uniform in ±brightness).
    """

    flip_prob: float = 0.5
    scale_range: tuple[float, float] = (0.7, 1.3)
    brightness: float = 0.2


@dataclass
class FrameSample:
    """One training frame: ``image_path`` and ``boxes_xyxy`` (N, 4) float32 image pixels."""

    image_path: Path
    boxes_xyxy: np.ndarray


def frame_targets(rows: np.ndarray, min_visibility: float) -> tuple[np.ndarray, np.ndarray]:
    """GT rows of one frame → (boxes_xyxy (N, 4) float32, required (N,) bool).

    ``required`` marks pedestrians (``conf = 1``, class 1) with visibility >= ``min_visibility``.
    """
    tlwh = rows[:, GT_X:GT_H + 1]
    xyxy = np.concatenate([tlwh[:, :2], tlwh[:, :2] + tlwh[:, 2:]], 1).astype(np.float32)
    required = ((rows[:, GT_CONF] == 1) & (rows[:, GT_CLASS] == PEDESTRIAN_CLASS)
                & (rows[:, GT_VIS] >= min_visibility))
    return xyxy, required


def load_sequence_samples(seq_dir: str | Path, min_visibility: float) -> list[FrameSample]:
    """Every frame of a MOT sequence folder that has an image, with its kept GT boxes."""
    seq = open_sequence(seq_dir)
    if not seq.gt_path.is_file():
        raise FileNotFoundError(f"train-detector: no ground truth {seq.gt_path}")
    gt = read_mot_txt(seq.gt_path)
    samples = []
    for frame in range(1, seq.num_frames(gt) + 1):
        path = seq.image_path(frame)
        if not path.is_file():
            continue
        boxes, required = frame_targets(gt[gt[:, GT_FRAME] == frame], min_visibility)
        samples.append(FrameSample(path, boxes[required]))
    if not samples:
        raise FileNotFoundError(f"train-detector: no images found for {seq.path} "
                                f"(looked for {seq.image_path(1)})")
    return samples


def augment(image: np.ndarray, boxes_xyxy: np.ndarray, input_size: tuple[int, int],
            config: AugmentConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Place an image on the (H, W) network canvas with scale jitter, offset, flip.

    Args:
        image: (h, w, 3) uint8 BGR.
        boxes_xyxy: (N, 4) image pixels.
        input_size: (H, W) canvas.

    Returns:
        canvas (H, W, 3) uint8 and its boxes (M, 4) float32 in canvas pixels, M <= N.
    """
    height, width = input_size
    ratio = min(height / image.shape[0], width / image.shape[1]) * rng.uniform(*config.scale_range)
    new_w, new_h = max(1, int(image.shape[1] * ratio)), max(1, int(image.shape[0] * ratio))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    boxes = boxes_xyxy.astype(np.float32) * ratio
    if rng.random() < config.flip_prob:
        resized = resized[:, ::-1]
        boxes = np.stack([new_w - boxes[:, 2], boxes[:, 1], new_w - boxes[:, 0], boxes[:, 3]], 1)
    dx = int(rng.integers(min(0, width - new_w), max(0, width - new_w) + 1))
    dy = int(rng.integers(min(0, height - new_h), max(0, height - new_h) + 1))
    canvas = np.full((height, width, 3), PAD_VALUE, np.uint8)
    x0, y0 = max(dx, 0), max(dy, 0)
    x1, y1 = min(dx + new_w, width), min(dy + new_h, height)
    canvas[y0:y1, x0:x1] = resized[y0 - dy:y1 - dy, x0 - dx:x1 - dx]
    gain = 1.0 + rng.uniform(-config.brightness, config.brightness)
    canvas = cv2.convertScaleAbs(canvas, alpha=gain)
    return canvas, _shift_and_clip(boxes, dx, dy, width, height)


def _shift_and_clip(boxes: np.ndarray, dx: int, dy: int, width: int, height: int) -> np.ndarray:
    boxes = boxes.reshape(-1, 4) + np.array([dx, dy, dx, dy], np.float32)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    clipped = boxes.copy()
    clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(0, width)
    clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(0, height)
    sides = clipped[:, 2:] - clipped[:, :2]
    kept_area = sides.prod(1)
    keep = ((sides >= MIN_BOX_SIDE).all(1)
            & (kept_area >= MIN_KEPT_FRACTION * np.maximum(area, 1e-6)))
    return clipped[keep].astype(np.float32)
