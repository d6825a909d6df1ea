"""How much of a CSI task is carrier-phase invariance? Linear probes on pooled features, plain and averaged over
K rotations of the input's complex phase, and how far a rotation moves a sample's feature.

Experiment record: docs/experiments/channel_phase.md, "Phase-rotated views" and "An explicit invariance term"
(was tools/probe_phase.py). Run from the repository root with wfm installed:

    python docs/experiments/scripts/probe_phase.py runs/quickstart/version_0/checkpoints/last.ckpt --tasks beam los

For a wfm checkpoint's backbone (a JEPA's target encoder) and a random-init encoder of the same config (seed 0;
:func:`wfm.probe_layers.checkpoint_encoders`), on built-in tasks whose input is one (real, imaginary) channel
pair (default: every built-in CSI task of 2 channels in the registry — the rule the experiment used, until the
data format says which channels pair up). The rotation by phi maps (re, im) to (re cos phi - im sin phi,
re sin phi + im cos phi) on the standardised input (the two channels' statistics are equal to 3 digits on the
built-in sets). Per encoder and task it prints the probe (3 splits) on the plain and on the rotation-averaged
features, and the phase sensitivity: mean squared distance between a sample's feature and its randomly rotated
copy's, over the mean squared distance to another sample's (0: invariant).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from wfm.data.datamodules import DownstreamDataModule
from wfm.data.synthetic import builtin_tasks, describe
from wfm.eval.probe import linear_probe
from wfm.models import ViTEncoder
from wfm.probe_layers import checkpoint_encoders


def rotate(x: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
    """(B, 2, H, W) (re, im) channels times exp(j phi), phi (B,) or a scalar."""
    c, s = torch.cos(phi).view(-1, 1, 1), torch.sin(phi).view(-1, 1, 1)
    re, im = x[:, 0], x[:, 1]
    return torch.stack([c * re - s * im, s * re + c * im], 1)


def phase_features(enc: ViTEncoder, dm: DownstreamDataModule, k: int) -> dict[str, np.ndarray]:
    """Pooled features of every probe sample: ``plain``, ``averaged`` over k rotations, ``rotated`` by one random
    phase per sample (seeded), and the targets ``y``."""
    out: dict[str, list] = {"plain": [], "averaged": [], "rotated": [], "y": []}
    gen = torch.Generator().manual_seed(0)

    def pooled(x: torch.Tensor, channels: torch.Tensor, modality: str | None) -> torch.Tensor:
        h, valid = enc(x, channels, modality=modality)
        return enc.pool_tokens(h, valid)

    with torch.no_grad():
        for batch in dm.probe_dataloader():
            x, ch, mod = batch["x"], batch["channels"], batch.get("modality")
            if x.shape[1] != 2:
                raise ValueError(f"task {dm.task.name}: expected one (real, imaginary) channel pair, got "
                                 f"{x.shape[1]} channels")
            out["plain"].append(pooled(x, ch, mod))
            out["averaged"].append(sum(pooled(rotate(x, torch.tensor(2 * np.pi * i / k)), ch, mod)
                                       for i in range(k)) / k)
            out["rotated"].append(pooled(rotate(x, 2 * np.pi * torch.rand(len(x), generator=gen)), ch, mod))
            out["y"].append(torch.as_tensor(batch[dm.task.target]))
    return {key: torch.cat(v).numpy() for key, v in out.items()}


def complex_pair_tasks() -> list[str]:
    """Built-in CSI tasks of one (real, imaginary) channel pair, by the experiment's rule: 2 CSI channels."""
    return [t for t in builtin_tasks() if describe(t).modality == "csi" and describe(t).channels == 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ckpt")
    ap.add_argument("--tasks", nargs="+", default=None,
                    help="built-in tasks (default: every built-in CSI task of 2 channels; at the record: beam los)")
    ap.add_argument("--rotations", type=int, default=8)
    ap.add_argument("--n", type=int, default=2400)
    ap.add_argument("--size", type=int, default=56)
    args = ap.parse_args()
    encs = checkpoint_encoders(args.ckpt)
    for task in args.tasks or complex_pair_tasks():
        dm = DownstreamDataModule(task, n=args.n, size=args.size, batch_size=256)
        dm.prepare_data()
        for name in ("backbone", "random-init"):
            f = phase_features(encs[name], dm, args.rotations)
            other = f["plain"][np.random.default_rng(0).permutation(len(f["plain"]))]
            sens = ((f["plain"] - f["rotated"]) ** 2).sum(1).mean() / ((f["plain"] - other) ** 2).sum(1).mean()
            probes = [linear_probe(f[key], {dm.task.target: f["y"]}, dm.task, dm.split_indices, (0, 1, 2))
                      for key in ("plain", "averaged")]
            print(f"{task} {name}: plain {probes[0].mean:.1f} ± {probes[0].std:.1f}, averaged over "
                  f"{args.rotations} rotations {probes[1].mean:.1f} ± {probes[1].std:.1f}, phase sensitivity "
                  f"{sens:.2f}", flush=True)


if __name__ == "__main__":
    main()
