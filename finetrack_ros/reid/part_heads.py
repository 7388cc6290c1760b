"""MPMG: Multi-Part Mask Generation (our reading of FineTrack, Ren et al., CVPR 2023).

The aligned FAFPN map is split along channels into K blocks; block k feeds its own small
head that predicts one mask logit map; part feature k is the mask-weighted average of the
whole aligned map. No part labels are used: the masks are learnt from the identity,
triplet and diversity losses alone.
"""
from __future__ import annotations

import torch
from torch import nn

# Added to the mask sum before dividing, so an all-zero mask gives a zero feature, not NaN.
MASK_SUM_EPS = 1e-6


class PartMaskHead(nn.Module):
    """One part's mask head: 3x3 conv-BN-ReLU then a 1x1 conv to one logit channel.

    ``forward((N, c, h, w)) -> (N, 1, h, w)`` mask logits.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.logit = nn.Conv2d(channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logit(self.relu(self.bn(self.conv(x))))


def masked_average(features: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Mask-weighted spatial average.

    Args:
        features: (N, C, h, w).
        masks: (N, K, h, w), non-negative weights.

    Returns:
        (N, K, C): sum(mask_k * F) / sum(mask_k) per part.
    """
    weighted = torch.einsum("nkhw,nchw->nkc", masks, features)  # (N, K, C)
    return weighted / (masks.sum(dim=(2, 3)).unsqueeze(-1) + MASK_SUM_EPS)


class MPMG(nn.Module):
    """K part masks and part features from the aligned map.

    Args:
        channels: C of the aligned map. Its channels are split into ``num_parts`` blocks
            as evenly as possible (``torch.tensor_split``), so C need not divide by K.
        num_parts: K.

    ``forward(aligned (N, C, h, w))`` -> (part_features (N, K, C), masks (N, K, h, w) in
    [0, 1]).
    """

    def __init__(self, channels: int, num_parts: int) -> None:
        super().__init__()
        if not 1 <= num_parts <= channels:
            raise ValueError(f"MPMG: num_parts must be in [1, {channels}], got {num_parts}")
        self.num_parts = num_parts
        block_sizes = [len(b) for b in torch.arange(channels).tensor_split(num_parts)]
        self.heads = nn.ModuleList(PartMaskHead(size) for size in block_sizes)

    def forward(self, aligned: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        blocks = aligned.tensor_split(self.num_parts, dim=1)  # K x (N, C/K, h, w)
        logits = torch.cat([head(block) for head, block in zip(self.heads, blocks)],
                           dim=1)  # (N, K, h, w)
        masks = torch.sigmoid(logits)  # (N, K, h, w) in [0, 1]
        return masked_average(aligned, masks), masks  # (N, K, C), (N, K, h, w)
