"""Embedding head with a BNNeck.

From Luo et al., "Bag of Tricks and a Strong Baseline for Deep Person Re-identification",
CVPRW 2019.

feature (N, in) -> linear embedding (N, E) -> BatchNorm1d -> (N, E) -> classifier (N, C).
The triplet loss uses the embedding before the BN, the identity loss the logits after it,
and inference the feature after it. As in the paper, the BN has no learnt shift.
"""
from __future__ import annotations

import torch
from torch import nn


class BNNeckHead(nn.Module):
    """Embedding + BNNeck + (optional) identity classifier.

    Args:
        in_dim: input feature size.
        embed_dim: E.
        num_classes: C; 0 builds no classifier (``forward`` then returns no logits).

    ``forward(x (N, in))`` -> (pre_bn (N, E), post_bn (N, E), logits (N, C) or None).
    """

    def __init__(self, in_dim: int, embed_dim: int, num_classes: int) -> None:
        super().__init__()
        self.embed = nn.Linear(in_dim, embed_dim, bias=False)
        self.bn = nn.BatchNorm1d(embed_dim)
        self.bn.bias.requires_grad_(False)  # BNNeck: BN without shift
        self.classifier = nn.Linear(embed_dim, num_classes, bias=False) if num_classes else None
        nn.init.kaiming_normal_(self.embed.weight, mode="fan_out")
        if self.classifier is not None:
            nn.init.normal_(self.classifier.weight, std=0.001)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        pre_bn = self.embed(x)  # (N, E)
        post_bn = self.bn(pre_bn)  # (N, E)
        logits = self.classifier(post_bn) if self.classifier is not None else None  # (N, C)
        return pre_bn, post_bn, logits
