"""Benchmark: the ``wfm`` command's host allocator setting (wfm/allocator.py) against glibc's defaults.

Runs the first ``--steps`` optimizer steps of a recipe (default the quickstart; no callbacks, no validation,
data already cached) as ``wfm fit`` subprocesses, alternating ``WFM_MALLOC=system`` (glibc defaults) and the
default setting, ``--pairs`` times, and reports per run the wall time, the user and system CPU time, the minor
page faults and the peak RSS (``getrusage`` of the child). Writes docs/benchmarks.md (section "Host allocator").

    python tools/bench_allocator.py --pairs 2 --steps 40
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdoc import publish  # noqa: E402


def run(config: str, steps: int, system: bool, log_dir: str) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "WFM_MALLOC"}
    if system:
        env["WFM_MALLOC"] = "system"
    cmd = ["wfm", "fit", "--config", config, "--trainer.max_steps", str(steps), "--trainer.callbacks", "null",
           "--trainer.limit_val_batches", "0", "--trainer.logger.init_args.save_dir", log_dir]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall": wall, "user": after.ru_utime - before.ru_utime, "sys": after.ru_stime - before.ru_stime,
            "minflt": after.ru_minflt - before.ru_minflt, "rss_gb": after.ru_maxrss / 2**20}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/quickstart.yaml")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--out", default="docs/benchmarks.md", help="Markdown file to update, or - to print only")
    args = ap.parse_args()
    lines = [
        f"`wfm fit --config {args.config}`, first {args.steps} optimizer steps (start-up included, no callbacks, "
        f"data cached), {os.cpu_count()} cores; runs alternate, glibc defaults (`WFM_MALLOC=system`) first. "
        "Peak RSS is the largest of the runs so far (getrusage reports the maximum over children). glibc unmaps "
        "every freed block above its mmap threshold (at most 32 MiB) and trims the heap, so each step faults its "
        "activations in again (system time); the `wfm` command turns both off at start-up (`wfm/allocator.py`).",
        "",
        "| pair | allocator | wall (s) | user (s) | system (s) | minor faults (M) | peak RSS (GB) |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    walls: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as log_dir:
        for i in range(args.pairs):
            for system in (True, False):
                r = run(args.config, args.steps, system, log_dir)
                walls[system].append(r["wall"])
                name = "glibc defaults" if system else "wfm (keep freed memory)"
                lines.append(f"| {i + 1} | {name} | {r['wall']:.1f} | {r['user']:.1f} | {r['sys']:.1f} | "
                             f"{r['minflt'] / 1e6:.2f} | {r['rss_gb']:.2f} |")
                print(lines[-1], flush=True)
    ratio = sum(walls[True]) / sum(walls[False])
    lines += ["", f"Wall time, glibc defaults over wfm's setting, summed over the pairs: **{ratio:.2f}×**."]
    publish(lines, args.out, "Host allocator")


if __name__ == "__main__":
    main()
