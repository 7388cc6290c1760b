"""FineTrack Re-ID losses (Ren et al., CVPR 2023, Sec. 3.5).

    L = alpha (L_cls^p + L_tri^p) + beta (L_cls^g + L_tri^g) + gamma L_div

``L_cls`` is identity cross-entropy, ``L_tri`` the batch-hard triplet loss (Hermans et al.
2017), ``^p`` the K part features (averaged over parts), ``^g`` the global feature, and
``L_div`` the diversity loss that pushes the K part features of one crop apart:

    L_div = 1 / (N K (K - 1)) sum_n sum_{i != j} cos(f_p^{n,i}, f_p^{n,j})
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class ReIDLossConfig:
    """Weights and hyper-parameters of the FineTrack loss.

    Attributes:
        label_smoothing: cross-entropy label smoothing epsilon (0 = plain CE; 0.1 is common).
        margin: triplet margin in feature-distance units; larger separates harder.
        triplet_normalize: L2-normalise features before the triplet distances (then the
            margin is on the unit sphere, where distances lie in [0, 2]).
        alpha: weight of the part losses; ``None`` = 0.5 * K (the paper's choice).
        beta: weight of the global losses (paper: 0.3).
        gamma: weight of the diversity loss (paper: 2); 0 disables it.
    """

    label_smoothing: float = 0.1
    margin: float = 0.3
    triplet_normalize: bool = False
    alpha: float | None = None
    beta: float = 0.3
    gamma: float = 2.0


def identity_loss(logits: torch.Tensor, labels: torch.Tensor,
                  smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy of (N, C) logits against (N,) int labels, with label smoothing."""
    return F.cross_entropy(logits.float(), labels, label_smoothing=smoothing)


def pairwise_distances(features: torch.Tensor) -> torch.Tensor:
    """(N, E) -> (N, N) Euclidean distances (clamped so the gradient at 0 is finite)."""
    squared = features.pow(2).sum(dim=1)
    dist2 = squared[:, None] + squared[None, :] - 2.0 * features @ features.t()
    return dist2.clamp_min(1e-12).sqrt()


def hardest_pairs(features: torch.Tensor, labels: torch.Tensor):
    """Batch-hard mining: for each anchor its farthest positive and closest negative.

    Args:
        features: (N, E) float features.
        labels: (N,) int identities.

    Returns:
        (pos_dist (N,), neg_dist (N,), pos_index (N,), neg_index (N,), valid (N,) bool);
        ``valid`` is False for anchors without a positive (other than itself) or a negative.
    """
    dist = pairwise_distances(features.float())
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    positive, negative = same & ~eye, ~same
    pos_dist, pos_index = dist.masked_fill(~positive, float("-inf")).max(dim=1)
    neg_dist, neg_index = dist.masked_fill(~negative, float("inf")).min(dim=1)
    valid = positive.any(dim=1) & negative.any(dim=1)
    return pos_dist, neg_dist, pos_index, neg_index, valid


def batch_hard_triplet_loss(features: torch.Tensor, labels: torch.Tensor, margin: float,
                            normalize: bool = False) -> torch.Tensor:
    """Return the mean over valid anchors of max(0, d(a, hardest p) - d(a, hardest n) + margin).

    Zero (with a graph) when no anchor has both a positive and a negative.
    """
    if normalize:
        features = F.normalize(features.float(), dim=1)
    pos_dist, neg_dist, _, _, valid = hardest_pairs(features, labels)
    if not valid.any():
        return features.sum() * 0.0
    return F.relu(pos_dist[valid] - neg_dist[valid] + margin).mean()


def diversity_loss(part_features: torch.Tensor) -> torch.Tensor:
    """Mean cosine similarity between different parts of the same crop.

    Args:
        part_features: (N, K, E), K >= 2.

    Returns:
        scalar, 1 / (N K (K - 1)) * sum_n sum_{i != j} cos(f^{n,i}, f^{n,j}), in [-1/(K-1), 1].
    """
    n, k, _ = part_features.shape
    if k < 2:
        raise ValueError(f"diversity_loss: needs K >= 2 parts, got part_features "
                         f"{tuple(part_features.shape)}")
    unit = F.normalize(part_features.float(), dim=2)
    cosine = unit @ unit.transpose(1, 2)  # (N, K, K)
    off_diagonal = cosine.sum() - cosine.diagonal(dim1=1, dim2=2).sum()
    return off_diagonal / (n * k * (k - 1))


class FineTrackLoss:
    """The total FineTrack loss on the training-mode outputs of ``FineTrackReID``.

    ``outputs`` holds ``part_features`` (N, K, E), ``global_feature`` (N, E),
    ``part_logits`` (N, K, C) and ``global_logits`` (N, C); ``labels`` is (N,) int64.
    Returns a dict of scalar tensors: ``total`` and its terms ``part_cls``, ``part_tri``,
    ``global_cls``, ``global_tri``, ``diversity`` (unweighted; part terms averaged over K).
    """

    def __init__(self, cfg: ReIDLossConfig) -> None:
        self.cfg = cfg

    def __call__(self, outputs: dict[str, torch.Tensor],
                 labels: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        parts, part_logits = outputs["part_features"], outputs["part_logits"]
        k = parts.shape[1]
        terms = {
            "part_cls": torch.stack([identity_loss(part_logits[:, i], labels, cfg.label_smoothing)
                                     for i in range(k)]).mean(),
            "part_tri": torch.stack([batch_hard_triplet_loss(parts[:, i], labels, cfg.margin,
                                                             cfg.triplet_normalize)
                                     for i in range(k)]).mean(),
            "global_cls": identity_loss(outputs["global_logits"], labels, cfg.label_smoothing),
            "global_tri": batch_hard_triplet_loss(outputs["global_feature"], labels, cfg.margin,
                                                  cfg.triplet_normalize),
            "diversity": diversity_loss(parts) if k >= 2 else parts.sum() * 0.0,
        }
        alpha = 0.5 * k if cfg.alpha is None else cfg.alpha
        terms["total"] = (alpha * (terms["part_cls"] + terms["part_tri"])
                          + cfg.beta * (terms["global_cls"] + terms["global_tri"])
                          + cfg.gamma * terms["diversity"])
        return terms
