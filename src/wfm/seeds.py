"""Mean ± std over pretraining seeds: one table from the ``probe_results.csv`` of several runs per method.

Each ``LABEL=DIR[,DIR...]`` names one method and its runs (one per pretraining seed). A run contributes the
mean over its probe splits of its first row (the pretrained encoder); the table gives, per task, the mean ±
std of those over the runs. ``--baseline ROW`` adds a row read from every run given (e.g. ``strongest
random``: random-init encoders drawn with the probe callback's ``random_init_seed``, 0 unless set, so the
same encoders in every run of one encoder config), pooled over all of them. Columns are the union of the
runs' tasks (a single-modality run leaves the other modality's cells empty). ``--paired A:B`` adds the row
"A − B": the per-seed differences of two methods whose runs are listed in the same seed order, mean ± std. A
method and its control started from the same seed share their initial weights, so the paired difference drops
the spread between initialisations that the two rows' own stds carry (e.g. JEPA against its
``predict_grad: false`` control). ``--gain ROW`` adds, per method, the row "LABEL − ROW": each run's
difference to that run's own ``ROW`` (e.g. ``strongest random``), mean ± std — the comparison to make when
the methods' encoders differ (another token size, another width) and each has its own random baseline.
``--out FILE`` also writes the table as section ``--title`` of a Markdown file, with the command under it.

    wfm-seeds --title "Multimodal (quickstart size)" \\
        "multimodal JEPA=runs/multimodal_jepa/seed0,runs/multimodal_jepa/seed1,runs/multimodal_jepa/seed2" \\
        "IQ-only JEPA=runs/iq_jepa/seed0,runs/iq_jepa/seed1,runs/iq_jepa/seed2" \\
        --baseline "strongest random" --out notes.md
    wfm-seeds "JEPA=runs/cpu_proof/s0,runs/cpu_proof/s1" \\
        "regulariser alone=runs/cpu_proof/ctrl_s0,runs/cpu_proof/ctrl_s1" --paired "JEPA:regulariser alone"
    wfm-seeds "segments of 32=runs/iq_jepa/seg32_s0,runs/iq_jepa/seg32_s1" \\
        "segments of 64=runs/iq_jepa/seg64_s0,runs/iq_jepa/seg64_s1" --gain "strongest random"
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from wfm.doc_section import add_output_args, publish
from wfm.eval.tables import read_results_csv

#: per column ("<task>/<metric>"), one value per run
Cells = dict[str, list[float]]

NOTE = ("Each cell: mean ± std over the runs (pretraining seeds) of each run's mean over its probe splits; "
        "baseline rows pool every run that has them.")


def header(key: str) -> str:
    """Column header of ``"<task>/<metric>"``: errors in metres (lower is better), the rest in %."""
    task, metric = key.split("/", 1)
    return f"{task} {metric.replace('_', ' ')} {'(m) ↓' if metric == 'error' else '(%) ↑'}"


def cell(values: Sequence[float], key: str, signed: bool = False) -> str:
    """``mean ± std`` (population std) of ``values``, 2 decimals for errors, 1 for percentages; ``—`` if none."""
    if not values:
        return "—"
    a = np.asarray(values)
    d = 2 if key.endswith("/error") else 1
    return f"{a.mean():{'+' if signed else ''}.{d}f} ± {a.std():.{d}f}"


def _seeds(k: int) -> str:
    return f"{k} seed{'s' if k > 1 else ''}"


def _row(name: str, cells: Mapping[str, Sequence[float]], columns: Sequence[str], signed: bool = False) -> str:
    return f"| {name} | " + " | ".join(cell(cells.get(c, []), c, signed) for c in columns) + " |"


def read_run(path: Path) -> dict[str, dict[str, tuple[float, float]]]:
    """A run's ``probe_results.csv`` (:func:`wfm.eval.tables.read_results_csv`), every problem one line naming
    the file: a missing ``_std`` twin, a cell that is not a number, no rows."""
    results = read_results_csv(path)
    if not results:
        raise ValueError(f"{path}: no rows (a finished `wfm test` writes one per encoder)")
    return results


def seed_table(
    methods: Mapping[str, Sequence[str | os.PathLike]],
    baselines: Sequence[str] = (),
    paired: Sequence[tuple[str, str]] = (),
    gains: Sequence[str] = (),
) -> list[str]:
    """The Markdown lines of the table (see the module docstring).

    Args:
        methods: label -> its run folders (each holding ``probe_results.csv``), one per pretraining seed, in
            the same seed order for methods that are paired.
        baselines: rows pooled from every run that has them (e.g. ``"strongest random"``).
        paired: ``(A, B)`` labels of ``methods``: adds the row of per-seed differences A − B.
        gains: row names: adds, per method, each run's difference to its own row of that name.

    Raises:
        FileNotFoundError: a run folder has no ``probe_results.csv``.
        ValueError: a ``gains`` row missing from a run, a ``paired`` label not in ``methods``, or paired
            methods with different numbers of runs.
    """
    rows: dict[str, Cells] = {}
    pooled: dict[str, Cells] = {}
    columns: list[str] = []
    counts: dict[str, int] = {}
    gain_rows: dict[tuple[str, str], Cells] = {}  # (label, row) -> per-run differences by column
    for label, dirs in methods.items():
        counts[label] = 0
        for d in dirs:
            results = read_run(Path(d) / "probe_results.csv")
            own = next(iter(results.values()))  # the first row: the pretrained encoder
            counts[label] += 1
            for name, cells in [(label, own)] + [(b, results[b]) for b in baselines if b in results]:
                target = rows if name == label else pooled
                for key, (mean, _std) in cells.items():
                    target.setdefault(name, {}).setdefault(key, []).append(mean)
                    if key not in columns:
                        columns.append(key)
            for g in gains:
                if g not in results:
                    raise ValueError(f"--gain {g!r}: {d}/probe_results.csv has no row {g!r} (rows: {list(results)})")
                for key, (mean, _std) in results[g].items():
                    if key in own:
                        gain_rows.setdefault((label, g), {}).setdefault(key, []).append(own[key][0] - mean)
    lines = [
        "| encoder | " + " | ".join(header(c) for c in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for name, cells in {**rows, **pooled}.items():
        k = counts.get(name, 0) if name in rows else 0
        lines.append(_row(f"{name} ({_seeds(k)})" if k else name, cells, columns))
    for (label, g), cells in gain_rows.items():
        lines.append(_row(f"{label} − {g} ({_seeds(counts[label])})", cells, columns, signed=True))
    for a, b in paired:
        if a not in rows or b not in rows:
            raise ValueError(f"--paired {a + ':' + b!r}: expected A:B with A and B labels of the methods given")
        if counts[a] != counts[b]:
            raise ValueError(f"--paired {a + ':' + b!r}: {a!r} has {counts[a]} runs and {b!r} {counts[b]}; "
                             "pairs need one per seed")
        diffs = {c: [x - y for x, y in zip(rows[a][c], rows[b][c], strict=True)]
                 for c in columns if len(rows[a].get(c, [])) == len(rows[b].get(c, [])) == counts[a]}
        lines.append(_row(f"{a} − {b} (paired, {_seeds(counts[a])})", diffs, columns, signed=True))
    return lines + ["", NOTE]


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="wfm-seeds", description=__doc__.splitlines()[0],
                                 epilog="See the module docstring of wfm.seeds for what each row means.")
    ap.add_argument("methods", nargs="+", help="LABEL=DIR[,DIR...]: a method's runs, one per pretraining seed")
    ap.add_argument("--baseline", action="append", default=[], help="a row pooled from every run (repeatable)")
    ap.add_argument("--paired", action="append", default=[], metavar="A:B",
                    help="add the row A − B of per-seed differences (same seed order; repeatable)")
    ap.add_argument("--gain", action="append", default=[], metavar="ROW",
                    help="add, per method, its runs' differences to their own ROW (repeatable)")
    add_output_args(ap, "Seeds")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = parser()
    args = ap.parse_args(argv)
    methods: dict[str, list[str]] = {}
    for spec in args.methods:
        label, _, dirs = spec.partition("=")
        if not dirs:
            ap.error(f"{spec!r}: expected LABEL=DIR[,DIR...]")
        methods[label] = dirs.split(",")
    paired = []
    for spec in args.paired:
        a, sep, b = spec.partition(":")
        if not sep:
            ap.error(f"--paired {spec!r}: expected A:B with A and B labels of the methods given")
        paired.append((a, b))
    try:
        lines = seed_table(methods, args.baseline, paired, args.gain)
    except (FileNotFoundError, ValueError) as err:
        ap.error(str(err))
    try:
        publish(lines, args.out, args.title, shlex.join(["wfm-seeds", *argv]))
    except OSError as err:
        said = err.strerror if str(args.out) in str(err.strerror) else f"{args.out}: {err.strerror or err}"
        ap.error(f"--out {said} (the table is printed above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
