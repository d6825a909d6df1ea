"""Batching samples with different channel counts: zero-pad the channel axis and record the real count; the
samples' modality becomes the batch's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from wfm.data.modalities import batch_modality

#: sample keys that are not stacked as tensors
_NOT_STACKED = ("x", "channels", "modality", "complex_pairs")


def pad_collate(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack sample dicts into a batch.

    Each sample has ``x`` (C, H, W), ``channels`` (int) and, from the wfm datasets, ``modality`` (its data
    modality's name); other keys (labels) are stacked as they are. ``x`` is zero-padded along C to the largest
    count in the batch; ``channels`` says how many are real. Methods and the encoder treat slots past
    ``channels[b]`` as padding (masked from attention). ``modality`` becomes one string, ``batch["modality"]``
    (absent when no sample names one); samples of different modalities in one batch are a ValueError.
    ``complex_pairs`` (the ``(re, im)`` channel pairs of complex channels) becomes the batch's when every sample
    has the same; a batch mixing channel layouts is a ValueError.
    """
    if not samples:
        raise ValueError("pad_collate got an empty list of samples")
    modality = batch_modality([s.get("modality") for s in samples])
    cmax = max(int(s["x"].shape[0]) for s in samples)
    h, w = samples[0]["x"].shape[1:]
    x = torch.zeros(len(samples), cmax, h, w, dtype=samples[0]["x"].dtype)
    for i, s in enumerate(samples):
        if tuple(s["x"].shape[1:]) != (h, w):
            raise ValueError(f"sample {i} of the batch has size {tuple(s['x'].shape[1:])}, expected {(h, w)}")
        x[i, : s["x"].shape[0]] = s["x"]
    out: dict[str, Any] = {
        "x": x,
        "channels": torch.tensor([int(s["x"].shape[0]) for s in samples], dtype=torch.long),
    }
    if modality is not None:
        out["modality"] = modality
    pairs = batch_pairs([s.get("complex_pairs", ()) for s in samples])
    if pairs:
        out["complex_pairs"] = pairs
    for key in samples[0]:
        if key in _NOT_STACKED:
            continue
        out[key] = torch.stack([torch.as_tensor(s[key]) for s in samples])
    return out


def batch_pairs(pairs: Sequence[Sequence[Sequence[int]]], where: str = "batch") -> tuple[tuple[int, int], ...]:
    """The one channel layout of a batch's samples (their ``complex_pairs``); a mix is a ValueError."""
    layouts = {tuple((int(r), int(i)) for r, i in p) for p in pairs}
    if len(layouts) > 1:
        raise ValueError(f"a {where} mixes samples with different complex channel pairs {sorted(layouts)}; "
                         "batch such files apart (PretrainDataModule(group_by_channels=True) does)")
    return next(iter(layouts), ())


def with_host_counts(batch: Any) -> Any:
    """Add ``channels_host``, a numpy copy of the batch's channel counts that stays on the host.

    The DataModules call it in ``on_before_batch_transfer`` (before the batch moves to the device), so a
    method's channel sampling draws its subset without reading a device tensor back (no host sync in the
    step). Batches without it (a user's own DataLoader) still work: the counts are then read from ``channels``.
    """
    if isinstance(batch, dict) and isinstance(batch.get("channels"), torch.Tensor):
        batch = {**batch, "channels_host": batch["channels"].numpy()}
    return batch
