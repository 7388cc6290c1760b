"""FineTrack Re-ID losses against hand computations."""
from __future__ import annotations

import math

import pytest
import torch

from finetrack_ros.train.reid_losses import (
    FineTrackLoss,
    ReIDLossConfig,
    batch_hard_triplet_loss,
    diversity_loss,
    hardest_pairs,
    identity_loss,
)

# Five 2-D points, two identities, plus a lone identity (no positive -> not an anchor).
POINTS = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [3.0, 0.0], [0.0, -1.0], [10.0, 10.0]])
LABELS = torch.tensor([0, 0, 0, 1, 1, 2])


def test_cross_entropy_with_label_smoothing_matches_hand_value():
    logits = torch.tensor([[2.0, 0.0, 0.0]])
    eps = 0.1
    log_p0 = 2.0 - math.log(math.exp(2.0) + 2.0)
    log_p_other = 0.0 - math.log(math.exp(2.0) + 2.0)
    # target = (1 - eps) one-hot + eps / C
    expected = -((1 - eps + eps / 3) * log_p0 + 2 * (eps / 3) * log_p_other)
    got = identity_loss(logits, torch.tensor([0]), smoothing=eps)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    assert identity_loss(logits, torch.tensor([0])).item() == pytest.approx(-log_p0, rel=1e-6)


def test_batch_hard_miner_picks_farthest_positive_and_closest_negative():
    pos_dist, neg_dist, pos_idx, neg_idx, valid = hardest_pairs(POINTS, LABELS)
    # hand: a0 pos {1: 1, 2: 2} -> 2; neg {3: 3, 4: 1} -> 4, etc.
    assert pos_idx[:5].tolist() == [2, 2, 1, 4, 3]
    assert neg_idx[:5].tolist() == [4, 4, 4, 1, 0]
    s5, s2, s10, s13 = math.sqrt(5), math.sqrt(2), math.sqrt(10), math.sqrt(13)
    assert pos_dist[:5].tolist() == pytest.approx([2.0, s5, s5, s10, s10], rel=1e-5)
    assert neg_dist[:5].tolist() == pytest.approx([1.0, s2, 3.0, 2.0, 1.0], rel=1e-5)
    assert valid.tolist() == [True] * 5 + [False]
    assert s13 > 3.0  # a2's other negative is farther than the chosen one


def test_batch_hard_triplet_loss_matches_hand_value():
    margin = 0.5
    s5, s2, s10 = math.sqrt(5), math.sqrt(2), math.sqrt(10)
    hinge = [2 - 1 + margin, s5 - s2 + margin, max(0.0, s5 - 3 + margin),
             s10 - 2 + margin, s10 - 1 + margin]
    got = batch_hard_triplet_loss(POINTS, LABELS, margin)
    assert got.item() == pytest.approx(sum(hinge) / 5, rel=1e-5)
    # no anchor with both positive and negative -> zero, still differentiable
    lone = torch.randn(3, 4, requires_grad=True)
    zero = batch_hard_triplet_loss(lone, torch.tensor([0, 1, 2]), margin)
    zero.backward()
    assert zero.item() == 0.0 and lone.grad is not None


def test_diversity_loss_matches_hand_value():
    parts = torch.tensor([
        [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]],    # cos: 0, 1/sqrt2, 1/sqrt2
        [[1.0, 0.0], [2.0, 0.0], [-1.0, 0.0]],   # cos: 1, -1, -1
    ])
    ordered_pairs_sum = 2 * (0 + 2 / math.sqrt(2)) + 2 * (1 - 1 - 1)
    expected = ordered_pairs_sum / (2 * 3 * 2)  # N K (K-1)
    assert diversity_loss(parts).item() == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="K >= 2"):
        diversity_loss(torch.ones(2, 1, 4))


def test_diversity_loss_falls_when_trained_alone():
    """K part heads on a shared feature start correlated and decorrelate under L_div."""
    torch.manual_seed(0)
    k, dim = 4, 16
    shared = torch.randn(8, dim)
    base = torch.randn(dim, dim)
    heads = torch.nn.Parameter(base[None].repeat(k, 1, 1) + 0.05 * torch.randn(k, dim, dim))
    opt = torch.optim.Adam([heads], lr=0.02)
    losses = []
    for _ in range(60):
        parts = torch.einsum("nd,kde->nke", shared, heads)
        loss = diversity_loss(parts)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 0.9  # nearly identical parts
    assert losses[-1] < 0.1 < losses[0] - 0.5


def test_total_loss_weights_terms_like_the_paper():
    torch.manual_seed(1)
    n, k, e, c = 6, 3, 8, 4
    outputs = {
        "part_features": torch.randn(n, k, e),
        "global_feature": torch.randn(n, e),
        "part_logits": torch.randn(n, k, c),
        "global_logits": torch.randn(n, c),
    }
    labels = torch.tensor([0, 0, 1, 1, 2, 3])
    cfg = ReIDLossConfig(label_smoothing=0.0, margin=0.3)
    terms = FineTrackLoss(cfg)(outputs, labels)
    part_cls = sum(identity_loss(outputs["part_logits"][:, i], labels) for i in range(k)) / k
    part_tri = sum(batch_hard_triplet_loss(outputs["part_features"][:, i], labels, 0.3)
                   for i in range(k)) / k
    glob = (identity_loss(outputs["global_logits"], labels)
            + batch_hard_triplet_loss(outputs["global_feature"], labels, 0.3))
    expected = 0.5 * k * (part_cls + part_tri) + 0.3 * glob + 2.0 * diversity_loss(
        outputs["part_features"])
    assert terms["total"].item() == pytest.approx(expected.item(), rel=1e-5)
    custom = FineTrackLoss(ReIDLossConfig(label_smoothing=0.0, alpha=1.0, beta=0.0, gamma=0.0))
    assert custom(outputs, labels)["total"].item() == pytest.approx(
        (part_cls + part_tri).item(), rel=1e-5)
