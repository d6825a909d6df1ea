"""Benchmark: how a wfm train step grows with channel count and image size (time and peak memory).

JEPA and MAE at the LatentWave width (256-d, 8 blocks, 8 heads, patch 16), fp32, batch 16, every channel
kept (no channel sampling): channels 1, 2, 4, 8 at 112 x 112 and 1, 2, 4 at 224 x 224. Each point runs in
its own process so its peak RSS (``ru_maxrss``: model, optimizer state, activations) is its own. Writes
docs/benchmarks.md (section "Scaling with channels and image size").

    python tools/bench_scaling.py
    python tools/bench_scaling.py --methods jepa --channels 1 2 --sizes 112 --out -
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_step import bench  # noqa: E402
from benchdoc import publish  # noqa: E402


def one(method: str, channels: int, size: int, batch: int, steps: int) -> dict:
    r = bench(method, channels, False, batch, steps, img_size=size)
    r["size"] = size
    r["tokens"] = channels * (size // 16) ** 2
    r["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", nargs="+", default=["jepa", "mae"])
    ap.add_argument("--channels", nargs="+", type=int, default=[1, 2, 4, 8])
    ap.add_argument("--channels-224", nargs="+", type=int, default=[1, 2, 4])
    ap.add_argument("--sizes", nargs="+", type=int, default=[112, 224])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--out", default="docs/benchmarks.md", help="Markdown file to update, or - to print only")
    ap.add_argument("--one", nargs=3, metavar=("METHOD", "CHANNELS", "SIZE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:  # child process: one point, JSON on the last line
        m, c, s = args.one
        print(json.dumps(one(m, int(c), int(s), args.batch, args.steps)))
        return
    rows = []
    for method in args.methods:
        for size in args.sizes:
            for c in args.channels if size <= 112 else args.channels_224:
                cmd = [sys.executable, __file__, "--one", method, str(c), str(size),
                       "--batch", str(args.batch), "--steps", str(args.steps)]
                out = subprocess.run(cmd, capture_output=True, text=True)
                if out.returncode != 0:
                    raise SystemExit(f"{method} {c} ch {size}px failed:\n{out.stderr[-2000:]}")
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(rows[-1], flush=True)
    lines = [
        f"{torch.get_num_threads()} threads, torch {torch.__version__}, fp32, batch {args.batch}, median of "
        f"{args.steps} steps after one warm-up; all channels kept. Tokens = channels x patches per channel "
        "(before masking). Peak RSS of the whole process (Python, torch, model, AdamW state, activations).",
        "",
        "| method | image | channels | tokens/sample | samples/s | step ms | ms per 1k tokens | peak RSS (MiB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        per_k = r["step_ms"] / (args.batch * r["tokens"] / 1000)
        lines.append(f"| {r['method']} | {r['size']} | {r['channels']} | {r['tokens']} | {r['samples_s']:.1f} | "
                     f"{r['step_ms']:.0f} | {per_k:.1f} | {r['rss_mib']:.0f} |")
    publish(lines, args.out, "Scaling with channels and image size")


if __name__ == "__main__":
    main()
