"""Measure generation speed (samples/s) of every built-in synthetic dataset and print a Markdown table.

Usage: ``python tools/bench_synthetic.py [--n 2000] [--chunk 500] [--repeats 3]``. Each dataset is
generated in chunks of ``--chunk`` samples (as a corpus builder would); the best of ``--repeats`` runs is
reported, so that interference from other processes on a shared machine counts as little as possible.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from wfm.data.synthetic import BUILTIN, generate


def bench(name: str, n: int, chunk: int, repeats: int) -> float:
    """Best samples/s over ``repeats`` runs of generating ``n`` samples of ``name`` in chunks."""
    generate(name, 0, 8)  # warm-up: builds and caches the scene, imports scipy pieces
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for a in range(0, n, chunk):
            generate(name, a, min(a + chunk, n))
        best = min(best, time.perf_counter() - t0)
    return n / best


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="samples per dataset")
    ap.add_argument("--chunk", type=int, default=500, help="samples per generate() call")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--datasets", nargs="*", default=list(BUILTIN), help="subset of " + ", ".join(BUILTIN))
    args = ap.parse_args(argv)
    cmd = " ".join(["python tools/bench_synthetic.py", *(sys.argv[1:] if argv is None else argv)])
    print(f"Command: `{cmd}`")
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores visible\n")
    print("| dataset | shape (C, H, W) | samples/s | target 500/s |")
    print("|---|---|---:|---|")
    for name in args.datasets:
        spec = BUILTIN[name]
        rate = bench(name, args.n, args.chunk, args.repeats)
        shape = (spec.channels, *spec.raw_shape)
        print(f"| {name} | {shape} | {rate:,.0f} | {'ok' if rate >= 500 else 'MISSED'} |", flush=True)


if __name__ == "__main__":
    main()
