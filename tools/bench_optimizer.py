"""Benchmark: the optimizer step alone — torch's per-tensor (foreach) AdamW against the fused AdamW that
``wfm.methods.base.adamw`` builds — on the trainable parameters of a JEPA at the LatentWave size (encoder +
predictor) and at the CPU recipes' size, with the parameter groups the methods use (decay / no decay).

Gradients are random and fixed; each timing is the median of ``--steps`` optimizer steps after one warm-up,
the two variants interleaved step by step so that load on the machine hits both alike. Writes the table into
docs/benchmarks.md (section "Optimizer step").

    python tools/bench_optimizer.py                  # both sizes, 2 threads
    python tools/bench_optimizer.py --out -          # print only
    python tools/bench_optimizer.py --device cuda    # on a GPU
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_step import device_name, sync  # noqa: E402
from benchdoc import publish  # noqa: E402

from wfm.methods.jepa import JEPA  # noqa: E402
from wfm.models import ViTEncoder  # noqa: E402
from wfm.views import RegionMask  # noqa: E402

SIZES = {
    "LatentWave (256-d x 8, predictor 128-d x 4)": (dict(img_size=112, patch_size=16, embed_dim=256, depth=8,
                                                         num_heads=8), dict(predictor_dim=128, predictor_depth=4)),
    "CPU recipes (128-d x 4, predictor 64-d x 2)": (dict(img_size=56, patch_size=8, embed_dim=128, depth=4,
                                                         num_heads=4), dict(predictor_dim=64, predictor_depth=2)),
}


def optimizers(model: JEPA, fused: bool) -> torch.optim.Optimizer:
    """The method's own AdamW (fused where torch has the kernel), or the same groups on the per-tensor loop."""
    opt = model.configure_optimizers()
    if fused:
        return opt
    groups = [{k: v for k, v in g.items() if k != "fused"} for g in opt.param_groups]
    return torch.optim.AdamW(groups, foreach=True)


def bench(enc_kw: dict, jepa_kw: dict, steps: int, device: str) -> dict:
    torch.manual_seed(0)
    models = {f: JEPA(encoder=ViTEncoder(**enc_kw), masking=RegionMask(num_targets=4),
                      **jepa_kw).to(device) for f in (False, True)}
    opts = {f: optimizers(m, f) for f, m in models.items()}
    for opt in opts.values():
        gen = torch.Generator().manual_seed(0)
        for g in opt.param_groups:
            for p in g["params"]:
                p.grad = torch.randn(p.shape, generator=gen).to(device)
    times: dict[bool, list[float]] = {False: [], True: []}
    for i in range(steps + 1):
        for f in (False, True):
            sync(device)
            t = time.perf_counter()
            opts[f].step()
            sync(device)
            if i:  # step 0 is the warm-up (state allocation)
                times[f].append(time.perf_counter() - t)
    n = sum(p.numel() for g in opts[True].param_groups for p in g["params"])
    tensors = sum(len(g["params"]) for g in opts[True].param_groups)
    return {"params": n, "tensors": tensors, "foreach_ms": 1e3 * float(np.median(times[False])),
            "fused_ms": 1e3 * float(np.median(times[True]))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default="docs/benchmarks.md", help="Markdown file to update, or - to print only")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lines = [
        f"{device_name(args.device)}, {args.threads} threads, torch {torch.__version__}, fp32; the JEPA's trainable "
        f"parameters (encoder + predictor) in the methods' two groups, fixed random gradients; median of "
        f"{args.steps} steps after one warm-up, the two optimizers interleaved step by step.",
        "",
        "| model | parameters | tensors | AdamW foreach (ms) | AdamW fused (ms) | speed-up |",
        "|---|---|---|---|---|---|",
    ]
    for name, (enc_kw, jepa_kw) in SIZES.items():
        r = bench(enc_kw, jepa_kw, args.steps, args.device)
        lines.append(f"| {name} | {r['params'] / 1e6:.2f} M | {r['tensors']} | {r['foreach_ms']:.2f} | "
                     f"{r['fused_ms']:.2f} | {r['foreach_ms'] / r['fused_ms']:.2f}× |")
    publish(lines, args.out, "Optimizer step")


if __name__ == "__main__":
    main()
