"""Shuffle-Group Sampling against hand-built groups, and against the two baselines."""
from __future__ import annotations

import numpy as np
import pytest

from finetrack_ros.train.sampler import (
    PKBatchSampler,
    RandomBatchSampler,
    ShuffleGroupSampler,
    build_batch_sampler,
    pack_groups,
    positives_per_anchor,
)

# seq 0: frames 1,1,2,3,3,4 ; seq 1: frames 5,5,6,7 (its first frame is 5)
SEQUENCES = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
FRAMES = np.array([1, 1, 2, 3, 3, 4, 5, 5, 6, 7])


def test_groups_are_consecutive_frames_of_one_sequence():
    sampler = ShuffleGroupSampler(SEQUENCES, FRAMES, batch_size=4, group_size=2)
    assert sampler.groups == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_a_cut_group_keeps_each_identity_together():
    # one group of 2 frames x 4 people, batch of 4: by identity -> 2 people x 2 frames each
    frames, labels = np.repeat([1, 2], 4), np.tile([7, 8, 9, 6], 2)
    sampler = ShuffleGroupSampler(np.zeros(8, int), frames, 4, 2, labels=labels)
    assert sampler.groups == [[3, 7, 0, 4, 1, 5, 2, 6]]  # ids 6, 7, 8, 9, each frame 1 then 2
    batches = list(sampler)
    assert positives_per_anchor(labels, batches) == pytest.approx(1.0)
    by_frame = ShuffleGroupSampler(np.zeros(8, int), frames, 4, 2)
    assert positives_per_anchor(labels, list(by_frame)) == 0.0


def test_batches_are_filled_with_whole_groups():
    groups = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    # order 3,0: [9]+[0,1,2] fills 4; [6,7,8] does not fit -> new batch; same for [3,4,5]
    assert pack_groups(groups, [3, 0, 2, 1], 4) == [[9, 0, 1, 2], [6, 7, 8], [3, 4, 5]]
    # a group larger than the batch is cut into full chunks, the rest continues
    assert pack_groups([[0, 1, 2, 3, 4], [5]], [0, 1], 2) == [[0, 1], [2, 3], [4, 5]]


def test_epoch_is_a_shuffled_cover_and_deterministic():
    sampler = ShuffleGroupSampler(SEQUENCES, FRAMES, batch_size=4, group_size=2, seed=3)
    orders = set()
    for epoch in range(8):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert sorted(i for b in batches for i in b) == list(range(10))
        assert all(len(b) <= 4 for b in batches)
        assert batches == list(sampler)  # same (seed, epoch) -> same batches
        orders.add(tuple(map(tuple, batches)))
    assert len(orders) > 1  # group order changes between epochs


@pytest.mark.parametrize("world_size", [2, 3])
def test_sharding_gives_every_rank_equal_disjoint_batches(world_size):
    frames = np.arange(1, 41).repeat(3)
    sequences = np.zeros_like(frames)
    shards = []
    for rank in range(world_size):
        sampler = ShuffleGroupSampler(sequences, frames, batch_size=6, group_size=2, seed=1,
                                      rank=rank, world_size=world_size)
        sampler.set_epoch(2)
        shards.append(list(sampler))
    assert len({len(s) for s in shards}) == 1
    seen = [i for shard in shards for b in shard for i in b]
    assert set(seen) == set(range(len(frames)))  # padding repeats, nothing is lost
    with pytest.raises(ValueError, match="rank"):
        ShuffleGroupSampler(sequences, frames, 6, 2, rank=2, world_size=2)


def test_sgs_gives_more_positives_per_anchor_than_random_sampling():
    # 5 sequences x 20 frames, 8 people visible in every frame of a sequence (40 ids).
    seqs, frames, labels = [], [], []
    for s in range(5):
        for f in range(1, 21):
            for p in range(8):
                seqs.append(s), frames.append(f), labels.append(8 * s + p)
    seqs, frames, labels = map(np.array, (seqs, frames, labels))
    sgs = list(ShuffleGroupSampler(seqs, frames, batch_size=32, group_size=4))
    rnd = list(RandomBatchSampler(len(labels), batch_size=32))
    pk = list(PKBatchSampler(labels, num_identities=8, num_instances=4))
    # hand: SGS batch = 4 frames x 8 people -> 3 other crops per anchor; PK: K-1 = 3;
    # random: 31 * 19 / 799 ~= 0.74 expected.
    assert positives_per_anchor(labels, sgs) == pytest.approx(3.0)
    assert positives_per_anchor(labels, pk) == pytest.approx(3.0)
    assert positives_per_anchor(labels, rnd) < 1.2
    assert len(sgs) == 25 and len(pk) == 5 and len(rnd) == 25


def test_a_lone_one_crop_group_never_forms_a_batch():
    """Training's SGS drops one-crop batches.

    BatchNorm in training mode raises on a single crop ("Expected more than 1 value per
    channel") and the triplet loss has no pair.
    """
    # seq 0: frames 1,1,2,2 = one full group of 4; seq 1: one crop at frame 9, a group alone
    sequences, frames = np.array([0, 0, 0, 0, 1]), np.array([1, 1, 2, 2, 9])
    labels = np.array([3, 4, 3, 4, 5])
    for world_size in (1, 2):
        for epoch in range(4):
            batches = []
            for rank in range(world_size):
                sampler = build_batch_sampler("sgs", labels, sequences, frames, batch_size=4,
                                              group_size=2, pk_instances=2, seed=epoch,
                                              rank=rank, world_size=world_size)
                sampler.set_epoch(epoch)
                assert len(sampler) == len(list(sampler))
                batches += list(sampler)
            assert batches and all(len(b) >= 2 for b in batches), batches
            assert sorted({i for b in batches for i in b}) == [0, 1, 2, 3]
    # without the floor the lone crop is a batch of its own
    plain = ShuffleGroupSampler(sequences, frames, batch_size=4, group_size=2, labels=labels)
    assert sorted(map(len, plain)) == [1, 4]
