"""Result tables: exact Markdown / CSV text and atomic writes."""

from __future__ import annotations

from wfm.eval.probe import ProbeResult
from wfm.eval.tables import read_results_csv, results_to_csv, results_to_markdown, write_results


def _acc(mean, std, values):
    return ProbeResult("rfs", "acc", values, mean, std, "%", True, [0, 1])


def _err(mean, std, values):
    return ProbeResult("positioning", "error", values, mean, std, "m", False, [0, 1])


RESULTS = {
    "jepa": [_acc(80.25, 0.5, [79.75, 80.75]), _err(2.5, 0.125, [2.375, 2.625])],
    "random-init": [_acc(40.0, 1.0, [39.0, 41.0])],
}


def test_markdown_exact():
    assert results_to_markdown(RESULTS) == (
        "| method | rfs acc (%) ↑ | positioning error (m) ↓ |\n"
        "|:---|---:|---:|\n"
        "| jepa | 80.2 ± 0.5 | 2.50 ± 0.12 |\n"
        "| random-init | 40.0 ± 1.0 | — |\n"
    )


def test_csv_exact_and_roundtrip(tmp_path):
    assert results_to_csv(RESULTS) == (
        "method,rfs/acc,rfs/acc_std,rfs/acc_values,positioning/error,positioning/error_std,positioning/error_values\n"
        "jepa,80.25,0.5,79.75 80.75,2.5,0.125,2.375 2.625\n"
        "random-init,40.0,1.0,39.0 41.0,,,\n"
    )
    md, csv_path = write_results(RESULTS, tmp_path / "out")
    assert md.read_text(encoding="utf-8") == results_to_markdown(RESULTS)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["probe_results.csv", "probe_results.md"]
    assert read_results_csv(csv_path) == {
        "jepa": {"rfs/acc": (80.25, 0.5), "positioning/error": (2.5, 0.125)},
        "random-init": {"rfs/acc": (40.0, 1.0)},
    }
