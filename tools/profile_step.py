"""Profile one wfm JEPA (or MAE) train step at the LatentWave size: where the time goes, by operator.

Runs a warm-up step, then one step under ``torch.profiler`` (CPU), and writes the operators with the largest
self CPU time, grouped as matmul-like / attention / elementwise+norm / data movement / other, into
docs/benchmarks.md (section "Profile of a train step").

    python tools/profile_step.py                    # JEPA, 1 channel, batch 16
    python tools/profile_step.py --method mae --out -
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_step import make_method, step_fn  # noqa: E402
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="jepa", choices=["jepa", "mae"])
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--out", default="docs/benchmarks.md", help="Markdown file to update, or - to print only")
    args = ap.parse_args()
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
