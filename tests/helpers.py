"""Small in-memory data for tests that need batches but not a real dataset."""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader

from wfm.data.collate import pad_collate


def structured_sample(g: torch.Generator, channels: int, size: int) -> torch.Tensor:
    """One (channels, size, size) input: a rank-1 frequency x time pattern per channel plus 10 % noise."""
    f = torch.randn(channels, size, 1, generator=g)
    t = torch.randn(channels, 1, size, generator=g)
    return f * t + 0.1 * torch.randn(channels, size, size, generator=g)


class RandomDataModule(L.LightningDataModule):
    """Structured random samples with mixed channel counts (low-rank patterns plus noise)."""

    def __init__(self, n: int = 32, size: int = 32, max_channels: int = 3, batch_size: int = 8, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.samples = []
        for i in range(n):
            c = 1 + i % max_channels
            self.samples.append({"x": structured_sample(g, c, size), "channels": c, "label": torch.tensor(i % 2)})
        self.batch_size = batch_size

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.samples, batch_size=self.batch_size, shuffle=False, collate_fn=pad_collate)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.samples[:16], batch_size=self.batch_size, collate_fn=pad_collate)
