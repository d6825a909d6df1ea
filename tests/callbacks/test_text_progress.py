"""Progress in batch jobs: a `wfm fit` whose stdout is a file prints plain progress lines (no Rich bar)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_fit_with_stdout_to_a_file_prints_progress_lines(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    cmd = [str(Path(sys.executable).parent / "wfm"), "fit", f"--config={ROOT / 'tests/fixtures/tiny_fit.yaml'}",
           f"--trainer.default_root_dir={tmp_path}"]
    with log.open("w") as out:  # what nohup / Slurm give the job: a file, not a terminal
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, timeout=300,
                              env={**__import__("os").environ, "PYTHONPATH": str(ROOT / "tests")})
    text = log.read_text()
    assert done.returncode == 0, text[-2000:]
    lines = [ln for ln in text.splitlines() if ln.startswith("epoch ")]
    # every 2 optimizer steps and at both epoch ends (4 steps per epoch, 2 epochs)
    steps = [int(re.search(r"step (\d+)/8", ln).group(1)) for ln in lines]
    assert steps == [2, 4, 4, 6, 8, 8], text[-2000:]
    pattern = r"loss [0-9.]+  [0-9.]+ samples/s \(now [0-9.]+\)  elapsed \S+  ETA \S+"
    assert all(re.search(pattern, ln) for ln in lines), lines
    assert sum("[epoch end]" in ln for ln in lines) == 2
    assert "training: 2 epoch(s), 8 optimizer steps" in text
    assert "\x1b[" not in text  # no terminal escape codes in a log file
