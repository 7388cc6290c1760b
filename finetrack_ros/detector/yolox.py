"""YOLOX = CSPDarknet-PAFPN + decoupled head; the six published sizes.

``build_yolox("s", num_classes=1)`` gives a model whose ``state_dict()`` keys and shapes are
those of ByteTrack's / YOLOX's released checkpoints of the same size and class count.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from finetrack_ros.detector.head import YOLOXHead
from finetrack_ros.detector.pafpn import YOLOPAFPN


@dataclass(frozen=True)
class YOLOXSize:
    """Scaling of one YOLOX variant (YOLOX ``exps/default/yolox_*.py``)."""

    depth: float  # multiplier on the number of bottlenecks per CSP layer
    width: float  # multiplier on every channel count
    depthwise: bool  # depthwise-separable 3x3 convs (nano only)
    test_size: tuple[int, int]  # (H, W) input size ByteTrack evaluates this size at


SIZES: dict[str, YOLOXSize] = {
    "nano": YOLOXSize(0.33, 0.25, True, (608, 1088)),
    "tiny": YOLOXSize(0.33, 0.375, False, (608, 1088)),
    "s": YOLOXSize(0.33, 0.50, False, (608, 1088)),
    "m": YOLOXSize(0.67, 0.75, False, (800, 1440)),
    "l": YOLOXSize(1.0, 1.0, False, (800, 1440)),
    "x": YOLOXSize(1.33, 1.25, False, (800, 1440)),
}


class YOLOX(nn.Module):
    """Detector network: images (B, 3, H, W), H and W multiples of 32.

    Eval mode returns decoded predictions (B, A, 5 + C) ``[cx, cy, w, h, obj, cls..]`` in
    pixels of the network input (see :class:`YOLOXHead`); training mode returns the head's
    raw per-level maps for a loss defined elsewhere.
    """

    def __init__(self, backbone: YOLOPAFPN, head: YOLOXHead) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    @property
    def num_classes(self) -> int:
        return self.head.num_classes

    def forward(self, images: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"YOLOX: expected images (B, 3, H, W), got {tuple(images.shape)}")
        if images.shape[2] % 32 or images.shape[3] % 32:
            raise ValueError(f"YOLOX: input H, W must be multiples of 32, got "
                             f"{tuple(images.shape[2:])}")
        return self.head(self.backbone(images))


def check_size(size: str) -> YOLOXSize:
    """Return the :class:`YOLOXSize` of a size name; raise ValueError listing the valid names."""
    if size not in SIZES:
        raise ValueError(f"unknown YOLOX model size {size!r}; choose one of {list(SIZES)}")
    return SIZES[size]


def build_yolox(size: str = "s", num_classes: int = 1) -> YOLOX:
    """YOLOX of a published size (nano, tiny, s, m, l, x), randomly initialised.

    Ge, Liu, Wang, Li, Sun: "YOLOX: Exceeding YOLO Series in 2021", arXiv:2107.08430.
    ``num_classes`` is 1 for ByteTrack's MOT checkpoints (person), 80 for COCO.
    """
    spec = check_size(size)
    backbone = YOLOPAFPN(spec.depth, spec.width, spec.depthwise)
    head = YOLOXHead(num_classes, spec.width, spec.depthwise)
    return YOLOX(backbone, head)
