"""ResNet backbone (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016).

The module layout and state-dict key names match torchvision's ``resnet.py`` (``conv1``,
``bn1``, ``layer1``..``layer4`` with ``downsample.0``/``downsample.1``; the stride of a
bottleneck sits on its 3x3 conv, "ResNet v1.5"), so an ImageNet ``resnet50-*.pth`` loads
as initialisation. There is no ``fc``: the network returns named stages C2..C5 instead.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

# Stage name -> (stride w.r.t. the input, with last_stride = 2).
STAGE_STRIDES = {"C2": 4, "C3": 8, "C4": 16, "C5": 32}
_STAGE_LAYERS = {"C2": "layer1", "C3": "layer2", "C4": "layer3", "C5": "layer4"}


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1, no bias (a BN follows)."""
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution, no bias (a BN follows)."""
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convs (ResNet-18/34)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carries the stride), 1x1 expand by 4 (ResNet-50)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


# depth name -> (block type, blocks per stage)
_ARCHS: dict[str, tuple[type[nn.Module], tuple[int, int, int, int]]] = {
    "resnet18": (BasicBlock, (2, 2, 2, 2)),
    "resnet34": (BasicBlock, (3, 4, 6, 3)),
    "resnet50": (Bottleneck, (3, 4, 6, 3)),
}


class ResNet(nn.Module):
    """ResNet trunk returning a dict of named stages.

    Args:
        arch: ``resnet18``, ``resnet34`` or ``resnet50``.
        last_stride: stride of layer4 (2 = ImageNet ResNet, C5 at stride 32; 1 = C5 at
            stride 16, common in Re-ID).
        out_features: stages to return, a subset of ``("C2", "C3", "C4", "C5")``.

    ``forward(x)``: x (N, 3, H, W) -> {name: (N, channels[name], H/stride, W/stride)}.
    """

    def __init__(self, arch: str = "resnet50", last_stride: int = 2,
                 out_features: tuple[str, ...] = ("C2", "C3", "C4", "C5"),
                 base_width: int = 64) -> None:
        super().__init__()
        if arch not in _ARCHS:
            raise ValueError(f"ResNet: arch {arch!r} unknown; choose one of {sorted(_ARCHS)}")
        if last_stride not in (1, 2):
            raise ValueError(f"ResNet: last_stride must be 1 or 2, got {last_stride}")
        bad = [name for name in out_features if name not in _STAGE_LAYERS]
        if bad or not out_features:
            raise ValueError(f"ResNet: out_features {out_features} must be a non-empty subset "
                             f"of {tuple(_STAGE_LAYERS)}")
        if base_width < 1:
            raise ValueError(f"ResNet: base_width must be >= 1, got {base_width}")
        block, layers = _ARCHS[arch]
        # Stage widths; base_width 64 is torchvision's ResNet (ImageNet weights load only then).
        widths = tuple(base_width * m for m in (1, 2, 4, 8))
        self.out_features = tuple(out_features)
        self.inplanes = base_width
        self.conv1 = nn.Conv2d(3, base_width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(base_width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, widths[0], layers[0])
        self.layer2 = self._make_layer(block, widths[1], layers[1], stride=2)
        self.layer3 = self._make_layer(block, widths[2], layers[2], stride=2)
        self.layer4 = self._make_layer(block, widths[3], layers[3], stride=last_stride)
        self.channels = {f"C{i + 2}": width * block.expansion for i, width in enumerate(widths)}
        self.strides = dict(STAGE_STRIDES, C5=16 * last_stride)
        self._init_weights()

    def _make_layer(self, block: type[nn.Module], planes: int, blocks: int,
                    stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (N, 64, H/4, W/4)
        outputs = {}
        for name, layer_name in _STAGE_LAYERS.items():
            x = getattr(self, layer_name)(x)
            if name in self.out_features:
                outputs[name] = x
            if len(outputs) == len(self.out_features):
                break  # later stages are not needed
        return outputs

    def load_imagenet(self, path: str | Path) -> None:
        """Load a torchvision ImageNet checkpoint (``fc.*`` is ignored).

        Raises:
            FileNotFoundError: if ``path`` does not exist.
            ValueError: naming the file and the missing / unexpected / mis-shaped keys.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"ImageNet backbone weights not found: {path}")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad file
            raise ValueError(f"{path}: not a torch checkpoint ({err})") from err
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        check_state_dict(self, state, str(path))
        self.load_state_dict(state, strict=True)


def check_state_dict(module: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Raise ``ValueError`` naming ``source`` if ``state`` does not fit ``module`` exactly."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in sorted(set(own) & set(state)) if state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        raise ValueError(
            f"{source}: state dict does not match {type(module).__name__}: "
            f"{len(missing)} missing {missing[:8]}, {len(unexpected)} unexpected "
            f"{unexpected[:8]}, {len(shapes)} shape mismatches {shapes[:8]}"
        )
