"""The probe report: one owner of its numbers and files, for ``wfm test`` and for the end of a pretraining run.

Rows: the backbone, a random-init encoder of the same config and init (``random-init``), one random-init
encoder per other init scheme (``random-init (<scheme>)``), and ``strongest random``: per task the best of
the random rows (highest accuracy, lowest error). A gap to the strongest row is one that no choice of
initialisation gives for free — a weak init can make any pretraining look good against its own floor.

:func:`probe_report` computes every number once, from every row's features of every task: the rows and the
analyses behind the figures (label efficiency of every row, channel robustness of the backbone,
:mod:`wfm.eval.analyses`). :func:`publish` writes, prints, logs and draws what it computed. The callers differ
only in how they get the features: :class:`~wfm.eval.evaluator.LinearProbeEvaluator` in Lightning's test loop
(gathered across ranks), :class:`~wfm.callbacks.ProbeCallback` with :func:`task_features`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import nn

from wfm.eval.analyses import FRACTIONS, accuracy_by_stratum, channel_robustness, label_efficiency, usable_fractions
from wfm.eval.features import extract_features
from wfm.eval.plots import probe_plots
from wfm.eval.probe import ProbeResult, linear_probe
from wfm.eval.tables import (
    columns,
    format_cell,
    header,
    results_to_markdown,
    strata_to_markdown,
    write_results,
    write_strata,
)
from wfm.models.encoder import INIT_SCHEMES, ViTEncoder

RANDOM_ROW = "random-init"
STRONGEST_ROW = "strongest random"

#: (downstream DataModule, {row: (N, D) features}, {label key: (N, ...) labels}) of one task
TaskFeatures = tuple[Any, Mapping[str, np.ndarray], Mapping[str, np.ndarray]]


def random_row_name(init: str, same_init: str) -> str:
    return RANDOM_ROW if init == same_init else f"{RANDOM_ROW} ({init})"


def random_encoders(config: Mapping[str, Any], seed: int = 0) -> dict[str, ViTEncoder]:
    """A random-init encoder of ``config`` for every init scheme, by row name (same init first).

    Built under a forked RNG seeded with ``seed``, so the rows are reproducible and building them does not
    shift the caller's random stream.
    """
    same = str(config.get("init", "xavier"))
    out: dict[str, ViTEncoder] = {}
    for init in sorted(INIT_SCHEMES, key=lambda s: s != same):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            out[random_row_name(init, same)] = ViTEncoder(**{**dict(config), "init": init})
    return out


def strongest(rows: Sequence[Sequence[ProbeResult]]) -> list[ProbeResult]:
    """Per task, the best result over ``rows`` (max mean if higher is better, else min)."""
    best: dict[str, ProbeResult] = {}
    for row in rows:
        for r in row:
            cur = best.get(r.task)
            if cur is None or (r.mean > cur.mean if r.higher_is_better else r.mean < cur.mean):
                best[r.task] = r
    return [replace(r) for r in best.values()]


def probe_rows(
    per_task: Sequence[TaskFeatures], seeds: Sequence[int], max_train: int | None = None
) -> dict[str, list[ProbeResult]]:
    """The linear-probe protocol for every row of every task, plus the ``strongest random`` row."""
    results: dict[str, list[ProbeResult]] = {}
    for dm, feats, labels in per_task:
        for row, f in feats.items():
            results.setdefault(row, []).append(linear_probe(f, labels, dm.task, dm.split_indices, seeds, max_train))
    random = [row for name, row in results.items() if name.startswith(RANDOM_ROW)]
    if len(random) > 1:
        results[STRONGEST_ROW] = strongest(random)
    baseline = results.get(STRONGEST_ROW) or (random[0] if len(random) == 1 else None)
    references = {dm.task.name: dm.task.supervised for dm, _, _ in per_task
                  if getattr(dm.task, "supervised", None) is not None}
    if baseline is not None and references:
        floor = {r.task: r for r in baseline}
        for name, row in results.items():
            if name.startswith(RANDOM_ROW) or name == STRONGEST_ROW:
                continue
            row += [gap_closed(r, floor[r.task], references[r.task]) for r in list(row)
                    if r.task in references and r.task in floor and r.metric != GAP_METRIC]
    return results


#: the metric name of the share of the random -> supervised gap a row closes
GAP_METRIC = "gap_closed"


def gap_closed(row: ProbeResult, floor: ProbeResult, supervised: float) -> ProbeResult:
    """The share (%) of the gap from the strongest random encoder (``floor``) to supervised training
    (``supervised``, the task's recorded reference) that ``row`` closes, per split seed: 100 % = as good as
    supervised, 0 = no better than random features, negative = worse."""
    if len(row.values) != len(floor.values):
        raise ValueError(f"{row.task}: {len(row.values)} probe splits against {len(floor.values)} of the floor row")
    gaps = [100.0 * (v - f) / (supervised - f) if supervised != f else float("nan")
            for v, f in zip(row.values, floor.values, strict=True)]
    return ProbeResult(row.task, GAP_METRIC, gaps, float(np.mean(gaps)), float(np.std(gaps)), "%", True,
                       list(row.seeds))


def task_features(
    encoders: Mapping[str, nn.Module], tasks: Sequence[Any], bf16: bool = False
) -> list[TaskFeatures]:
    """Every encoder's features of every sample of every task's ``probe_dataloader()``, by row name.

    ``tasks`` are downstream DataModules (set up) or anything with the same ``task``, ``probe_dataloader()``
    and ``split_indices(seed)`` (a :class:`~wfm.eval.subset.ProbeSubset`).
    """
    per_task: list[TaskFeatures] = []
    for dm in tasks:
        loader = dm.probe_dataloader()
        feats: dict[str, np.ndarray] = {}
        labels: Mapping[str, np.ndarray] = {}
        for row, enc in encoders.items():
            feats[row], labels = extract_features(enc, loader, bf16=bf16)
        per_task.append((dm, feats, labels))
    return per_task


@dataclass
class ProbeReport:
    """Every number a probe report shows, and the features they came from.

    Attributes:
        rows: row name -> one result per task (the table).
        per_task: the features the rows were probed on (:data:`TaskFeatures`; the embedding maps draw them).
        label_efficiency: task name -> row name -> labelled share -> result; None when no analyses were run.
        channel_robustness: task name -> channels kept -> the backbone's result (empty when none were asked).
        strata: task name -> row name -> one result per bin of the task's ``stratify`` label (accuracy per
            SNR bin: :func:`wfm.eval.analyses.accuracy_by_stratum`), for the tasks whose files name one.
    """

    rows: dict[str, list[ProbeResult]]
    per_task: list[TaskFeatures]
    label_efficiency: dict[str, dict[str, dict[float, ProbeResult]]] | None = None
    channel_robustness: dict[str, dict[int, ProbeResult]] = field(default_factory=dict)
    strata: dict[str, dict[str, list[ProbeResult]]] = field(default_factory=dict)


def probe_report(
    per_task: Sequence[TaskFeatures],
    seeds: Sequence[int],
    max_train: int | None = None,
    analyses: bool = True,
    fractions: Sequence[float] = FRACTIONS,
    channel_encoder: nn.Module | None = None,
    channel_counts: Sequence[int] = (),
    bf16: bool = False,
) -> ProbeReport:
    """The rows of every task and, with ``analyses``, the label-efficiency and channel-robustness curves.

    Args:
        per_task: every row's features of every task (:func:`task_features`, or gathered by ``wfm test``).
        seeds: one split per seed, for the rows and every point of the curves.
        max_train: cap on the rows' training samples per seed (the curves sweep the share instead).
        analyses: also compute the curves behind the report's figures.
        fractions: labelled shares of the label-efficiency curves; points with too few labelled samples for
            a probe are left out (:func:`wfm.eval.analyses.usable_fractions`).
        channel_encoder: the backbone whose channel robustness is measured (features extracted again per
            count from each task's ``probe_dataloader()``); None measures none.
        channel_counts: how many of the first channels the backbone sees at each point.
        bf16: bf16 autocast for the channel-robustness features (:func:`wfm.eval.features.extract_features`).
    """
    per_task = list(per_task)
    rows = probe_rows(per_task, seeds, max_train)
    strata = {dm.task.name: {row: accuracy_by_stratum(f, labels, dm.task, dm.split_indices, seeds, max_train)
                             for row, f in feats.items()}
              for dm, feats, labels in per_task if getattr(dm.task, "stratify", None) and dm.task.stratify in labels}
    if not analyses:
        return ProbeReport(rows, per_task, strata=strata)
    efficiency: dict[str, dict[str, dict[float, ProbeResult]]] = {}
    for dm, feats, labels in per_task:
        usable = usable_fractions(dm.task, dm.split_indices, fractions, seeds[0])
        efficiency[dm.task.name] = {
            row: label_efficiency(f, labels, dm.task, dm.split_indices, usable, seeds) for row, f in feats.items()
        }
    robustness: dict[str, dict[int, ProbeResult]] = {}
    for dm, _, _ in per_task if channel_encoder is not None and channel_counts else []:
        robustness[dm.task.name] = channel_robustness(
            channel_encoder, dm.probe_dataloader(), dm.task, dm.split_indices, channel_counts, seeds, bf16
        )
    return ProbeReport(rows, per_task, efficiency, robustness, strata)


def publish(
    report: ProbeReport,
    out_dir: str | os.PathLike,
    title: str,
    trainer: Any = None,
    embedding: str = "pca",
) -> Path:
    """Write ``probe_results.{md,csv}`` into ``out_dir``, print the table, log it to W&B, and draw the
    report's figures into ``out_dir/plots`` when it holds analyses (:func:`wfm.eval.plots.probe_plots`)."""
    md, _ = write_results(report.rows, Path(out_dir))
    print_table(report.rows, title)
    log_table(trainer, "probe_results", report.rows)
    rank_zero_info(f"probe results written to {md} and {md.with_suffix('.csv')}")
    for task, rows in report.strata.items():
        by = next(dm.task.stratify for dm, _, _ in report.per_task if dm.task.name == task)
        stem = f"probe_{task}_by_{by}"
        path, _ = write_strata(rows, by, Path(out_dir), stem)
        print_strata(rows, by, f"{title}: {task} accuracy (%) per {by} bin")
        log_table(trainer, stem, rows)
        rank_zero_info(f"{task} accuracy per {by} bin written to {path} and {path.with_suffix('.csv')}")
    if report.label_efficiency is not None and report.per_task:
        probe_plots(out_dir, report.per_task, report.label_efficiency, report.channel_robustness, embedding,
                    trainer)
        rank_zero_info(f"probe plots written to {Path(out_dir) / 'plots'}")
    return md


def log_table(trainer: Any, key: str, results: Mapping[str, Sequence[ProbeResult]]) -> None:
    """Log the table to every attached W&B logger (a no-op without one; never fails the run)."""
    for logger in getattr(trainer, "loggers", []) or []:
        if type(logger).__name__ != "WandbLogger":
            continue
        cols = columns(results)
        rows = [[name, *[format_cell({r.task: r for r in row}.get(c.task)) for c in cols]]
                for name, row in results.items()]
        try:
            logger.log_table(key=key, columns=["method", *[f"{c.task}/{c.metric}" for c in cols]], data=rows)
        except Exception as err:  # a table must never take a run down
            rank_zero_warn(f"could not log table {key!r} to W&B: {err}")


def print_table(results: Mapping[str, Sequence[ProbeResult]], title: str) -> None:
    """Pretty-print the results with ``rich`` (plain Markdown if rich is unavailable)."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # rich is a dependency, but a table is not worth a crash
        print(results_to_markdown(results))
        return
    # the gap-closed columns get a table of their own: beside the metrics they no longer fit 80 columns
    metrics = {name: [r for r in row if r.metric != GAP_METRIC] for name, row in results.items()}
    gaps = {name: g for name, row in results.items() if (g := [r for r in row if r.metric == GAP_METRIC])}
    console = Console()
    gap_title = f"{title}: gap closed, % of strongest random → supervised"
    for part, part_title, head in ((metrics, title, header), (gaps, gap_title, lambda c: f"{c.task} ↑")):
        if not part:
            continue
        cols = columns(part)
        table = Table(title=part_title)
        table.add_column("method")
        for c in cols:
            table.add_column(head(c), justify="right")
        for name, row in part.items():
            by_task = {(r.task, r.metric): r for r in row}
            table.add_row(name, *[format_cell(by_task.get((c.task, c.metric))) for c in cols])
        console.print(table)


def print_strata(results: Mapping[str, Sequence[ProbeResult]], by: str, title: str) -> None:
    """Print per-bin results as a table, one row per bin (rich; the Markdown of the file without it)."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(strata_to_markdown(results, by))
        return
    names = list(results)
    cells = {(name, r.metric.split("@", 1)[1]): r for name, row in results.items() for r in row}
    table = Table(title=title)
    table.add_column(by)
    for name in names:
        table.add_column(name, justify="right")
    for b in dict.fromkeys(r.metric.split("@", 1)[1] for row in results.values() for r in row):
        table.add_row(b, *[format_cell(cells.get((n, b))) for n in names])
    Console().print(table)
