"""FAFPN and the Flow Alignment Module: zero flow = bilinear upsampling, flow layout, shapes."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from finetrack_ros.reid import FAFPN, MPMG, FlowAlignment, flow_warp


@pytest.mark.parametrize("coarse_hw, fine_hw", [((4, 3), (8, 6)), ((5, 4), (16, 8)),
                                                ((6, 4), (6, 4))])
def test_zero_flow_equals_bilinear_upsampling(coarse_hw, fine_hw):
    torch.manual_seed(0)
    coarse = torch.randn(2, 5, *coarse_hw)
    warped = flow_warp(coarse, torch.zeros(2, 2, *fine_hw))
    reference = F.interpolate(coarse, size=fine_hw, mode="bilinear", align_corners=False)
    torch.testing.assert_close(warped, reference, atol=1e-5, rtol=1e-5)


def test_fam_with_zeroed_flow_conv_is_plain_upsampling():
    torch.manual_seed(0)
    fam = FlowAlignment(channels=8, mid_channels=4)
    fine, coarse = torch.randn(1, 8, 8, 4), torch.randn(1, 8, 4, 2)
    assert not torch.allclose(fam(fine, coarse), F.interpolate(coarse, (8, 4), mode="bilinear"))
    torch.nn.init.zeros_(fam.flow.weight)
    torch.testing.assert_close(fam(fine, coarse),
                               F.interpolate(coarse, (8, 4), mode="bilinear", align_corners=False))


def test_flow_layout_is_dx_dy_in_fine_pixels():
    """On equal sizes, a flow of (dx=1, dy=0) reads the right neighbour; (0, 2) two rows down."""
    torch.manual_seed(0)
    feature = torch.randn(1, 3, 6, 7)
    flow = torch.zeros(1, 2, 6, 7)
    flow[:, 0] = 1.0
    torch.testing.assert_close(flow_warp(feature, flow)[..., :-1], feature[..., 1:])
    flow = torch.zeros(1, 2, 6, 7)
    flow[:, 1] = 2.0
    torch.testing.assert_close(flow_warp(feature, flow)[..., :-2, :], feature[..., 2:, :])


def test_fafpn_output_shape_follows_c2():
    channels = {"C2": 8, "C3": 16, "C4": 32, "C5": 64}
    fpn = FAFPN(channels, out_channels=12, fam_channels=6).eval()
    sizes = {"C2": (16, 8), "C3": (8, 4), "C4": (4, 2), "C5": (4, 2)}  # last stride 1
    feats = {k: torch.randn(2, c, *sizes[k]) for k, c in channels.items()}
    assert fpn(feats).shape == (2, 12, 16, 8)
    with pytest.raises(ValueError, match="C5"):
        FAFPN({"C2": 8, "C3": 16, "C4": 32}, 12, 6)


def test_mpmg_part_feature_is_masked_average():
    torch.manual_seed(0)
    mpmg = MPMG(channels=10, num_parts=3).eval()  # 10 channels split 4 / 3 / 3
    assert [h.conv.in_channels for h in mpmg.heads] == [4, 3, 3]
    aligned = torch.randn(2, 10, 5, 4)
    parts, masks = mpmg(aligned)
    assert parts.shape == (2, 3, 10) and masks.shape == (2, 3, 5, 4)
    m = masks[1, 2]
    expected = (aligned[1] * m).sum(dim=(1, 2)) / m.sum()
    torch.testing.assert_close(parts[1, 2], expected, atol=1e-5, rtol=1e-4)
