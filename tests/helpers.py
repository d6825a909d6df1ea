"""Shared test helpers: small in-memory data, the tiny encoder configs and the CPU ``Trainer`` arguments.

Importable from every test folder (``from helpers import ...``): pytest puts ``tests/`` (the folder of the
top-level ``conftest.py``) on ``sys.path``. The ``cpu_trainer`` fixture in ``conftest.py`` builds on
:func:`cpu_trainer_kwargs`; scripts run outside pytest (``ddp_worker.py``) call the function directly.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader

from wfm.data.collate import pad_collate
from wfm.models import ViTEncoder

# The tiny encoder of the method / model tests: 32 x 32 inputs, 8 x 8 patches (4 x 4 grid), 2 blocks of 4 heads.
TINY_ENCODER_KW: dict[str, Any] = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4)

# The 1-block, 2-head encoder config the eval / callback / checkpoint tests build and record in backbone entries.
PROBE_ENCODER_CFG: dict[str, Any] = {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2}


def tiny_encoder(**overrides: Any) -> ViTEncoder:
    """``ViTEncoder(**TINY_ENCODER_KW)``; ``overrides`` replace or add constructor arguments."""
    return ViTEncoder(**{**TINY_ENCODER_KW, **overrides})


def cpu_trainer_kwargs(**overrides: Any) -> dict[str, Any]:
    """Arguments of a small CPU ``lightning.Trainer``: 1 device, fp32, no logger, no checkpointing (pass
    ``enable_checkpointing=True`` to get it), no progress bar, no model summary, no sanity validation.

    ``overrides`` replace or add arguments (``max_steps``, ``callbacks``, ``limit_val_batches``, ...).
    """
    args: dict[str, Any] = dict(accelerator="cpu", devices=1, precision="32-true", logger=False,
                                enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                                num_sanity_val_steps=0)
    args.update(overrides)
    return args


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


def assert_same_training_state(model_a: L.LightningModule, trainer_a: L.Trainer, model_b: L.LightningModule,
                               trainer_b: L.Trainer) -> None:
    """Same weights, optimizer moments, learning rate and weight decay (what an exact resume must give)."""
    import pytest

    assert trainer_a.global_step == trainer_b.global_step
    for (k, v), (k2, v2) in zip(model_a.state_dict().items(), model_b.state_dict().items(), strict=True):
        assert k == k2
        torch.testing.assert_close(v, v2, rtol=1e-6, atol=1e-7, msg=k)
    oa, ob = trainer_a.optimizers[0].state_dict(), trainer_b.optimizers[0].state_dict()
    for i, sa in oa["state"].items():
        for key, val in sa.items():
            torch.testing.assert_close(val, ob["state"][i][key], rtol=1e-6, atol=1e-7, msg=f"opt {i}.{key}")
    for ga, gb in zip(oa["param_groups"], ob["param_groups"], strict=True):
        assert ga["lr"] == pytest.approx(gb["lr"]) and ga["weight_decay"] == pytest.approx(gb["weight_decay"])


ROOT = Path(__file__).resolve().parents[1]  # the repository


def load_module(rel: str, name: str) -> ModuleType:
    """A script of the repository (a fixture's ``make.py``, a tool) imported as a module from its path."""
    spec = importlib.util.spec_from_file_location(name, ROOT / rel)
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


def rotate_pairs(x: torch.Tensor, pairs, theta: float) -> torch.Tensor:
    """``x`` (B, C, ...) with every complex channel ``(re, im)`` of ``pairs`` turned by the global phase ``theta``."""
    out = x.clone()
    c, s = math.cos(theta), math.sin(theta)
    for r, i in pairs:
        out[:, r], out[:, i] = c * x[:, r] - s * x[:, i], s * x[:, r] + c * x[:, i]
    return out
