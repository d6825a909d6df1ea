"""Throughput of the built-in radio-signal corpus: captures/s of both views (IQ + spectrogram) of one draw.

Usage: ``python tools/bench_signals.py [--n 4000] [--chunk 256] [--workers 1 2] [--out docs/benchmarks.md]``.
Each row generates ``--n`` captures of 1,024 samples with their 64 x 61 power spectrograms
(:func:`wfm.data.synthetic.signals.generate_views`) in chunks of ``--chunk`` (as the cache builder does), in
``W`` processes splitting the range; the best of ``--repeats`` runs counts. Rows: the default impairments,
every impairment on every capture, and none. Target (issue: a corpus as broad as the field's simulators):
>= 2,000 captures/s on 2 cores with the default impairments.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdoc import publish  # noqa: E402

from wfm.data.synthetic.signals import IMPAIRMENTS, generate_views  # noqa: E402

SETTINGS = {
    "default impairments": {},
    "every impairment on": {k: {"p": 1.0} for k in IMPAIRMENTS},
    "no impairment": {k: {"p": 0.0} for k in IMPAIRMENTS},
}


def _run(args: tuple[int, int, int, dict]) -> int:
    start, stop, chunk, imp = args
    for a in range(start, stop, chunk):
        generate_views(a, min(a + chunk, stop), 0, impairments=imp)
    return stop - start


def rate(n: int, chunk: int, workers: int, imp: dict, repeats: int) -> float:
    """Best captures/s over ``repeats`` runs of ``n`` captures split over ``workers`` processes."""
    parts = [(n * w // workers, n * (w + 1) // workers, chunk, imp) for w in range(workers)]
    best = float("inf")
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_run, [(0, workers * 8, 8, imp)] * workers))  # warm-up: imports in every worker
        for _ in range(repeats):
            t0 = time.perf_counter()
            done = sum(pool.map(_run, parts))
            best = min(best, time.perf_counter() - t0)
    return done / best


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--chunk", type=int, default=256)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default="docs/benchmarks.md", help="Markdown file to update, or - to print")
    args = ap.parse_args(argv)
    lines = [f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores visible; "
             f"{args.n} captures of 1,024 IQ samples + a 64 x 61 spectrogram each, chunks of {args.chunk}.", "",
             "| impairments | " + " | ".join(f"{w} process{'es' if w > 1 else ''} (captures/s)"
                                            for w in args.workers) + " | target >= 2,000/s on 2 cores |",
             "|---|" + "---:|" * len(args.workers) + "---|"]
    for name, imp in SETTINGS.items():
        rates = [rate(args.n, args.chunk, w, imp, args.repeats) for w in args.workers]
        best = max(rates)
        lines.append(f"| {name} | " + " | ".join(f"{r:,.0f}" for r in rates)
                     + f" | {'met' if best >= 2000 else 'missed'} |")
        print(lines[-1], flush=True)
    publish(lines, args.out, "Signal corpus", argv)


if __name__ == "__main__":
    main()
