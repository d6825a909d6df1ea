"""``wfm-msac-seeds``: JEPA-MSAC tables over pretraining seeds (or ablation settings) from runs' ``probe_results.csv``.

Each run's ``probe_results.csv`` (written by :class:`wfm.callbacks.MSACEvaluation`) holds one row per method, each
the mean over that run's head seeds. Given several runs of one recipe (one per ``seed_everything``), this prints
per method the mean ± std **over the runs** — the spread between pretraining seeds — in the compact columns
(positions at h1 and h5, ADE, FDE; top-1 at h1 / h3 / h5, top-3 at h3, ΔP at h3; RSSI RMSE at h1 and h5), or with
``--full`` every column, or with ``--per-horizon`` one table per metric with a column per horizon step.
``LABEL=DIR[,DIR...]`` arguments make one row per label from the first (pretrained) row of their runs instead
(ablations: one label per setting). ``--out FILE`` writes the table as section ``--title`` of a Markdown file,
with the command under it.

    wfm-msac-seeds runs/msac_jepa/version_0 runs/msac_jepa/version_1 runs/msac_jepa/version_2
    wfm-msac-seeds --ablation "rho 0.25=runs/a/version_0" "rho 0.5=runs/b/version_0" --out docs/results.md
"""

from __future__ import annotations

import argparse
import csv
import re
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from wfm.doc_section import write_section
from wfm.eval.msac import Table, to_markdown

#: a metric column of probe_results.csv: ``<task>/<metric>`` with an optional ``@h<k>`` horizon step
METRIC = re.compile(r"[A-Za-z0-9_]+/[A-Za-z0-9_]+(@h[0-9]+)?")
COMPACT = ["position/error_m@h1", "position/error_m@h5", "position/ade", "position/fde", "beam/top1@h1",
           "beam/top1@h3", "beam/top1@h5", "beam/top3@h3", "beam/dp_db@h3", "rssi/rmse_db@h1", "rssi/rmse_db@h5"]


def results_path(path: str | Path) -> Path:
    """A run folder's ``probe_results.csv`` (or the file itself)."""
    p = Path(path)
    return p / "probe_results.csv" if p.is_dir() else p


def read_table(path: str | Path) -> tuple[list[str], dict[str, dict[str, float]]]:
    """``(metric columns, {method: {column: mean}})`` of one run folder's (or file's) ``probe_results.csv``: every
    cell checked (a number, or empty), the file named in every error."""
    p = results_path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file (a JEPA-MSAC run writes probe_results.csv in its log folder)")
    with p.open(newline="") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        rows = list(reader)
    if "method" not in header:
        raise ValueError(f"{p}: not a JEPA-MSAC results file (no 'method' column)")
    cols = [k for k in header if k != "method" and not k.endswith("_std")]
    bad = [k for k in cols if not METRIC.fullmatch(k)]
    if bad or not cols:
        raise ValueError(f"{p}: not a JEPA-MSAC results file: columns {bad or cols} are not <task>/<metric>[@h<k>] "
                         "(e.g. position/error_m@h1, beam/top1@h3)")
    if not rows:
        raise ValueError(f"{p}: no rows (a finished JEPA-MSAC run writes one per method)")
    out: dict[str, dict[str, float]] = {}
    for i, r in enumerate(rows, start=2):
        if None in r:
            raise ValueError(f"{p}: line {i} has more cells than the header")
        cells = {}
        for k in cols:
            v = (r.get(k) or "").strip()
            if not v:
                continue
            try:
                cells[k] = float(v)
            except ValueError:
                raise ValueError(f"{p}: line {i} ({r['method']!r}), column {k!r}: {v!r} is not a number") from None
            if not np.isfinite(cells[k]):
                raise ValueError(f"{p}: line {i} ({r['method']!r}), column {k!r}: {v!r} is not finite")
        out[r["method"]] = cells
    return cols, out


def read_run(path: str | Path) -> dict[str, dict[str, float]]:
    """``{method: {column: mean}}`` of one run folder's (or file's) ``probe_results.csv``."""
    return read_table(path)[1]


def read_runs(paths: Sequence[str | Path]) -> list[dict[str, dict[str, float]]]:
    """:func:`read_run` of every run; runs of different layouts (another horizon, other metrics) are refused,
    naming both files, instead of averaging each cell over whichever runs happen to have it."""
    first: tuple[Path, list[str]] | None = None
    out = []
    for d in paths:
        cols, rows = read_table(d)
        p = results_path(d)
        if first is None:
            first = (p, cols)
        elif set(cols) != set(first[1]):
            only, missing = sorted(set(cols) - set(first[1])), sorted(set(first[1]) - set(cols))
            raise ValueError(f"{p}: its columns differ from {first[0]}'s (only here: {only[:4]}, missing here: "
                             f"{missing[:4]}); a table combines runs of one recipe (same horizon and metrics)")
        out.append(rows)
    return out


UNITS = {"error_m": ("pos err", "m"), "ade": ("ADE", "m"), "fde": ("FDE", "m"), "top1": ("top-1", "%"),
         "top3": ("top-3", "%"), "dp_db": ("ΔP", "dB"), "rmse_db": ("RSSI RMSE", "dB"), "mae_db": ("RSSI MAE", "dB")}


def _header(col: str) -> str:
    task, metric = col.split("/", 1)
    name, _, h = metric.partition("@")
    label, unit = UNITS.get(name, (f"{task} {name}", ""))
    arrow = "↑" if name.startswith("top") else "↓"
    return f"{label}{' ' + h if h else ''}{f' ({unit})' if unit else ''} {arrow}"


def table(rows: Mapping[str, Sequence[Mapping[str, float]]], cols: Sequence[str]) -> str:
    lines = ["| method | runs | " + " | ".join(_header(c) for c in cols) + " |", "|---|---|" + "---|" * len(cols)]
    for name, runs in rows.items():
        cells = []
        for c in cols:
            vals = [r[c] for r in runs if c in r]
            if not vals:
                cells.append("")
                continue
            d = 1 if "top" in c else 2
            cells.append(f"{np.mean(vals):.{d}f} ± {np.std(vals):.{d}f}")
        lines.append(f"| {name} | {len(runs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="wfm-msac-seeds", description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="run folders (or LABEL=DIR[,DIR...] with --ablation)")
    p.add_argument("--ablation", action="store_true", help="one row per LABEL from its runs' jepa_msac row")
    p.add_argument("--full", action="store_true", help="every column in one table instead of the compact columns")
    p.add_argument("--per-horizon", action="store_true",
                   help="one table per metric with a column per horizon step (the recipe's own layout)")
    p.add_argument("--out", type=Path, help="write the table as a section of this Markdown file (- : print only, "
                                            "as the tools/ scripts take it)")
    p.add_argument("--title", default="JEPA-MSAC", help="section title for --out")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        rows: dict[str, list[dict[str, float]]] = {}
        if args.ablation:
            specs = []
            for spec in args.runs:
                label, sep, dirs = spec.partition("=")
                if not sep or not label or not dirs:
                    raise ValueError(f"{spec!r}: expected LABEL=DIR[,DIR...] with --ablation")
                specs.append((label, dirs.split(",")))
            runs = iter(read_runs([d for _, dirs in specs for d in dirs]))
            for label, dirs in specs:
                for d in dirs:
                    run = next(runs)
                    if "jepa_msac" not in run:
                        raise ValueError(f"{results_path(d)}: no 'jepa_msac' row (rows: {list(run)}); --ablation "
                                         "reads each run's pretrained JEPA-MSAC row")
                    rows.setdefault(label, []).append(run["jepa_msac"])
        else:
            for run in read_runs(args.runs):
                for method, cells in run.items():
                    rows.setdefault(method, []).append(cells)
    except (OSError, ValueError, KeyError) as err:
        print(f"wfm-msac-seeds: error: {err}", file=sys.stderr)
        return 1
    cols = COMPACT
    if args.full:
        cols = [c for c in dict.fromkeys(k for runs in rows.values() for r in runs for k in r)]
    if args.per_horizon:
        summary = Table(rows).summary()  # mean ± std over the runs, as a run's table is over its head seeds
        horizon = max((int(k.rsplit("@h", 1)[1]) for cells in summary.values() for k in cells if "@h" in k), default=0)
        counts = ", ".join(f"{name} {len(runs)}" for name, runs in rows.items())
        text = to_markdown(summary, horizon) + f"\nruns per row: {counts}\n"
    else:
        text = table(rows, cols)
    print(text)
    if args.out and str(args.out) != "-":
        cmd = "wfm-msac-seeds " + shlex.join(list(argv if argv is not None else sys.argv[1:]))
        try:
            write_section(args.out, args.title, text, cmd)
        except OSError as err:
            said = err.strerror if str(args.out) in str(err.strerror) else f"{args.out}: {err.strerror or err}"
            print(f"wfm-msac-seeds: error: --out {said} (the table is printed above)", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
