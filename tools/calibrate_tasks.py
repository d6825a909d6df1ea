"""Calibration of the built-in downstream tasks: is each one learnable, far from trivial, and discriminative?

For every task it measures, on the probe protocol's three 80/20 splits (seeds 0, 1, 2):

* a linear probe on the raw standardised inputs (area-downsampled to ``--pixels`` per side);
* linear probes on random-init encoders (one per init scheme) and the strongest of them;
* the same encoder trained from scratch on the task (``wfm.methods.Supervised``, scored on the split's
  held-out 20 %, mean per-class accuracy / mean error as the probe reports them);
* chance (1 / classes, majority class) or the mean-position predictor.

A task is calibrated when supervised training beats the strongest random-feature baseline by >= 10 points
(classification) or >= 1.3x (positioning error) and raw inputs stay well below both. Writes the table into
docs/datasets_synthetic.md (section "Calibration", or "Calibration (IQ tasks)" for raw-IQ tasks, whose raw
row is a linear probe on the whole flattened ``(A, 2, T)`` window and whose encoder has an IQ tokenizer).

The tasks are the built-in registry's (:func:`wfm.data.synthetic.builtin_tasks`): by default every one that is
not raw IQ; a multi-label task is calibrated on its first label.

    python tools/calibrate_tasks.py --n 2400 --epochs 20
    python tools/calibrate_tasks.py --n 2400 --epochs 15 --tasks rffp interference
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdoc import publish  # noqa: E402

from wfm.data.datamodules import DownstreamDataModule  # noqa: E402
from wfm.data.synthetic import builtin_tasks, describe  # noqa: E402
from wfm.eval.features import batch_labels, extract_features  # noqa: E402
from wfm.eval.probe import ProbeResult, linear_probe  # noqa: E402
from wfm.eval.report import (
    probe_rows,  # noqa: E402
    random_encoders,  # noqa: E402
)
from wfm.eval.tables import format_cell  # noqa: E402
from wfm.methods.supervised import Supervised  # noqa: E402
from wfm.models.encoder import ViTEncoder  # noqa: E402

ENCODER = dict(img_size=56, patch_size=8, embed_dim=128, depth=4, num_heads=4, channel_embed="fixed")
IQ_LENGTH = 1024


def raw_features(dm: DownstreamDataModule, pixels: int, iq: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    feats, targets = [], {}
    for batch in dm.probe_dataloader():
        x = batch["x"]
        feats.append((x.flatten(1) if iq else F.adaptive_avg_pool2d(x, pixels).flatten(1)).numpy())
        for k, v in batch_labels(batch).items():
            targets.setdefault(k, []).append(torch.as_tensor(v).numpy())
    return np.concatenate(feats), {k: np.concatenate(v) for k, v in targets.items()}


def supervised(dm_args: dict, encoder: dict, seeds: tuple[int, ...], epochs: int) -> ProbeResult:
    """Train the encoder + linear head from scratch on each split; the held-out metric per seed."""
    values = []
    for seed in seeds:
        L.seed_everything(seed)
        dm = DownstreamDataModule(**dm_args, split_seed=seed, seed=seed)
        dm.prepare_data()
        task = dm.task
        kind = dict(task_kind=task.kind, target=task.target)
        kind.update(num_classes=task.num_classes) if task.kind == "classification" else kind.update(target_dim=3)
        model = Supervised(encoder=ViTEncoder(**encoder), label_smoothing=0.1 if task.kind == "classification" else 0,
                           seed=seed, lr=5e-4, lr_start=0.0, weight_decay_start=0.05, weight_decay_end=0.05, **kind)
        trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", precision="32-true", logger=False,
                            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                            num_sanity_val_steps=0)
        trainer.fit(model, datamodule=dm)
        values.append(float(trainer.callback_metrics[f"val/{task.metric}"]))
        print(f"supervised {task.name} seed {seed}: {values[-1]:.2f}", flush=True)
    arr = np.asarray(values)
    return ProbeResult(task.name, task.metric, values, float(arr.mean()), float(arr.std()),
                       "%" if task.kind == "classification" else (task.units or ""),
                       task.kind == "classification", list(seeds))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2400)
    ap.add_argument("--size", type=int, default=56)
    ap.add_argument("--pixels", type=int, default=14)
    ap.add_argument("--epochs", type=int, default=20, help="supervised epochs (0: skip supervised training)")
    ap.add_argument("--tasks", nargs="+", choices=builtin_tasks(), default=None, metavar="TASK",
                    help=f"built-in tasks, of one kind: image-like or raw IQ (default: every one that is not raw "
                         f"IQ; choices: {' '.join(builtin_tasks())})")
    ap.add_argument("--options", type=json.loads, default={},
                    help='generator options of the tasks as JSON, e.g. \'{"rffp": {"payload": "preamble"}}\'')
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="split seeds")
    ap.add_argument("--encoder", type=json.loads, default={},
                    help="encoder options over the CPU recipes' encoder as JSON, "
                         'e.g. \'{"complex_tokens": "modulus"}\'')
    ap.add_argument("--out", default="docs/datasets_synthetic.md", help="Markdown file to update, or - to print")
    args = ap.parse_args()
    args.tasks = args.tasks or [t for t in builtin_tasks() if describe(t).modality != "iq"]
    iq_tasks = [t for t in args.tasks if describe(t).modality == "iq"]
    if iq_tasks and len(iq_tasks) != len(args.tasks):
        ap.error("calibrate image-like and IQ tasks in separate runs (separate tables)")
    iq = bool(iq_tasks)
    encoder = {**ENCODER, **({"iq_length": IQ_LENGTH} if iq else {}), **args.encoder}
    seeds = tuple(args.seeds)
    rows: dict[str, list[ProbeResult]] = {}
    chance: list[str] = []
    start = time.time()
    for name in args.tasks:
        dm_args = dict(dataset=name, n=args.n, size=IQ_LENGTH if iq else args.size, batch_size=64,
                       target=next(iter(describe(name).labels)), options=args.options.get(name))
        dm = DownstreamDataModule(**{**dm_args, "batch_size": 256})
        dm.prepare_data()
        feats, targets = raw_features(dm, args.pixels, iq)
        rows.setdefault("linear on raw inputs", []).append(
            linear_probe(feats, targets, dm.task, dm.split_indices, seeds))
        encs = random_encoders(encoder)
        per_task = [(dm, {row: extract_features(e, dm.probe_dataloader(), bf16=False)[0] for row, e in encs.items()},
                     targets)]
        for row, res in probe_rows(per_task, seeds).items():
            rows.setdefault(row, []).extend(res)
        if args.epochs > 0:
            rows.setdefault("supervised from scratch", []).append(supervised(dm_args, encoder, seeds, args.epochs))
        y = targets[dm.task.target]
        if dm.task.kind == "classification":
            chance.append(f"{name}: chance {100 / dm.task.num_classes:.1f} %, majority class "
                          f"{100 * np.bincount(y).max() / len(y):.1f} %")
        else:
            chance.append(f"{name}: predicting the mean position gives "
                          f"{np.linalg.norm(y - y.mean(0), axis=1).mean():.2f} {dm.task.units}")
    tasks = [r.task for r in rows["linear on raw inputs"]]
    shape = f"raw IQ windows of {IQ_LENGTH} samples per antenna" if iq else f"{args.size} x {args.size}"
    tokens = (f"IQ tokenizer: {IQ_LENGTH // 16} segments of 16 samples per antenna, fixed antenna codes" if iq
              else f"patch {ENCODER['patch_size']}, fixed channel codes")
    raw = ("the whole flattened standardised (A, 2, T) window" if iq
           else f"{args.pixels} x {args.pixels} average-pooled standardised inputs")
    lines = [
        f"{args.n} samples per task, {shape}, {len(seeds)} 80/20 split(s) (seeds {seeds}), mean ± std. "
        + (f"Generator options: {json.dumps(args.options)}. " if args.options else "")
        + (f"Encoder options: {json.dumps(args.encoder)}. " if args.encoder else "") +
        f"Encoder: {ENCODER['embed_dim']}-d x {ENCODER['depth']} blocks, {tokens} (the CPU recipes' encoder). "
        f"Supervised: {args.epochs} epochs from scratch, AdamW lr 5e-4, label smoothing 0.1, scored on each "
        f"split's 20 %. Raw: linear probe on {raw}. Total {time.time() - start:.0f} s.",
        "",
        "| | " + " | ".join(f"{t} {'acc (%) ↑' if r.higher_is_better else 'error (m) ↓'}"
                          for t, r in zip(tasks, rows["linear on raw inputs"], strict=True)) + " |",
        "|---|" + "---|" * len(tasks),
    ]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(format_cell(r) for r in row) + " |")
    if "supervised from scratch" in rows:
        gaps = []
        for sup, best in zip(rows["supervised from scratch"], rows["strongest random"], strict=True):
            if sup.higher_is_better:
                gaps.append(f"{sup.task} {sup.mean - best.mean:+.1f} points")
            else:
                gaps.append(f"{sup.task} {best.mean / sup.mean:.2f}x lower error")
        lines += ["", "Supervised vs strongest random: " + ", ".join(gaps) + "."]
    lines += ["", "Chance: " + "; ".join(chance) + "."]
    publish(lines, args.out, "Calibration (IQ tasks)" if iq else "Calibration")


if __name__ == "__main__":
    main()
