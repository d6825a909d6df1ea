"""``ProbeCallback``: a cheap linear probe during pretraining, to watch representations improve.

Every ``every_n_epochs`` training epochs it runs the protocol of :mod:`wfm.eval.probe` with one seed on at
most ``max_samples`` samples of each configured downstream DataModule, using ``pl_module.backbone`` as it
is at that moment, and logs ``probe/<task>/<metric>`` plus its own cost ``probe/seconds``. Under DDP only
rank 0 extracts and fits (other ranks wait at the broadcast); the numbers are broadcast so every rank
logs the same values.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch import Callback, LightningDataModule, LightningModule, Trainer
from torch.utils.data import DataLoader, Subset

from wfm.eval.evaluator import RANDOM_ROW, print_table
from wfm.eval.features import extract_features
from wfm.eval.probe import ProbeResult, linear_probe
from wfm.eval.suite import check_downstream
from wfm.eval.tables import write_results
from wfm.models.encoder import ViTEncoder


class ProbeCallback(Callback):
    """Periodic one-seed linear probe of ``pl_module.backbone``.

    Args:
        tasks: downstream DataModules (``.task``, ``.probe_dataloader()``, ``.split_indices(seed)``).
        every_n_epochs: probe after every n-th training epoch.
        max_samples: probe on a fixed random subset of at most this many samples per task (None: all).
        seed: seed of the split and of the subset.
        bf16: bf16 autocast for feature extraction.
        final_seeds: if given, at the end of ``fit`` run the full protocol (every sample, one split per seed,
            mean ± std) on the trained backbone and on a random-init encoder of the same config, print the
            table and write ``probe_results.{md,csv}`` into the run's log directory.
    """

    def __init__(
        self,
        tasks: list[LightningDataModule],
        every_n_epochs: int = 1,
        max_samples: int | None = 2000,
        seed: int = 0,
        bf16: bool = True,
        final_seeds: list[int] | None = None,
    ) -> None:
        super().__init__()
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be >= 1, got {every_n_epochs}")
        if max_samples is not None and max_samples < 2:
            raise ValueError(f"max_samples must be >= 2 or None, got {max_samples}")
        for i, dm in enumerate(tasks):
            check_downstream(dm, f"ProbeCallback tasks[{i}]")
        self.tasks = list(tasks)
        self.every_n_epochs = every_n_epochs
        self.max_samples = max_samples
        self.seed = seed
        self.bf16 = bf16
        self.final_seeds = None if final_seeds is None else [int(v) for v in final_seeds]
        self.final_results: dict[str, list[ProbeResult]] = {}
        self.history: list[dict[str, float]] = []
        self._prepared = False
        self._subsets: list[tuple[DataLoader, np.ndarray | None, int]] = []

    def _prepare(self) -> None:
        """Set the tasks up once and fix the sample subset (the same samples at every epoch)."""
        for dm in self.tasks:
            dm.prepare_data()
            dm.setup("test")
            loader = dm.probe_dataloader()
            n = len(loader.dataset)
            if self.max_samples is None or n <= self.max_samples:
                self._subsets.append((loader, None, n))
                continue
            sel = np.sort(np.random.default_rng(self.seed).choice(n, size=self.max_samples, replace=False))
            sub = DataLoader(
                Subset(loader.dataset, sel.tolist()),
                batch_size=loader.batch_size or 64,
                shuffle=False,
                num_workers=loader.num_workers,
                collate_fn=loader.collate_fn,
                pin_memory=loader.pin_memory,
            )
            self._subsets.append((sub, sel, n))
        self._prepared = True

    def _split_fn(self, dm: Any, sel: np.ndarray | None, n: int):
        """The task's split restricted to the subset, re-indexed into subset rows."""
        if sel is None:
            return dm.split_indices
        pos = np.full(n, -1, dtype=np.int64)
        pos[sel] = np.arange(len(sel))

        def split(seed: int) -> tuple[np.ndarray, np.ndarray]:
            tr, te = dm.split_indices(seed)
            tr, te = pos[np.asarray(tr)], pos[np.asarray(te)]
            return tr[tr >= 0], te[te >= 0]

        return split

    def run_probes(self, pl_module: LightningModule) -> dict[str, float]:
        """Probe every task now; returns ``{"probe/<task>/<metric>": value}``."""
        if not self._prepared:
            self._prepare()
        out: dict[str, float] = {}
        for dm, (loader, sel, n) in zip(self.tasks, self._subsets, strict=True):
            feats, targets = extract_features(pl_module.backbone, loader, bf16=self.bf16)
            res = linear_probe(feats, targets, dm.task, self._split_fn(dm, sel, n), seeds=(self.seed,))
            out[res.key] = res.mean
        return out

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        start = time.perf_counter()
        values: dict[str, float] | None = self.run_probes(pl_module) if trainer.is_global_zero else None
        if trainer.world_size > 1:
            values = trainer.strategy.broadcast(values, src=0)
        values = dict(values or {})
        values["probe/seconds"] = time.perf_counter() - start
        for key, value in values.items():
            pl_module.log(key, float(value), sync_dist=False, rank_zero_only=False)
        self.history.append({"epoch": float(trainer.current_epoch), **values})

    def final_report(self, pl_module: LightningModule, out_dir: str | Path) -> dict[str, list[ProbeResult]]:
        """Full protocol (all samples, ``final_seeds``) for the backbone and a random-init encoder of its size."""
        if not self._prepared:
            self._prepare()
        seeds = tuple(self.final_seeds or (self.seed,))
        backbone = pl_module.backbone
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            random_init = ViTEncoder(**backbone.config).to(pl_module.device)
        results: dict[str, list[ProbeResult]] = {type(pl_module).__name__: [], RANDOM_ROW: []}
        for dm in self.tasks:
            loader = dm.probe_dataloader()
            for row, enc in zip(results, (backbone, random_init), strict=True):
                feats, targets = extract_features(enc, loader, bf16=self.bf16)
                results[row].append(linear_probe(feats, targets, dm.task, dm.split_indices, seeds=seeds))
        write_results(results, Path(out_dir))
        print_table(results, title=f"Linear probe after pretraining ({len(seeds)} seeds, mean ± std)")
        return results

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.final_seeds is None or not trainer.is_global_zero:
            return
        out_dir = trainer.log_dir or trainer.default_root_dir
        self.final_results = self.final_report(pl_module, out_dir)
