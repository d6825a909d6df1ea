"""Masks over (frame, modality) cells of a multi-sensor window, for JEPA-MSAC (§III-D) and its ablation.

``temporal`` (the paper's): for each modality independently one contiguous run of ``floor(ratio * T)`` frames,
all of that modality's tokens in those frames masked. ``random``: the same number of frames per modality drawn
without the contiguity. ``checkerboard``: frames alternating with the modality (``(t + m + s) % 2 == 1``, a random
phase ``s`` per sample), trimmed to the same count. Every pattern masks exactly ``floor(ratio * T)`` frames of
every modality, so each sample of a batch has the same number of visible tokens (batched gathers, no padding).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np
import torch

from wfm.choices import check_choice

MaskPattern = Literal["temporal", "random", "checkerboard"]
PATTERNS = get_args(MaskPattern)


def masked_frames(frames: int, ratio: float) -> int:
    """``floor(ratio * T)``, refused when it masks nothing or everything."""
    k = int(np.floor(ratio * frames + 1e-9))
    if not 0 < k < frames:
        raise ValueError(f"mask ratio {ratio} masks {k} of {frames} frames; expected at least one masked and one "
                         "visible frame per modality")
    return k


def frame_mask(batch: int, frames: int, modalities: int, ratio: float, rng: np.random.Generator,
               pattern: MaskPattern = "temporal") -> np.ndarray:
    """Boolean ``(batch, frames, modalities)``: True where a modality's frame is masked."""
    check_choice("pattern", pattern, MaskPattern)
    k = masked_frames(frames, ratio)
    out = np.zeros((batch, frames, modalities), bool)
    for b in range(batch):
        phase = int(rng.integers(0, 2)) if pattern == "checkerboard" else 0
        for m in range(modalities):
            if pattern == "temporal":
                s = int(rng.integers(0, frames - k + 1))
                out[b, s:s + k, m] = True
            elif pattern == "random":
                out[b, rng.choice(frames, size=k, replace=False), m] = True
            else:
                cells = [t for t in range(frames) if (t + m + phase) % 2 == 1]
                extra = [t for t in range(frames) if t not in cells]
                out[b, (cells + extra)[:k], m] = True
    return out


def token_masks(mask: np.ndarray, tokens: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(keep, masked)`` token indices ``(B, n_keep)``, ``(B, n_mask)`` of a time-major token sequence (frame 0's
    modalities with ``tokens[m]`` tokens each, then frame 1's, ...) from a ``(B, T, M)`` frame mask."""
    b, t, m = mask.shape
    if len(tokens) != m:
        raise ValueError(f"{len(tokens)} token counts for a mask of {m} modalities")
    per_token = np.repeat(mask, np.asarray(tokens), axis=2).reshape(b, -1)  # (B, T * sum(P))
    counts = per_token.sum(1)
    if (counts != counts[0]).any():
        raise ValueError("every sample needs the same number of masked tokens")
    order = np.argsort(per_token, axis=1, kind="stable")  # visible (False) first, each part in token order
    n_keep = per_token.shape[1] - int(counts[0])
    return torch.from_numpy(order[:, :n_keep].copy()), torch.from_numpy(order[:, n_keep:].copy())
