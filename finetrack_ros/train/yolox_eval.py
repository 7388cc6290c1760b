"""Detector precision and recall at an IoU threshold on MOT sequences with ground truth.

Per frame, detections are matched greedily in descending score order to the unmatched GT
box of highest IoU >= ``iou_threshold``. GT boxes count as *required* when ``conf = 1``,
class 1 and visibility >= ``min_visibility``; other GT boxes (heavily hidden people) are
*optional*: a detection matching one is neither a true nor a false positive, and missing
one is no miss. Sweeping the score threshold gives the precision-recall curve.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from finetrack_ros.mot import open_sequence, read_mot_txt
from finetrack_ros.progress import progress_bar
from finetrack_ros.structures import Detections
from finetrack_ros.train.yolox_data import GT_FRAME, frame_targets

TRUE_POSITIVE, FALSE_POSITIVE, IGNORED = 1, 0, -1


@dataclass
class DetectionQuality:
    """Precision/recall summary.

    Attributes:
        precision, recall: at ``score_threshold``.
        score_threshold: the score threshold they were measured at.
        best_recall_at_precision: highest recall over thresholds where precision >= the
            requested target (``target_precision``), 0 when none reaches it.
        target_precision: the precision target used above.
        num_gt: required GT boxes.
    """

    precision: float
    recall: float
    score_threshold: float
    best_recall_at_precision: float
    target_precision: float
    num_gt: int


def _iou_xyxy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(br - tl, 0, None).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).prod(1)
    area_b = (b[:, 2:] - b[:, :2]).prod(1)
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-9)


def match_frame(det: Detections, gt_xyxy: np.ndarray, required: np.ndarray,
                iou_threshold: float) -> np.ndarray:
    """(N,) outcome per detection: TRUE_POSITIVE, FALSE_POSITIVE or IGNORED."""
    outcome = np.full(len(det), FALSE_POSITIVE, np.int64)
    if len(det) == 0 or len(gt_xyxy) == 0:
        return outcome
    iou = _iou_xyxy(det.boxes_xyxy, gt_xyxy)
    taken = np.zeros(len(gt_xyxy), bool)
    for d in np.argsort(-det.scores, kind="stable"):
        candidates = np.where(~taken & (iou[d] >= iou_threshold), iou[d], -1.0)
        g = int(candidates.argmax())
        if candidates[g] < 0:
            continue
        taken[g] = True
        outcome[d] = TRUE_POSITIVE if required[g] else IGNORED
    return outcome


def evaluate_detector(detect: Callable[[np.ndarray], Detections], sequences: Sequence[Path],
                      iou_threshold: float = 0.5, min_visibility: float = 0.3,
                      score_threshold: float = 0.5, target_precision: float = 0.9,
                      progress: bool = True) -> DetectionQuality:
    """Run ``detect`` on every frame of each sequence and summarise precision/recall."""
    scores, outcomes, num_gt = [], [], 0
    for seq in map(open_sequence, sequences):
        gt = read_mot_txt(seq.gt_path)
        for frame in progress_bar(range(1, seq.num_frames(gt) + 1), desc=f"eval {seq.name}",
                          disable=not progress):
            image = cv2.imread(str(seq.image_path(frame)))
            if image is None:
                raise FileNotFoundError(f"eval: cannot read image {seq.image_path(frame)}")
            gt_xyxy, required = frame_targets(gt[gt[:, GT_FRAME] == frame], min_visibility)
            det = detect(image)
            outcomes.append(match_frame(det, gt_xyxy, required, iou_threshold))
            scores.append(det.scores)
            num_gt += int(required.sum())
    return summarise(np.concatenate(scores), np.concatenate(outcomes), num_gt,
                     score_threshold, target_precision)


def summarise(scores: np.ndarray, outcomes: np.ndarray, num_gt: int, score_threshold: float,
              target_precision: float) -> DetectionQuality:
    """Precision/recall at a threshold and the best recall reaching ``target_precision``."""
    counted = outcomes != IGNORED
    order = np.argsort(-scores[counted], kind="stable")
    hits = (outcomes[counted][order] == TRUE_POSITIVE).astype(np.float64)
    tp, fp = np.cumsum(hits), np.cumsum(1.0 - hits)
    precision_curve = tp / np.maximum(tp + fp, 1.0)
    recall_curve = tp / max(num_gt, 1)
    ok = precision_curve >= target_precision
    best = float(recall_curve[ok].max()) if ok.any() else 0.0
    above = scores[counted] >= score_threshold
    tp_at = float((outcomes[counted][above] == TRUE_POSITIVE).sum())
    n_at = float(above.sum())
    return DetectionQuality(precision=tp_at / max(n_at, 1.0), recall=tp_at / max(num_gt, 1),
                            score_threshold=score_threshold, best_recall_at_precision=best,
                            target_precision=target_precision, num_gt=num_gt)
