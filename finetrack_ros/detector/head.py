"""YOLOX decoupled head, inference only (Ge et al., 2021, Sec. 2.1 "Decoupled head").

Per level: a 1×1 ``stem`` to 256w channels, then two 3×3 conv branches, classification
(``cls_convs`` → ``cls_preds``, C logits) and regression (``reg_convs`` → ``reg_preds``, 4
box offsets, and ``obj_preds``, 1 objectness logit). Anchor-free, one prediction per cell.
Training losses and label assignment are not here. Names match YOLOX's ``yolo_head.py``.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from finetrack_ros.detector.blocks import BaseConv, conv_type
from finetrack_ros.detector.pafpn import IN_CHANNELS

STRIDES = (8, 16, 32)
HEAD_CHANNELS = 256  # at width 1.0
PRIOR_PROB = 0.01  # initial foreground probability of cls/obj logits (focal-loss style init)


class YOLOXHead(nn.Module):
    """Decoupled head over the three PAFPN levels.

    ``forward(features)`` takes ``(P3, P4, P5)`` and returns raw maps per level in training
    mode, a list of (B, 5 + C, h, w) ``[reg 4, obj 1, cls C]`` logits. In eval mode it
    returns the decoded predictions (B, A, 5 + C), A = sum of h·w over levels, rows
    ``[cx, cy, w, h, obj, cls_1..cls_C]`` with boxes in input-image pixels (letterboxed
    network input) and obj/cls as probabilities (sigmoid applied).
    """

    def __init__(self, num_classes: int, width: float, depthwise: bool = False,
                 strides: Sequence[int] = STRIDES) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"YOLOXHead: num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.strides = tuple(strides)
        hidden = int(HEAD_CHANNELS * width)
        conv = conv_type(depthwise)
        self.stems = nn.ModuleList()
        self.cls_convs = nn.ModuleList()
        self.reg_convs = nn.ModuleList()
        self.cls_preds = nn.ModuleList()
        self.reg_preds = nn.ModuleList()
        self.obj_preds = nn.ModuleList()
        for in_channels in IN_CHANNELS:
            self.stems.append(BaseConv(int(in_channels * width), hidden, 1, 1))
            self.cls_convs.append(nn.Sequential(conv(hidden, hidden, 3, 1),
                                                conv(hidden, hidden, 3, 1)))
            self.reg_convs.append(nn.Sequential(conv(hidden, hidden, 3, 1),
                                                conv(hidden, hidden, 3, 1)))
            self.cls_preds.append(nn.Conv2d(hidden, num_classes, 1))
            self.reg_preds.append(nn.Conv2d(hidden, 4, 1))
            self.obj_preds.append(nn.Conv2d(hidden, 1, 1))
        self.initialize_biases(PRIOR_PROB)

    def initialize_biases(self, prior_prob: float) -> None:
        """Set cls/obj biases so that sigmoid(bias) = ``prior_prob`` (as YOLOX does)."""
        bias = -math.log((1 - prior_prob) / prior_prob)
        for conv in list(self.cls_preds) + list(self.obj_preds):
            nn.init.constant_(conv.bias, bias)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
        raw = []
        for level, x in enumerate(features):
            x = self.stems[level](x)
            cls_output = self.cls_preds[level](self.cls_convs[level](x))  # (B, C, h, w)
            reg_feat = self.reg_convs[level](x)
            reg_output = self.reg_preds[level](reg_feat)  # (B, 4, h, w)
            obj_output = self.obj_preds[level](reg_feat)  # (B, 1, h, w)
            raw.append(torch.cat([reg_output, obj_output, cls_output], 1))
        if self.training:
            return raw
        return self.decode(raw)

    def decode(self, raw: Sequence[torch.Tensor]) -> torch.Tensor:
        """Raw level maps (B, 5 + C, h, w) → (B, A, 5 + C) ``[cx, cy, w, h, obj, cls..]``.

        ``xy = (p + grid)·stride``, ``wh = exp(p)·stride``, obj/cls through a sigmoid.
        """
        outputs = []
        for x, stride in zip(raw, self.strides):
            batch, channels, h, w = x.shape
            x = x.flatten(2).permute(0, 2, 1)  # (B, h·w, 5 + C), row-major cells
            ys, xs = torch.meshgrid(torch.arange(h, device=x.device),
                                    torch.arange(w, device=x.device), indexing="ij")
            grid = torch.stack((xs, ys), dim=2).reshape(1, h * w, 2).to(x.dtype)
            xy = (x[..., :2] + grid) * stride
            wh = torch.exp(x[..., 2:4]) * stride
            outputs.append(torch.cat([xy, wh, torch.sigmoid(x[..., 4:])], dim=2))
        return torch.cat(outputs, dim=1)
