"""Stochastic channel sampling (pretraining only): keep ``k ~ U{1..C}`` randomly chosen channels of a sample;
and channel holdout (:func:`holdout_views`): hide some of the kept channels from the context (encoder input)
while the objective still covers them, so they must be predicted from the others.

Works on padded batches (``x`` (B, C, H, W) with ``channels`` real slots per sample): the kept channels are
moved to the front slots, in their input order, and the batch is trimmed to the largest ``k``. Every slot
keeps the index of the input channel it holds (``channel_ids``), so a model can tell base station 3 from
base station 0 whichever subset was drawn. Random numbers come from a caller-supplied numpy generator so the
draw is a pure function of the step (exact resume, per-rank).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from wfm.choices import choices
from wfm.models.encoder import default_channel_ids
from wfm.models.phase import interleaved_pairs

#: how channels are sampled in training: ``k`` per sample, one ``k`` per batch, or all
ChannelSampling = Literal["sample", "batch", "none"]
MODES = choices(ChannelSampling)


def sample_channels(
    x: torch.Tensor,
    channels: torch.Tensor,
    rng: np.random.Generator,
    mode: str = "sample",
    counts: np.ndarray | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(x', channels', channel_ids)`` with a random subset of each sample's channels.

    Args:
        x: (B, C, H, W) batch, slots past ``channels[b]`` are padding.
        channels: (B,) real channel counts.
        rng: numpy generator for the draw.
        mode: ``sample`` draws ``k`` per sample; ``batch`` draws one ``k`` for the whole batch (at most the
            smallest count in it, so no padding is created); ``none`` returns the batch unchanged.
        counts: ``channels`` as a host (numpy) array when the caller has it, so a device tensor is never read
            back (a host sync on a GPU).

    Returns:
        ``x'`` (B, K, H, W) with ``K`` the largest ``k``, the new counts ``k`` (B,), and ``channel_ids``
        (B, K) long: the input channel index held by every slot (slots past ``k`` are padding).
    """
    if mode == "none":  # no host copy of the counts needed (reading a device tensor back would sync)
        return x, channels, default_channel_ids(x.shape[0], x.shape[1], x.device)
    return _sample_with_host_counts(x, channels, rng, mode, counts)[:3]


def _sample_with_host_counts(x: torch.Tensor, channels: torch.Tensor, rng: np.random.Generator, mode: str,
                             counts: np.ndarray | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, np.ndarray]:
    """:func:`sample_channels` plus the new counts as a host (numpy) array, for host-side draws that follow
    (read back from ``channels`` only where ``counts`` is not given)."""
    if mode not in MODES:
        raise ValueError(f"channel sampling mode must be one of {MODES}, got {mode!r}")
    b, c = x.shape[:2]
    counts = channels.cpu().numpy() if counts is None else np.asarray(counts)
    if mode == "none":
        return x, channels, default_channel_ids(b, c, x.device), counts
    order, k = draw_channel_subset(counts, c, rng, mode)
    ids = torch.from_numpy(order).to(x.device, non_blocking=True)
    x = torch.gather(x, 1, ids[:, :, None, None].expand(-1, -1, *x.shape[2:]))
    return x, torch.from_numpy(k).to(channels.device, non_blocking=True), ids, k


def draw_channel_subset(
    counts: np.ndarray, c: int, rng: np.random.Generator, mode: str = "sample"
) -> tuple[np.ndarray, np.ndarray]:
    """The host part of :func:`sample_channels`: which slots to keep, ``(order (B, K), k (B,))`` numpy.

    Only random numbers and index arithmetic on ``(B, C)`` integers: what the training step does on the CPU.
    Moving the kept channels (the gather) is a tensor operation on the batch's device.
    """
    b = counts.shape[0]
    if mode == "sample":
        k = np.floor(rng.random(b) * counts).astype(np.int64) + 1
    else:
        k = np.full(b, int(rng.integers(1, counts.min() + 1)), dtype=np.int64)
    # a random subset of each sample's real channels (padding slots sorted last) ...
    scores = rng.random((b, c))
    scores[np.arange(c)[None, :] >= counts[:, None]] = 2.0
    kmax = int(k.max())
    order = np.argsort(scores, axis=1, kind="stable")[:, :kmax]
    # ... put back in input order in the first k slots (the rest stays behind them as padding)
    kept = np.arange(kmax)[None, :] < k[:, None]
    order = np.take_along_axis(order, np.argsort(np.where(kept, order, c + order), axis=1, kind="stable"), axis=1)
    return order, k


def check_holdout(prob: float) -> float:
    """A ``channel_holdout`` probability, refused outside [0, 1]."""
    if not 0.0 <= float(prob) <= 1.0:
        raise ValueError(f"channel_holdout must be a probability in [0, 1], got {prob}")
    return float(prob)


def draw_holdout(counts: np.ndarray, c: int, rng: np.random.Generator, prob: float) -> tuple[np.ndarray, np.ndarray]:
    """Which channels of each sample the context does not see (JEPA's ``channel_holdout``), host side.

    A sample with ``k >= 2`` real channels holds out, with probability ``prob``, a random subset of ``1..k-1``
    of them (uniform size). Returns ``order`` (B, C): a permutation of the slots that puts the held-in
    channels first, then the held-out ones, then the padding (each group in slot order), and ``n_in`` (B,),
    the held-in count (``k`` where nothing is held out). After ``x[b, order[b]]`` slots ``[0, n_in)`` are
    the context's channels and ``[n_in, k)`` the held-out ones.
    """
    counts = np.asarray(counts, dtype=np.int64)
    b = counts.shape[0]
    hold = (counts >= 2) & (rng.random(b) < prob)
    n_out = np.where(hold, np.floor(rng.random(b) * (counts - 1)).astype(np.int64) + 1, 0)
    slots = np.arange(c)[None, :]
    real = slots < counts[:, None]
    scores = np.where(real, rng.random((b, c)), 2.0)
    rank = np.argsort(np.argsort(scores, axis=1, kind="stable"), axis=1, kind="stable")
    group = np.where(real, (rank < n_out[:, None]).astype(np.int64), 2)  # 0 held in, 1 held out, 2 padding
    order = np.argsort(group * c + slots, axis=1, kind="stable")
    return order, counts - n_out


@dataclass
class Views:
    """A training batch's channels and what the context (the encoder's input) sees of them.

    Attributes:
        x: (B, C, H, W) the sampled channels; with held-out channels the context's come first in every sample.
        channels: (B,) real channel counts of ``x``.
        channel_ids: (B, C) input channel index of every slot.
        context_channels: (B,) the first slots the context sees (``channels`` when nothing is held out).
        context_slots: ``C`` or, with held-out channels, the largest ``context_channels`` (a host int): the
            context's input is ``x[:, :context_slots]``.
        held_out: (B, C) bool, the held-out slots; None when nothing is held out this step.
    """

    x: torch.Tensor
    channels: torch.Tensor
    channel_ids: torch.Tensor
    context_channels: torch.Tensor
    context_slots: int
    held_out: torch.Tensor | None = None
    #: the (re, im) slot pairs of ``x`` (interleaved over all its slots) when its channels are complex
    pairs: tuple[tuple[int, int], ...] = ()


def holdout_views(
    x: torch.Tensor,
    channels: torch.Tensor,
    rng: np.random.Generator,
    mode: str = "sample",
    holdout: float = 0.0,
    counts: np.ndarray | None = None,
    pairs: Sequence[Sequence[int]] | None = None,
) -> Views:
    """Channel sampling (``mode``, :func:`sample_channels`), then with probability ``holdout`` per sample with
    two or more channels a held-out subset (:func:`draw_holdout`). With ``holdout == 0`` this draws exactly
    what :func:`sample_channels` draws, so runs without holdout keep their random streams.

    ``pairs``: the batch's complex (re, im) channel pairs. In the interleaved layout (:func:`interleaved_pairs`)
    sampling and holdout draw whole complex channels (a pair is one unit; its slots stay adjacent and keep
    their channel indices) and the views say their pairs; other layouts are sampled channel by channel."""
    b, c = x.shape[:2]
    if interleaved_pairs(pairs, c):
        units = x.reshape(b, c // 2, 2 * x.shape[2], *x.shape[3:])
        v = holdout_views(units, channels // 2, rng, mode, holdout, None if counts is None else np.asarray(counts) // 2)
        k = v.x.shape[1]
        ids = torch.stack([2 * v.channel_ids, 2 * v.channel_ids + 1], -1).reshape(b, 2 * k)
        held = None if v.held_out is None else v.held_out.repeat_interleave(2, dim=1)
        return Views(v.x.reshape(b, 2 * k, *x.shape[2:]), v.channels * 2, ids, v.context_channels * 2,
                     2 * v.context_slots, held, tuple((j, j + 1) for j in range(0, 2 * k, 2)))
    if holdout == 0.0:
        x, channels, ids = sample_channels(x, channels, rng, mode, counts)
        return Views(x, channels, ids, channels, x.shape[1])
    x, channels, ids, counts = _sample_with_host_counts(x, channels, rng, mode, counts)
    order, n_in = draw_holdout(counts, x.shape[1], rng, holdout)
    if (n_in == counts).all():
        return Views(x, channels, ids, channels, x.shape[1])
    slots = np.arange(x.shape[1])[None, :]
    held = torch.from_numpy((slots >= n_in[:, None]) & (slots < counts[:, None])).to(x.device, non_blocking=True)
    order_t = torch.from_numpy(order).to(x.device, non_blocking=True)
    x = torch.gather(x, 1, order_t[:, :, None, None].expand(-1, -1, *x.shape[2:]))
    ids = torch.gather(ids, 1, order_t)
    ctx = torch.from_numpy(n_in).to(channels.device, non_blocking=True)
    return Views(x, channels, ids, ctx, int(n_in.max()), held)


def pad_channel_slots(t: torch.Tensor, slots: int, total: int) -> torch.Tensor:
    """Channel-major per-slot values ``(B, slots * K, ...)`` -> ``(B, total * K, ...)``, zeros in the new slots
    (the context's tokens back in the layout of all channels, the held-out ones as padding)."""
    if slots == total:
        return t
    b, k = t.shape[0], t.shape[1] // slots
    t = t.reshape(b, slots, k, *t.shape[2:])
    pad = t.new_zeros(b, total - slots, k, *t.shape[3:])
    return torch.cat([t, pad], 1).reshape(b, total * k, *t.shape[3:])
