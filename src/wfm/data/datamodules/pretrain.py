"""Pretraining data: a mix of built-in and HDF5 datasets with different channel counts, grouped or padded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Sampler, Subset

from wfm.choices import check_loader
from wfm.data.collate import pad_collate, with_host_counts
from wfm.data.datamodules.resumable import ResumableDataLoader
from wfm.data.datamodules.sampler import ChannelGroupedBatchSampler
from wfm.data.datasets.builtin import build_builtin, is_builtin
from wfm.data.datasets.open import dataset_modality, open_dataset
from wfm.data.datasets.resident import ResidentDataset, resident_collate
from wfm.data.modalities import get_modality
from wfm.data.split import train_test_split
from wfm.lightning_adapter import epoch_batches_done, uses_distributed_sampler

#: every input representation of the built-in downstream tasks: spectrograms, CSI magnitude, CSI real/imag
DEFAULT_PRETRAIN = ("spectrogram", "csi", "csi2", "csi_ri", "csi2_ri")


class EpochShuffleSampler(Sampler[int]):
    """A random order that is a pure function of ``(seed, epoch)``, so a resumed run sees the same order."""

    def __init__(self, n: int, seed: int = 0) -> None:
        self.n = n
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        return iter(np.random.default_rng((self.seed, self.epoch)).permutation(self.n).tolist())

    def __len__(self) -> int:
        return self.n


class PretrainDataModule(LightningDataModule):
    """Unlabelled mix of datasets for self-supervised pretraining.

    Args:
        datasets: built-in names (``spectrogram``, ``csi``, ``csi2``, ``csi_ri``, ``csi2_ri``, ``rfs``...) and/or
            wfm HDF5 paths; default ``DEFAULT_PRETRAIN`` (spectrograms, CSI magnitude and CSI real/imag).
        n: samples generated per built-in dataset (files are used whole).
        size: model input size ``H`` or ``(H, W)``; built-ins are generated at it, files must match it.
        batch_size: samples per batch (per rank).
        num_workers: DataLoader worker processes.
        seed: seed of the built-in generators, the validation split and the shuffling.
        val_fraction: part of each dataset held out for validation (0 for none).
        group_by_channels: True: every batch holds one channel count (no padding; needs
            ``trainer.use_distributed_sampler: false`` under DDP, ranks are sharded here). False: plain
            shuffling and ``pad_collate`` zero-padding to the largest count in the batch.
        drop_last: drop incomplete batches in training.
        cache_dir: where built-ins are cached (default ``$WFM_CACHE`` or ``~/.cache/wfm``).
        pin_memory: pin batches for faster host-to-GPU copies.
        options: generator options per built-in dataset name, e.g. ``{"csi": {"snr_db": 10.0}}``.
        iq_length: time samples per antenna of IQ datasets (``iq1``, ``iq2``, ``iq4``, ``iq`` files): built-ins
            are generated at it, files must match it. A mix of image-like and IQ datasets needs
            ``group_by_channels`` (batches hold one modality) and trains round-robin: the batches alternate
            between modalities, so ``trainer.accumulate_grad_batches: 2`` sums one batch of each per optimizer
            step (``configs/multimodal_jepa.yaml``).
        resident: hold the whole mix in memory on the training device (the GPU under Lightning) and gather
            and standardise batches there (:class:`~wfm.data.datasets.resident.ResidentDataset`); needs
            ``num_workers: 0`` and ``group_by_channels: true``.
    """

    def __init__(
        self,
        datasets: list[str] | None = None,
        n: int = 2048,
        size: int | tuple[int, int] = 112,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        val_fraction: float = 0.05,
        group_by_channels: bool = True,
        drop_last: bool = False,
        cache_dir: str | None = None,
        pin_memory: bool = False,
        options: dict[str, dict] | None = None,
        resident: bool = False,
        iq_length: int = 1024,
    ) -> None:
        super().__init__()
        check_loader(batch_size, num_workers)
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        self.datasets = list(datasets) if datasets else list(DEFAULT_PRETRAIN)
        self.n = n
        self.size = size if isinstance(size, int) else tuple(size)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.val_fraction = val_fraction
        self.group_by_channels = group_by_channels
        self.drop_last = drop_last
        self.cache_dir = cache_dir
        self.pin_memory = pin_memory
        self.options = {k: dict(v) for k, v in (options or {}).items()}
        if resident and (num_workers or not group_by_channels):
            raise ValueError("PretrainDataModule(resident=True) serves batches from device memory: it needs "
                             "num_workers=0 and group_by_channels=True")
        self.resident = resident
        self.iq_length = int(iq_length)
        self.modalities = {name: get_modality(dataset_modality(name)) for name in self.datasets}
        mixed = sorted({m.name for m in self.modalities.values()})
        if len(mixed) > 1 and not group_by_channels:
            raise ValueError(f"PretrainDataModule: a mix of modalities {mixed} needs group_by_channels=True "
                             "(a batch holds one modality)")
        unknown = sorted(set(self.options) - set(self.datasets))
        if unknown:
            raise ValueError(f"PretrainDataModule: options given for {unknown}, which are not in datasets")
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.train_channels: list[int] = []
        self.val_channels: list[int] = []
        self.train_kinds: list[int] = []  # per sample: 0 grid-like (spectrogram, CSI), 1 stream (IQ)
        self.val_kinds: list[int] = []
        self.train_modalities: list[int] = []  # per sample: index of its modality in the mix (batches never mix)
        self.val_modalities: list[int] = []

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Keep a host copy of the channel counts (``with_host_counts``) before the batch moves to the device."""
        return with_host_counts(batch)

    def size_of(self, name: str) -> int | tuple[int, int]:
        """The size a dataset is generated at / checked against: ``size``, or ``iq_length`` for streams (IQ)."""
        return self.iq_length if self.modalities[name].stream else self.size

    def prepare_data(self) -> None:
        # Runs on one process per node: build the built-in caches before every rank opens them.
        for name in self.datasets:
            if is_builtin(name):
                build_builtin(name, self.n, self.seed, self.size_of(name), self.cache_dir,
                              options=self.options.get(name))

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        train_parts: list[Dataset] = []
        val_parts: list[Dataset] = []
        opened = {name: open_dataset(name, self.n, self.size_of(name), self.seed, self.cache_dir, labels=False,
                                     options=self.options.get(name)) for name in self.datasets}
        # a batch holds one channel layout: one modality, one set of complex (re, im) channel pairs
        layouts = {name: (self.modalities[name].name, getattr(ds, "complex_pairs", ())) for name, ds in opened.items()}
        order = sorted(set(layouts.values()))
        for name, ds in opened.items():
            kind = int(self.modalities[name].stream)
            modality = order.index(layouts[name])
            if self.val_fraction > 0:
                tr, va = train_test_split(len(ds), self.seed, 1.0 - self.val_fraction)
                train_parts.append(Subset(ds, tr.tolist()))
                val_parts.append(Subset(ds, va.tolist()))
                self.val_channels += [ds.num_channels] * len(va)
                self.train_channels += [ds.num_channels] * len(tr)
                self.val_kinds += [kind] * len(va)
                self.train_kinds += [kind] * len(tr)
                self.val_modalities += [modality] * len(va)
                self.train_modalities += [modality] * len(tr)
            else:
                train_parts.append(ds)
                self.train_channels += [ds.num_channels] * len(ds)
                self.train_kinds += [kind] * len(ds)
                self.train_modalities += [modality] * len(ds)
        if self.resident:
            trainer = getattr(self, "trainer", None)
            device = trainer.strategy.root_device if trainer is not None else torch.device("cpu")
            self.train_set = ResidentDataset(train_parts, device)
            self.val_set = ResidentDataset(val_parts, device) if val_parts else None
            return
        self.train_set = ConcatDataset(train_parts)
        self.val_set = ConcatDataset(val_parts) if val_parts else None

    def _check_distributed(self) -> None:
        trainer = getattr(self, "trainer", None)
        if trainer is None or trainer.world_size <= 1:
            return
        if uses_distributed_sampler(trainer):
            raise ValueError(
                "PretrainDataModule(group_by_channels=True) shards batches across ranks itself; "
                "set trainer.use_distributed_sampler: false (or group_by_channels: false)"
            )

    def _loader(self, ds: Dataset, counts: list[int], kinds: list[int], modalities: list[int],
                train: bool) -> DataLoader:
        common = dict(
            num_workers=self.num_workers,
            collate_fn=resident_collate if self.resident else pad_collate,
            pin_memory=self.pin_memory and not self.resident,
            persistent_workers=self.num_workers > 0,
        )
        if self.group_by_channels:
            if train:
                self._check_distributed()
            sampler = ChannelGroupedBatchSampler(
                counts, self.batch_size, shuffle=train, seed=self.seed, drop_last=self.drop_last and train,
                kinds=kinds, modalities=modalities,
            )
            loader = (ResumableDataLoader if train else DataLoader)(ds, batch_sampler=sampler, **common)
        else:
            sampler = EpochShuffleSampler(len(ds), self.seed) if train else None
            loader = (ResumableDataLoader if train else DataLoader)(
                ds, batch_size=self.batch_size, sampler=sampler, drop_last=self.drop_last and train, **common
            )
        if train:
            loader.progress = self._epoch_batches_done
        return loader

    def _epoch_batches_done(self) -> int:
        return epoch_batches_done(self.trainer)

    def train_dataloader(self) -> DataLoader:
        if self.train_set is None:
            self.setup("fit")
        assert self.train_set is not None
        return self._loader(self.train_set, self.train_channels, self.train_kinds, self.train_modalities, train=True)

    def val_dataloader(self) -> DataLoader | list:
        if self.train_set is None:
            self.setup("fit")
        if self.val_set is None:
            return []
        return self._loader(self.val_set, self.val_channels, self.val_kinds, self.val_modalities, train=False)


__all__ = [
    "ChannelGroupedBatchSampler",
    "EpochShuffleSampler",
    "PretrainDataModule",
]
