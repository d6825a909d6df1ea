"""Are the built-in downstream tasks learnable and not trivial? Linear probes on the raw inputs.

For each built-in task the preprocessed, standardised inputs (area-downsampled to ``--pixels`` per side so the
probe stays well-posed) go straight into the probe protocol of wfm.eval.probe (80/20 splits, seeds 0-2): a
score far above chance but far from perfect means the task is learnable and leaves room for representations.

    python tools/check_tasks.py --n 1600 --size 56 --pixels 14
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from wfm.data.datamodules import DownstreamDataModule
from wfm.eval.probe import linear_probe
from wfm.eval.tables import results_to_markdown


def raw_features(dm: DownstreamDataModule, pixels: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    feats, targets = [], {}
    for batch in dm.probe_dataloader():
        x = F.adaptive_avg_pool2d(batch["x"], pixels)  # (B, C, p, p)
        feats.append(x.flatten(1).numpy())
        for k, v in batch.items():
            if k not in ("x", "channels"):
                targets.setdefault(k, []).append(torch.as_tensor(v).numpy())
    return np.concatenate(feats), {k: np.concatenate(v) for k, v in targets.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1600)
    ap.add_argument("--size", type=int, default=56)
    ap.add_argument("--pixels", type=int, default=14)
    ap.add_argument("--tasks", nargs="+", default=["rfs", "positioning", "beam", "los"])
    args = ap.parse_args()
    results = {"raw inputs (linear)": []}
    chance = []
    for name in args.tasks:
        dm = DownstreamDataModule(dataset=name, n=args.n, size=args.size, batch_size=256)
        dm.prepare_data()
        dm.setup("test")
        feats, targets = raw_features(dm, args.pixels)
        results["raw inputs (linear)"].append(linear_probe(feats, targets, dm.task, dm.split_indices, (0, 1, 2)))
        y = targets[dm.task.target]
        if dm.task.kind == "classification":
            chance.append(f"{name}: chance {100 / dm.task.num_classes:.1f} % (majority class "
                          f"{100 * np.bincount(y).max() / len(y):.1f} %)")
        else:
            chance.append(f"{name}: predicting the mean position gives "
                          f"{np.linalg.norm(y - y.mean(0), axis=1).mean():.2f} {dm.task.units}")
    print(results_to_markdown(results))
    print("\n".join(chance))


if __name__ == "__main__":
    main()
