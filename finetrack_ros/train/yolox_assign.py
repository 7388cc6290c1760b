"""SimOTA label assignment for YOLOX training (Ge et al., 2021, Sec. 2.1 "SimOTA").

We use SimOTA rather than a fixed centre prior because (a) it is what YOLOX and ByteTrack
trained with, so our loss matches the checkpoints' training recipe, and (b) the dynamic
``k`` adapts the number of positives to each object's size and to how well the network
already fits it, which matters in crowded scenes where a fixed centre region of one person
overlaps the next person's.

For one image:

1. **Candidates**: anchors whose cell centre lies inside a GT box *or* within
   ``center_radius`` strides of its centre (the "centre prior").
2. **Cost** per (GT, candidate): classification cost (BCE of ``sqrt(cls·obj)`` against 1)
   plus ``iou_weight · -log(IoU)``, plus a large penalty unless the anchor is in *both*
   the box and the centre region.
3. **Dynamic k** per GT: the sum of its top-``topk_iou`` candidate IoUs, at least 1; each
   GT takes its ``k`` cheapest candidates; an anchor claimed by several GTs keeps the cheapest.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

EPS = 1e-8


@dataclass(frozen=True)
class SimOTAConfig:
    """SimOTA settings (YOLOX defaults).

    Attributes:
        center_radius: centre-prior radius in strides around each GT centre; larger gives
            more candidates to small objects.
        topk_iou: how many best candidate IoUs are summed to get a GT's dynamic k.
        iou_weight: weight of ``-log(IoU)`` against the classification cost.
        outside_cost: cost added to anchors not in both the box and the centre region, so
            they are chosen only when nothing better exists.
    """

    center_radius: float = 2.5
    topk_iou: int = 10
    iou_weight: float = 3.0
    outside_cost: float = 1e5


def pairwise_iou_cxcywh(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, 4) × (M, 4) centre-size boxes → (N, M) IoU (areas without +1)."""
    a_tl, a_br = a[:, None, :2] - a[:, None, 2:] / 2, a[:, None, :2] + a[:, None, 2:] / 2
    b_tl, b_br = b[None, :, :2] - b[None, :, 2:] / 2, b[None, :, :2] + b[None, :, 2:] / 2
    wh = (torch.minimum(a_br, b_br) - torch.maximum(a_tl, b_tl)).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = (a[:, None, 2] * a[:, None, 3]) + (b[None, :, 2] * b[None, :, 3]) - inter
    return inter / union.clamp(min=EPS)


def _candidates(gt_cxcywh: torch.Tensor, centres: torch.Tensor, strides: torch.Tensor,
                radius: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(any-candidate (A,) bool, in-box-and-centre (G, A) bool) of the centre prior."""
    gt_tl = gt_cxcywh[:, None, :2] - gt_cxcywh[:, None, 2:] / 2  # (G, 1, 2)
    gt_br = gt_cxcywh[:, None, :2] + gt_cxcywh[:, None, 2:] / 2
    in_box = ((centres[None] > gt_tl) & (centres[None] < gt_br)).all(-1)  # (G, A)
    reach = radius * strides[None, :, None]  # (1, A, 1)
    offset = (centres[None] - gt_cxcywh[:, None, :2]).abs()
    in_centre = (offset < reach).all(-1)  # (G, A)
    return (in_box | in_centre).any(0), in_box & in_centre


@torch.no_grad()
def simota_assign(pred_boxes: torch.Tensor, pred_scores: torch.Tensor,
                  centres: torch.Tensor, strides: torch.Tensor, gt_boxes: torch.Tensor,
                  gt_classes: torch.Tensor, num_classes: int,
                  config: SimOTAConfig = SimOTAConfig()) -> dict[str, torch.Tensor]:
    """Assign anchors of one image to its GT objects.

    Args:
        pred_boxes: (A, 4) predicted ``cx, cy, w, h`` in input pixels.
        pred_scores: (A, C) ``sigmoid(cls) · sigmoid(obj)`` probabilities.
        centres: (A, 2) anchor cell centres ``(x, y)`` in input pixels.
        strides: (A,) stride of each anchor's level.
        gt_boxes: (G, 4) GT ``cx, cy, w, h`` in input pixels, G >= 1.
        gt_classes: (G,) int64 class indices.
        num_classes: C.

    Returns:
        ``foreground`` (A,) bool, ``matched_gt`` (F,) int64 GT index of each foreground
        anchor (in anchor order), ``matched_iou`` (F,) IoU of its prediction with that GT.
    """
    num_anchors = pred_boxes.shape[0]
    candidate, core = _candidates(gt_boxes, centres, strides, config.center_radius)
    cand_idx = candidate.nonzero(as_tuple=True)[0]
    foreground = torch.zeros(num_anchors, dtype=torch.bool, device=pred_boxes.device)
    if len(cand_idx) == 0:
        empty = torch.zeros(0, dtype=torch.long, device=pred_boxes.device)
        return {"foreground": foreground, "matched_gt": empty,
                "matched_iou": torch.zeros(0, device=pred_boxes.device)}
    ious = pairwise_iou_cxcywh(gt_boxes, pred_boxes[cand_idx])  # (G, K)
    target = F.one_hot(gt_classes, num_classes).float()[:, None, :]  # (G, 1, C)
    probs = pred_scores[cand_idx].float().sqrt()[None].expand(len(gt_boxes), -1, -1)
    cls_cost = F.binary_cross_entropy(probs.clamp(EPS, 1 - EPS),
                                      target.expand_as(probs), reduction="none").sum(-1)
    cost = (cls_cost + config.iou_weight * -torch.log(ious + EPS)
            + config.outside_cost * (~core[:, cand_idx]).float())
    matching = _dynamic_k_matching(cost, ious, config.topk_iou)  # (G, K) bool
    keep = matching.any(0)
    foreground[cand_idx[keep]] = True
    matched_gt = matching[:, keep].float().argmax(0)
    matched_iou = (matching.float() * ious).sum(0)[keep]
    return {"foreground": foreground, "matched_gt": matched_gt, "matched_iou": matched_iou}


def _dynamic_k_matching(cost: torch.Tensor, ious: torch.Tensor, topk: int) -> torch.Tensor:
    """(G, K) cost and IoU → (G, K) bool matching, each anchor to at most one GT."""
    top_ious, _ = torch.topk(ious, min(topk, ious.shape[1]), dim=1)
    dynamic_k = top_ious.sum(1).int().clamp(min=1)
    matching = torch.zeros_like(cost, dtype=torch.bool)
    for g in range(cost.shape[0]):
        _, idx = torch.topk(cost[g], int(min(dynamic_k[g], cost.shape[1])), largest=False)
        matching[g, idx] = True
    shared = matching.sum(0) > 1
    if shared.any():
        best = cost[:, shared].argmin(0)
        matching[:, shared] = False
        matching[best, shared.nonzero(as_tuple=True)[0]] = True
    return matching
