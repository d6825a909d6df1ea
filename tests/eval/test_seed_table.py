"""wfm.seeds (the ``wfm-seeds`` command, was tools/seed_table.py): mean ± std over seeds and the paired difference
of a method and its control."""

import subprocess
import sys
from pathlib import Path

import pytest


def _write_run(root: Path, name: str, csv: str) -> str:
    d = root / name
    d.mkdir()
    (d / "probe_results.csv").write_text(csv)
    return str(d)


def _run_dir(root: Path, name: str, rfs: float, err: float) -> str:
    return _write_run(root, name,
                      "method,rfs/acc,rfs/acc_std,rfs/acc_values,positioning/error,positioning/error_std,"
                      "positioning/error_values\n"
                      f"JEPA,{rfs},0.5,{rfs},{err},0.1,{err}\n"
                      "strongest random,70.0,0.1,70.0,8.0,0.1,8.0\n")


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wfm.seeds", *args, "--out", "-"], capture_output=True, text=True)


def _table(*args: str) -> str:
    out = _run(*args)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _rows(text: str) -> dict[str, list[str]]:
    return {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in text.splitlines() if line.startswith("| ") and "---" not in line}


def test_paired_row_is_the_mean_and_std_of_per_seed_differences(tmp_path):
    a = ",".join([_run_dir(tmp_path, "a0", 76.0, 7.0), _run_dir(tmp_path, "a1", 80.0, 7.5)])
    b = ",".join([_run_dir(tmp_path, "b0", 75.0, 7.4), _run_dir(tmp_path, "b1", 76.0, 7.7)])
    text = _table(f"JEPA={a}", f"control={b}", "--paired", "JEPA:control", "--baseline", "strongest random")
    rows = _rows(text)
    assert rows["JEPA (2 seeds)"] == ["78.0 ± 2.0", "7.25 ± 0.25"]
    # differences +1.0 and +4.0 on rfs, -0.4 and -0.2 m on positioning
    assert rows["JEPA − control (paired, 2 seeds)"] == ["+2.5 ± 1.5", "-0.30 ± 0.10"]
    assert rows["strongest random"] == ["70.0 ± 0.0", "8.00 ± 0.00"]


def test_paired_needs_one_run_per_seed_on_both_sides(tmp_path):
    a = ",".join([_run_dir(tmp_path, "a0", 76.0, 7.0), _run_dir(tmp_path, "a1", 80.0, 7.5)])
    b = _run_dir(tmp_path, "b0", 75.0, 7.4)
    out = _run(f"JEPA={a}", f"control={b}", "--paired", "JEPA:control")
    assert out.returncode != 0
    assert "'JEPA' has 2 runs and 'control' 1" in out.stderr


@pytest.mark.parametrize("spec", ["JEPA", "JEPA:nope"])
def test_paired_names_unknown_labels(tmp_path, spec):
    a = _run_dir(tmp_path, "a0", 76.0, 7.0)
    out = _run(f"JEPA={a}", "--paired", spec)
    assert out.returncode != 0 and "expected A:B" in out.stderr


def _run_dir_with_baseline(root: Path, name: str, rfs: float, base: float) -> str:
    return _write_run(root, name,
                      "method,rfs/acc,rfs/acc_std,rfs/acc_values\n"
                      f"JEPA,{rfs},0.5,{rfs}\nrandom-init,{base - 1},0.1,{base - 1}\n"
                      f"strongest random,{base},0.1,{base}\n")


def test_gain_row_is_each_run_against_its_own_baseline(tmp_path):
    # two encoders with different random baselines: the gain uses each run's own one
    a = ",".join([_run_dir_with_baseline(tmp_path, "a0", 40.0, 30.0),
                  _run_dir_with_baseline(tmp_path, "a1", 44.0, 32.0)])
    b = _run_dir_with_baseline(tmp_path, "b0", 36.0, 25.0)
    text = _table(f"long={a}", f"short={b}", "--gain", "strongest random")
    rows = _rows(text)
    assert rows["long − strongest random (2 seeds)"] == ["+11.0 ± 1.0"]  # +10 and +12
    assert rows["short − strongest random (1 seed)"] == ["+11.0 ± 0.0"]
    out = _run(f"long={a}", "--gain", "nope")
    assert out.returncode != 0 and "has no row 'nope'" in out.stderr
