"""YOLOX training loss over the head's raw maps (Ge et al., 2021, Sec. 2.1).

Given the raw per-level maps of :class:`~finetrack_ros.detector.head.YOLOXHead` in training
mode, a list of (B, 5 + C, h, w) ``[reg 4, obj 1, cls C]`` logits, and the GT boxes of each
image, the loss is (as in YOLOX's ``yolo_head.py``):

* **IoU loss** ``1 - IoU²`` between foreground predictions and their assigned GT boxes,
* **objectness BCE** on every anchor (target 1 on foreground anchors, 0 elsewhere),
* **classification BCE** on foreground anchors, target = one-hot class × IoU of the
  prediction (so class scores learn localisation quality),

each summed and divided by the number of foreground anchors, total =
``iou_weight · iou + obj + cls``. Labels are assigned by SimOTA
(:mod:`finetrack_ros.train.yolox_assign`). YOLOX's extra L1 loss for the last epochs is
left out: it only fine-tunes box edges in long COCO schedules.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F

from finetrack_ros.train.yolox_assign import EPS, SimOTAConfig, simota_assign


@dataclass(frozen=True)
class YOLOXLossConfig:
    """Weights of the YOLOX loss terms and the assigner.

    Attributes:
        iou_weight: weight of the IoU loss (YOLOX: 5.0); raise for tighter boxes.
        assigner: SimOTA settings.
    """

    iou_weight: float = 5.0
    assigner: SimOTAConfig = field(default_factory=SimOTAConfig)


def flatten_outputs(raw: Sequence[torch.Tensor], strides: Sequence[int]
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Raw level maps → decoded boxes and flat logits for all anchors.

    Returns:
        boxes (B, A, 4) predicted ``cx, cy, w, h`` in input pixels,
        logits (B, A, 1 + C) ``[obj, cls..]`` raw logits,
        centres (A, 2) anchor cell centres ``(x, y)`` in input pixels, ``(grid + 0.5) · stride``,
        anchor_strides (A,) the stride of each anchor.
    """
    boxes, logits, centres, anchor_strides = [], [], [], []
    for x, stride in zip(raw, strides):
        _, _, h, w = x.shape
        x = x.flatten(2).permute(0, 2, 1)  # (B, h·w, 5 + C), row-major cells
        ys, xs = torch.meshgrid(torch.arange(h, device=x.device),
                                torch.arange(w, device=x.device), indexing="ij")
        grid = torch.stack((xs, ys), 2).reshape(h * w, 2).to(x.dtype)  # (h·w, 2) cell x, y
        boxes.append(torch.cat([(x[..., :2] + grid) * stride,
                                torch.exp(x[..., 2:4].clamp(max=10.0)) * stride], -1))
        logits.append(x[..., 4:])
        centres.append((grid + 0.5) * stride)
        anchor_strides.append(torch.full((h * w,), float(stride), device=x.device))
    return (torch.cat(boxes, 1), torch.cat(logits, 1), torch.cat(centres, 0),
            torch.cat(anchor_strides, 0))


def xyxy_to_cxcywh(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) ``x1, y1, x2, y2`` → (..., 4) ``cx, cy, w, h``."""
    return torch.cat([(boxes[..., :2] + boxes[..., 2:]) / 2, boxes[..., 2:] - boxes[..., :2]],
                     -1)


def aligned_iou_cxcywh(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, 4) and (N, 4) centre-size boxes → (N,) IoU of each row pair (differentiable)."""
    tl = torch.maximum(a[:, :2] - a[:, 2:] / 2, b[:, :2] - b[:, 2:] / 2)
    br = torch.minimum(a[:, :2] + a[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2)
    wh = (br - tl).clamp(min=0)
    inter = wh[:, 0] * wh[:, 1]
    return inter / (a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter).clamp(min=EPS)


def yolox_loss(raw: Sequence[torch.Tensor], strides: Sequence[int],
               targets: Sequence[tuple[torch.Tensor, torch.Tensor]],
               config: YOLOXLossConfig = YOLOXLossConfig()) -> dict[str, torch.Tensor]:
    """YOLOX loss of one batch.

    Args:
        raw: per-level raw head maps (B, 5 + C, h, w), training mode.
        strides: stride of each level (the head's ``strides``).
        targets: per image, ``(boxes_xyxy (G, 4) float in input pixels, classes (G,) int64)``;
            G may be 0 (background-only image).
        config: loss weights and assigner settings.

    Returns:
        ``total``, ``iou``, ``obj``, ``cls`` (scalars; ``total`` is differentiable) and
        ``num_fg`` (foreground anchors in the batch, float).
    """
    if len(targets) != raw[0].shape[0]:
        raise ValueError(f"yolox_loss: {len(targets)} targets for a batch of {raw[0].shape[0]}")
    boxes, logits, centres, anchor_strides = flatten_outputs(raw, strides)
    num_classes = logits.shape[-1] - 1
    obj_target = torch.zeros_like(logits[..., 0])
    fg_boxes, fg_gt, fg_cls_logits, fg_cls_target = [], [], [], []
    for b, (gt_xyxy, gt_cls) in enumerate(targets):
        if len(gt_xyxy) == 0:
            continue
        gt = xyxy_to_cxcywh(gt_xyxy.to(boxes))
        scores = torch.sigmoid(logits[b, :, 1:]) * torch.sigmoid(logits[b, :, :1])
        match = simota_assign(boxes[b].detach(), scores.detach(), centres, anchor_strides, gt,
                              gt_cls.to(boxes.device), num_classes, config.assigner)
        fg = match["foreground"]
        obj_target[b, fg] = 1.0
        fg_boxes.append(boxes[b, fg])
        fg_gt.append(gt[match["matched_gt"]])
        fg_cls_logits.append(logits[b, fg, 1:])
        one_hot = F.one_hot(gt_cls.to(boxes.device)[match["matched_gt"]], num_classes)
        fg_cls_target.append(one_hot.float() * match["matched_iou"][:, None])
    num_fg = max(float(obj_target.sum()), 1.0)
    loss_obj = F.binary_cross_entropy_with_logits(logits[..., 0], obj_target,
                                                  reduction="sum") / num_fg
    if fg_boxes:
        pred, gt = torch.cat(fg_boxes), torch.cat(fg_gt)
        iou = aligned_iou_cxcywh(pred, gt)
        loss_iou = (1.0 - iou ** 2).sum() / num_fg
        loss_cls = F.binary_cross_entropy_with_logits(
            torch.cat(fg_cls_logits), torch.cat(fg_cls_target), reduction="sum") / num_fg
    else:
        loss_iou = loss_cls = logits.sum() * 0.0
    total = config.iou_weight * loss_iou + loss_obj + loss_cls
    return {"total": total, "iou": loss_iou.detach(), "obj": loss_obj.detach(),
            "cls": loss_cls.detach(), "num_fg": torch.tensor(float(obj_target.sum()))}
