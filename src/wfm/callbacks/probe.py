"""``ProbeCallback``: a cheap linear probe during pretraining, to watch representations improve.

Every ``every_n_epochs`` training epochs it runs the protocol of :mod:`wfm.eval.probe` with one seed on at
most ``max_samples`` samples of each configured downstream DataModule, using ``pl_module.backbone`` as it
is at that moment, and logs ``probe/<task>/<metric>`` plus its own cost ``probe/seconds``. Under DDP only
rank 0 extracts and fits (other ranks wait at the broadcast); the numbers are broadcast so every rank
logs the same values.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch import Callback, LightningDataModule, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader, Subset

from wfm.eval import plots
from wfm.eval.evaluator import RANDOM_ROW, print_table
from wfm.eval.features import extract_features
from wfm.eval.probe import ProbeResult, linear_probe
from wfm.eval.suite import check_downstream
from wfm.eval.tables import write_results
from wfm.masking import STRATEGIES, MaskGenerator
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
        plots: with ``final_seeds``, also write into ``<log dir>/plots`` (and to W&B when attached): probe
            metric vs epoch, mask examples of every geometry over a downstream input (methods with a
            ``masking`` generator), and per task the label-efficiency curve and the 2-D embedding map
            (:func:`wfm.eval.plots.probe_plots`).
    """

    def __init__(
        self,
        tasks: list[LightningDataModule],
        every_n_epochs: int = 1,
        max_samples: int | None = 2000,
        seed: int = 0,
        bf16: bool = True,
        final_seeds: list[int] | None = None,
        plots: bool = True,
    ) -> None:
        super().__init__()
        self.plots = plots
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

    def final_report(
        self, pl_module: LightningModule, out_dir: str | Path, trainer: Trainer | None = None
    ) -> dict[str, list[ProbeResult]]:
        """Full protocol (all samples, ``final_seeds``) for the backbone and a random-init encoder of its size."""
        if not self._prepared:
            self._prepare()
        seeds = tuple(self.final_seeds or (self.seed,))
        backbone = pl_module.backbone
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            random_init = ViTEncoder(**backbone.config).to(pl_module.device)
        results: dict[str, list[ProbeResult]] = {type(pl_module).__name__: [], RANDOM_ROW: []}
        per_task = []
        for dm in self.tasks:
            loader = dm.probe_dataloader()
            feats = {}
            for row, enc in zip(results, (backbone, random_init), strict=True):
                feats[row], targets = extract_features(enc, loader, bf16=self.bf16)
                results[row].append(linear_probe(feats[row], targets, dm.task, dm.split_indices, seeds=seeds))
            per_task.append((dm, feats, targets))
        write_results(results, Path(out_dir))
        print_table(results, title=f"Linear probe after pretraining ({len(seeds)} seeds, mean ± std)")
        if self.plots:
            self._plots(pl_module, Path(out_dir), per_task, seeds, trainer)
        return results

    def _plots(self, pl_module: LightningModule, out_dir: Path, per_task: list, seeds: tuple, trainer: Any) -> None:
        plot_dir = out_dir / "plots"
        keys = sorted({k for h in self.history for k in h if k.startswith("probe/") and k != "probe/seconds"})
        for key in keys:
            plots.plot_probe_history(self.history, key, plot_dir / f"{key.replace('/', '_')}_vs_epoch.png", trainer)
        masking = getattr(pl_module, "masking", None)
        if masking is not None and self.tasks:
            image = self.tasks[0].probe_dataloader().dataset[0]["x"]
            grid = tuple(pl_module.backbone.grid_size)
            plots.plot_mask_examples(image, _mask_fn(masking, grid), grid, plot_dir / "masks.png",
                                     strategies=_drawable(masking, grid), trainer=trainer)
        plots.probe_plots(out_dir, per_task, seeds, trainer=trainer)
        rank_zero_info(f"probe plots written to {plot_dir}")

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.final_seeds is None or not trainer.is_global_zero:
            return
        out_dir = trainer.log_dir or trainer.default_root_dir
        self.final_results = self.final_report(pl_module, out_dir, trainer)


def _with_strategy(masking: MaskGenerator, strategy: str) -> MaskGenerator:
    gen = copy.copy(masking)
    gen.strategy = strategy
    return gen


def _drawable(masking: MaskGenerator, grid: tuple[int, int]) -> list[str]:
    """The geometries the run's masking parameters can draw on this grid (e.g. not M wide bands that don't fit)."""
    ok = []
    for strategy in STRATEGIES:
        try:
            _with_strategy(masking, strategy).check(grid)
        except ValueError:
            continue
        ok.append(strategy)
    return ok


def _mask_fn(masking: MaskGenerator, grid: tuple[int, int]):
    rng = np.random.default_rng(0)

    def draw(strategy: str) -> tuple[torch.Tensor, torch.Tensor]:
        masks = _with_strategy(masking, strategy)(1, grid, rng)
        return masks.context[0], masks.targets[0]

    return draw
