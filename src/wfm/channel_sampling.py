"""Stochastic channel sampling (pretraining only): keep ``k ~ U{1..C}`` randomly chosen channels of a sample.

Works on padded batches (``x`` (B, C, H, W) with ``channels`` real slots per sample): the kept channels are
moved to the front slots, in their input order, and the batch is trimmed to the largest ``k``. Every slot
keeps the index of the input channel it holds (``channel_ids``), so a model can tell base station 3 from
base station 0 whichever subset was drawn. Random numbers come from a caller-supplied numpy generator so the
draw is a pure function of the step (exact resume, per-rank).
"""

from __future__ import annotations

import numpy as np
import torch

from wfm.models.encoder import default_channel_ids

MODES = ("sample", "batch", "none")


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
    if mode not in MODES:
        raise ValueError(f"channel sampling mode must be one of {MODES}, got {mode!r}")
    b, c = x.shape[:2]
    if mode == "none":
        return x, channels, default_channel_ids(b, c, x.device)
    counts = channels.cpu().numpy() if counts is None else np.asarray(counts)
    order, k = draw_channel_subset(counts, c, rng, mode)
    ids = torch.from_numpy(order).to(x.device, non_blocking=True)
    x = torch.gather(x, 1, ids[:, :, None, None].expand(-1, -1, *x.shape[2:]))
    return x, torch.from_numpy(k).to(channels.device, non_blocking=True), ids


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
