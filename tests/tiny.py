"""Tiny JEPA models, indexed random data and recording callbacks shared by the DDP / resume / fault tests.

Everything is sized for 2 CPU cores: 32 x 32 inputs, 8 x 8 patches (4 x 4 grid), 32-d encoder, fp32.
Trainers: the ``cpu_trainer`` fixture (``conftest.py``) or ``helpers.cpu_trainer_kwargs`` outside pytest.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import numpy as np
import torch
from helpers import structured_sample, tiny_encoder
from torch.utils.data import DataLoader

from wfm.data.collate import pad_collate
from wfm.data.datamodules.pretrain import EpochShuffleSampler
from wfm.data.datamodules.resumable import ResumableDataLoader  # noqa: F401 (re-exported for tests)
from wfm.methods.jepa import JEPA
from wfm.views import MaskGeometry, Masks, RegionMask


def tiny_jepa(**kw: Any) -> JEPA:
    enc = tiny_encoder(depth=1)  # img_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=4
    args: dict[str, Any] = dict(encoder=enc, masking=RegionMask(num_targets=2, min_context=4),
                                predictor_dim=16, predictor_depth=1, predictor_heads=2, warmup_fraction=0.25)
    args.update(kw)
    return JEPA(**args)


def _epoch_progress(dm: L.LightningDataModule) -> Any:
    def progress() -> int:
        return dm.trainer.fit_loop.epoch_loop.batch_progress.current.processed

    return progress


TOUCHED: list[str] = []  # IndexedDataModule setup / loader calls in this process


class IndexedDataModule(L.LightningDataModule):
    """Random low-rank samples that carry their dataset ``index`` (to see which rank/step read which sample).

    Args:
        n: samples. batch_size: per rank. max_channels: channel counts cycle ``1..max_channels``.
        shuffle: seeded per-epoch order (``EpochShuffleSampler``, a pure function of ``(seed, epoch)``).
        perm_seed: fixed order ``torch.randperm(n, Generator().manual_seed(perm_seed))`` — epoch 0 of the
            ``DistributedSampler`` Lightning injects under DDP (its seed is the global seed), on one process.
        resumable: train loader is a :class:`ResumableDataLoader` (exact mid-epoch resume).
    """

    def __init__(self, n: int = 32, batch_size: int = 4, max_channels: int = 3, shuffle: bool = False,
                 seed: int = 0, size: int = 32, resumable: bool = False,
                 perm_seed: int | None = None) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.samples = []
        for i in range(n):
            c = 1 + i % max_channels
            self.samples.append({"x": structured_sample(g, c, size), "channels": c, "index": torch.tensor(i)})
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.resumable = resumable
        self.perm_seed = perm_seed

    def setup(self, stage: str) -> None:
        TOUCHED.append(stage)

    def train_dataloader(self) -> DataLoader:
        TOUCHED.append("train_dataloader")
        sampler: Any = EpochShuffleSampler(len(self.samples), self.seed) if self.shuffle else None
        if self.perm_seed is not None:
            g = torch.Generator().manual_seed(self.perm_seed)
            sampler = torch.randperm(len(self.samples), generator=g).tolist()
        if not self.resumable:
            return DataLoader(self.samples, batch_size=self.batch_size, sampler=sampler, collate_fn=pad_collate)
        dl = ResumableDataLoader(self.samples, batch_size=self.batch_size, sampler=sampler, collate_fn=pad_collate)
        dl.progress = _epoch_progress(self)
        return dl


class StepMasking(RegionMask):
    """Region masks drawn from ``(seed, call number)`` only and shared by every sample of the batch.

    The draw ignores the rank, the batch size and the method's generator, so a 2-rank run with batch B and a
    1-rank run with batch 2B see exactly the same per-sample masks at every step (one call = one train step).
    """

    def __init__(self, seed: int = 0, **kw: Any) -> None:
        super().__init__(**kw)
        self.mask_seed = seed
        self.calls = 0

    def __call__(self, batch_size: int, grid_size: Any, rng: np.random.Generator) -> Masks:
        one = super().__call__(1, grid_size, np.random.default_rng((self.mask_seed, self.calls)))
        self.calls += 1
        return Masks(one.context.expand(batch_size, -1).clone(),
                     one.targets.expand(batch_size, -1, -1).clone(), one.strategy)


class _RecordingMasking:
    """Delegates to a mask generator and keeps every context mask it returns."""

    def __init__(self, inner: MaskGeometry, out: list[torch.Tensor]) -> None:
        self.inner, self.out = inner, out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __call__(self, b: int, grid: Any, rng: np.random.Generator) -> Masks:
        m = self.inner(b, grid, rng)
        self.out.append(m.context.clone())
        return m


class Recorder(L.Callback):
    """Per training step: the global step, sample indices, local loss, context mask and a fingerprint of the
    step's generator (first draws of ``model.step_rng``)."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.indices: list[list[int]] = []
        self.losses: list[float] = []
        self.synced_losses: list[float] = []
        self.masks: list[torch.Tensor] = []
        self.rng_draws: list[np.ndarray] = []
        self.schedule: list[dict[str, float]] = []

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        pl_module.masking = _RecordingMasking(pl_module.masking, self.masks)
        orig_rng = pl_module.step_rng

        def step_rng(batch_idx: int, stage: str) -> np.random.Generator:
            rng = orig_rng(batch_idx, stage)
            if stage == "train":
                state = rng.bit_generator.state
                self.rng_draws.append(rng.random(4))
                rng.bit_generator.state = state  # leave the stream untouched
            return rng

        pl_module.step_rng = step_rng

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: Any, batch: Any, batch_idx: int) -> None:
        self.steps.append(trainer.global_step)
        if "index" in batch:
            self.indices.append(batch["index"].tolist())
        else:  # data without sample ids: a fingerprint of the batch
            self.indices.append([round(float(batch["x"].double().sum()), 6), int(batch["x"].shape[1])])
        self.schedule.append(pl_module.schedule_values(trainer.global_step))

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: Any, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self.losses.append(float(outputs["loss"]))
        self.synced_losses.append(float(trainer.callback_metrics["train/loss_step"]))


class Throttle(L.Callback):
    """Sleep ``WFM_TEST_THROTTLE`` seconds after every training batch (gives a test time to kill the run)."""

    def on_train_batch_end(self, *args: Any) -> None:
        import os
        import time

        time.sleep(float(os.environ.get("WFM_TEST_THROTTLE", "0")))


class StopAt(L.Callback):
    """Stop training (as a kill would) once ``global_step`` reaches ``step``."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if trainer.global_step >= self.step:
            trainer.should_stop = True

