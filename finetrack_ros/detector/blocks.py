"""YOLOX building blocks (Ge et al., "YOLOX: Exceeding YOLO Series in 2021").

Module and attribute names follow YOLOX's ``network_blocks.py`` exactly, because the
state-dict keys of ByteTrack / YOLOX checkpoints are derived from them (``conv``, ``bn``,
``dconv``, ``pconv``, ``conv1``..``conv3``, ``m``). All tensors are (B, C, H, W) float.
"""
from __future__ import annotations

import torch
from torch import nn

# YOLOX sets every BatchNorm to eps=1e-3, momentum=0.03 (``init_yolo`` in its exps).
BN_EPS = 1e-3
BN_MOMENTUM = 0.03


class BaseConv(nn.Module):
    """Conv2d (no bias) → BatchNorm2d → SiLU, 'same' padding for odd kernels.

    After :func:`fuse_conv_bn` the BN is folded into ``conv`` (which gains a bias) and
    ``bn`` becomes ``nn.Identity``.
    """

    def __init__(self, in_channels: int, out_channels: int, ksize: int, stride: int,
                 groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, ksize, stride,
                              padding=(ksize - 1) // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.SiLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class DWConv(nn.Module):
    """Depthwise separable conv: depthwise ``dconv`` (k×k, groups=C) then pointwise ``pconv``."""

    def __init__(self, in_channels: int, out_channels: int, ksize: int, stride: int = 1) -> None:
        super().__init__()
        self.dconv = BaseConv(in_channels, in_channels, ksize, stride, groups=in_channels)
        self.pconv = BaseConv(in_channels, out_channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pconv(self.dconv(x))


def conv_type(depthwise: bool) -> type:
    """Return the k×k conv of a model: :class:`DWConv` for nano, :class:`BaseConv` otherwise."""
    return DWConv if depthwise else BaseConv


class Bottleneck(nn.Module):
    """1×1 conv to ``out·expansion`` channels, k=3 conv back, residual add when shapes allow."""

    def __init__(self, in_channels: int, out_channels: int, shortcut: bool = True,
                 expansion: float = 0.5, depthwise: bool = False) -> None:
        super().__init__()
        hidden = int(out_channels * expansion)
        self.conv1 = BaseConv(in_channels, hidden, 1, 1)
        self.conv2 = conv_type(depthwise)(hidden, out_channels, 3, 1)
        self.use_add = shortcut and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.conv1(x))
        return y + x if self.use_add else y


class CSPLayer(nn.Module):
    """Cross-stage-partial layer (YOLOv5 "C3"): two 1×1 branches, ``n`` bottlenecks on one."""

    def __init__(self, in_channels: int, out_channels: int, n: int = 1, shortcut: bool = True,
                 expansion: float = 0.5, depthwise: bool = False) -> None:
        super().__init__()
        hidden = int(out_channels * expansion)
        self.conv1 = BaseConv(in_channels, hidden, 1, 1)
        self.conv2 = BaseConv(in_channels, hidden, 1, 1)
        self.conv3 = BaseConv(2 * hidden, out_channels, 1, 1)
        self.m = nn.Sequential(
            *[Bottleneck(hidden, hidden, shortcut, 1.0, depthwise) for _ in range(n)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_1 = self.m(self.conv1(x))  # hidden channels, through the bottlenecks
        x_2 = self.conv2(x)  # hidden channels, shortcut branch
        return self.conv3(torch.cat((x_1, x_2), dim=1))


class SPPBottleneck(nn.Module):
    """Spatial pyramid pooling (YOLOv3-SPP): max pools of several sizes, stride 1, concat."""

    def __init__(self, in_channels: int, out_channels: int,
                 kernel_sizes: tuple[int, ...] = (5, 9, 13)) -> None:
        super().__init__()
        hidden = in_channels // 2
        self.conv1 = BaseConv(in_channels, hidden, 1, 1)
        self.m = nn.ModuleList(
            [nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2) for k in kernel_sizes]
        )
        self.conv2 = BaseConv(hidden * (len(kernel_sizes) + 1), out_channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [pool(x) for pool in self.m], dim=1))


class Focus(nn.Module):
    """Space-to-depth stem: (B, C, H, W) → (B, 4C, H/2, W/2) → k×k :class:`BaseConv`.

    The four pixel phases are concatenated in YOLOX's order: top-left ``[::2, ::2]``,
    bottom-left ``[1::2, ::2]``, top-right ``[::2, 1::2]``, bottom-right ``[1::2, 1::2]``.
    H and W must be even.
    """

    def __init__(self, in_channels: int, out_channels: int, ksize: int = 1,
                 stride: int = 1) -> None:
        super().__init__()
        self.conv = BaseConv(in_channels * 4, out_channels, ksize, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top_left = x[..., ::2, ::2]
        bot_left = x[..., 1::2, ::2]
        top_right = x[..., ::2, 1::2]
        bot_right = x[..., 1::2, 1::2]
        return self.conv(torch.cat((top_left, bot_left, top_right, bot_right), dim=1))


@torch.no_grad()
def _fold_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """Return a conv with bias equal to ``bn(conv(x))`` in eval mode."""
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                      conv.padding, groups=conv.groups, bias=True).to(conv.weight.device)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # (C_out,)
    fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
    conv_bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    fused.bias.copy_((conv_bias - bn.running_mean) * scale + bn.bias)
    return fused


def fuse_conv_bn(model: nn.Module) -> nn.Module:
    """Fold every :class:`BaseConv`'s BatchNorm into its conv, in place; returns ``model``.

    Inference only: the result has no BN statistics to train. Outputs match the unfused
    model in eval mode up to float rounding.
    """
    for module in model.modules():
        if isinstance(module, BaseConv) and isinstance(module.bn, nn.BatchNorm2d):
            module.conv = _fold_bn(module.conv, module.bn)
            module.bn = nn.Identity()
    return model
