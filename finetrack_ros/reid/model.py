"""FineTrackReID: ResNet -> FAFPN -> MPMG part features + global feature -> BNNeck heads.

Composes ``backbone.py``, ``flow_fpn.py``, ``part_heads.py`` and ``bnneck.py``
(FineTrack, Ren et al., CVPR 2023; see ``config.py`` for which choices are ours).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .backbone import ResNet
from .bnneck import BNNeckHead
from .config import ReIDConfig
from .flow_fpn import FAFPN
from .part_heads import MPMG


def fuse_embedding(part_features: torch.Tensor, global_feature: torch.Tensor) -> torch.Tensor:
    """Build the inference embedding: L2-normalised parts and global, concatenated, normalised.

    Args:
        part_features: (N, K, E); global_feature: (N, E) (post-BNNeck features).

    Returns:
        (N, (K + 1) * E) unit rows; block k is part k, the last block the global feature.
    """
    blocks = torch.cat((part_features, global_feature.unsqueeze(1)), dim=1)  # (N, K+1, E)
    blocks = F.normalize(blocks, dim=2)
    return F.normalize(blocks.flatten(1), dim=1)  # (N, (K+1) E)


class FineTrackReID(nn.Module):
    """The FineTrack Re-ID network.

    Input: crops (N, 3, H, W), RGB, scaled to [0, 1] then normalised by
    ``config.pixel_mean``/``pixel_std``; H, W = ``config.crop_size`` (others work too).

    Eval mode returns the (N, (K + 1) * E) float unit embedding (see ``fuse_embedding``).
    Training mode returns a dict:

    - ``part_features`` (N, K, E) and ``global_feature`` (N, E): embeddings *before* the
      BNNeck BN, for the triplet and diversity losses;
    - ``part_features_bn`` (N, K, E) and ``global_feature_bn`` (N, E): after the BN (what
      inference uses);
    - ``part_logits`` (N, K, C) and ``global_logits`` (N, C): identity logits from the
      post-BN features (needs ``config.num_classes`` > 0);
    - ``masks`` (N, K, H/4, W/4): part masks in [0, 1].
    """

    def __init__(self, config: ReIDConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ReIDConfig()
        config.validate()
        # the take-back distance train-reid measured for this network (reid/match_distance.py)
        self.match_distance: Optional[dict] = None
        self.backbone = ResNet(config.backbone, config.last_stride,
                               base_width=config.backbone_width)
        if config.pretrained_backbone:
            self.backbone.load_imagenet(config.pretrained_backbone)
        self.fpn = FAFPN(self.backbone.channels, config.fpn_channels, config.fam_channels)
        self.parts = MPMG(config.fpn_channels, config.num_parts)
        self.part_necks = nn.ModuleList(
            BNNeckHead(config.fpn_channels, config.embed_dim, config.num_classes)
            for _ in range(config.num_parts))
        self.global_neck = BNNeckHead(self.backbone.channels["C5"], config.embed_dim,
                                      config.num_classes)

    @property
    def output_dim(self) -> int:
        """D of the inference embedding, (K + 1) * E."""
        return self.config.output_dim

    def embed_with_masks(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the eval-mode embedding (N, (K+1) E) and the part masks (N, K, H/4, W/4).

        The masks are in [0, 1] (what occlusion-aware matching weighs the parts with).
        """
        if self.training:
            raise ValueError("FineTrackReID.embed_with_masks: call model.eval() first")
        outputs = self._outputs(images)
        return fuse_embedding(outputs["part_features_bn"], outputs["global_feature_bn"]), \
            outputs["masks"]

    def forward(self, images: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor]:
        outputs = self._outputs(images)
        if not self.training:
            return fuse_embedding(outputs["part_features_bn"], outputs["global_feature_bn"])
        return outputs

    def _outputs(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"FineTrackReID: expected crops (N, 3, H, W), "
                             f"got {tuple(images.shape)}")
        if self.training and not self.config.num_classes:
            raise ValueError("FineTrackReID: training mode needs ReIDConfig.num_classes > 0 "
                             "(the number of training identities), got 0")
        stages = self.backbone(images)  # C2..C5: (N, c_i, H/s_i, W/s_i)
        aligned = self.fpn(stages)  # (N, F, H/4, W/4)
        part_raw, masks = self.parts(aligned)  # (N, K, F), (N, K, H/4, W/4)
        global_raw = stages["C5"].mean(dim=(2, 3))  # (N, c5) global average pooling
        part_out = [neck(part_raw[:, k]) for k, neck in enumerate(self.part_necks)]
        global_pre, global_post, global_logits = self.global_neck(global_raw)
        part_post = torch.stack([post for _, post, _ in part_out], dim=1)  # (N, K, E)
        outputs = {"part_features_bn": part_post, "global_feature_bn": global_post,
                   "masks": masks}  # (N, K, E), (N, E), (N, K, H/4, W/4)
        if not self.training:
            return outputs
        return {
            **outputs,
            "part_features": torch.stack([pre for pre, _, _ in part_out], dim=1),  # (N, K, E)
            "global_feature": global_pre,  # (N, E)
            "part_logits": torch.stack([logits for _, _, logits in part_out], dim=1),  # (N, K, C)
            "global_logits": global_logits,  # (N, C)
        }


class EmbeddingsAndMasks(nn.Module):
    """Inference graph of an eval-mode FineTrackReID: crops → (embeddings, part masks).

    What the extractor's runner and exported ONNX files compute (outputs ``embeddings``
    (N, (K+1) E) and ``masks`` (N, K, H/4, W/4)).
    """

    def __init__(self, model: FineTrackReID) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.embed_with_masks(crops)

