"""A tiny in-memory downstream DataModule obeying the downstream contract (a test helper: ``from toy import
ToyDownstream``; formerly ``wfm.eval.toy``).

Samples are ``(C, H, W)`` noise plus a label-dependent pattern, so a linear probe on a random-init encoder
already beats chance; regression targets are 3-D positions (metres) that depend linearly on the pattern.
"""

from __future__ import annotations

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from wfm.data.collate import pad_collate
from wfm.data.split import train_test_split
from wfm.data.task import TaskInfo


class _ToyDataset(Dataset):
    def __init__(self, x: torch.Tensor, channels: list[int], labels: dict[str, torch.Tensor]) -> None:
        self.x, self.channels, self.labels = x, channels, labels

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        c = self.channels[i]
        return {"x": self.x[i, :c], "channels": c, **{k: v[i] for k, v in self.labels.items()}}


class ToyDownstream(LightningDataModule):
    """``num_samples`` synthetic samples for a classification (``label``) or regression (``position``) task.

    Args:
        kind: ``classification`` or ``regression``.
        name: task name (metric keys ``probe/<name>/<metric>``).
        num_samples, num_classes, channels, img_size, batch_size: sizes.
        variable_channels: give samples between 1 and ``channels`` channels (exercises padding).
        signal: strength of the label pattern relative to unit noise.
        seed: seed of the data (the split is controlled by ``split_indices(seed)``).
    """

    def __init__(
        self,
        kind: str = "classification",
        name: str = "toy",
        num_samples: int = 64,
        num_classes: int = 3,
        channels: int = 2,
        img_size: int = 32,
        batch_size: int = 16,
        variable_channels: bool = False,
        signal: float = 2.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        target = "label" if kind == "classification" else "position"
        self.task = TaskInfo(
            name=name,
            target=target,
            kind=kind,
            num_classes=num_classes if kind == "classification" else None,
            units=None if kind == "classification" else "m",
        )
        g = torch.Generator().manual_seed(seed)
        n, h = num_samples, img_size
        x = torch.randn(n, channels, h, h, generator=g)
        if kind == "classification":
            y = torch.arange(n) % num_classes
            patterns = torch.randn(num_classes, 1, h, h, generator=g)
            x = x + signal * patterns[y]
            labels = {"label": y.long()}
        else:
            z = torch.rand(n, 3, generator=g)
            basis = torch.randn(3, 1, h, h, generator=g)
            x = x + signal * torch.einsum("nk,kchw->nchw", z, basis)
            labels = {"position": (100.0 * z).float()}  # metres
        if variable_channels:
            chans = torch.randint(1, channels + 1, (n,), generator=g).tolist()
        else:
            chans = [channels] * n
        self.dataset = _ToyDataset(x.float(), chans, labels)
        self.batch_size = batch_size

    def split_indices(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """The probe protocol's 80/20 split (:func:`wfm.data.split.train_test_split`) of the samples."""
        return train_test_split(len(self.dataset), seed)

    def probe_dataloader(self) -> DataLoader:
        return DataLoader(self.dataset, batch_size=self.batch_size, shuffle=False, collate_fn=pad_collate)

    def _subset(self, idx: np.ndarray, shuffle: bool) -> DataLoader:
        sub = torch.utils.data.Subset(self.dataset, idx.tolist())
        return DataLoader(sub, batch_size=self.batch_size, shuffle=shuffle, collate_fn=pad_collate)

    def train_dataloader(self) -> DataLoader:
        return self._subset(self.split_indices(0)[0], shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._subset(self.split_indices(0)[1], shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._subset(self.split_indices(0)[1], shuffle=False)
