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

    python tools/seed_table.py --title "Multimodal (quickstart size)" \\
        "multimodal JEPA=runs/multimodal_jepa/seed0,runs/multimodal_jepa/seed1,runs/multimodal_jepa/seed2" \\
        "IQ-only JEPA=runs/iq_jepa/seed0,runs/iq_jepa/seed1,runs/iq_jepa/seed2" \\
        --baseline "strongest random" --out docs/results.md
    python tools/seed_table.py "JEPA=runs/cpu_proof/s0,runs/cpu_proof/s1" \\
        "regulariser alone=runs/cpu_proof/ctrl_s0,runs/cpu_proof/ctrl_s1" --paired "JEPA:regulariser alone"
    python tools/seed_table.py "segments of 32=runs/iq_jepa/seg32_s0,runs/iq_jepa/seg32_s1" \\
        "segments of 64=runs/iq_jepa/seg64_s0,runs/iq_jepa/seg64_s1" --gain "strongest random"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdoc import publish  # noqa: E402

from wfm.eval.tables import read_results_csv  # noqa: E402


def header(key: str) -> str:
    task, metric = key.split("/", 1)
    return f"{task} {metric} {'(m) ↓' if metric == 'error' else '(%) ↑'}"


def cell(values: list[float], key: str, signed: bool = False) -> str:
    if not values:
        return "—"
    a = np.asarray(values)
    d = 2 if key.endswith("/error") else 1
    return f"{a.mean():{'+' if signed else ''}.{d}f} ± {a.std():.{d}f}"


def seeds(k: int) -> str:
    return f"{k} seed{'s' if k > 1 else ''}"


def table_row(name: str, cells: dict[str, list[float]], columns: list[str], signed: bool = False) -> str:
    return f"| {name} | " + " | ".join(cell(cells.get(c, []), c, signed) for c in columns) + " |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("methods", nargs="+", help="LABEL=DIR[,DIR...]: a method's runs, one per pretraining seed")
    ap.add_argument("--baseline", action="append", default=[], help="a row pooled from every run (repeatable)")
    ap.add_argument("--paired", action="append", default=[], metavar="A:B",
                    help="add the row A − B of per-seed differences (same seed order; repeatable)")
    ap.add_argument("--gain", action="append", default=[], metavar="ROW",
                    help="add, per method, its runs' differences to their own ROW (repeatable)")
    ap.add_argument("--title", default="Seeds")
    ap.add_argument("--out", default="-", help="Markdown file to update (section --title), or - to print only")
    args = ap.parse_args()
    rows: dict[str, dict[str, list[float]]] = {}
    baselines: dict[str, dict[str, list[float]]] = {}
    columns: list[str] = []
    counts: dict[str, int] = {}
    gains: dict[tuple[str, str], dict[str, list[float]]] = {}  # (LABEL, ROW) -> per-run differences by column
    for spec in args.methods:
        label, _, dirs = spec.partition("=")
        if not dirs:
            ap.error(f"{spec!r}: expected LABEL=DIR[,DIR...]")
        counts[label] = 0
        for d in dirs.split(","):
            results = read_results_csv(Path(d) / "probe_results.csv")
            own = next(iter(results.values()))  # the first row: the pretrained encoder
            counts[label] += 1
            for name, cells in [(label, own)] + [
                    (b, results[b]) for b in args.baseline if b in results]:
                target = rows if name == label else baselines
                for key, (mean, _std) in cells.items():
                    target.setdefault(name, {}).setdefault(key, []).append(mean)
                    if key not in columns:
                        columns.append(key)
            for g in args.gain:
                if g not in results:
                    ap.error(f"--gain {g!r}: {d}/probe_results.csv has no row {g!r} (rows: {list(results)})")
                for key, (mean, _std) in results[g].items():
                    if key in own:
                        gains.setdefault((label, g), {}).setdefault(key, []).append(own[key][0] - mean)
    lines = [
        "| encoder | " + " | ".join(header(c) for c in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for name, cells in {**rows, **baselines}.items():
        k = counts.get(name, 0) if name in rows else 0
        lines.append(table_row(f"{name} ({seeds(k)})" if k else name, cells, columns))
    for (label, g), cells in gains.items():
        lines.append(table_row(f"{label} − {g} ({seeds(counts[label])})", cells, columns, signed=True))
    for spec in args.paired:
        a, sep, b = spec.partition(":")
        if not sep or a not in rows or b not in rows:
            ap.error(f"--paired {spec!r}: expected A:B with A and B labels of the methods given")
        if counts[a] != counts[b]:
            ap.error(f"--paired {spec!r}: {a!r} has {counts[a]} runs and {b!r} {counts[b]}; pairs need one per seed")
        diffs = {c: [x - y for x, y in zip(rows[a][c], rows[b][c], strict=True)]
                 for c in columns if len(rows[a].get(c, [])) == len(rows[b].get(c, [])) == counts[a]}
        lines.append(table_row(f"{a} − {b} (paired, {seeds(counts[a])})", diffs, columns, signed=True))
    lines += ["", "Each cell: mean ± std over the runs (pretraining seeds) of each run's mean over its probe "
              "splits; baseline rows pool every run that has them."]
    publish(lines, args.out, args.title)


if __name__ == "__main__":
    main()
