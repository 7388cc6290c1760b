"""YOLOX architecture: official checkpoint key layout, shapes and parameter counts per size."""
from __future__ import annotations

import pytest
import torch

from finetrack_ros.detector import SIZES, build_yolox
from finetrack_ros.detector.blocks import Focus, fuse_conv_bn

# Architecture facts of YOLOX (exps/default/yolox_*.py), written out independently of our code:
# bottlenecks per "n" CSP layer = max(round(3 * depth), 1); stem channels = int(64 * width).
BOTTLENECKS = {"nano": 1, "tiny": 1, "s": 1, "m": 2, "l": 3, "x": 4}
STEM_CHANNELS = {"nano": 16, "tiny": 24, "s": 32, "m": 48, "l": 64, "x": 80}
HEAD_CHANNELS = {"nano": 64, "tiny": 96, "s": 128, "m": 192, "l": 256, "x": 320}
DEPTHWISE = {"nano": True, "tiny": False, "s": False, "m": False, "l": False, "x": False}
# Published parameter counts with 80 classes, as printed (in millions).
PUBLISHED_PARAMS_M = {"nano": "0.91", "tiny": "5.06", "s": "9.0", "m": "25.3", "l": "54.2",
                      "x": "99.1"}
BN_FIELDS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def base_conv_keys(prefix: str) -> list[str]:
    return [f"{prefix}.conv.weight"] + [f"{prefix}.bn.{f}" for f in BN_FIELDS]


def conv_keys(prefix: str, depthwise: bool) -> list[str]:
    if depthwise:
        return base_conv_keys(f"{prefix}.dconv") + base_conv_keys(f"{prefix}.pconv")
    return base_conv_keys(prefix)


def csp_keys(prefix: str, n: int, depthwise: bool) -> list[str]:
    keys = [k for i in (1, 2, 3) for k in base_conv_keys(f"{prefix}.conv{i}")]
    for i in range(n):
        keys += base_conv_keys(f"{prefix}.m.{i}.conv1")
        keys += conv_keys(f"{prefix}.m.{i}.conv2", depthwise)
    return keys


def expected_keys(size: str) -> set[str]:
    """Return the state-dict keys of an official YOLOX/ByteTrack checkpoint of ``size``."""
    n, dw = BOTTLENECKS[size], DEPTHWISE[size]
    bb = "backbone.backbone"
    keys = base_conv_keys(f"{bb}.stem.conv")
    for stage, reps in (("dark2", n), ("dark3", 3 * n), ("dark4", 3 * n)):
        keys += conv_keys(f"{bb}.{stage}.0", dw) + csp_keys(f"{bb}.{stage}.1", reps, dw)
    keys += conv_keys(f"{bb}.dark5.0", dw)
    keys += base_conv_keys(f"{bb}.dark5.1.conv1") + base_conv_keys(f"{bb}.dark5.1.conv2")
    keys += csp_keys(f"{bb}.dark5.2", n, dw)
    for name in ("lateral_conv0", "reduce_conv1"):
        keys += base_conv_keys(f"backbone.{name}")
    for name in ("bu_conv2", "bu_conv1"):
        keys += conv_keys(f"backbone.{name}", dw)
    for name in ("C3_p4", "C3_p3", "C3_n3", "C3_n4"):
        keys += csp_keys(f"backbone.{name}", n, dw)
    for level in range(3):
        keys += base_conv_keys(f"head.stems.{level}")
        for branch in ("cls_convs", "reg_convs"):
            for j in range(2):
                keys += conv_keys(f"head.{branch}.{level}.{j}", dw)
        for pred in ("cls_preds", "reg_preds", "obj_preds"):
            keys += [f"head.{pred}.{level}.weight", f"head.{pred}.{level}.bias"]
    return set(keys)


@pytest.mark.parametrize("size", list(SIZES))
def test_key_set_shapes_and_param_count(size: str) -> None:
    model = build_yolox(size, num_classes=80)
    state = model.state_dict()
    assert set(state) == expected_keys(size)
    stem, hidden = STEM_CHANNELS[size], HEAD_CHANNELS[size]
    assert state["backbone.backbone.stem.conv.conv.weight"].shape == (stem, 12, 3, 3)
    assert state["backbone.lateral_conv0.conv.weight"].shape == (8 * stem, 16 * stem, 1, 1)
    assert state["backbone.C3_n4.conv3.conv.weight"].shape == (16 * stem, 16 * stem, 1, 1)
    for level in range(3):
        assert state[f"head.cls_preds.{level}.weight"].shape == (80, hidden, 1, 1)
        assert state[f"head.reg_preds.{level}.weight"].shape == (4, hidden, 1, 1)
        assert state[f"head.obj_preds.{level}.weight"].shape == (1, hidden, 1, 1)
    published = PUBLISHED_PARAMS_M[size]
    decimals = len(published.split(".")[1])
    params = sum(p.numel() for p in model.parameters())
    assert round(params / 1e6, decimals) == float(published)


def test_all_batchnorms_use_yolox_eps() -> None:
    model = build_yolox("nano", 1)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(bn.eps == 1e-3 for bn in bns)


def test_focus_order_matches_yolox() -> None:
    focus = Focus(1, 1)
    x = torch.arange(16.0).view(1, 1, 4, 4)
    captured = {}
    focus.conv.register_forward_pre_hook(lambda m, args: captured.update(x=args[0]))
    focus(x)
    phases = captured["x"][0, :, 0, 0]  # value at (0, 0) of each phase
    assert phases.tolist() == [0.0, 4.0, 1.0, 5.0]  # TL, BL (row 1), TR (col 1), BR


def test_eval_output_shape_and_decoded_layout() -> None:
    model = build_yolox("nano", num_classes=3).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 96))
    anchors = (64 // 8) * (96 // 8) + (64 // 16) * (96 // 16) + (64 // 32) * (96 // 32)
    assert out.shape == (2, anchors, 5 + 3)
    assert ((out[..., 4:] >= 0) & (out[..., 4:] <= 1)).all()  # probabilities
    assert (out[..., 2:4] > 0).all()  # widths and heights


def test_training_mode_returns_raw_levels() -> None:
    model = build_yolox("nano", num_classes=2).train()
    levels = model(torch.randn(1, 3, 64, 64))
    assert [tuple(t.shape) for t in levels] == [(1, 7, 8, 8), (1, 7, 4, 4), (1, 7, 2, 2)]


def test_rejects_bad_input_and_size() -> None:
    with pytest.raises(ValueError, match="multiples of 32"):
        build_yolox("nano", 1).eval()(torch.zeros(1, 3, 60, 64))
    with pytest.raises(ValueError, match="unknown YOLOX model size 'xl'"):
        build_yolox("xl", 1)


def test_conv_bn_fusion_keeps_outputs() -> None:
    torch.manual_seed(0)
    model = build_yolox("nano", 1).eval()
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.uniform_(0.5, 1.5)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        before = model(x)
        after = fuse_conv_bn(model)(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert torch.allclose(before, after, rtol=1e-4, atol=1e-3)
