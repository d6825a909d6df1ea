"""Benchmark: ``compile=True`` (torch.compile, dynamic shapes) against eager, JEPA and MAE train steps.

Same model, batch and masks for both; steps vary their token counts as training does (region masks, channel
sampling of a 1-4 channel batch), so a compiled graph that recompiled per shape would show it. Reports the
median step time after warm-up and the one-off compile time (first steps). LatentWave size by default.

    python tools/bench_compile.py                        # writes docs/benchmarks.md, "Compiled vs eager"
    python tools/bench_compile.py --size 56 --patch 8 --dim 128 --depth 4 --out -
    python tools/bench_compile.py --static --out -      # best case of shape bucketing: one shape, dynamic=False
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdoc import publish  # noqa: E402

from wfm.methods import JEPA, MAE  # noqa: E402
from wfm.models import ViTEncoder  # noqa: E402
from wfm.views import RegionMask  # noqa: E402


def make(method: str, args: argparse.Namespace, compile: bool) -> torch.nn.Module:
    """The method's model; compiled as ``compile=True`` does, or with static shapes under ``--static``."""
    torch.manual_seed(0)
    enc = ViTEncoder(img_size=args.size, patch_size=args.patch, embed_dim=args.dim, depth=args.depth,
                     num_heads=args.heads, channel_embed="fixed")
    if method == "jepa":
        model = JEPA(encoder=enc, masking=RegionMask(num_targets=4), compile=compile and not args.static)
    else:
        model = MAE(encoder=enc, compile=compile and not args.static)
    model.configure_model()
    if compile and args.static:
        for module in model.compiled_modules():
            module.compile(dynamic=False)
    return model


def stepper(model: torch.nn.Module, batches: list[dict], static: bool = False) -> Callable[[int], None]:
    """One train step per call, cycling through ``batches``; ``static``: the same mask draw every step (the
    generator of step 1, the draw docs/benchmarks.md's static row was measured with)."""
    opt = model.configure_optimizers()

    def step(i: int) -> None:
        loss = model.shared_step(batches[i % len(batches)], np.random.default_rng(1 if static else i),
                                 "train")["loss"]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def warm_up(step: Callable[[int], None], warm: int) -> float:
    """Runs the first ``warm`` steps (where the compile happens); their wall time in seconds."""
    start = time.perf_counter()
    for i in range(warm):
        step(i)
    return time.perf_counter() - start


def interleaved(eager: Callable[[int], None], compiled: Callable[[int], None], steps: int,
                warm: int) -> tuple[float, float, float]:
    """Median eager and compiled step times and the median of the per-step ratios, timing the two steps in
    turn on the same batch and masks, so that a change of machine state during the run (other processes,
    clocks) moves both sides alike instead of one."""
    te, tc = [], []
    for i in range(warm, warm + steps):
        for step, times in ((eager, te), (compiled, tc)) if i % 2 else ((compiled, tc), (eager, te)):
            t = time.perf_counter()
            step(i)
            times.append(time.perf_counter() - t)
    ratios = np.asarray(te) / np.asarray(tc)
    return float(np.median(te)), float(np.median(tc)), float(np.median(ratios))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warm", type=int, default=4, help="steps before timing (the compile happens there)")
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--patch", type=int, default=16)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--depth", type=int, default=8)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--static", action="store_true",
                    help="one batch and one mask draw for every step, compiled with dynamic=False: the most a "
                         "static-shape (bucketed) compile could gain")
    ap.add_argument("--out", default="docs/benchmarks.md")
    args = ap.parse_args()
    g = torch.Generator().manual_seed(0)
    batches = []
    for c in (1, 2, 4, 3):
        x = torch.randn(args.batch, c, args.size, args.size, generator=g)
        batches.append({"x": x, "channels": torch.randint(1, c + 1, (args.batch,), generator=g)})
    if args.static:  # one shape: the 2-channel batch only
        batches = [b for b in batches if b["x"].shape[1] == 2]
    rows = []
    for method in ("jepa", "mae"):
        eager = stepper(make(method, args, False), batches, args.static)
        compiled = stepper(make(method, args, True), batches, args.static)
        warm_up(eager, args.warm)
        first = warm_up(compiled, args.warm)
        eager_s, comp_s, ratio = interleaved(eager, compiled, args.steps, args.warm)
        rows.append(f"| {method.upper()} | {1e3 * eager_s:.0f} | {1e3 * comp_s:.0f} | {ratio:.2f}× | {first:.0f} |")
        print(rows[-1], flush=True)
    if args.static:
        shapes = ("one 2-channel batch and one mask draw for every step (a single shape), compiled with "
                  "`dynamic=False`: the most a static-shape (bucketed) compile could gain over eager")
    else:
        shapes = ("batches of 1-4 channels with channel sampling and region masks (token counts vary step to "
                  "step); `compile=True` compiles encoder, predictor/decoder and target encoder in place with "
                  "`dynamic=True` (inductor)")
    lines = [
        f"{torch.get_num_threads()} threads, torch {torch.__version__}, fp32, batch {args.batch}, "
        f"{args.size} x {args.size} inputs, patch {args.patch}, {args.dim}-d x {args.depth} blocks; {shapes}. "
        f"After {args.warm} warm-up steps of each, {args.steps} eager and {args.steps} compiled steps are timed in "
        "turn (each pair on the same batch and masks, so a drift of the machine's state moves both alike); step "
        "times are medians, the speed-up is the median of the per-pair ratios.",
        "",
        "| method | eager step (ms) | compiled step (ms) | speed-up (median of pairs) | warm-up incl. compile (s) |",
        "|---|---|---|---|---|",
        *rows,
    ]
    publish(lines, args.out, "Compiled vs eager, static shapes" if args.static else "Compiled vs eager")


if __name__ == "__main__":
    main()
