"""The probe report — one function for ``wfm test`` and for the end of a pretraining run.

Rows: the backbone, a random-init encoder of the same config and init (``random-init``), one random-init
encoder per other init scheme (``random-init (<scheme>)``), and ``strongest random``: per task the best of
the random rows (highest accuracy, lowest error). A gap to the strongest row is one that no choice of
initialisation gives for free — a weak init can make any pretraining look good against its own floor.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_info

from wfm.eval.plots import probe_plots
from wfm.eval.probe import ProbeResult, linear_probe
from wfm.eval.tables import results_to_markdown, write_results
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
    return [dataclasses.replace(r) for r in best.values()]


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
    return results


def publish(
    results: Mapping[str, Sequence[ProbeResult]],
    out_dir: str | os.PathLike,
    title: str,
    per_task: Sequence[TaskFeatures] = (),
    seeds: Sequence[int] = (0,),
    plots: bool = True,
    trainer: Any = None,
    **plot_kwargs: Any,
) -> Path:
    """Write ``probe_results.{md,csv}`` into ``out_dir``, print the table, draw the report's plots."""
    md, _ = write_results(results, Path(out_dir))
    print_table(results, title)
    log_table(trainer, "probe_results", results)
    rank_zero_info(f"probe results written to {md} and {md.with_suffix('.csv')}")
    if plots and per_task:
        probe_plots(out_dir, per_task, seeds, trainer=trainer, **plot_kwargs)
        rank_zero_info(f"probe plots written to {Path(out_dir) / 'plots'}")
    return md


def log_table(trainer: Any, key: str, results: Mapping[str, Sequence[ProbeResult]]) -> None:
    """Log the table to every attached W&B logger (a no-op without one; never fails the run)."""
    from wfm.eval.tables import _columns, format_cell

    for logger in getattr(trainer, "loggers", []) or []:
        if type(logger).__name__ != "WandbLogger":
            continue
        cols = _columns(results)
        rows = [[name, *[format_cell({r.task: r for r in row}.get(c.task)) for c in cols]]
                for name, row in results.items()]
        try:
            logger.log_table(key=key, columns=["method", *[f"{c.task}/{c.metric}" for c in cols]], data=rows)
        except Exception as err:  # a table must never take a run down
            from lightning.pytorch.utilities import rank_zero_warn

            rank_zero_warn(f"could not log table {key!r} to W&B: {err}")


def print_table(results: Mapping[str, Sequence[ProbeResult]], title: str) -> None:
    """Pretty-print the results with ``rich`` (plain Markdown if rich is unavailable)."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # rich is a dependency, but a table is not worth a crash
        print(results_to_markdown(results))
        return
    from wfm.eval.tables import _columns, _header, format_cell

    cols = _columns(results)
    table = Table(title=title)
    table.add_column("method")
    for c in cols:
        table.add_column(_header(c), justify="right")
    for name, row in results.items():
        by_task = {r.task: r for r in row}
        table.add_row(name, *[format_cell(by_task.get(c.task)) for c in cols])
    Console().print(table)
