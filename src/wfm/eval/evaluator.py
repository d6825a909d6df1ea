"""``LinearProbeEvaluator``: the LightningModule behind ``wfm test`` — what every run reports.

It loads a backbone (a wfm checkpoint, model folder or exported backbone; None = random init) — or several
(``backbones``: one table, the same splits and probe, plus each row's parameter count and feature width) —
with the preprocessing its description records (:mod:`wfm.pretrained`), collects pooled features of
every sample of every task of a :class:`~wfm.data.datamodules.ProbeSuite` in ``test_step`` (for the backbone and,
by default, randomly initialised encoders of the same config under every init scheme), and in
``on_test_epoch_end`` hands them to :mod:`wfm.eval.report`, which computes the report (linear probes of
method.md §7, the ``random-init`` and ``strongest random`` rows, the analyses behind the figures) and
publishes it (prints it, writes ``probe_results.md`` / ``.csv`` and the plots); the evaluator logs
``probe/<task>/<metric>`` (and ``probe_random_init/...``, ``probe_strongest_random/...``).

Distributed runs: Lightning's default ``DistributedSampler`` (no shuffling, padded by repeating the first
samples) gives every rank the same number of samples, ``rank r`` holding samples ``r, r + W, r + 2W, ...``.
At epoch end the features are gathered with ``all_gather`` and put back in dataset order
(:func:`merge_interleaved`), so the splits index the right rows; rank 0 fits the probes and broadcasts the
numbers. With ``use_distributed_sampler=False`` every rank sees the whole loader and no gathering is done.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import yaml
from jsonargparse.typing import Path_fr
from lightning.pytorch import LightningModule
from torch.utils.data import DistributedSampler

from wfm.checkpoint import architecture_of, check_config, load_backbone_with_meta, normalise_config
from wfm.choices import check_choice
from wfm.data.datamodules.probe_suite import check_downstream
from wfm.eval.analyses import FRACTIONS
from wfm.eval.features import batch_labels, encode_batch
from wfm.eval.probe import ProbeResult
from wfm.eval.report import RANDOM_ROW, STRONGEST_ROW, probe_report, publish, random_encoders
from wfm.models.encoder import ViTEncoder
from wfm.pretrained import feature_dim, random_like, wrap


def merge_interleaved(gathered: torch.Tensor, total: int) -> torch.Tensor:
    """(W, n, ...) per-rank rows of a non-shuffled ``DistributedSampler`` -> (total, ...) in dataset order.

    Rank ``r``'s ``j``-th row is sample ``j * W + r`` of the padded index list; padding repeats the first
    samples and is dropped by keeping the first ``total`` rows.
    """
    w, n = gathered.shape[:2]
    if w * n < total:
        raise ValueError(f"gathered {w} x {n} rows cannot hold {total} samples")
    return gathered.transpose(0, 1).reshape(w * n, *gathered.shape[2:])[:total]


def _sampler_of(loader: Any) -> Any:
    sampler = getattr(loader, "sampler", None)
    batch_sampler = getattr(loader, "batch_sampler", None)
    if not isinstance(sampler, DistributedSampler) and batch_sampler is not None:
        sampler = getattr(batch_sampler, "sampler", sampler)
    return sampler


def check_fits(task: Any, encoder: ViTEncoder, backbone: str) -> None:
    """Raise a ValueError naming the task's file when its samples cannot go through ``encoder``."""
    dm_ds = getattr(task, "dataset", None)
    if dm_ds is None or not hasattr(dm_ds, "meta"):
        return
    _, h, w = dm_ds.meta["shape"]
    try:
        encoder.check_input(dm_ds.meta["modality"], dm_ds.num_channels, (h, w), backbone)
    except ValueError as err:
        raise ValueError(f"{dm_ds.path}: {err}") from None


def encoder_kwargs(encoder: dict | os.PathLike | str | None) -> dict | None:
    """The ViTEncoder kwargs of an ``encoder`` argument: kwargs as they are, or an encoder fragment (a
    ``{class_path, init_args}`` mapping, or the path of a fragment file such as
    ``configs/model/encoder_latentwave.yaml``, relative to the config that names it)."""
    if encoder is None:
        return None
    if not isinstance(encoder, dict):
        path = Path(getattr(encoder, "absolute", encoder))
        try:
            encoder = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as err:
            raise ValueError(f"{path}: not a readable encoder fragment ({err})") from err
        if not isinstance(encoder, dict):
            raise ValueError(f"{path}: an encoder fragment must be a mapping, got {type(encoder).__name__}")
    if "class_path" in encoder:
        if not str(encoder["class_path"]).endswith("ViTEncoder"):
            raise ValueError(f"encoder: the probe takes a ViTEncoder, got {encoder['class_path']}")
        return dict(encoder.get("init_args") or {})
    return encoder


class LinearProbeEvaluator(LightningModule):
    """Linear-probe evaluation of a frozen backbone (``wfm test --model LinearProbeEvaluator``).

    Args:
        backbone: wfm ``.ckpt``, model folder (``wfm-export`` / ``wfm-import``) or exported
            ``.safetensors``/``.json`` path; None evaluates a random init. The preprocessing its description
            records (an imported model's resize, channel mixing, scale) is applied to every row's inputs.
        backbones: several backbones in one table, ``{row name: path}`` (or a list of paths, named by their
            stems), probed on the same tasks, splits, seeds and probe; the random-init rows are those of the
            first. The table of their parameter counts and feature widths is printed and written to
            ``probe_backbones.md``. Not together with ``backbone``.
        encoder: ViTEncoder kwargs: required when ``backbone`` is None; otherwise checked against the
            checkpoint's config (only the keys given).
        seeds: one 80/20 split per seed (``split_indices(seed)``); mean ± std over them.
        compare_random_init: also probe randomly initialised encoders of the same config, one per init scheme
            (rows ``random-init`` = the backbone's own init, ``random-init (<scheme>)``, ``strongest random``).
        output_dir: where to write ``probe_results.{md,csv}``; default next to the checkpoint, else the
            trainer's log dir.
        bf16: bf16 autocast for feature extraction where native (default off: fp32 features, the same numbers on every
            machine; :func:`wfm.eval.features.extract_features` says why).
        max_train: optional cap on probe training samples per seed.
        name: row label of the backbone in the table (default: the checkpoint file's stem).
        random_init_seed: torch seed of the random-init encoders, so the floor rows are reproducible.
        plots: also write ``plots/<task>_label_efficiency.png`` (every row, probe score vs labelled share of
            the training split) and ``plots/<task>_embedding_<method>.png`` (2-D map of the backbone's
            features coloured by label) next to the table, and log them to W&B when a WandbLogger is attached.
        plot_fractions: labelled shares of the label-efficiency curve.
        embedding: ``pca`` or ``tsne`` for the 2-D map.
        channel_counts: with ``plots``, also probe the backbone seeing only the first ``k`` channels of every
            sample for each ``k`` here (features extracted again per ``k``) and write
            ``plots/<task>_channels.png``; tasks with fewer channels than ``k`` keep all of theirs.
    """

    def __init__(
        self,
        backbone: str | None = None,
        encoder: dict | Path_fr | None = None,
        backbones: dict[str, str] | list[str] | None = None,
        seeds: list[int] | None = None,
        compare_random_init: bool = True,
        output_dir: str | None = None,
        bf16: bool = False,
        max_train: int | None = None,
        name: str | None = None,
        random_init_seed: int = 0,
        plots: bool = True,
        plot_fractions: list[float] | None = None,
        embedding: Literal["pca", "tsne"] = "pca",
        channel_counts: list[int] | None = None,
    ) -> None:
        super().__init__()
        check_choice("LinearProbeEvaluator: embedding", embedding, Literal["pca", "tsne"])
        encoder = encoder_kwargs(encoder)
        self.plots = plots
        self.plot_fractions = tuple(plot_fractions or FRACTIONS)
        self.embedding = embedding
        self.channel_counts = [int(k) for k in channel_counts or []]
        if any(k < 1 for k in self.channel_counts):
            raise ValueError(f"LinearProbeEvaluator: channel_counts must be >= 1, got {self.channel_counts}")
        self.seeds = [0, 1, 2] if seeds is None else [int(s) for s in seeds]
        if not self.seeds:
            raise ValueError("LinearProbeEvaluator: seeds must not be empty")
        self.bf16 = bf16
        self.max_train = max_train
        if backbones is not None and backbone is not None:
            raise ValueError("LinearProbeEvaluator: give backbone (one) or backbones (several), not both")
        named = _named_backbones(backbones) if backbones is not None else None
        self.backbone_path = backbone if named is None else next(iter(named.values()))
        self.output_dir = output_dir
        rows: dict[str, torch.nn.Module] = {}
        self.backbone_info: dict[str, dict[str, Any]] = {}
        if backbone is None and named is None:
            if encoder is None:
                raise ValueError(
                    "LinearProbeEvaluator: give a backbone path, or encoder kwargs for a random init"
                )
            config = normalise_config(encoder)
            meta: dict[str, Any] = {"config": config}
            rows[name or RANDOM_ROW] = random_encoders(config, random_init_seed)[RANDOM_ROW]
            compare_random_init = False  # the main row already is the random init
        else:
            for i, (row, path) in enumerate((named or {name or Path(backbone).stem: backbone}).items()):
                module, m = load_backbone_with_meta(path)
                if i == 0:
                    meta = m
                    if encoder is not None:
                        check_config(encoder, m["config"], path)
                rows[row] = wrap(module, m)
                self.backbone_info[row] = _describe(rows[row], m, path)
            config = meta["config"]
        self.row_names = list(rows)
        self.row_name = self.row_names[0]
        # a ModuleList, so every row follows the module to its device (row names may hold dots)
        self.rows = torch.nn.ModuleList(rows.values())
        self.encoder_config = normalise_config(config)
        randoms = random_like(self.backbone, meta, random_init_seed) if compare_random_init else {}
        self.random_names = list(randoms)
        self.random_encoders = torch.nn.ModuleList(randoms.values())
        for enc in (*self.rows, *self.random_encoders):
            enc.requires_grad_(False).eval()
        self.results: dict[str, list[ProbeResult]] = {}
        self._store: dict[int, dict[str, list]] = {}
        self.save_hyperparameters()

    @property
    def backbone(self) -> torch.nn.Module:
        """The (first) backbone: the row logged as ``probe/...``, written by ``wfm predict``."""
        return self.rows[0]

    # --- the loop -------------------------------------------------------------------------------------
    def _encoders(self) -> dict[str, torch.nn.Module]:
        """Every probed encoder by its row name in the table."""
        return {**dict(zip(self.row_names, self.rows, strict=True)),
                **dict(zip(self.random_names, self.random_encoders, strict=True))}

    def on_test_epoch_start(self) -> None:
        self._store = {}

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int, dataloader_idx: int = 0) -> None:
        store = self._store.setdefault(dataloader_idx, {"labels": {}})
        for key, enc in self._encoders().items():
            # kept on the CPU: a whole task's features need not sit in accelerator memory
            store.setdefault(key, []).append(encode_batch(enc, batch, self.bf16).cpu())
        for key, value in batch_labels(batch).items():
            store["labels"].setdefault(key, []).append(torch.as_tensor(value).cpu())

    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int, dataloader_idx: int = 0) -> dict:
        """``wfm predict``: the backbone's pooled features of the batch plus its labels (for ``FeatureWriter``)."""
        out = {"features": encode_batch(self.backbone, batch, self.bf16)}
        out.update(batch_labels(batch))
        return out

    def setup(self, stage: str) -> None:
        # a file that does not fit the backbone fails here, naming the file, before any feature is computed
        dm = getattr(self.trainer, "datamodule", None)
        for t in getattr(dm, "tasks", None) or []:
            for row, enc in zip(self.row_names, self.rows, strict=True):
                path = self.backbone_info.get(row, {}).get("path")
                check_fits(t, enc, path or "the random-init encoder")

    def _tasks(self) -> list[Any]:
        dm = getattr(self.trainer, "datamodule", None)
        tasks = getattr(dm, "tasks", None)
        if tasks is None:
            if dm is not None and hasattr(dm, "task"):
                raise TypeError(
                    f"{type(dm).__name__} is a single downstream DataModule: its test_dataloader is the "
                    "held-out 20 %, but probing needs every sample. Wrap it in wfm.data.datamodules.ProbeSuite: "
                    "--data wfm.data.datamodules.ProbeSuite --data.tasks '[{class_path: ...}]'"
                )
            raise TypeError("LinearProbeEvaluator needs a ProbeSuite-like datamodule exposing `.tasks`")
        for i, t in enumerate(tasks):
            check_downstream(t, f"datamodule.tasks[{i}]")
        return list(tasks)

    def _gather(self, rows: torch.Tensor, loader: Any) -> torch.Tensor:
        """This rank's rows -> all rows in dataset order (no-op without a distributed sampler)."""
        sampler = _sampler_of(loader)
        if (
            self.trainer.world_size <= 1
            or not isinstance(sampler, DistributedSampler)
            or sampler.num_replicas <= 1
        ):
            return rows
        gathered = self.all_gather(
            rows.to(self.device)
        )  # (W, n, ...): equal n thanks to the sampler's padding
        return merge_interleaved(gathered, len(sampler.dataset)).cpu()

    def on_test_epoch_end(self) -> None:
        tasks = self._tasks()
        loaders = self.trainer.test_dataloaders
        loaders = list(loaders) if isinstance(loaders, (list, tuple)) else [loaders]
        if len(loaders) != len(tasks):
            raise ValueError(f"{len(loaders)} test dataloaders but {len(tasks)} tasks; they must correspond")
        collected = []
        for idx, (dm, loader) in enumerate(zip(tasks, loaders, strict=True)):
            store = self._store.get(idx)
            if store is None:
                raise RuntimeError(f"task {dm.task.name!r} produced no batches (limit_test_batches=0?)")
            feats = {k: self._gather(torch.cat(store[k]).float(), loader).numpy() for k in self._encoders()}
            labels = {k: self._gather(torch.cat(v), loader).numpy() for k, v in store["labels"].items()}
            collected.append((dm, feats, labels))
        self._store = {}

        report, results = None, None
        if self.trainer.is_global_zero:
            for dm, feats, _ in collected:
                self._check_rows(dm, len(next(iter(feats.values()))))
            report = probe_report(collected, self.seeds, self.max_train, analyses=self.plots,
                                  fractions=self.plot_fractions, channel_encoder=self.backbone,
                                  channel_counts=self.channel_counts, bf16=self.bf16)
            results = report.rows
        if self.trainer.world_size > 1:
            results = self.trainer.strategy.broadcast(results, src=0)
        assert results is not None
        self.results = results
        for r in results[self.row_name]:
            self.log(r.key, r.mean, add_dataloader_idx=False, sync_dist=False)
            self.log(f"{r.key}_std", r.std, add_dataloader_idx=False, sync_dist=False)
        for row in self.row_names[1:]:
            for r in results.get(row, []):
                self.log(f"probe_{_log_name(row)}/{r.task}/{r.metric}", r.mean, add_dataloader_idx=False,
                         sync_dist=False)
        for row, prefix in ((RANDOM_ROW, "probe_random_init"), (STRONGEST_ROW, "probe_strongest_random")):
            for r in results.get(row, []) if row != self.row_name else []:
                self.log(f"{prefix}/{r.task}/{r.metric}", r.mean, add_dataloader_idx=False, sync_dist=False)
        if report is not None:
            out = self._output_dir()
            publish(report, out, f"Linear probe ({len(self.seeds)} seeds)", self.trainer, self.embedding)
            self._publish_backbones(out)

    def _publish_backbones(self, out: Path) -> None:
        """The command that made the table (``probe_command.txt``, read by model cards) and, for several
        backbones, their parameter counts and feature widths (printed, ``probe_backbones.md``)."""
        import shlex
        import sys

        from wfm.atomic import atomic_file

        with atomic_file(out / "probe_command.txt") as f:
            f.write((shlex.join(["wfm" if Path(sys.argv[0]).name in ("wfm", "main.py") else sys.argv[0],
                                 *sys.argv[1:]]) + "\n").encode())
        if len(self.row_names) < 2:
            return
        md = backbones_markdown(self.backbone_info)
        with atomic_file(out / "probe_backbones.md") as f:
            f.write(md.encode())
        print(md, end="")

    @staticmethod
    def _check_rows(dm: Any, n: int) -> None:
        # every index of the split must address a collected row, or the loader was not the full probe loader
        tr, te = dm.split_indices(0)
        top = int(max(np.max(tr), np.max(te))) + 1
        if top > n:
            raise ValueError(
                f"task {dm.task.name!r}: split_indices address {top} samples but the probe loader gave {n} "
                "(limit_test_batches set, or a loader that is not the full, unshuffled probe loader?)"
            )

    def _output_dir(self) -> Path:
        if self.output_dir is not None:
            return Path(self.output_dir)
        if self.backbone_path is not None:
            return Path(self.backbone_path).resolve().parent
        log_dir = self.trainer.log_dir
        return Path(log_dir) if log_dir else Path(os.getcwd())

    def configure_optimizers(self) -> None:
        """Nothing to train: evaluation only (``wfm test``)."""
        return None


def _named_backbones(backbones: dict[str, str] | list[str]) -> dict[str, str]:
    """``{row name: path}`` of the ``backbones`` argument (a list is named by the paths' stems)."""
    if isinstance(backbones, dict):
        named = {str(k): str(v) for k, v in backbones.items()}
    else:
        named = {}
        for p in backbones:
            stem = Path(str(p)).stem
            if stem in named:
                raise ValueError(f"LinearProbeEvaluator: two backbones are named {stem!r}; give a mapping "
                                 "{name: path} instead of a list")
            named[stem] = str(p)
    if not named:
        raise ValueError("LinearProbeEvaluator: backbones must name at least one backbone")
    bad = [k for k in named if k.startswith(RANDOM_ROW) or k == STRONGEST_ROW]
    if bad:
        raise ValueError(f"LinearProbeEvaluator: backbone names {bad} are reserved for the random rows")
    return named


def _log_name(row: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in row)


def _describe(module: torch.nn.Module, meta: dict[str, Any], path: str) -> dict[str, Any]:
    from wfm.pretrained import Pretrained, describe_steps

    inner = module.encoder if isinstance(module, Pretrained) else module
    steps = module.steps if isinstance(module, Pretrained) else []

    return {"path": str(path), "architecture": architecture_of(inner),
            "parameters": int(sum(p.numel() for p in inner.parameters())), "feature_dim": feature_dim(inner),
            "pool": inner.config.get("pool"),
            "preprocessing": "; ".join([*getattr(inner, "tokenisation", []), *describe_steps(steps)]) or "none",
            "encoder": meta.get("encoder", "backbone")}


def backbones_markdown(info: dict[str, dict[str, Any]]) -> str:
    """One row per probed backbone: parameters, feature width, pooling, preprocessing, file."""
    lines = ["| backbone | architecture | parameters | feature dim | pool | preprocessing | path |",
             "|:---|:---|---:|---:|:---|:---|:---|"]
    for name, d in info.items():
        lines.append(f"| {name} | {d['architecture']} | {d['parameters']:,} | {d['feature_dim']} | {d['pool']} | "
                     f"{d['preprocessing']} | {d['path']} |")
    return "\n".join(lines) + "\n"
