"""CSPDarknet: the YOLOX backbone (Ge et al., 2021; CSPNet, Wang et al., 2020).

Stage names and strides: ``stem`` /2, ``dark2`` /4, ``dark3`` /8, ``dark4`` /16, ``dark5`` /32.
Channels at width multiplier w: stem 64w, dark2 128w, dark3 256w, dark4 512w, dark5 1024w.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from finetrack_ros.detector.blocks import CSPLayer, Focus, SPPBottleneck, conv_type

STAGES = ("stem", "dark2", "dark3", "dark4", "dark5")


def scaled_depth(depth: float, base: int = 3) -> int:
    """Bottleneck count of a CSP layer: ``max(round(base·depth), 1)`` as in YOLOX."""
    return max(round(base * depth), 1)


class CSPDarknet(nn.Module):
    """CSPDarknet backbone returning the named stages in ``out_features``.

    Args:
        depth: depth multiplier (0.33 for s/tiny/nano, 0.67 m, 1.0 l, 1.33 x).
        width: width multiplier (0.25 nano, 0.375 tiny, 0.5 s, 0.75 m, 1.0 l, 1.25 x).
        out_features: stage names to return, a subset of :data:`STAGES`.
        depthwise: depthwise-separable 3×3 convs (YOLOX-nano).

    ``forward(x)`` takes (B, 3, H, W) with H, W multiples of 32 and returns
    ``{name: (B, C, H/stride, W/stride)}`` for the requested stages.
    """

    def __init__(self, depth: float, width: float,
                 out_features: Sequence[str] = ("dark3", "dark4", "dark5"),
                 depthwise: bool = False) -> None:
        super().__init__()
        unknown = [name for name in out_features if name not in STAGES]
        if unknown or not out_features:
            raise ValueError(f"CSPDarknet: out_features {list(out_features)} must be a "
                             f"non-empty subset of {STAGES}")
        if depth <= 0 or width <= 0:
            raise ValueError(f"CSPDarknet: depth {depth} and width {width} must be positive")
        self.out_features = tuple(out_features)
        base_channels = int(width * 64)
        base_depth = scaled_depth(depth)
        self.stem = Focus(3, base_channels, ksize=3)
        self.dark2 = self._make_stage(base_channels, base_channels * 2, base_depth, depthwise)
        self.dark3 = self._make_stage(base_channels * 2, base_channels * 4, base_depth * 3,
                                      depthwise)
        self.dark4 = self._make_stage(base_channels * 4, base_channels * 8, base_depth * 3,
                                      depthwise)
        self.dark5 = self._make_stage(base_channels * 8, base_channels * 16, base_depth,
                                      depthwise, last=True)

    @staticmethod
    def _make_stage(in_channels: int, out_channels: int, n: int, depthwise: bool,
                    last: bool = False) -> nn.Sequential:
        """Stride-2 3×3 conv, then (for the last stage) SPP, then a CSP layer of ``n``."""
        layers: list[nn.Module] = [conv_type(depthwise)(in_channels, out_channels, 3, 2)]
        if last:
            layers.append(SPPBottleneck(out_channels, out_channels))
        layers.append(CSPLayer(out_channels, out_channels, n=n, shortcut=not last,
                               depthwise=depthwise))
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        outputs = {}
        for name in STAGES:
            x = getattr(self, name)(x)
            outputs[name] = x
        return {name: outputs[name] for name in self.out_features}

