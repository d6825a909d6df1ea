"""wfm.seeds as a library and its ``--out``: the table written as a section of a Markdown file
(tests/eval/test_seed_table.py checks the rows through the command)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wfm.seeds import main, seed_table


def _run(root: Path, name: str, acc: float) -> Path:
    d = root / name
    d.mkdir()
    (d / "probe_results.csv").write_text(f"method,rfs/acc,rfs/acc_std,rfs/acc_values\nJEPA,{acc},0.5,{acc}\n")
    return d


def test_seed_table_returns_the_markdown_lines(tmp_path):
    lines = seed_table({"JEPA": [_run(tmp_path, "s0", 70.0), _run(tmp_path, "s1", 72.0)]})
    assert lines[:3] == ["| encoder | rfs acc (%) ↑ |", "|---|---:|", "| JEPA (2 seeds) | 71.0 ± 1.0 |"]


def test_seed_table_names_a_run_without_results(tmp_path):
    with pytest.raises(FileNotFoundError, match="probe_results.csv"):
        seed_table({"JEPA": [tmp_path]})


def test_out_replaces_only_its_own_section(tmp_path, capsys):
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\n## Seeds\n\nold table\n\n## Other\n\nkept\n")
    run = _run(tmp_path, "s0", 70.0)
    assert main([f"JEPA={run}", "--out", str(notes)]) == 0
    text = notes.read_text()
    assert "old table" not in text and "| JEPA (1 seed) | 70.0 ± 0.0 |" in text
    assert text.index("## Seeds") < text.index("## Other") and text.endswith("## Other\n\nkept\n")
    assert f"Produced by: `wfm-seeds JEPA={run} --out {notes}`" in text
    assert "| JEPA (1 seed) |" in capsys.readouterr().out
