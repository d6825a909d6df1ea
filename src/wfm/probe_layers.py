"""Per-block linear probes: where in the encoder a task's information is kept or lost.

For a wfm checkpoint, its backbone (the target encoder of a JEPA), the context encoder where the checkpoint
holds one (JEPA) and a random-init encoder of the same config (seed 0) are each probed after every
transformer block: the linear-probe protocol (:func:`wfm.eval.probe.linear_probe`, 3 splits) on the block's
output pooled as the encoder pools (mean over real tokens, or its CLS token), before the final norm. Tasks
are built-in task names (the :mod:`wfm.data.synthetic` registry) or wfm HDF5 files; ``TASK:TARGET`` picks
one label of a multi-label task. Prints a line per encoder and task as it goes, then a Markdown table
(``--out FILE`` also writes it as a section of a Markdown file).

    wfm-probe-layers runs/cpu_proof/version_0/checkpoints/last.ckpt --tasks beam los
    wfm-probe-layers runs/iq_jepa/version_0/checkpoints/last.ckpt --tasks rffp interference:interference \\
        --size 1024      # raw-IQ tasks: --size is the IQ length the encoder takes

A block that scores below the one before it has lost some of what the task needs; a pretrained encoder
below its random-init twin at every block has lost it in the first (docs/experiments/channel_phase.md).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from wfm.checkpoint import build_encoder, load_backbone_with_meta, read_checkpoint
from wfm.data.datamodules import DownstreamDataModule
from wfm.doc_section import add_output_args, publish
from wfm.eval.features import extract_features
from wfm.eval.probe import ProbeResult, linear_probe
from wfm.eval.report import random_encoders
from wfm.models import ViTEncoder


class BlockFeatures(nn.Module):
    """``encoder`` seen through every block: ``features`` is the (B, depth * D) concatenation of each block's
    pooled output, so one pass of :func:`wfm.eval.features.extract_features` gives all of them."""

    def __init__(self, encoder: ViTEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def features(self, x: torch.Tensor, channels: torch.Tensor | None = None, **kw: Any) -> torch.Tensor:
        """As :meth:`ViTEncoder.features` (``channel_ids``, ``modality`` pass through), every block's pooling."""
        outs, valid = self.encoder.forward_intermediates(x, channels, last=len(self.encoder.blocks), **kw)
        return torch.cat([self.encoder.pool_tokens(h, valid) for h in outs], dim=1)


def checkpoint_encoders(path: str | os.PathLike, seed: int = 0) -> dict[str, ViTEncoder]:
    """The encoders to compare, by row name: ``backbone`` (what :func:`wfm.checkpoint.load_backbone` reads: a
    JEPA's target encoder), ``context`` (a JEPA checkpoint's context encoder) and ``random-init`` (the
    backbone's config and init, drawn with ``seed``). Nothing in the file is unpickled as code."""
    path = Path(path)
    backbone, meta = load_backbone_with_meta(path)
    out = {"backbone": backbone.eval()}
    if path.suffix not in (".safetensors", ".json") and path.is_file():
        # the backbone entry holds one encoder; a JEPA's other one is only in the Lightning state dict
        state = read_checkpoint(path).get("state_dict", {})
        if any(k.startswith("target_encoder.") for k in state):
            context = {k.removeprefix("encoder."): v for k, v in state.items() if k.startswith("encoder.")}
            out["context"] = build_encoder(meta["config"], context, f"{path} (context encoder)").eval()
    out["random-init"] = next(iter(random_encoders(meta["config"], seed).values())).eval()
    return out


def block_probes(
    encoder: ViTEncoder, task: DownstreamDataModule, seeds: Sequence[int] = (0, 1, 2)
) -> list[ProbeResult]:
    """The linear-probe result of every block's pooled output on ``task``, first block to last."""
    feats, targets = extract_features(BlockFeatures(encoder), task.probe_dataloader(), bf16=False)
    per_block = feats.reshape(len(feats), len(encoder.blocks), -1)
    return [linear_probe(np.ascontiguousarray(per_block[:, i]), targets, task.task, task.split_indices, seeds)
            for i in range(len(encoder.blocks))]


def table(results: dict[str, dict[str, list[ProbeResult]]]) -> list[str]:
    """Markdown lines: one row per encoder, one column per task with the blocks' means ``b1 / b2 / ...``."""
    tasks = list(next(iter(results.values()), {}))
    depth = max((len(r) for per_task in results.values() for r in per_task.values()), default=0)
    blocks = " / ".join(str(i + 1) for i in range(depth))
    lines = ["| encoder | " + " | ".join(f"{t}: block {blocks}" for t in tasks) + " |",
             "|---|" + "---|" * len(tasks)]
    for name, per_task in results.items():
        lines.append(f"| {name} | " + " | ".join(_means(per_task[t]) for t in tasks) + " |")
    return lines


def _means(row: Sequence[ProbeResult]) -> str:
    d = 1 if not row or row[0].higher_is_better else 2
    return " / ".join(f"{r.mean:.{d}f}" for r in row)


def _seed(text: str) -> int:
    """A probe split seed: an integer >= 0 (numpy's generators take no negative seed)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="wfm-probe-layers", description=__doc__.splitlines()[0],
                                 epilog="See the module docstring of wfm.probe_layers for the rows probed.")
    ap.add_argument("ckpt", help="a wfm Lightning checkpoint (.ckpt) or an exported backbone")
    ap.add_argument("--tasks", nargs="+", required=True, metavar="TASK[:TARGET]",
                    help="built-in task names or wfm HDF5 files; TASK:TARGET picks a label of a multi-label task")
    ap.add_argument("--n", type=int, default=2400, help="samples of a built-in task (default: %(default)s)")
    ap.add_argument("--size", type=int, default=None,
                    help="model input size of every task given (default: the encoder's image size; for raw-IQ tasks "
                         "the IQ length, so probe those in a run of their own)")
    ap.add_argument("--seeds", type=_seed, nargs="+", default=[0, 1, 2], help="probe split seeds (default: 0 1 2)")
    ap.add_argument("--batch-size", type=int, default=256)
    add_output_args(ap, "Per-block probes")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = parser()
    args = ap.parse_args(argv)
    if args.out != "-" and Path(args.out).is_dir():  # found before the probes run, not after
        ap.error(f"--out {args.out}: is a folder; expected a Markdown file (or - to print only)")
    try:
        encoders = checkpoint_encoders(args.ckpt)
    except (FileNotFoundError, ValueError) as err:
        ap.error(str(err))
    size = args.size or encoders["backbone"].img_size
    results: dict[str, dict[str, list[ProbeResult]]] = {name: {} for name in encoders}
    for spec in args.tasks:
        dataset, _, target = spec.partition(":")
        dm = DownstreamDataModule(dataset, target=target or None, n=args.n, size=size, batch_size=args.batch_size)
        for name, enc in encoders.items():
            try:  # a task the encoder cannot read (another modality, another size) is named, not a traceback
                row = block_probes(enc, dm, tuple(args.seeds))
            except (FileNotFoundError, KeyError, ValueError) as err:
                ap.error(f"--tasks {spec!r}: {err}")
            results[name][spec] = row
            print(f"{spec} {name}: {_means(row)}", flush=True)
    try:
        publish(table(results), args.out, args.title, shlex.join(["wfm-probe-layers", *argv]))
    except OSError as err:
        said = err.strerror if str(args.out) in str(err.strerror) else f"{args.out}: {err.strerror or err}"
        ap.error(f"--out {said} (the table is printed above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
