"""``ProbeCallback``: a cheap linear probe during pretraining, to watch representations improve.

The callback decides when to probe and keeps the curve; the probing itself is :mod:`wfm.eval.report`'s, the
same code as ``wfm test``'s. At the start of training (step 0, the initial weights) and then every
``every_n_epochs`` training epochs it runs the protocol of :mod:`wfm.eval.probe` with one seed on a fixed
subset of at most ``max_samples`` samples of each configured downstream DataModule
(:class:`~wfm.eval.subset.ProbeSubset`), using ``pl_module.backbone`` as it is at that moment, and logs
``probe/<task>/<metric>`` plus its own cost ``probe/seconds``. At the start it also probes random-init
encoders of the backbone's config under every init scheme on the same samples (``probe_random/...``), the
horizontal lines of the probe-vs-step curves. Under DDP only rank 0 extracts and fits (other ranks wait at
the broadcast); the numbers are broadcast so every rank logs the same values. The history is part of the
checkpoint, so a resumed run keeps its curve.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch import Callback, LightningDataModule, LightningModule, Trainer

from wfm.data.datamodules.probe_suite import check_downstream
from wfm.eval import plots
from wfm.eval.probe import ProbeResult
from wfm.eval.report import probe_report, probe_rows, publish, random_encoders, task_features
from wfm.eval.subset import ProbeSubset
from wfm.eval.tables import atomic_write_text
from wfm.views import MaskGeometry, MixedMask


class ProbeCallback(Callback):
    """Periodic one-seed linear probe of ``pl_module.backbone``.

    Args:
        tasks: downstream DataModules (``.task``, ``.probe_dataloader()``, ``.split_indices(seed)``).
        every_n_epochs: probe after every n-th training epoch.
        max_samples: probe on a fixed random subset of at most this many samples per task (None: all).
        seed: seed of the split and of the subset.
        bf16: bf16 autocast for feature extraction where native (default off: fp32 features, the same numbers on every
            machine; :func:`wfm.eval.features.extract_features` says why).
        final_seeds: if given, at the end of ``fit`` run the full protocol (every sample, one split per seed,
            mean ± std) on the trained backbone and on random-init encoders of the same config (the report of
            :mod:`wfm.eval.report`), print the table and write ``probe_results.{md,csv}`` into the run's log
            directory.
        plots: with ``final_seeds``, also write into ``<log dir>/plots`` (and to W&B when attached): probe
            metric vs optimizer step with the random baselines, mask examples of every geometry over a
            downstream input (methods with a ``masking`` generator), and per task the label-efficiency curve
            and the 2-D embedding map (:func:`wfm.eval.plots.probe_plots`).
        random_init_seed: torch seed of the random-init encoders (as in ``wfm test``).
    """

    def __init__(
        self,
        tasks: list[LightningDataModule],
        every_n_epochs: int = 1,
        max_samples: int | None = 2000,
        seed: int = 0,
        bf16: bool = False,
        final_seeds: list[int] | None = None,
        plots: bool = True,
        random_init_seed: int = 0,
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
        self.random_init_seed = random_init_seed
        self.final_results: dict[str, list[ProbeResult]] = {}
        self.history: list[dict[str, float]] = []
        self.baselines: dict[str, dict[str, float]] = {}  # random row -> {probe key: value}
        self._prepared = False
        self._subsets: list[ProbeSubset] = []

    def _prepare(self) -> None:
        """Set the tasks up once and fix the sample subset (the same samples at every epoch)."""
        for dm in self.tasks:
            dm.prepare_data()
            dm.setup("test")
            self._subsets.append(ProbeSubset(dm, self.max_samples, self.seed))
        self._prepared = True

    def run_probes(self, encoder: torch.nn.Module) -> dict[str, float]:
        """Probe every task's subset with ``encoder`` now; returns ``{"probe/<task>/<metric>": value}``."""
        if not self._prepared:
            self._prepare()
        rows = probe_rows(task_features({"now": encoder}, self._subsets, self.bf16), (self.seed,))
        return {r.key: r.mean for r in rows["now"]}

    def _probe_and_log(self, trainer: Trainer, pl_module: LightningModule, with_baselines: bool) -> None:
        start = time.perf_counter()
        values: dict[str, Any] | None = None
        if trainer.is_global_zero:
            values = {"now": self.run_probes(pl_module.backbone)}
            if with_baselines:
                encs = random_encoders(pl_module.backbone.config, self.random_init_seed)
                values["baselines"] = {row: self.run_probes(enc.to(pl_module.device)) for row, enc in encs.items()}
        if trainer.world_size > 1:
            values = trainer.strategy.broadcast(values, src=0)
        assert values is not None
        now = dict(values["now"])
        now["probe/seconds"] = time.perf_counter() - start
        for key, value in now.items():
            pl_module.log(key, float(value), sync_dist=False, rank_zero_only=False)
        self.history.append({"step": float(trainer.global_step), "epoch": float(trainer.current_epoch), **now})
        if "baselines" in values:
            self.baselines = values["baselines"]

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # step 0: the initial weights, so a curve shows how far training moved them (not on resume)
        if trainer.global_step == 0 and not self.history:
            self._probe_and_log(trainer, pl_module, with_baselines=True)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        self._probe_and_log(trainer, pl_module, with_baselines=False)

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history, "baselines": self.baselines}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = list(state_dict.get("history", []))
        self.baselines = dict(state_dict.get("baselines", {}))

    def final_report(
        self, pl_module: LightningModule, out_dir: str | Path, trainer: Trainer | None = None
    ) -> dict[str, list[ProbeResult]]:
        """Full protocol (all samples, ``final_seeds``) for the backbone and the random-init rows of its config."""
        if not self._prepared:
            self._prepare()
        seeds = tuple(self.final_seeds or (self.seed,))
        encoders = {type(pl_module).__name__: pl_module.backbone}
        for row, enc in random_encoders(pl_module.backbone.config, self.random_init_seed).items():
            encoders[row] = enc.to(pl_module.device)
        report = probe_report(task_features(encoders, self.tasks, self.bf16), seeds, analyses=self.plots)
        out_dir = Path(out_dir)
        # the probe curve (step 0 on) and its random baselines, for docs/experiments/scripts/learning_curves.py
        atomic_write_text(out_dir / "probe_history.json",
                          json.dumps({"history": self.history, "baselines": self.baselines}, indent=1))
        if self.plots:
            self._run_plots(pl_module, out_dir, trainer)
        publish(report, out_dir, f"Linear probe after pretraining ({len(seeds)} seeds, mean ± std)", trainer)
        return report.rows

    def _run_plots(self, pl_module: LightningModule, out_dir: Path, trainer: Any) -> None:
        """The run's own figures: probe metric vs step (with the random baselines) and mask examples."""
        plot_dir = out_dir / "plots"
        keys = sorted({k for h in self.history for k in h if k.startswith("probe/") and k != "probe/seconds"})
        for key in keys:
            base = {row: v[key] for row, v in self.baselines.items() if key in v}
            plots.plot_probe_history(self.history, key, plot_dir / f"{key.replace('/', '_')}_vs_step.png", trainer,
                                     baselines=base)
        masking = getattr(pl_module, "masking", None)
        if masking is not None and self.tasks:
            image = self.tasks[0].probe_dataloader().dataset[0]["x"]
            grid = tuple(pl_module.backbone.grid_size)
            geometries = _example_geometries(masking, grid)
            plots.plot_mask_examples(image, _mask_fn(geometries, grid), grid, plot_dir / "masks.png",
                                     strategies=list(geometries), trainer=trainer)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.final_seeds is None or not trainer.is_global_zero:
            return
        out_dir = trainer.log_dir or trainer.default_root_dir
        self.final_results = self.final_report(pl_module, out_dir, trainer)


def _example_geometries(masking: MaskGeometry, grid: tuple[int, int]) -> dict[str, MaskGeometry]:
    """The run's geometries and, beside them, the paper's other geometries at the run's ``M`` and
    ``min_context`` (what to compare with), each only if it can draw on this grid (e.g. not M wide bands that
    don't fit)."""
    standard = MixedMask(masking.num_targets, masking.min_context).parts()
    out: dict[str, MaskGeometry] = {}
    for geometry in (*masking.parts(), *standard):
        if geometry.name in out:
            continue
        try:
            geometry.check(grid)
        except ValueError:
            continue
        out[geometry.name] = geometry
    return out


def _mask_fn(geometries: dict[str, MaskGeometry], grid: tuple[int, int]):
    rng = np.random.default_rng(0)

    def draw(strategy: str) -> tuple[torch.Tensor, torch.Tensor]:
        masks = geometries[strategy](1, grid, rng)
        return masks.context[0], masks.targets[0]

    return draw
