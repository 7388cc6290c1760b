"""FineTrackReID: output shapes for K = 1..8, masks, unit embeddings, gradients, config errors."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from finetrack_ros.reid import FineTrackReID, ReIDConfig

CROP = (64, 32)


def tiny_config(**overrides) -> ReIDConfig:
    """ResNet-18 with a narrow FPN and small crops: fast on a CPU."""
    values = dict(backbone="resnet18", crop_size=CROP, fpn_channels=32, fam_channels=16,
                  embed_dim=16, num_classes=5)
    return ReIDConfig(**{**values, **overrides})


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(4, 3, *CROP)


@pytest.mark.parametrize("num_parts", range(1, 9))
def test_output_shapes_masks_and_unit_norm(images, num_parts):
    torch.manual_seed(num_parts)
    cfg = tiny_config(num_parts=num_parts)
    model = FineTrackReID(cfg).train()
    out = model(images)
    n, k, e, c = len(images), num_parts, cfg.embed_dim, cfg.num_classes
    assert out["part_features"].shape == (n, k, e)
    assert out["part_features_bn"].shape == (n, k, e)
    assert out["global_feature"].shape == (n, e)
    assert out["global_feature_bn"].shape == (n, e)
    assert out["part_logits"].shape == (n, k, c)
    assert out["global_logits"].shape == (n, c)
    assert out["masks"].shape == (n, k, CROP[0] // 4, CROP[1] // 4)
    assert out["masks"].min() >= 0 and out["masks"].max() <= 1
    model.eval()
    with torch.no_grad():
        emb = model(images)
    assert emb.shape == (n, (k + 1) * e) == (n, cfg.output_dim)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(n))
    # each of the K + 1 blocks carries the same weight: norm 1 / sqrt(K + 1)
    block_norms = emb.view(n, k + 1, e).norm(dim=2)
    torch.testing.assert_close(block_norms, torch.full((n, k + 1), (k + 1) ** -0.5))


def test_eval_embedding_is_per_sample(images):
    """A crop's embedding does not depend on the other crops in the batch (eval BN)."""
    model = FineTrackReID(tiny_config()).eval()
    with torch.no_grad():
        together = model(images)
        alone = model(images[1:2])
    torch.testing.assert_close(together[1:2], alone, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(together[0], together[1])


def test_every_parameter_gets_a_gradient(images):
    torch.manual_seed(1)
    model = FineTrackReID(tiny_config(num_parts=3, last_stride=2)).train()
    labels = torch.tensor([0, 1, 0, 1])
    out = model(images)
    loss = (F.cross_entropy(out["global_logits"], labels)
            + sum(F.cross_entropy(out["part_logits"][:, k], labels) for k in range(3))
            + out["part_features"].pow(2).mean() + out["global_feature"].pow(2).mean())
    loss.backward()
    dead = [name for name, p in model.named_parameters()
            if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)]
    assert dead == []
    # modules of every concept are covered, not just the heads
    names = [name for name, _ in model.named_parameters()]
    for prefix in ("backbone.layer4", "fpn.fams.C2.flow", "fpn.fams.C4.reduce_coarse",
                   "parts.heads.2.logit", "part_necks.2.classifier", "global_neck.embed"):
        assert any(name.startswith(prefix) for name in names), prefix


def test_training_without_classes_is_a_clear_error(images):
    model = FineTrackReID(tiny_config(num_classes=0)).train()
    with pytest.raises(ValueError, match="num_classes"):
        model(images)
    model.eval()
    assert model(images).shape == (4, 7 * 16)  # inference works without classifiers


@pytest.mark.parametrize("field, value", [("backbone", "resnet101"), ("last_stride", 3),
                                          ("num_parts", 0), ("num_parts", 33),
                                          ("crop_size", (16, 8)), ("pixel_std", (1, 0, 1))])
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"ReIDConfig.{field}"):
        tiny_config(**{field: value})


def test_presets_and_from_dict():
    small = ReIDConfig.preset("small")
    assert (small.backbone, small.crop_size) == ("resnet18", (128, 64))
    assert ReIDConfig().backbone == "resnet50" and ReIDConfig().num_parts == 6
    cfg = ReIDConfig.from_dict({"preset": "small", "num_classes": 7, "crop_size": [96, 48]})
    assert cfg.num_classes == 7 and cfg.crop_size == (96, 48) and cfg.backbone == "resnet18"
    assert ReIDConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown ReIDConfig field"):
        ReIDConfig.from_dict({"num_part": 3})
    with pytest.raises(ValueError, match="preset 'huge' unknown"):
        ReIDConfig.preset("huge")
