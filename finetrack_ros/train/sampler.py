"""Batch samplers for Re-ID training: FineTrack's Shuffle-Group Sampling and two baselines.

All three are ``torch.utils.data.Sampler``s of *batches* (pass them as ``batch_sampler=``)
that shard like ``DistributedSampler``: every rank builds the same epoch from (seed, epoch),
pads the batch list to a multiple of ``world_size`` by repeating its first batches, and keeps
batches ``rank, rank + world_size, ...``; so every rank runs the same number of steps.
Call ``set_epoch(epoch)`` before each epoch. Batches smaller than ``min_batch_size`` are
dropped (training needs >= 2 crops per batch for BatchNorm and the triplet loss).
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler


class _ShardedBatchSampler(Sampler[list[int]]):
    """Shared epoch seeding and rank sharding; subclasses implement ``_epoch_batches``."""

    def __init__(self, batch_size: int, seed: int, rank: int, world_size: int,
                 min_batch_size: int = 1) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank/world_size: need 0 <= rank < world_size, "
                             f"got rank={rank}, world_size={world_size}")
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.min_batch_size = min_batch_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _epoch_batches(self, rng: np.random.Generator) -> list[list[int]]:
        raise NotImplementedError

    def _rank_batches(self) -> list[list[int]]:
        batches = self._epoch_batches(np.random.default_rng((self.seed, self.epoch)))
        batches = [b for b in batches if len(b) >= self.min_batch_size]
        if not batches:
            return []
        short = -len(batches) % self.world_size
        batches = batches + [batches[i % len(batches)] for i in range(short)]
        return batches[self.rank::self.world_size]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._rank_batches())

    def __len__(self) -> int:
        return len(self._rank_batches())


class ShuffleGroupSampler(_ShardedBatchSampler):
    """Shuffle-Group Sampling (FineTrack, Ren et al. CVPR 2023, Sec. 3.4).

    Each sequence's frames are cut *sequentially* into groups of ``group_size`` consecutive
    frames (counted from the sequence's first frame in the split); a group holds every crop of
    those frames. The order of the groups is shuffled every epoch and batches are filled with
    whole groups, so the identities in a batch come with their neighbouring-frame positives.
    A group that does not fit in the current batch starts the next one; a group larger than
    ``batch_size`` is cut into ``batch_size`` chunks. Batches therefore hold <= ``batch_size``
    crops. Within a group crops are ordered by identity (when ``labels`` are given), then
    frame, so a chunk of a cut group keeps each identity's crops together.

    Args:
        sequences: (M,) int sequence index of each crop.
        frames: (M,) int frame number of each crop.
        batch_size: max crops per batch.
        group_size: G, consecutive frames per group.
        labels: (M,) identities, or None to order a group by frame only.
    """

    def __init__(self, sequences: np.ndarray, frames: np.ndarray, batch_size: int,
                 group_size: int, seed: int = 0, rank: int = 0, world_size: int = 1,
                 min_batch_size: int = 1, labels: np.ndarray | None = None) -> None:
        super().__init__(batch_size, seed, rank, world_size, min_batch_size)
        if group_size < 1:
            raise ValueError(f"sampler.group_size: must be >= 1, got {group_size}")
        sequences, frames = np.asarray(sequences), np.asarray(frames)
        labels = np.zeros_like(frames) if labels is None else np.asarray(labels)
        if not sequences.shape == frames.shape == labels.shape:
            raise ValueError(f"sequences {sequences.shape}, frames {frames.shape} and labels "
                             f"{labels.shape} differ")
        self.group_size = group_size
        self.groups = self._make_groups(sequences, frames, labels, group_size)

    @staticmethod
    def _make_groups(sequences: np.ndarray, frames: np.ndarray, labels: np.ndarray,
                     group_size: int) -> list[list[int]]:
        """Crop indices per group, groups ordered by (sequence, first frame)."""
        first = {s: frames[sequences == s].min() for s in np.unique(sequences)}
        slot = np.array([(f - first[s]) // group_size for s, f in zip(sequences, frames)])
        order = np.lexsort((np.arange(len(frames)), frames, labels, slot, sequences))
        groups: dict[tuple[int, int], list[int]] = {}
        for i in order:
            groups.setdefault((int(sequences[i]), int(slot[i])), []).append(int(i))
        return list(groups.values())

    def _epoch_batches(self, rng: np.random.Generator) -> list[list[int]]:
        return pack_groups(self.groups, rng.permutation(len(self.groups)), self.batch_size)


def pack_groups(groups: list[list[int]], order, batch_size: int) -> list[list[int]]:
    """Fill batches of <= ``batch_size`` indices with whole groups taken in ``order``.

    A group that does not fit in the current batch starts the next one; a group larger than
    ``batch_size`` is cut into ``batch_size`` chunks, its remainder continuing the next batch.
    """
    batches: list[list[int]] = []
    current: list[int] = []
    for g in order:
        group = groups[g]
        if current and len(current) + len(group) > batch_size:
            batches.append(current)
            current = []
        for start in range(0, len(group), batch_size):
            chunk = group[start:start + batch_size]
            if len(chunk) == batch_size:
                batches.append(chunk)
            else:
                current = current + chunk
    if current:
        batches.append(current)
    return batches


class RandomBatchSampler(_ShardedBatchSampler):
    """Plain random sampling: a random permutation of all crops cut into batches."""

    def __init__(self, num_samples: int, batch_size: int, seed: int = 0, rank: int = 0,
                 world_size: int = 1, drop_last: bool = True) -> None:
        super().__init__(batch_size, seed, rank, world_size)
        self.num_samples = num_samples
        self.drop_last = drop_last

    def _epoch_batches(self, rng: np.random.Generator) -> list[list[int]]:
        perm = rng.permutation(self.num_samples).tolist()
        stop = len(perm) - len(perm) % self.batch_size if self.drop_last else len(perm)
        return [perm[i:i + self.batch_size] for i in range(0, stop, self.batch_size)]


class PKBatchSampler(_ShardedBatchSampler):
    """Identity-balanced P x K sampling: P identities, K crops each.

    Crops are drawn with replacement when an identity has fewer than K. One epoch visits every
    identity once.
    """

    def __init__(self, labels: np.ndarray, num_identities: int, num_instances: int,
                 seed: int = 0, rank: int = 0, world_size: int = 1) -> None:
        super().__init__(num_identities * num_instances, seed, rank, world_size)
        labels = np.asarray(labels)
        self.num_identities = num_identities
        self.num_instances = num_instances
        self.by_label = [np.flatnonzero(labels == label) for label in np.unique(labels)]
        if len(self.by_label) < num_identities:
            raise ValueError(f"sampler.pk_identities: {num_identities} identities per batch "
                             f"but the data has only {len(self.by_label)}")

    def _epoch_batches(self, rng: np.random.Generator) -> list[list[int]]:
        order = rng.permutation(len(self.by_label))
        batches = []
        for start in range(0, len(order) - self.num_identities + 1, self.num_identities):
            batch: list[int] = []
            for label in order[start:start + self.num_identities]:
                pool = self.by_label[label]
                replace = len(pool) < self.num_instances
                batch += rng.choice(pool, self.num_instances, replace=replace).tolist()
            batches.append(batch)
        return batches


def positives_per_anchor(labels: np.ndarray, batches: list[list[int]]) -> float:
    """Mean number of *other* crops with the anchor's identity in the anchor's batch."""
    labels = np.asarray(labels)
    counts = []
    for batch in batches:
        batch_labels = labels[np.asarray(batch)]
        same = batch_labels[:, None] == batch_labels[None, :]
        counts.append(same.sum(axis=1) - 1)
    return float(np.concatenate(counts).mean()) if counts else 0.0


def build_batch_sampler(kind: str, labels: np.ndarray, sequences: np.ndarray,
                        frames: np.ndarray, batch_size: int, group_size: int,
                        pk_instances: int, seed: int, rank: int = 0,
                        world_size: int = 1) -> _ShardedBatchSampler:
    """Sampler by name: ``sgs`` | ``random`` | ``pk`` (P = batch_size // pk_instances).

    SGS batches of a single crop (a lone one-crop group) are dropped.
    """
    if kind == "sgs":
        return ShuffleGroupSampler(sequences, frames, batch_size, group_size, seed, rank,
                                   world_size, min_batch_size=2, labels=labels)
    if kind == "random":
        return RandomBatchSampler(len(labels), batch_size, seed, rank, world_size)
    if kind == "pk":
        return PKBatchSampler(labels, max(1, batch_size // pk_instances), pk_instances, seed,
                              rank, world_size)
    raise ValueError(f"sampler.kind: expected 'sgs', 'random' or 'pk', got {kind!r}")
