"""Benchmark: ``compile=True`` (torch.compile, dynamic shapes) against eager, JEPA and MAE train steps.

Same model, batch and masks for both; steps vary their token counts as training does (region masks, channel
sampling of a 1-4 channel batch), so a compiled graph that recompiled per shape would show it. Reports the
median step time after warm-up and the one-off compile time (first steps). LatentWave size by default.

    python tools/bench_compile.py                        # writes docs/benchmarks.md, "Compiled vs eager"
    python tools/bench_compile.py --size 56 --patch 8 --dim 128 --depth 4 --out -
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdoc import publish  # noqa: E402

from wfm.masking import MaskGenerator  # noqa: E402
from wfm.methods import JEPA, MAE  # noqa: E402
from wfm.models import ViTEncoder  # noqa: E402


def make(method: str, args: argparse.Namespace, compile: bool) -> torch.nn.Module:
    torch.manual_seed(0)
    enc = ViTEncoder(img_size=args.size, patch_size=args.patch, embed_dim=args.dim, depth=args.depth,
                     num_heads=args.heads, channel_embed="fixed")
    if method == "jepa":
        model = JEPA(encoder=enc, masking=MaskGenerator("region", num_targets=4), compile=compile)
    else:
        model = MAE(encoder=enc, compile=compile)
    model.configure_model()
    return model


def timed(model: torch.nn.Module, batches: list[dict], steps: int, warm: int) -> tuple[float, float]:
    opt = model.configure_optimizers()

    def step(i: int) -> None:
        loss = model.shared_step(batches[i % len(batches)], np.random.default_rng(i), "train")["loss"]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    start = time.perf_counter()
    for i in range(warm):
        step(i)
    first = time.perf_counter() - start
    times = []
    for i in range(warm, warm + steps):
        t = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - t)
    return float(np.median(times)), first


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warm", type=int, default=4, help="steps before timing (the compile happens there)")
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--patch", type=int, default=16)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--depth", type=int, default=8)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--out", default="docs/benchmarks.md")
    args = ap.parse_args()
    g = torch.Generator().manual_seed(0)
    batches = []
    for c in (1, 2, 4, 3):
        x = torch.randn(args.batch, c, args.size, args.size, generator=g)
        batches.append({"x": x, "channels": torch.randint(1, c + 1, (args.batch,), generator=g)})
    rows = []
    for method in ("jepa", "mae"):
        eager_s, _ = timed(make(method, args, False), batches, args.steps, args.warm)
        comp_s, first = timed(make(method, args, True), batches, args.steps, args.warm)
        rows.append(f"| {method.upper()} | {1e3 * eager_s:.0f} | {1e3 * comp_s:.0f} | {eager_s / comp_s:.2f}× | "
                    f"{first:.0f} |")
        print(rows[-1], flush=True)
    lines = [
        f"{torch.get_num_threads()} threads, torch {torch.__version__}, fp32, batch {args.batch}, "
        f"{args.size} x {args.size} inputs, patch {args.patch}, {args.dim}-d x {args.depth} blocks; batches of 1-4 "
        f"channels with channel sampling and region masks (token counts vary step to step). Median of "
        f"{args.steps} steps after {args.warm} warm-up steps; `compile=True` compiles encoder, predictor/decoder "
        "and target encoder in place with `dynamic=True` (inductor).",
        "",
        "| method | eager step (ms) | compiled step (ms) | speed-up | warm-up incl. compile (s) |",
        "|---|---|---|---|---|",
        *rows,
    ]
    publish(lines, args.out, "Compiled vs eager")


if __name__ == "__main__":
    main()
