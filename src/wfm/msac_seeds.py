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
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from wfm.doc_section import write_section
from wfm.eval.msac import Table, to_markdown

COMPACT = ["position/error_m@h1", "position/error_m@h5", "position/ade", "position/fde", "beam/top1@h1",
           "beam/top1@h3", "beam/top1@h5", "beam/top3@h3", "beam/dp_db@h3", "rssi/rmse_db@h1", "rssi/rmse_db@h5"]


def read_run(path: str | Path) -> dict[str, dict[str, float]]:
    """``{method: {column: mean}}`` of one run folder's (or file's) ``probe_results.csv``."""
    p = Path(path)
    p = p / "probe_results.csv" if p.is_dir() else p
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file (a JEPA-MSAC run writes probe_results.csv in its log folder)")
    with p.open() as f:
        rows = list(csv.DictReader(f))
    if not rows or "method" not in rows[0]:
        raise ValueError(f"{p}: not a JEPA-MSAC results file (no 'method' column)")
    out = {}
    for r in rows:
        out[r["method"]] = {k: float(v) for k, v in r.items() if k != "method" and not k.endswith("_std") and v != ""}
    return out


def _header(col: str) -> str:
    task, metric = col.split("/")
    name, _, h = metric.partition("@")
    unit = {"error_m": "m", "ade": "m", "fde": "m", "top1": "%", "top3": "%", "dp_db": "dB", "rmse_db": "dB"}[name]
    arrow = "↑" if name.startswith("top") else "↓"
    label = {"error_m": "pos err", "ade": "ADE", "fde": "FDE", "top1": "top-1", "top3": "top-3", "dp_db": "ΔP",
             "rmse_db": "RSSI RMSE"}[name]
    return f"{label}{' ' + h if h else ''} ({unit}) {arrow}"


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
    p.add_argument("--out", type=Path, help="write the table as a section of this Markdown file")
    p.add_argument("--title", default="JEPA-MSAC", help="section title for --out")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        rows: dict[str, list[dict[str, float]]] = {}
        if args.ablation:
            for spec in args.runs:
                label, sep, dirs = spec.partition("=")
                if not sep:
                    raise ValueError(f"{spec!r}: expected LABEL=DIR[,DIR...] with --ablation")
                rows[label] = [read_run(d)["jepa_msac"] for d in dirs.split(",")]
        else:
            for d in args.runs:
                for method, cells in read_run(d).items():
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
    if args.out:
        cmd = "wfm-msac-seeds " + shlex.join(list(argv if argv is not None else sys.argv[1:]))
        write_section(args.out, args.title, text, cmd)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
