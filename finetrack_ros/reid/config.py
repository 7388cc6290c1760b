"""Configuration of the FineTrack Re-ID network (Ren et al., CVPR 2023).

The paper's full text is not available to us, so several choices are our reading of it.
Each field says whether it follows the paper ("paper"), a common Re-ID convention
("convention") or is our own choice ("ours").
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

BACKBONES = ("resnet18", "resnet34", "resnet50")

# ImageNet statistics of RGB images scaled to [0, 1] (torchvision's pretrained weights).
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)


@dataclass
class ReIDConfig:
    """Hyper-parameters of ``FineTrackReID``; every architectural choice is a field here.

    The inference embedding has ``(num_parts + 1) * embed_dim`` dimensions.
    """

    # --- backbone ---------------------------------------------------------------------
    # ResNet depth (paper: resnet50; resnet18/34 are our light variants).
    backbone: str = "resnet50"
    # Stride of layer4's first block. 1 keeps C5 at stride 16 (convention, BoT Re-ID);
    # 2 is the ImageNet ResNet (stride 32). Larger C5 maps help the global feature.
    last_stride: int = 1
    # Channels of the first ResNet stage; later stages double it (64 = torchvision's ResNet,
    # the only width ImageNet weights fit). Smaller is ours, for CPU-sized demo networks.
    backbone_width: int = 64
    # Path to an ImageNet torchvision ``resnet*.pth`` used as initialisation, or None for
    # random init. Only read when the model is built; checkpoints do not depend on it.
    pretrained_backbone: str | None = None

    # --- FAFPN (flow-aligned FPN) -----------------------------------------------------
    # Channels of the FPN laterals and of the aligned output map (paper reading: 256).
    fpn_channels: int = 256
    # Channels each map is reduced to inside a Flow Alignment Module before predicting
    # the flow (ours, following SFNet: half of fpn_channels).
    fam_channels: int = 128

    # --- MPMG part heads --------------------------------------------------------------
    # Number of part masks K (paper: 6). The aligned map is split into K channel blocks.
    num_parts: int = 6

    # --- embedding heads (BNNeck) -----------------------------------------------------
    # Dimension E of each of the K + 1 embeddings (paper reading: 256).
    embed_dim: int = 256
    # Identity classes of the training set; 0 builds no classifiers (inference only).
    num_classes: int = 0

    # --- input ------------------------------------------------------------------------
    # Crop size (height, width) in pixels fed to the network (convention: 256x128).
    crop_size: tuple[int, int] = (256, 128)
    # Per-channel RGB mean and std of images scaled to [0, 1] (ImageNet, convention).
    pixel_mean: tuple[float, float, float] = IMAGENET_MEAN_RGB
    pixel_std: tuple[float, float, float] = IMAGENET_STD_RGB
    # Boxes narrower or shorter than this (pixels) are skipped by the FeatureExtractor,
    # whose output row is then zero (ours). Raise it to ignore sliver detections.
    min_box_side: float = 1.0

    def __post_init__(self) -> None:
        self.crop_size = tuple(int(v) for v in self.crop_size)  # YAML gives lists
        self.pixel_mean = tuple(float(v) for v in self.pixel_mean)
        self.pixel_std = tuple(float(v) for v in self.pixel_std)
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the field and value that is out of range."""
        checks = [
            (self.backbone in BACKBONES, "backbone", f"one of {BACKBONES}"),
            (self.last_stride in (1, 2), "last_stride", "1 or 2"),
            (self.backbone_width >= 8, "backbone_width", ">= 8"),
            (self.fpn_channels >= 1, "fpn_channels", ">= 1"),
            (self.fam_channels >= 1, "fam_channels", ">= 1"),
            (1 <= self.num_parts <= self.fpn_channels, "num_parts", "in [1, fpn_channels]"),
            (self.embed_dim >= 1, "embed_dim", ">= 1"),
            (self.num_classes >= 0, "num_classes", ">= 0"),
            (len(self.crop_size) == 2 and min(self.crop_size) >= 32, "crop_size",
             "(height, width), each >= 32 (the backbone's stride)"),
            (len(self.pixel_mean) == 3, "pixel_mean", "3 values"),
            (len(self.pixel_std) == 3 and min(self.pixel_std) > 0, "pixel_std",
             "3 positive values"),
            (self.min_box_side >= 0, "min_box_side", ">= 0"),
        ]
        for ok, name, expected in checks:
            if not ok:
                value = getattr(self, name)
                raise ValueError(f"ReIDConfig.{name} = {value!r}: expected {expected}")

    @property
    def output_dim(self) -> int:
        """Dimension D of the inference embedding: (K + 1) * E."""
        return (self.num_parts + 1) * self.embed_dim

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (lists instead of tuples) for checkpoints and YAML."""
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = list(value)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config") -> "ReIDConfig":
        """Build from a dict; an optional ``preset`` key picks the defaults.

        Raises:
            ValueError: naming ``source`` and the unknown keys.
        """
        values = dict(values)
        preset = values.pop("preset", "default")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{source}: unknown ReIDConfig field(s) {unknown}; "
                             f"known: {sorted(known)}")
        return cls.preset(preset, **values)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "ReIDConfig":
        """Return a named preset (see ``PRESETS``) with some fields overridden."""
        if name not in PRESETS:
            raise ValueError(f"ReIDConfig preset {name!r} unknown; choose one of {sorted(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})


# Named variants override only a few fields of the defaults above.
PRESETS: dict[str, dict[str, Any]] = {
    # The paper's network: ResNet-50, 256x128 crops, K = 6, E = 256.
    "default": {},
    # Trains from scratch on a CPU in minutes (tests, demo): ResNet-18, 128x64 crops,
    # half-width FPN and embeddings, ImageNet last stride (0.8 vs 1.2 GFLOPs per crop).
    "small": {
        "backbone": "resnet18",
        "last_stride": 2,
        "crop_size": (128, 64),
        "fpn_channels": 128,
        "fam_channels": 64,
        "embed_dim": 128,
    },
    # The shipped demo weights (ours): "small" at half the backbone width and half the
    # FPN/embedding widths; about 4x fewer parameters and FLOPs, a few MB in fp16.
    "tiny": {
        "backbone": "resnet18",
        "backbone_width": 32,
        "last_stride": 2,
        "crop_size": (128, 64),
        "fpn_channels": 64,
        "fam_channels": 32,
        "embed_dim": 64,
    },
}
