"""Detections derived from ground truth, with a detector's typical errors.

For tracker-only evaluation (``det/det.txt``): every considered GT box is detected unless
missed, with misses far likelier under occlusion; detected boxes are jittered in centre and
size and scored lower the more the person is hidden (so ByteTrack's low-score stage has
work); Poisson false positives with low scores appear at random places.
"""
from __future__ import annotations

import numpy as np

from finetrack_ros.sim.config import DetectionNoiseConfig
from finetrack_ros.sim.scene import FrameTruth

FALSE_POSITIVE_HEIGHT = (0.1, 0.45)  # false-positive box heights, fractions of image height
FALSE_POSITIVE_ASPECT = (0.3, 0.5)  # their width / height


def noisy_detections(truth: FrameTruth, noise: DetectionNoiseConfig, image_size: tuple[int, int],
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Simulate the detections of one frame.

    Args:
        truth: the frame's ground truth.
        noise: error model.
        image_size: (width, height) in pixels; boxes are clipped to it.
        rng: random source (the scene's detection stream).

    Returns:
        boxes_tlwh (M, 4) float32 pixels and scores (M,) float32 in [min_score, 1].
    """
    width, height = image_size
    vis = truth.visibility[truth.consider]
    boxes = truth.boxes_tlwh[truth.consider].astype(np.float64)
    hidden = 1.0 - vis
    p_miss = np.clip(noise.miss_rate + noise.occlusion_miss * hidden ** 2, 0.0, 1.0)
    keep = rng.random(len(boxes)) >= p_miss
    boxes, hidden = boxes[keep], hidden[keep]
    jitter = rng.normal(0.0, noise.box_jitter, (len(boxes), 4)) * boxes[:, [2, 3, 2, 3]]
    centre = boxes[:, :2] + boxes[:, 2:] / 2 + jitter[:, :2]
    size = np.maximum(boxes[:, 2:] + jitter[:, 2:], 2.0)
    scores = (noise.score_mean - noise.score_occlusion_drop * hidden
              + rng.normal(0.0, noise.score_std, len(boxes)))
    fp_boxes, fp_scores = _false_positives(noise, width, height, rng)
    boxes = np.concatenate([np.concatenate([centre - size / 2, size], 1), fp_boxes])
    scores = np.concatenate([scores, fp_scores])
    boxes = _clip_tlwh(boxes, width, height)
    keep = (scores >= noise.min_score) & (boxes[:, 2] > 1) & (boxes[:, 3] > 1)
    return boxes[keep].astype(np.float32), np.minimum(scores[keep], 1.0).astype(np.float32)


def _false_positives(noise: DetectionNoiseConfig, width: int, height: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    count = int(rng.poisson(noise.false_positives_per_frame))
    h = rng.uniform(*FALSE_POSITIVE_HEIGHT, count) * height
    w = h * rng.uniform(*FALSE_POSITIVE_ASPECT, count)
    x = rng.uniform(0, 1, count) * (width - w)
    y = rng.uniform(0, 1, count) * (height - h)
    scores = rng.uniform(noise.min_score, noise.false_positive_score_max, count)
    return np.stack([x, y, w, h], 1).reshape(-1, 4), scores


def _clip_tlwh(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    x0 = np.clip(boxes[:, 0], 0, width)
    y0 = np.clip(boxes[:, 1], 0, height)
    x1 = np.clip(boxes[:, 0] + boxes[:, 2], 0, width)
    y1 = np.clip(boxes[:, 1] + boxes[:, 3], 0, height)
    return np.stack([x0, y0, x1 - x0, y1 - y0], 1)
