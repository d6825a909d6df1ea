"""Reading a prepared wfm HDF5 file as a torch Dataset of standardised samples."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from wfm.data.hdf5 import read_attrs
from wfm.data.modalities import get_modality


class SampleSizeError(ValueError):
    """A file whose samples are not the size asked for (``H5Dataset(size=...)``): a ValueError of its own, so a
    DataModule can let a modality check (does the encoder take this kind of sample at all?) speak first."""


class H5Dataset(Dataset):
    """Samples of one wfm HDF5 file (see ``wfm.data.hdf5``) as dicts ``{"x", "channels", "modality", <labels>}``.

    ``x`` is float32 ``(C, H, W)`` standardised with the file's ``mean``/``std`` attributes as its modality
    lays them out (:mod:`wfm.data.modalities`: per channel; per component I / Q for IQ files, whose samples are
    ``(A, 2, T)`` and whose "channels" are antennas); ``modality`` is the file's ``modality`` attribute, so a
    batch says what it holds. The file is opened lazily, once per process, so the dataset pickles cleanly into
    DataLoader workers.

    Args:
        path: the HDF5 file.
        target: one label key to return, None for every label in the file.
        channels: indices of the channels to keep (default all).
        size: expected ``(H, W)`` (an int: square), or for ``iq`` files the number of time samples ``T``; a file
            of another size is refused at open.
        labels: False returns only ``x``, ``channels`` and ``modality`` (pretraining mixes files with different
            labels).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        target: str | None = None,
        channels: Sequence[int] | None = None,
        size: int | Sequence[int] | None = None,
        labels: bool = True,
    ) -> None:
        self.path = Path(path)
        self.meta = read_attrs(self.path)
        c, h, w = self.meta["shape"]
        self.modality: str = self.meta["modality"]
        kind = get_modality(self.modality)
        if size is not None:
            want = kind.sample_hw(size)
            if want != (h, w):
                raise SampleSizeError(
                    f"{self.path}: samples are {(h, w)}, expected {want}; re-convert with that size"
                )
        self.channel_index = list(range(c)) if channels is None else [int(i) for i in channels]
        if not self.channel_index or any(i < 0 or i >= c for i in self.channel_index):
            raise ValueError(f"{self.path}: channels {channels} out of range for a file with {c} channels")
        # Standardising in numpy: small torch ops per sample pay thread-pool overhead (40x slower on 2 cores).
        self.mean, self.std = kind.stats_arrays(self.meta["mean"], self.meta["std"], self.channel_index)
        # complex channels among the kept ones, as slot pairs; a pair is standardised with one scale and no
        # offset (the root mean square of its parts), so a rotation of the complex channel stays a rotation
        slot = {c: k for k, c in enumerate(self.channel_index)}
        self.complex_pairs: tuple[tuple[int, int], ...] = tuple(
            (slot[r], slot[i]) for r, i in self.meta["complex_pairs"] if r in slot and i in slot)
        if self.complex_pairs:
            self.mean, self.std = self.mean.copy(), self.std.copy()
            for r, i in self.complex_pairs:
                scale = np.sqrt((self.std[r] ** 2 + self.mean[r] ** 2 + self.std[i] ** 2 + self.mean[i] ** 2) / 2)
                self.mean[r] = self.mean[i] = 0.0
                self.std[r] = self.std[i] = scale
        declared = self.meta["labels"]
        if target is not None and target not in declared:
            raise ValueError(f"{self.path}: no label {target!r}; the file has {sorted(declared)}")
        # a target brings the label it is stratified by (its SNR: accuracy per SNR bin) into the batches
        by = declared[target].get("stratify") if target is not None else None
        keys = [] if not labels else ([target, *([by] if by in declared else [])] if target is not None
                                      else list(declared))
        self.label_info = {k: declared[k] for k in keys}
        self.target = target
        self._file: h5py.File | None = None
        self._pid: int | None = None
        # Reading the channel subset in one slice is fastest when it is contiguous; fancy indexing otherwise.
        ci = self.channel_index
        self._csel: slice | list[int] = (
            slice(ci[0], ci[-1] + 1) if ci == list(range(ci[0], ci[-1] + 1)) else ci
        )

    @property
    def num_channels(self) -> int:
        return len(self.channel_index)

    def __len__(self) -> int:
        return self.meta["n"]

    def _handle(self) -> h5py.File:
        # A handle inherited through fork is not safe to use; reopen in each process.
        if self._file is None or self._pid != os.getpid():
            self._file = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._file

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_file"] = None
        state["_pid"] = None
        return state

    def __getitem__(self, index: int) -> dict[str, Any]:
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"{self.path}: sample {index} out of range for {n} samples")
        f = self._handle()
        raw = np.asarray(f["inputs"][index, self._csel], dtype=np.float32)
        if not np.isfinite(raw).all():
            raise ValueError(f"{self.path}: sample {index} has NaN/Inf values in 'inputs'; expected finite")
        x = torch.from_numpy((raw - self.mean) / self.std)
        sample: dict[str, Any] = {"x": x, "channels": self.num_channels, "modality": self.modality}
        if self.complex_pairs:
            sample["complex_pairs"] = self.complex_pairs
        for key, info in self.label_info.items():
            value = np.asarray(f[key][index])
            if info["kind"] == "classification":
                k = info["num_classes"]
                if not ((value >= 0).all() and (value < k).all() and (np.round(value) == value).all()):
                    raise ValueError(
                        f"{self.path}: sample {index} has label {key}={value.tolist()}, expected an integer in "
                        f"[0, {k})"
                    )
                sample[key] = torch.as_tensor(value, dtype=torch.int64)
            else:
                if not np.isfinite(value).all():
                    raise ValueError(f"{self.path}: sample {index} has non-finite label {key!r}")
                sample[key] = torch.as_tensor(value, dtype=torch.float32)
        return sample

    def column(self, key: str) -> np.ndarray:
        """The whole label column ``key`` (N, ...) without reading any input."""
        declared = self.meta["labels"]
        if key not in declared:
            raise ValueError(f"{self.path}: no label {key!r}; the file has {sorted(declared)}")
        values = np.asarray(self._handle()[key])
        if declared[key]["kind"] != "classification" and not np.isfinite(values).all():
            bad = int(np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(1))[0])
            raise ValueError(f"{self.path}: sample {bad} has non-finite label {key!r}")
        return values

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
