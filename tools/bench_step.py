"""Benchmark: JEPA (and MAE, when available) train-step throughput on this machine.

Measures samples/s and achieved GFLOP/s (FLOPs counted by torch's FlopCounterMode on one step: forward,
backward, optimizer excluded) at the LatentWave size (112 x 112, patch 16, 256-d, 8 blocks) for fp32 and
bf16 autocast, with 1 and 4 channels, next to the machine's measured matmul peak, and writes a Markdown
table into docs/benchmarks.md (section "Train step").

    python tools/bench_step.py                      # full table (about 10 min on 2 AVX2 cores)
    python tools/bench_step.py --batch 16 --steps 5 --out -   # print only
    python tools/bench_step.py --iq-length 1024 --channels 1 4 --bf16-channels   # raw IQ, 1 and 4 antennas
    python tools/bench_step.py --device cuda --batch 256 --steps 20 --bf16-steps 20   # on a GPU
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdoc import publish  # noqa: E402

from wfm.methods.jepa import JEPA  # noqa: E402
from wfm.models import ViTEncoder  # noqa: E402
from wfm.views import RegionMask  # noqa: E402


def sync(device: torch.device | str) -> None:
    """Wait for the device's queued work (a no-op on CPU): timings must cover the kernels, not their launch."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(run, steps: int, device: torch.device | str, warmup: bool = True) -> float:  # noqa: ANN001
    """Median seconds of ``run(1..steps)`` after an untimed ``run(0)`` (unless ``warmup`` is False), each timing
    closed by a device sync."""
    if warmup:
        run(0)
    sync(device)
    times = []
    for i in range(steps):
        t = time.perf_counter()
        run(i + 1)
        sync(device)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def autocast(device: torch.device | str, bf16: bool):
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def device_name(device: str) -> str:
    if torch.device(device).type == "cuda":
        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine()


def matmul_peak(dtype: torch.dtype, n: int = 2048, reps: int = 10, device: str = "cpu") -> float:
    """Best-of GFLOP/s of an n x n x n matmul in ``dtype``: the machine's practical dense peak."""
    if dtype == torch.bfloat16 and torch.device(device).type == "cpu":
        n, reps = 1024, 3  # bf16 can be ~100x slower than fp32 on CPUs without native bf16
    elif torch.device(device).type == "cuda":
        n = 8192
    a = torch.randn(n, n, dtype=dtype, device=device)
    b = torch.randn(n, n, dtype=dtype, device=device)
    a @ b
    sync(device)
    best = 0.0
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        sync(device)
        best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def make_method(name: str, img_size: int = 112, compile: bool = False, iq_length: int = 0) -> torch.nn.Module:
    enc = ViTEncoder(img_size=img_size, patch_size=16, embed_dim=256, depth=8, num_heads=8, iq_length=iq_length)
    if name == "jepa":
        model = JEPA(encoder=enc, masking=RegionMask(num_targets=4), channel_sampling="none",
                     compile=compile)
    else:
        from wfm.methods.mae import MAE

        model = MAE(encoder=enc, channel_sampling="none", compile=compile)
    model.configure_model()  # compiles the networks in place when asked
    return model


def step_fn(model: torch.nn.Module, opt: torch.optim.Optimizer, batch: dict, bf16: bool):
    device = batch["x"].device

    def run(seed: int) -> None:
        with autocast(device, bf16):
            loss = model.shared_step(batch, np.random.default_rng(seed), "train")["loss"]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if hasattr(model, "ema_update"):
            model.ema_update(0.996)

    return run


def bench(
    name: str, channels: int, bf16: bool, batch_size: int, steps: int, warmup: bool = True, img_size: int = 112,
    masking=None,  # noqa: ANN001  (JEPA only: a mask source replacing the region generator)
    compile: bool = False,
    device: str = "cpu",
    iq_length: int = 0,
) -> dict:
    """One method's step time on ``device`` (median of ``steps`` after warm-up; CUDA steps are synchronised).

    ``iq_length`` > 0 times raw-IQ batches ``(B, channels = antennas, 2, iq_length)`` (16-sample segments) on an
    encoder with an IQ tokenizer instead of ``(B, channels, img_size, img_size)`` images.
    """
    torch.manual_seed(0)
    model = make_method(name, img_size, compile, iq_length).to(device)
    if masking is not None:
        model.masking = masking
    opt = model.configure_optimizers()
    batch = {
        "x": torch.randn(batch_size, channels, *((2, iq_length) if iq_length else (img_size, img_size)),
                         device=device),
        "channels": torch.full((batch_size,), channels, device=device),
        "channels_host": np.full(batch_size, channels),  # what the DataModules add: no device read-back
    }
    run = step_fn(model, opt, batch, bf16)
    if compile:  # compile (and count FLOPs) on the eager twin: FlopCounterMode does not trace compiled code
        torch.manual_seed(0)
        twin = make_method(name, img_size, iq_length=iq_length).to(device)
        if masking is not None:
            twin.masking = masking
        counted = twin.configure_optimizers()
    else:
        twin, counted = model, opt
    with FlopCounterMode(display=False) as counter:
        with autocast(device, bf16):
            loss = twin.shared_step(batch, np.random.default_rng(0), "train")["loss"]
        loss.backward()
    counted.zero_grad(set_to_none=True)
    flops = counter.get_total_flops()
    if compile:
        run(0)  # the compile happens here, outside the timing
    dt = time_steps(run, steps, device, warmup)
    return {"method": name, "channels": channels, "precision": "bf16" if bf16 else "fp32",
            "input": f"IQ {channels} x 2 x {iq_length}" if iq_length else f"{channels} x {img_size} x {img_size}",
            "samples_s": batch_size / dt, "gflops": flops / dt / 1e9, "step_ms": dt * 1e3}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--methods", nargs="+", default=["jepa", "mae"])
    ap.add_argument("--channels", nargs="+", type=int, default=[1, 4])
    ap.add_argument("--bf16-channels", nargs="*", type=int, default=[1],
                    help="channel counts also timed with bf16 autocast (slow on CPUs without native bf16)")
    ap.add_argument("--bf16-steps", type=int, default=1)
    ap.add_argument("--iq-length", type=int, default=0,
                    help="time raw-IQ batches of this many samples per antenna (channels = antennas; section "
                         "'Train step (IQ)') instead of 112 x 112 images")
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:N] (CUDA steps are synchronised before timing)")
    ap.add_argument("--out", default="docs/benchmarks.md", help="Markdown file to update, or - to print only")
    args = ap.parse_args()
    threads = torch.get_num_threads()
    peak = {"fp32": matmul_peak(torch.float32, device=args.device),
            "bf16": matmul_peak(torch.bfloat16, device=args.device)}
    rows = []
    for name in args.methods:
        try:
            make_method(name)
        except ImportError as err:
            print(f"skipping {name}: {err}")
            continue
        runs = [(c, False) for c in args.channels] + [(c, True) for c in args.bf16_channels]
        for c, bf16 in runs:
            if bf16:  # the FLOP-counting step doubles as warm-up: bf16 steps can take minutes on AVX2-only CPUs
                r = bench(name, c, True, args.batch, args.bf16_steps, warmup=False, device=args.device,
                          iq_length=args.iq_length)
            else:
                r = bench(name, c, False, args.batch, args.steps, device=args.device, iq_length=args.iq_length)
            r["peak_pct"] = 100 * r["gflops"] / peak[r["precision"]]
            rows.append(r)
            print(r, flush=True)
    lines = [
        f"Machine: {device_name(args.device)}, {threads} threads, torch {torch.__version__}. "
        f"Measured matmul peak: fp32 {peak['fp32']:.0f} GFLOP/s (2048^3), bf16 {peak['bf16']:.1f} GFLOP/s (1024^3).",
        f"LatentWave size (112x112, patch 16, 256-d, 8 blocks, 8 heads), batch {args.batch}, "
        + (f"raw IQ of {args.iq_length} samples per antenna in 16-sample segments ({args.iq_length // 16} tokens "
           "per antenna), JEPA: 1-D block masks of time-segment spans, MAE: 70 % of the segments; "
           if args.iq_length else "region masking M=4, ")
        + "median of "
        f"{args.steps} steps (bf16: {args.bf16_steps}) (forward + backward + AdamW + EMA). "
        "GFLOP/s = counted forward+backward FLOPs / step time.",
        "",
        "| method | input | precision | samples/s | step ms | GFLOP/s | % of matmul peak |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['method']} | {r['input']} | {r['precision']} | {r['samples_s']:.1f} | "
                     f"{r['step_ms']:.0f} | {r['gflops']:.0f} | {r['peak_pct']:.0f} % |")
    lines += [
        "",
        "bf16 rows are autocast on this CPU; where the matmul peak shows bf16 far below fp32 (CPUs without native "
        "bf16, e.g. AVX2-only), bf16 training is slower than fp32 and the recipes' CPU fragment uses 32-true. "
        "The bf16 '% of peak' can exceed 100 % because the 1024^3 probe and the step's small matmuls hit different "
        "kernels.",
    ]
    publish(lines, args.out, "Train step (IQ)" if args.iq_length else "Train step")


if __name__ == "__main__":
    main()
