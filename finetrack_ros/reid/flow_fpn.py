"""FAFPN: a top-down FPN whose merges are aligned by a Flow Alignment Module (FAM).

Our reading of FineTrack (Ren et al., CVPR 2023), after SFNet (Li et al., ECCV 2020):
1x1 laterals bring C2..C5 to ``fpn_channels``; walking top-down, each coarser map is
warped onto the finer grid by a learnt flow and added to the finer lateral; the finest
aligned level (stride 4) goes through a 3x3 conv-BN-ReLU.

Flow layout: (N, 2, h, w) with channel 0 = dx and channel 1 = dy, in pixels of the fine map;
a fine pixel (x, y) reads the (bilinearly upsampled) coarse map at (x + dx, y + dy).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LEVELS = ("C2", "C3", "C4", "C5")  # fine -> coarse


def base_grid(height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """Normalised (x, y) of the pixel centres of an (height, width) map.

    Returns (1, height, width, 2) in ``grid_sample``'s ``align_corners=False`` convention:
    pixel j has x = (2 j + 1) / width - 1.
    """
    xs = (torch.arange(width, device=like.device, dtype=like.dtype) * 2 + 1) / width - 1
    ys = (torch.arange(height, device=like.device, dtype=like.dtype) * 2 + 1) / height - 1
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")  # (h, w) each
    return torch.stack((grid_x, grid_y), dim=-1).unsqueeze(0)  # (1, h, w, 2)


def flow_warp(coarse: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``coarse`` on the fine grid displaced by ``flow``.

    Args:
        coarse: (N, C, Hc, Wc), any size (it is resampled, not pre-upsampled).
        flow: (N, 2, h, w) (dx, dy) in pixels of the fine (h, w) map.

    Returns:
        (N, C, h, w). With zero flow this equals ``F.interpolate(coarse, (h, w),
        mode="bilinear", align_corners=False)`` (border padding mirrors its edge clamping).
    """
    n, _, h, w = flow.shape
    scale = flow.new_tensor([2.0 / w, 2.0 / h]).view(1, 1, 1, 2)  # pixels -> normalised
    grid = base_grid(h, w, flow) + flow.permute(0, 2, 3, 1) * scale  # (N, h, w, 2)
    return F.grid_sample(coarse, grid, mode="bilinear", padding_mode="border",
                         align_corners=False)  # (N, C, h, w)


class FlowAlignment(nn.Module):
    """Flow Alignment Module: warp a coarse map onto a fine one.

    ``forward(fine (N, C, h, w), coarse (N, C, Hc, Wc)) -> (N, C, h, w)``, the warped
    original coarse map (the caller adds it to the fine lateral).
    """

    def __init__(self, channels: int, mid_channels: int) -> None:
        super().__init__()
        self.reduce_fine = nn.Conv2d(channels, mid_channels, 1, bias=False)
        self.reduce_coarse = nn.Conv2d(channels, mid_channels, 1, bias=False)
        self.flow = nn.Conv2d(2 * mid_channels, 2, 3, padding=1, bias=False)

    def predict_flow(self, fine: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        """(N, 2, h, w) flow (dx, dy) in fine-map pixels."""
        size = fine.shape[-2:]
        fine_r = self.reduce_fine(fine)  # (N, M, h, w)
        coarse_r = F.interpolate(self.reduce_coarse(coarse), size=size, mode="bilinear",
                                 align_corners=False)  # (N, M, Hc, Wc) -> (N, M, h, w)
        return self.flow(torch.cat((fine_r, coarse_r), dim=1))  # (N, 2M, h, w) -> (N, 2, h, w)

    def forward(self, fine: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        return flow_warp(coarse, self.predict_flow(fine, coarse))  # (N, C, h, w)


class FAFPN(nn.Module):
    """Flow-aligned FPN over C2..C5.

    Args:
        in_channels: backbone channels per level, e.g. {"C2": 256, ..., "C5": 2048}.
        out_channels: F, channels of the laterals and of the output.
        fam_channels: M, the FAM's reduced channels.

    ``forward(features)``: {"C2": (N, c2, H/4, W/4), ..., "C5": (N, c5, H/s5, W/s5)}
    -> (N, F, H/4, W/4), the aligned finest level.
    """

    def __init__(self, in_channels: dict[str, int], out_channels: int, fam_channels: int) -> None:
        super().__init__()
        missing = [level for level in LEVELS if level not in in_channels]
        if missing:
            raise ValueError(f"FAFPN: in_channels lacks levels {missing}")
        self.laterals = nn.ModuleDict(
            {level: nn.Conv2d(in_channels[level], out_channels, 1) for level in LEVELS})
        # one FAM per merge, named by the finer level it aligns onto: C4, C3, C2
        self.fams = nn.ModuleDict(
            {level: FlowAlignment(out_channels, fam_channels) for level in LEVELS[:-1]})
        self.output = nn.Sequential(
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        p5 = self.laterals["C5"](features["C5"])  # (N, F, H/s5, W/s5), s5 = 16 or 32
        p4 = self.laterals["C4"](features["C4"])  # (N, F, H/16, W/16)
        p4 = p4 + self.fams["C4"](p4, p5)  # (N, F, H/16, W/16)
        p3 = self.laterals["C3"](features["C3"])  # (N, F, H/8, W/8)
        p3 = p3 + self.fams["C3"](p3, p4)  # (N, F, H/8, W/8)
        p2 = self.laterals["C2"](features["C2"])  # (N, F, H/4, W/4)
        p2 = p2 + self.fams["C2"](p2, p3)  # (N, F, H/4, W/4)
        return self.output(p2)  # (N, F, H/4, W/4)
