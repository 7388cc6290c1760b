"""YOLOX neck: PAFPN (PANet path aggregation, Liu et al., 2018) over CSPDarknet.

Channel comments below are for width 1.0 (YOLOX-l); every count scales with ``width``.
Attribute names (``backbone``, ``lateral_conv0``, ``C3_p4``, ...) match YOLOX's
``yolo_pafpn.py`` so checkpoint keys line up.
"""
from __future__ import annotations

import torch
from torch import nn

from finetrack_ros.detector.blocks import BaseConv, CSPLayer, conv_type
from finetrack_ros.detector.darknet import CSPDarknet

IN_FEATURES = ("dark3", "dark4", "dark5")
IN_CHANNELS = (256, 512, 1024)  # of dark3/4/5 at width 1.0


class YOLOPAFPN(nn.Module):
    """CSPDarknet + top-down FPN + bottom-up PAN.

    ``forward(x)`` takes images (B, 3, H, W), H and W multiples of 32, and returns three
    maps ``(P3 (B, 256w, H/8, W/8), P4 (B, 512w, H/16, W/16), P5 (B, 1024w, H/32, W/32))``.
    """

    def __init__(self, depth: float, width: float, depthwise: bool = False) -> None:
        super().__init__()
        self.backbone = CSPDarknet(depth, width, IN_FEATURES, depthwise)
        c3, c4, c5 = (int(c * width) for c in IN_CHANNELS)
        n = round(3 * depth)
        conv = conv_type(depthwise)
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.lateral_conv0 = BaseConv(c5, c4, 1, 1)
        self.C3_p4 = CSPLayer(2 * c4, c4, n, shortcut=False, depthwise=depthwise)
        self.reduce_conv1 = BaseConv(c4, c3, 1, 1)
        self.C3_p3 = CSPLayer(2 * c3, c3, n, shortcut=False, depthwise=depthwise)
        self.bu_conv2 = conv(c3, c3, 3, 2)
        self.C3_n3 = CSPLayer(2 * c3, c4, n, shortcut=False, depthwise=depthwise)
        self.bu_conv1 = conv(c4, c4, 3, 2)
        self.C3_n4 = CSPLayer(2 * c4, c5, n, shortcut=False, depthwise=depthwise)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        features = self.backbone(x)
        x2, x1, x0 = (features[name] for name in IN_FEATURES)  # /8, /16, /32

        fpn_out0 = self.lateral_conv0(x0)  # 1024 -> 512, /32
        f_out0 = torch.cat([self.upsample(fpn_out0), x1], 1)  # 512 + 512 -> 1024, /16
        f_out0 = self.C3_p4(f_out0)  # 1024 -> 512, /16

        fpn_out1 = self.reduce_conv1(f_out0)  # 512 -> 256, /16
        f_out1 = torch.cat([self.upsample(fpn_out1), x2], 1)  # 256 + 256 -> 512, /8
        pan_out2 = self.C3_p3(f_out1)  # 512 -> 256, /8

        p_out1 = torch.cat([self.bu_conv2(pan_out2), fpn_out1], 1)  # 256 + 256 -> 512, /16
        pan_out1 = self.C3_n3(p_out1)  # 512 -> 512, /16

        p_out0 = torch.cat([self.bu_conv1(pan_out1), fpn_out0], 1)  # 512 + 512 -> 1024, /32
        pan_out0 = self.C3_n4(p_out0)  # 1024 -> 1024, /32
        return pan_out2, pan_out1, pan_out0
