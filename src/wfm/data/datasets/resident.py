"""A pretraining mix held whole in (accelerator) memory: no file reads, no host work per batch.

Every part of the mix (a wfm HDF5 file, or a ``Subset`` of one) is read once into one float32 tensor on the
given device, with its standardisation statistics; a batch is gathered and standardised there by
``__getitems__`` (the DataLoader's batched fetch), so with the data on the GPU a training step moves nothing
from the host but a few indices. 25 k samples of 5 x 112 x 112 take ~6 GB: a GPU's worth, not a laptop's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from wfm.data.collate import batch_pairs
from wfm.data.datasets.h5 import H5Dataset
from wfm.data.modalities import batch_modality


def _h5_part(part: Dataset) -> tuple[H5Dataset, np.ndarray]:
    if isinstance(part, H5Dataset):
        return part, np.arange(len(part))
    if isinstance(part, Subset) and isinstance(part.dataset, H5Dataset):
        return part.dataset, np.asarray(part.indices, dtype=np.int64)
    raise TypeError(f"a resident mix is made of H5Dataset or Subset(H5Dataset) parts, got {type(part).__name__}")


class ResidentDataset(Dataset):
    """Samples of ``parts`` (in order, like a ``ConcatDataset``) from tensors on ``device``.

    ``__getitem__`` gives one sample dict (``x`` standardised, ``channels``, ``modality``); ``__getitems__`` a
    whole batch dict at once (``modality`` one string; a batch mixing modalities is refused, as ``pad_collate``
    refuses it) — the samples of one batch should share a channel count (the channel-grouped batch sampler's
    batches do), else they are zero-padded like ``pad_collate`` does. Use ``collate_fn=resident_collate``.
    """

    def __init__(self, parts: Sequence[Dataset], device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.inputs: list[torch.Tensor] = []
        self.mean: list[torch.Tensor] = []
        self.std: list[torch.Tensor] = []
        self.modalities: list[str] = []
        self.pairs: list[tuple[tuple[int, int], ...]] = []
        owner, row = [], []
        for k, part in enumerate(parts):
            ds, idx = _h5_part(part)
            f = ds._handle()
            order = np.argsort(idx)  # h5py reads increasing indices; put them back in the part's order
            raw = np.asarray(f["inputs"][np.sort(idx)][:, ds._csel], dtype=np.float32)[np.argsort(order)]
            bad = ~np.isfinite(raw.reshape(len(raw), -1)).all(1)
            if bad.any():
                raise ValueError(f"{ds.path}: sample {int(idx[np.argmax(bad)])} has NaN/Inf values in 'inputs'; "
                                 "expected finite")
            self.inputs.append(torch.from_numpy(raw).to(self.device))
            self.mean.append(torch.from_numpy(ds.mean).to(self.device))
            self.std.append(torch.from_numpy(ds.std).to(self.device))
            self.modalities.append(ds.modality)
            self.pairs.append(getattr(ds, "complex_pairs", ()))
            owner.append(np.full(len(idx), k))
            row.append(np.arange(len(idx)))
        self.owner = np.concatenate(owner) if owner else np.zeros(0, np.int64)
        self.row = np.concatenate(row) if row else np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self.owner)

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.inputs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        batch = self.__getitems__([index])
        sample = {"x": batch["x"][0, : int(batch["channels"][0])], "channels": int(batch["channels"][0]),
                  "modality": batch["modality"]}
        if "complex_pairs" in batch:
            sample["complex_pairs"] = batch["complex_pairs"]
        return sample

    def __getitems__(self, indices: Sequence[int]) -> dict[str, Any]:
        idx = np.asarray(indices, dtype=np.int64)
        owners, rows = self.owner[idx], self.row[idx]
        modality = batch_modality([self.modalities[k] for k in set(owners.tolist())], "a resident batch")
        pairs = batch_pairs([self.pairs[k] for k in set(owners.tolist())], "resident batch")
        cmax = max(self.inputs[k].shape[1] for k in set(owners.tolist()))
        h, w = self.inputs[int(owners[0])].shape[2:]
        x = torch.zeros(len(idx), cmax, h, w, device=self.device)
        channels = torch.empty(len(idx), dtype=torch.long)
        for k in np.unique(owners):
            sel = np.flatnonzero(owners == k)
            rows_k = torch.from_numpy(rows[sel]).to(self.device)
            part = (self.inputs[k].index_select(0, rows_k) - self.mean[k]) / self.std[k]
            x[torch.from_numpy(sel).to(self.device), : part.shape[1]] = part
            channels[sel] = part.shape[1]
        out = {"x": x, "channels": channels.to(self.device), "modality": modality}
        if pairs:
            out["complex_pairs"] = pairs
        return out


def resident_collate(batch: dict[str, Any]) -> dict[str, Any]:
    """The batch ``ResidentDataset.__getitems__`` already built."""
    return batch
