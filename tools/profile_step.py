"""Profile one wfm JEPA (or MAE) train step at the LatentWave size: where the time goes, by operator.

Runs a warm-up step, then one step under ``torch.profiler`` (CPU), and writes the operators with the largest
self CPU time, grouped as matmul-like / attention / elementwise+norm / data movement / other, into
docs/benchmarks.md (section "Profile of a train step").

    python tools/profile_step.py                    # JEPA, 1 channel, batch 16
    python tools/profile_step.py --method mae --out -
    python tools/profile_step.py --device cuda --batch 256 --bf16 --steps 20   # GPU busy share of the steps
    python tools/profile_step.py --device cuda --batch 256 --bf16 --steps 20 --compile

With ``--device cuda`` it profiles ``--steps`` steps with CUDA activity and reports the **GPU busy share**: the
union of the kernels' time intervals over the wall time from the first step's start to the last kernel's end
(section "GPU busy share"); a host-bound step shows as gaps between kernels. The table also gives the kernels
launched per step, the host time per step (Python + launches; above the kernel time means host-bound) and the
operators with the most device time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile, record_function

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_step import device_name, make_method, step_fn, sync, time_steps  # noqa: E402
from benchdoc import publish  # noqa: E402

GROUPS = {
    "matmul": ("aten::addmm", "aten::mm", "aten::bmm", "aten::matmul", "aten::linear", "aten::convolution",
               "aten::mkldnn_convolution", "aten::_convolution"),
    "attention": ("aten::_scaled_dot_product", "aten::scaled_dot_product", "aten::_softmax", "aten::softmax"),
    "elementwise / norm": ("aten::gelu", "aten::native_layer_norm", "aten::layer_norm", "aten::add", "aten::mul",
                           "aten::div", "aten::sub", "aten::gelu_backward", "aten::native_layer_norm_backward",
                           "aten::_foreach", "aten::lerp", "aten::addcmul", "aten::addcdiv", "aten::sqrt",
                           "aten::mse_loss", "aten::pow", "aten::sum", "aten::mean"),
    "data movement": ("aten::copy_", "aten::index", "aten::gather", "aten::scatter", "aten::cat", "aten::clone",
                      "aten::contiguous", "aten::masked", "aten::where", "aten::_index_put", "aten::index_put",
                      "aten::nonzero", "aten::sort", "aten::repeat", "aten::expand", "aten::to", "aten::_to_copy",
                      "aten::fill_", "aten::zero_", "aten::zeros", "aten::empty"),
}


def group_of(name: str) -> str:
    for group, prefixes in GROUPS.items():
        if any(name.startswith(p) for p in prefixes):
            return group
    return "other"


def device_kernels(events) -> list:  # noqa: ANN001
    """The device-side kernel (and memcpy/memset) events, without the GPU copies of ``record_function`` ranges
    (a ``step`` range also appears on the device timeline and would count as busy for its whole length)."""
    return [e for e in events if e.device_type == DeviceType.CUDA and e.name != "step"
            and not getattr(e, "is_user_annotation", False)]


def step_ranges(events) -> list:  # noqa: ANN001
    """The host-side ``step`` ranges of the profile."""
    return [e.time_range for e in events if e.name == "step" and e.device_type == DeviceType.CPU]


def busy_share(kernel_events: list, steps: list) -> tuple[float, float]:
    """(share of the wall time some kernel runs, wall ms) from the first ``step`` range to the last kernel's end."""
    kernels = sorted((e.time_range.start, e.time_range.end) for e in kernel_events)
    if not kernels or not steps:
        raise RuntimeError("the profile has no CUDA kernels or no step ranges: was it run with --device cuda?")
    start, end = min(r.start for r in steps), max(k[1] for k in kernels)
    busy, cur_s, cur_e = 0.0, None, None
    for s, e in kernels:  # union of possibly overlapping intervals (several streams)
        s, e = max(s, start), min(e, end)
        if e <= s:
            continue
        if cur_e is None or s > cur_e:
            busy += 0.0 if cur_e is None else cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    busy += 0.0 if cur_e is None else cur_e - cur_s
    return busy / (end - start), (end - start) / 1e3


def gpu_main(args: argparse.Namespace) -> None:
    torch.manual_seed(0)
    model = make_method(args.method, compile=args.compile).to(args.device)
    opt = model.configure_optimizers()
    batch = {"x": torch.randn(args.batch, args.channels, 112, 112, device=args.device),
             "channels": torch.full((args.batch,), args.channels, device=args.device),
             "channels_host": np.full(args.batch, args.channels)}
    run = step_fn(model, opt, batch, bf16=args.bf16)
    for i in range(3):  # warm-up (and the compile)
        run(i)
    sync(args.device)
    plain_ms = time_steps(run, args.steps, args.device, warmup=False) * 1e3  # the profiler slows the host side
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for i in range(args.steps):
            with record_function("step"):
                run(3 + i)
        sync(args.device)
    if args.trace:
        prof.export_chrome_trace(args.trace)
    events = prof.events()
    kernels, steps = device_kernels(events), step_ranges(events)
    share, wall = busy_share(kernels, steps)
    host_ms = sum(r.elapsed_us() for r in steps) / 1e3 / args.steps
    # operators (host-side events) ranked by the device time of the kernels they launch themselves
    by_op = sorted((e for e in prof.key_averages() if e.device_type == DeviceType.CPU),
                   key=lambda e: -e.self_device_time_total)
    device_total = sum(e.time_range.elapsed_us() for e in kernels)
    lines = [
        f"{args.method.upper()}, LatentWave size, {args.channels} channel(s), batch {args.batch}, "
        f"{'bf16' if args.bf16 else 'fp32'}, {'compiled' if args.compile else 'eager'}, {device_name(args.device)}, "
        f"torch {torch.__version__}: {args.steps} steps after 3 warm-up steps. Without the profiler: "
        f"{plain_ms:.1f} ms per step (median), {args.batch / plain_ms * 1e3:.0f} samples/s; under it "
        f"{wall / args.steps:.1f} ms per step. Busy share = union of kernel intervals / wall time under the "
        "profiler (which slows the host side); kernel time / step = the kernels' summed time over the "
        "unprofiled step time.",
        "",
        "| GPU busy share (under the profiler) | kernel time / step (no profiler) | kernels per step "
        "| host time per step, profiled (ms) | kernel time per step (ms) |",
        "|---|---|---|---|---|",
        f"| {100 * share:.1f} % | {100 * device_total / 1e3 / args.steps / plain_ms:.1f} % "
        f"| {len(kernels) / args.steps:.0f} | {host_ms:.1f} | {device_total / 1e3 / args.steps:.1f} |",
        "",
        "| operator (self device time) | calls per step | ms per step | share |",
        "|---|---|---|---|",
    ]
    for e in [e for e in by_op if e.self_device_time_total > 0][: args.top]:
        ms = e.self_device_time_total / 1e3 / args.steps
        lines.append(f"| `{e.key[:80]}` | {e.count / args.steps:.0f} | {ms:.2f} "
                     f"| {100 * e.self_device_time_total / max(device_total, 1e-9):.1f} % |")
    publish(lines, args.out, f"GPU busy share ({args.method.upper()}{', compiled' if args.compile else ''})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="jepa", choices=["jepa", "mae"])
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--device", default="cpu", help="cpu (operator profile) or cuda[:N] (GPU busy share)")
    ap.add_argument("--steps", type=int, default=20, help="profiled steps (--device cuda)")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast (--device cuda)")
    ap.add_argument("--compile", action="store_true", help="compile=True (--device cuda)")
    ap.add_argument("--trace", help="also write the profiler's Chrome trace here (--device cuda)")
    ap.add_argument("--out", default="docs/benchmarks.md", help="Markdown file to update, or - to print only")
    args = ap.parse_args()
    if torch.device(args.device).type == "cuda":
        gpu_main(args)
        return
    torch.manual_seed(0)
    model = make_method(args.method)
    opt = model.configure_optimizers()
    batch = {"x": torch.randn(args.batch, args.channels, 112, 112),
             "channels": torch.full((args.batch,), args.channels)}
    run = step_fn(model, opt, batch, bf16=False)
    run(0)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run(1)
    events = [e for e in prof.key_averages() if e.key.startswith("aten::")]
    total = sum(e.self_cpu_time_total for e in prof.key_averages())
    groups: dict[str, float] = {}
    for e in events:
        groups[group_of(e.key)] = groups.get(group_of(e.key), 0.0) + e.self_cpu_time_total
    groups["non-aten (Python, autograd engine, optimizer glue)"] = total - sum(groups.values())
    lines = [
        f"{args.method.upper()}, LatentWave size, {args.channels} channel(s), batch {args.batch}, fp32, "
        f"{torch.get_num_threads()} threads: one step after a warm-up, self CPU time {total / 1e3:.0f} ms.",
        "",
        "| group | self CPU ms | share |",
        "|---|---|---|",
    ]
    for g, t in sorted(groups.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {g} | {t / 1e3:.0f} | {100 * t / total:.0f} % |")
    lines += ["", "| operator | calls | self CPU ms | share |", "|---|---|---|---|"]
    for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[: args.top]:
        lines.append(f"| `{e.key}` | {e.count} | {e.self_cpu_time_total / 1e3:.1f} | "
                     f"{100 * e.self_cpu_time_total / total:.1f} % |")
    publish(lines, args.out, f"Profile of a train step ({args.method.upper()})")


if __name__ == "__main__":
    main()
