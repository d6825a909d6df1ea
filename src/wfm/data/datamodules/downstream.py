"""Downstream tasks: one labelled dataset, its TaskInfo, the seeded 80/20 split, probe and tuning loaders.

The task (label key, kind, classes, units, target size) is read from the dataset: a file's ``labels``
attribute, or a built-in's registry entry (:mod:`wfm.data.synthetic`) that wrote it; a method sizes its head
from :attr:`DownstreamDataModule.task` at setup, so no config restates it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Subset

from wfm.choices import check_loader
from wfm.data.collate import pad_collate, with_host_counts
from wfm.data.datasets import H5Dataset, open_dataset
from wfm.data.datasets.h5 import SampleSizeError
from wfm.data.modalities import IQ
from wfm.data.split import train_test_split
from wfm.data.task import TaskInfo


def _encoders_of(module: Any) -> list[Any]:
    """The encoders a LightningModule feeds its batches to: an evaluator's ``rows``, else its ``encoder``."""
    rows = getattr(module, "rows", None)
    found = list(rows) if rows is not None else [getattr(module, "encoder", None)]
    return [e for e in found if e is not None]


def check_family(trainer: Any, ds: H5Dataset) -> None:
    """Raise the encoder's own one-line error (``<file>: samples are IQ captures ..., but this encoder has no IQ
    tokenizer ...``) when an encoder of ``trainer``'s module has no tokenizer for the modality of ``ds`` at all:
    run before a size mismatch is reported, whose advice (re-convert at another size) would not help."""
    for enc in _encoders_of(getattr(trainer, "lightning_module", None) if trainer is not None else None):
        family = getattr(enc, "family", None) or getattr(getattr(enc, "encoder", None), "family", None)
        if not callable(family):
            continue
        try:
            family(ds.modality)
        except ValueError as err:
            raise ValueError(f"{ds.path}: {err}") from None


class DownstreamDataModule(LightningDataModule):
    """A labelled dataset (built-in name or wfm HDF5 path) for linear probing and fine-tuning.

    ``train_dataloader``/``val_dataloader`` use ``split_indices(split_seed)`` (train = 80 %, val = the
    held-out 20 %); ``test_dataloader`` is the held-out 20 % too, or the whole of ``test_dataset`` when a
    separate test file is given (then the split only divides ``dataset`` into train/val).

    Args:
        dataset: built-in name (``wfm.data.synthetic.builtin_tasks()``: ``rfs``, ``positioning``, ``beam``,
            ``los``, ``rffp``, ``interference``) or path to a wfm HDF5 file.
        target: label key to predict; None picks the file's only label.
        n: samples of a built-in dataset (files are used whole).
        size: model input size ``H`` or ``(H, W)``; for IQ datasets the time samples ``T`` per antenna.
        batch_size, num_workers: DataLoader settings.
        split_seed: seed of the 80/20 split used by the train/val/test loaders.
        train_frac: training fraction of the split.
        seed: generator seed of a built-in dataset, and shuffling seed.
        task_name: name in result tables (default: built-in name or file stem).
        test_dataset: optional separate held-out file (same format and statistics as ``dataset``).
        cache_dir: built-in cache folder.
        options: generator options of a built-in dataset (e.g. ``{"snr_db": 5.0}``); see
            ``wfm.data.synthetic.generate``.
    """

    def __init__(
        self,
        dataset: str,
        target: str | None = None,
        n: int = 2000,
        size: int | tuple[int, int] = 112,
        batch_size: int = 64,
        num_workers: int = 0,
        split_seed: int = 0,
        train_frac: float = 0.8,
        seed: int = 0,
        task_name: str | None = None,
        test_dataset: str | None = None,
        cache_dir: str | None = None,
        options: dict | None = None,
    ) -> None:
        super().__init__()
        check_loader(batch_size, num_workers)
        self.dataset_name = dataset
        self.target = target
        self.n = n
        self.size = size if isinstance(size, int) else tuple(size)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.split_seed = split_seed
        self.train_frac = train_frac
        self.seed = seed
        self.task_name = task_name
        self.test_dataset = test_dataset
        self.cache_dir = cache_dir
        self.options = dict(options or {})
        self._ds: H5Dataset | None = None
        self._test_ds: H5Dataset | None = None
        self._task: TaskInfo | None = None
        #: the file's samples are not ``size``: raised by :meth:`setup` (and every loader), after
        #: :func:`check_family` has refused a file of a modality the encoder has no tokenizer for
        self.size_error: SampleSizeError | None = None

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Keep a host copy of the channel counts (``with_host_counts``) before the batch moves to the device."""
        return with_host_counts(batch)

    def _open(self) -> H5Dataset:
        if self._ds is None:
            try:
                probe = open_dataset(self.dataset_name, self.n, self.size, self.seed, self.cache_dir, labels=False,
                                     options=self.options)
            except SampleSizeError as err:
                probe = open_dataset(self.dataset_name, self.n, None, self.seed, self.cache_dir, labels=False,
                                     options=self.options)
                # every encoder embeds images (spectrograms, CSI): their size error is the whole story, now. Raw
                # IQ needs an IQ tokenizer, which an encoder may lack: that error must come first, so an IQ
                # file's size error waits for setup (check_size), where the trainer's encoder is known
                if probe.modality != IQ.name:
                    raise
                self.size_error = err
            declared = probe.meta["labels"]
            target = self.target
            if target is None:
                # a label that only stratifies another (the SNR of a modulation label) is not a task of its own
                strata = {v.get("stratify") for v in declared.values()}
                tasks = [k for k in declared if k not in strata]
                if len(tasks) != 1:
                    raise ValueError(f"{probe.path}: has labels {sorted(declared)}; choose one with target=")
                target = tasks[0]
            self._ds = H5Dataset(probe.path, target=target, size=None if self.size_error else self.size)
            self.target = target
            if self.test_dataset is not None:
                self._test_ds = H5Dataset(self.test_dataset, target=target, size=self.size)
                if self._test_ds.meta["shape"][0] != self._ds.meta["shape"][0]:
                    raise ValueError(f"{self.test_dataset}: channel count differs from {probe.path}")
        return self._ds

    @property
    def dataset(self) -> H5Dataset:
        return self._open()

    @property
    def task(self) -> TaskInfo:
        if self._task is None:
            ds = self._open()
            assert self.target is not None
            name = self.task_name or (
                self.dataset_name
                if "/" not in self.dataset_name and not self.dataset_name.endswith((".h5", ".hdf5"))
                else ds.path.stem
            )
            self._task = TaskInfo.from_labels(name, self.target, ds.meta["labels"][self.target],
                                              ds.meta["label_shapes"].get(self.target))
        return self._task

    def prepare_data(self) -> None:
        self._open()

    def setup(self, stage: str | None = None) -> None:
        self.check_size(getattr(self, "trainer", None))

    def check_size(self, trainer: Any = None) -> None:
        """Open the dataset; one whose samples are not ``size`` raises its size error, unless an encoder of
        ``trainer``'s module takes no sample of its modality (:func:`check_family`: that error first)."""
        ds = self._open()
        if self.size_error is not None:
            check_family(trainer, ds)
            raise self.size_error

    def split_indices(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``(train_idx, test_idx)`` of the 80/20 split for ``seed``: sorted, deterministic."""
        return train_test_split(len(self._open()), seed, self.train_frac)

    def train_targets(self, target: str | None = None) -> np.ndarray:
        """Every training-split value of label ``target`` (default: the task's), read without the inputs."""
        tr, _ = self.split_indices(self.split_seed)
        return self._open().column(target or self.target)[tr]

    def _loader(self, ds: object, shuffle: bool) -> DataLoader:
        if self.size_error is not None:  # no sample of another size is read, setup or not
            raise self.size_error
        gen = torch.Generator().manual_seed(self.seed) if shuffle else None
        return DataLoader(
            ds,
            batch_size=self.batch_size,
            shuffle=shuffle,
            generator=gen,  # type: ignore[arg-type]
            num_workers=self.num_workers,
            collate_fn=pad_collate,
            persistent_workers=self.num_workers > 0,
        )

    def probe_dataloader(self) -> DataLoader:
        """Every sample of ``dataset`` in file order (no shuffling), for feature extraction."""
        return self._loader(self._open(), shuffle=False)

    def train_dataloader(self) -> DataLoader:
        tr, _ = self.split_indices(self.split_seed)
        return self._loader(Subset(self._open(), tr.tolist()), shuffle=True)

    def val_dataloader(self) -> DataLoader:
        _, te = self.split_indices(self.split_seed)
        return self._loader(Subset(self._open(), te.tolist()), shuffle=False)

    def test_dataloader(self) -> DataLoader:
        self._open()
        if self._test_ds is not None:
            return self._loader(self._test_ds, shuffle=False)
        return self.val_dataloader()
