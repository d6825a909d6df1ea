"""Benchmark: time of the linear-probe fits (the sklearn part of `wfm test`), BLAS single- vs multi-threaded.

Features of a random-init quickstart-size encoder (56 x 56, patch 8, 128-d x 4) on the built-in image-like tasks,
1600 samples each, the protocol's 3 split seeds; times ``wfm.eval.probe.probe_once`` (BLAS limited to one
thread, what wfm does) against the same fit with the BLAS pools left at their default size. Writes
docs/benchmarks.md (section "Probe fit").

    python tools/bench_probe.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from threadpoolctl import threadpool_info

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdoc import publish  # noqa: E402

from wfm.data.datamodules import DownstreamDataModule  # noqa: E402
from wfm.data.synthetic import builtin_tasks, describe  # noqa: E402
from wfm.eval import probe  # noqa: E402
from wfm.eval.features import extract_features  # noqa: E402
from wfm.models import ViTEncoder  # noqa: E402


def fit_seconds(fit, feats, target, task, split_fn, seeds) -> tuple[float, float]:
    t = time.perf_counter()
    scores = [fit(feats, target, task, *split_fn(s), 1.0, 1e-3, 2000) for s in seeds]
    return time.perf_counter() - t, sum(scores) / len(scores)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=None,
                    help="built-in tasks (default: every built-in task that is not raw IQ)")
    ap.add_argument("--n", type=int, default=1600)
    ap.add_argument("--out", default="docs/benchmarks.md", help="Markdown file to update, or - to print only")
    args = ap.parse_args()
    args.tasks = args.tasks or [t for t in builtin_tasks() if describe(t).modality != "iq"]
    torch.manual_seed(0)
    enc = ViTEncoder(img_size=56, patch_size=8, embed_dim=128, depth=4, num_heads=4)
    blas = sorted({f"{i['internal_api']} x{i['num_threads']}" for i in threadpool_info()})
    lines = [
        f"Random-init quickstart encoder, {args.n} samples per task, 3 seeds (80/20 splits), torch threads "
        f"{torch.get_num_threads()}, thread pools at start: {', '.join(blas)}.",
        "",
        "| task | single-thread BLAS (s, 3 fits) | default BLAS threads (s, 3 fits) | speed-up | score (same) |",
        "|---|---|---|---|---|",
    ]
    for name in args.tasks:
        dm = DownstreamDataModule(dataset=name, n=args.n, size=56, batch_size=128)
        dm.prepare_data()
        dm.setup()
        feats, targets = extract_features(enc, dm.probe_dataloader(), bf16=False)
        target = targets[dm.task.target]
        one, s1 = fit_seconds(_limited, feats, target, dm.task,
                              dm.split_indices, (0, 1, 2))
        many, s2 = fit_seconds(probe._probe_once, feats, target, dm.task, dm.split_indices, (0, 1, 2))
        lines.append(f"| {name} | {one:.2f} | {many:.2f} | {many / one:.1f}× | {s1:.2f} / {s2:.2f} |")
        print(lines[-1], flush=True)
    publish(lines, args.out, "Probe fit")


def _limited(feats, target, task, tr, te, C, alpha, max_iter):  # noqa: ANN001
    return probe.probe_once(feats, target, task, tr, te, C=C, ridge_alpha=alpha, max_iter=max_iter)


if __name__ == "__main__":
    main()
