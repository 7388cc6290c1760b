"""ResNet backbone: torchvision key layout, parameter counts, stage shapes, ImageNet loading."""
from __future__ import annotations

import pytest
import torch

from finetrack_ros.reid import ResNet

# Architecture facts (He et al. 2016 / torchvision resnet.py): blocks per stage and the
# parameter counts of torchvision's models *including* the 1000-class fc layer.
BLOCKS = {"resnet18": (2, 2, 2, 2), "resnet50": (3, 4, 6, 3)}
TORCHVISION_PARAMS = {"resnet18": 11_689_512, "resnet50": 25_557_032}
FC_PARAMS = {"resnet18": 512 * 1000 + 1000, "resnet50": 2048 * 1000 + 1000}
BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def expected_keys(arch: str) -> set[str]:
    """Return torchvision's state-dict keys of ``arch`` without ``fc.*``."""
    convs = 3 if arch == "resnet50" else 2
    keys = {"conv1.weight"} | {f"bn1.{k}" for k in BN_KEYS}
    for stage, blocks in enumerate(BLOCKS[arch], start=1):
        for b in range(blocks):
            prefix = f"layer{stage}.{b}"
            for i in range(1, convs + 1):
                keys.add(f"{prefix}.conv{i}.weight")
                keys |= {f"{prefix}.bn{i}.{k}" for k in BN_KEYS}
            # a projection shortcut where the shape changes: first block of each stage,
            # except layer1 of the basic-block nets (64 -> 64, stride 1)
            if b == 0 and (stage > 1 or arch == "resnet50"):
                keys.add(f"{prefix}.downsample.0.weight")
                keys |= {f"{prefix}.downsample.1.{k}" for k in BN_KEYS}
    return keys


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_torchvision_key_layout_and_parameter_count(arch):
    model = ResNet(arch)
    assert set(model.state_dict()) == expected_keys(arch)
    params = sum(p.numel() for p in model.parameters())
    assert params == TORCHVISION_PARAMS[arch] - FC_PARAMS[arch]


@pytest.mark.parametrize("last_stride, c5_size", [(2, (2, 1)), (1, (4, 2))])
def test_stage_shapes_and_last_stride(last_stride, c5_size):
    model = ResNet("resnet18", last_stride=last_stride).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 32))
    assert list(out) == ["C2", "C3", "C4", "C5"]
    assert out["C2"].shape == (1, 64, 16, 8)
    assert out["C3"].shape == (1, 128, 8, 4)
    assert out["C4"].shape == (1, 256, 4, 2)
    assert out["C5"].shape == (1, 512, *c5_size)
    assert model.strides["C5"] == 16 * last_stride


def test_out_features_selects_stages_and_validates():
    model = ResNet("resnet18", out_features=("C3",)).eval()
    with torch.no_grad():
        assert list(model(torch.randn(1, 3, 64, 32))) == ["C3"]
    with pytest.raises(ValueError, match="out_features"):
        ResNet("resnet18", out_features=("P3",))
    with pytest.raises(ValueError, match="arch 'resnet101'"):
        ResNet("resnet101")


def test_load_imagenet_file_in_torchvision_layout(tmp_path):
    source = ResNet("resnet18")
    state = dict(source.state_dict())
    state["fc.weight"] = torch.zeros(1000, 512)  # torchvision files carry the classifier
    state["fc.bias"] = torch.zeros(1000)
    path = tmp_path / "resnet18-imagenet.pth"
    torch.save(state, path)
    target = ResNet("resnet18", last_stride=1)
    target.load_imagenet(path)
    torch.testing.assert_close(target.layer4[0].conv1.weight, source.layer4[0].conv1.weight)

    with pytest.raises(ValueError, match=r"resnet18-imagenet\.pth.*missing"):
        ResNet("resnet50").load_imagenet(path)
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        target.load_imagenet(tmp_path / "nope.pth")
