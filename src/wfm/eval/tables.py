"""Result tables shaped like the paper's Table II: one row per method/checkpoint, one column per task.

Cells read ``mean ± std``; headers carry the metric, its unit and an arrow (↑ accuracy in %, ↓ error in
metres). The CSV holds the same numbers machine-readably (``<task>/<metric>`` mean and std columns, plus the
per-seed values) so ``wfm-ablate`` can collect runs. Files are written atomically (temp file + rename):
a crashed or concurrent run never leaves half a table behind.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from wfm.atomic import atomic_file, atomic_files
from wfm.eval.probe import ProbeResult

Results = Mapping[str, Sequence[ProbeResult]]


def columns(results: Results) -> list[ProbeResult]:
    """One representative result per task and metric (the table's columns), in order of first appearance."""
    seen: dict[tuple[str, str], ProbeResult] = {}
    for row in results.values():
        for r in row:
            seen.setdefault((r.task, r.metric), r)
    return list(seen.values())


def header(r: ProbeResult) -> str:
    """A task column's heading: task, metric, unit and which way is better (``rfs acc (%) ↑``)."""
    unit = f" ({r.units})" if r.units else ""
    return f"{r.task} {r.metric.replace('_', ' ')}{unit} {'↑' if r.higher_is_better else '↓'}"


def _digits(r: ProbeResult) -> int:
    # accuracies as the paper prints them (73.3 %), errors to the centimetre (2.54 m)
    return 1 if r.units == "%" else 2


def format_cell(r: ProbeResult | None) -> str:
    if r is None:
        return "—"
    d = _digits(r)
    return f"{r.mean:.{d}f} ± {r.std:.{d}f}"


def _by_task(row: Sequence[ProbeResult]) -> dict[tuple[str, str], ProbeResult]:
    return {(r.task, r.metric): r for r in row}


def results_to_markdown(results: Results, row_label: str = "method") -> str:
    """Markdown table: rows = keys of ``results`` (e.g. a checkpoint and ``random-init``), columns = tasks."""
    cols = columns(results)
    lines = [
        "| " + " | ".join([row_label] + [header(c) for c in cols]) + " |",
        "|" + "|".join([":---"] + ["---:"] * len(cols)) + "|",
    ]
    for name, row in results.items():
        cells = _by_task(row)
        lines.append("| " + " | ".join([name] + [format_cell(cells.get((c.task, c.metric))) for c in cols]) + " |")
    return "\n".join(lines) + "\n"


def results_to_csv(results: Results, row_label: str = "method") -> str:
    """CSV with columns ``method, <task>/<metric>, <task>/<metric>_std, <task>/<metric>_values`` per task."""
    cols = columns(results)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    fields = [row_label]
    for c in cols:
        key = f"{c.task}/{c.metric}"
        fields += [key, f"{key}_std", f"{key}_values"]
    writer.writerow(fields)
    for name, row in results.items():
        cells = _by_task(row)
        line: list[str] = [name]
        for c in cols:
            r = cells.get((c.task, c.metric))
            if r is None:
                line += ["", "", ""]
            else:
                line += [repr(r.mean), repr(r.std), " ".join(repr(v) for v in r.values)]
        writer.writerow(line)
    return buf.getvalue()


def read_results_csv(path: str | os.PathLike) -> dict[str, dict[str, tuple[float, float]]]:
    """Parse a CSV written by :func:`results_to_csv`: ``{row: {"<task>/<metric>": (mean, std)}}``; a metric
    without its ``_std`` twin or a cell that is not a number is a ValueError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"probe results not found: {path}")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames:
            raise ValueError(f"{path}: empty CSV")
        label = reader.fieldnames[0]
        keys = [k for k in reader.fieldnames[1:] if not k.endswith(("_std", "_values"))]
        out: dict[str, dict[str, tuple[float, float]]] = {}
        for row in reader:
            try:
                out[row[label]] = {k: (float(row[k]), float(row[f"{k}_std"])) for k in keys if row.get(k)}
            except KeyError as err:
                raise ValueError(f"{path}: no column {err.args[0]!r}; a `wfm test` results table has a "
                                 "'<metric>_std' column beside every metric") from None
            except ValueError as err:
                raise ValueError(f"{path}: a cell is not a number ({err})") from None
    return out


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`wfm.atomic.atomic_file`)."""
    with atomic_file(path) as f:  # a full disk: WriteFailed, "<path>: no space left on device; ..."
        f.write(text.encode("utf-8"))
    return Path(path)


def write_results(
    results: Results, out_dir: str | os.PathLike, stem: str = "probe_results"
) -> tuple[Path, Path]:
    """Write ``<stem>.md`` and ``<stem>.csv`` into ``out_dir`` atomically; returns both paths."""
    out_dir = Path(out_dir)
    return write_texts({out_dir / f"{stem}.md": results_to_markdown(results),
                        out_dir / f"{stem}.csv": results_to_csv(results)})


def write_texts(texts: dict[Path, str]) -> tuple[Path, ...]:
    """Write several UTF-8 files that replace their old versions together, only once all are on disk
    (:func:`wfm.atomic.atomic_files`: a full disk keeps the previous .md and .csv a matching pair)."""
    with atomic_files(*texts) as files:
        for f, text in zip(files, texts.values(), strict=True):
            f.write(text.encode("utf-8"))
    return tuple(texts)


def strata_to_markdown(results: Results, by: str) -> str:
    """Per-bin results (:func:`wfm.eval.analyses.accuracy_by_stratum`) as a table with one row per bin of
    ``by`` and one column per method: the accuracy-per-SNR curve of every row, as the field's papers plot it."""
    names = list(results)
    bins = list(dict.fromkeys(r.metric.split("@", 1)[1] for row in results.values() for r in row))
    cells = {(name, r.metric.split("@", 1)[1]): r for name, row in results.items() for r in row}
    lines = ["| " + " | ".join([by, *[f"{n} acc (%) ↑" for n in names]]) + " |",
             "|" + "|".join([":---"] + ["---:"] * len(names)) + "|"]
    for b in bins:
        lines.append("| " + " | ".join([b, *[format_cell(cells.get((n, b))) for n in names]]) + " |")
    return "\n".join(lines) + "\n"


def write_strata(results: Results, by: str, out_dir: str | os.PathLike, stem: str) -> tuple[Path, Path]:
    """Write ``<stem>.md`` (:func:`strata_to_markdown`) and ``<stem>.csv`` atomically; returns both paths."""
    out_dir = Path(out_dir)
    return write_texts({out_dir / f"{stem}.md": strata_to_markdown(results, by),
                        out_dir / f"{stem}.csv": results_to_csv(results)})
