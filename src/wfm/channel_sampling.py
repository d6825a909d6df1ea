"""Stochastic channel sampling (pretraining only): keep ``k ~ U{1..C}`` randomly chosen channels of a sample.

Works on padded batches (``x`` (B, C, H, W) with ``channels`` real slots per sample): the kept channels are
moved to the front slots in random order and the batch is trimmed to the largest ``k``. Random numbers come
from a caller-supplied numpy generator so the draw is a pure function of the step (exact resume, per-rank).
"""

from __future__ import annotations

import numpy as np
import torch

MODES = ("sample", "batch", "none")


def sample_channels(
    x: torch.Tensor, channels: torch.Tensor, rng: np.random.Generator, mode: str = "sample"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(x', channels')`` with a random subset of each sample's channels.

    Args:
        x: (B, C, H, W) batch, slots past ``channels[b]`` are padding.
        channels: (B,) real channel counts.
        rng: numpy generator for the draw.
        mode: ``sample`` draws ``k`` per sample; ``batch`` draws one ``k`` for the whole batch (at most the
            smallest count in it, so no padding is created); ``none`` returns the batch unchanged.
    """
    if mode not in MODES:
        raise ValueError(f"channel sampling mode must be one of {MODES}, got {mode!r}")
    if mode == "none":
        return x, channels
    b, c = x.shape[:2]
    counts = channels.cpu().numpy()
    if mode == "sample":
        k = np.floor(rng.random(b) * counts).astype(np.int64) + 1
    else:
        k = np.full(b, int(rng.integers(1, counts.min() + 1)), dtype=np.int64)
    # random order of each sample's real channels, padding slots sorted last
    scores = rng.random((b, c))
    scores[np.arange(c)[None, :] >= counts[:, None]] = 2.0
    order = torch.from_numpy(np.argsort(scores, axis=1, kind="stable")[:, : int(k.max())]).to(x.device)
    x = torch.gather(x, 1, order[:, :, None, None].expand(-1, -1, *x.shape[2:]))
    return x, torch.from_numpy(k).to(channels.device)
