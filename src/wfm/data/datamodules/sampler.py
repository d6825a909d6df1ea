"""A batch sampler grouping samples by channel count (and modality): no padding, order seeded per epoch,
DDP-sharded, optionally round-robin over modalities."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler

from wfm.choices import check_number


def _dist_rank_world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class ChannelGroupedBatchSampler(Sampler[list[int]]):
    """Yield batches of indices whose samples all have the same channel count.

    Each epoch (``set_epoch``) draws a fresh order from ``(seed, epoch)``: indices are shuffled within each
    channel-count group, cut into batches, and the batches of all groups are shuffled together. With several
    ranks, rank ``r`` takes batches ``r, r + world, ...``: shards are disjoint and every rank gets the same
    number of batches (the last ``len % world`` batches of the epoch are dropped; a fresh order next epoch
    drops different ones). Rank and world size come from ``torch.distributed`` when it is initialised.

    Args:
        channel_counts: channel count of every index of the dataset.
        batch_size: samples per batch (the last batch of a group may be smaller unless ``drop_last``).
        shuffle: False keeps file order within groups and groups in increasing channel count (validation).
        seed: base seed of the order.
        drop_last: drop each group's incomplete last batch.
        rank, world_size: override the distributed values (tests, custom launchers).
        kinds: optional modality of every index (e.g. 0 image, 1 IQ). With two or more kinds and ``shuffle``,
            the epoch's batches go round-robin over the kinds (one batch of each in turn, each kind's
            batches in their shuffled order) while every kind has batches left, then the rest; combined with
            ``accumulate_grad_batches`` = number of kinds, each optimizer step sums one batch per modality (the
            multimodal WFM's round-robin training).
        modalities: optional modality index of every index: batches never mix two (a spectrogram and a CSI
            file of the same channel count go to different batches); unlike ``kinds`` no round-robin.
    """

    def __init__(
        self,
        channel_counts: Sequence[int],
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
        kinds: Sequence[int] | None = None,
        modalities: Sequence[int] | None = None,
    ) -> None:
        check_number("batch_size", batch_size, ge=1, integer=True)
        self.counts = np.asarray(channel_counts, dtype=np.int64)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self._rank = rank
        self._world = world_size
        self.epoch = 0
        self.kinds = None if kinds is None else np.asarray(kinds, dtype=np.int64)
        if self.kinds is not None and self.kinds.shape != self.counts.shape:
            raise ValueError(f"kinds has {self.kinds.shape[0]} entries, expected one per index ({len(self.counts)})")
        # batches never mix kinds (an IQ and an image sample of the same channel count have different shapes)
        self.groups = self.counts if self.kinds is None else self.kinds * (int(self.counts.max()) + 1) + self.counts
        if modalities is not None:  # the modality splits groups last: groups of one modality keep their order
            mods = np.asarray(modalities, dtype=np.int64)
            if mods.shape != self.counts.shape:
                raise ValueError(f"modalities has {mods.shape[0]} entries, expected one per index ({len(self.counts)})")
            self.groups = self.groups * (int(mods.max()) + 1) + mods

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _rank_world(self) -> tuple[int, int]:
        rank, world = _dist_rank_world()
        rank = self._rank if self._rank is not None else rank
        world = self._world if self._world is not None else world
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} out of range for world size {world}")
        return rank, world

    def _all_batches(self) -> list[np.ndarray]:
        rng = np.random.default_rng((self.seed, self.epoch))
        batches: list[np.ndarray] = []
        for c in np.unique(self.groups):
            idx = np.flatnonzero(self.groups == c)
            if self.shuffle:
                idx = rng.permutation(idx)
            for start in range(0, len(idx), self.batch_size):
                b = idx[start : start + self.batch_size]
                if len(b) < self.batch_size and self.drop_last:
                    continue
                batches.append(b)
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
            if self.kinds is not None and len(np.unique(self.kinds)) > 1:
                batches = self._round_robin(batches, self._rank_world()[1])
        return batches

    def _round_robin(self, batches: list[np.ndarray], world: int) -> list[np.ndarray]:
        """Rounds of ``world`` batches of each kind in turn, so that every rank (which takes every
        ``world``-th batch) alternates between the kinds too."""
        queues = [[b for b in batches if self.kinds[b[0]] == k] for k in np.unique(self.kinds)]
        out: list[np.ndarray] = []
        for i in range(0, max(len(q) for q in queues), world):
            for q in queues:
                out += q[i : i + world]
        return out

    def __iter__(self) -> Iterator[list[int]]:
        rank, world = self._rank_world()
        batches = self._all_batches()
        usable = len(batches) - len(batches) % world
        for b in batches[rank:usable:world]:
            yield b.tolist()

    def __len__(self) -> int:
        _, world = self._rank_world()
        total = 0
        for c in np.unique(self.groups):
            m = int((self.groups == c).sum())
            total += m // self.batch_size if self.drop_last else -(-m // self.batch_size)
        return total // world
