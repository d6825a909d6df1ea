"""docs/byod.md is run as written: every command of its bash block, in order, in a scratch folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import h5py

ROOT = Path(__file__).resolve().parents[1]


def commands() -> list[str]:
    text = (ROOT / "docs/byod.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    joined = block.replace("\\\n", " ")  # continuation lines
    return [ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def test_bring_your_own_data_walkthrough(tmp_path: Path) -> None:
    for name in ("configs", "tests"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "WFM_CACHE": str(tmp_path / "cache")}
    cmds = commands()
    assert [c.split()[0:2] for c in cmds] == [["python", "tests/data/powder/make.py"], ["wfm-convert", "powder"],
                                             ["wfm", "fit"], ["wfm", "test"], ["wfm", "predict"]]
    for cmd in cmds:
        done = subprocess.run(cmd, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{cmd}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        if cmd.startswith("wfm-convert"):
            assert "read 3 file(s), wrote 9 sample(s)" in done.stdout
    run = tmp_path / "byod/runs/quickstart/version_0/checkpoints"
    table = (run / "probe_results.md").read_text()
    assert "| last |" in table and "| strongest random |" in table and "powder acc (%)" in table
    with h5py.File(tmp_path / "byod/features/features.h5") as f:
        assert f["features"].shape == (9, 128) and f["label"].shape == (9,)
