"""Learning parity with the official I-JEPA code: train it on wfm's built-in spectrograms, probe it with wfm.

The official implementation is *not* part of wfm: give the path of a local checkout of
facebookresearch/ijepa (pinned: commit 52c1ae9); its modules are imported from there, nothing is copied.
This script trains, on the same data, model size, optimizer steps and batch as a wfm JEPA run:

* the official ViT encoder and predictor (``src.models.vision_transformer``, ``in_chans=1``) with the
  initialisation of its ``helper.init_model`` (every Linear ``trunc_normal(0.02)``, LayerNorms 1 / 0);
* its multi-block mask collator (``src.masks.multiblock.MaskCollator``), its optimizer and schedules
  (``src.helper.init_opt``: AdamW without decay on biases and 1-D parameters, ``WarmupCosineSchedule``,
  ``CosineWDSchedule``), its loss (smooth-L1 against layer-normed target-encoder outputs, ``apply_masks``,
  ``repeat_interleave_batch``) and its linear EMA schedule, applied parameter by parameter after each step;

then extracts mean-pooled features of its target encoder and probes them with wfm's protocol
(:func:`wfm.eval.probe.linear_probe`, 3 splits) on the built-in ``rfs`` task — beside a wfm checkpoint given
with ``--wfm`` (probed through exactly the same feature path) and random-init encoders of both codes.

The collator needs ``min_keep`` below wfm's ``min_context=10``: with 10 it never returns on a 7 x 7 grid with
4 targets (its ``acceptable regions`` loop), so it runs with its own default of 4 — the closest setting it
accepts — and the table reports the context / target tokens each side really encoded.

Experiment record: docs/experiments/baselines.md, "Learning parity with the official I-JEPA code" (was
tools/reference_learning.py; it borrows ``imported_from`` from tools/bench_reference.py). Run from the
repository root with wfm installed:

    python docs/experiments/scripts/reference_learning.py --ijepa ~/src/ijepa \\
        --wfm runs/proof_spec/version_0/checkpoints/last.ckpt
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools"))
from bench_reference import imported_from  # noqa: E402

from wfm.checkpoint import load_backbone  # noqa: E402
from wfm.data.datamodules import DownstreamDataModule  # noqa: E402
from wfm.data.datasets.builtin import BuiltinDataset  # noqa: E402
from wfm.doc_section import publish, script_command  # noqa: E402
from wfm.eval.features import extract_features  # noqa: E402
from wfm.eval.probe import linear_probe  # noqa: E402
from wfm.eval.report import random_encoders  # noqa: E402
from wfm.eval.tables import format_cell  # noqa: E402


class PooledTarget(torch.nn.Module):
    """An official I-JEPA encoder behind wfm's ``features(x, channels)``: mean of its (normed) output tokens."""

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def features(self, x: torch.Tensor, channels: torch.Tensor | None = None) -> torch.Tensor:
        return self.encoder(x[:, :1]).mean(1)


def train_official(root: Path, args: argparse.Namespace, data: BuiltinDataset) -> tuple[PooledTarget, dict]:
    with imported_from(root):
        vit = importlib.import_module("src.models.vision_transformer")
        multiblock = importlib.import_module("src.masks.multiblock")
        helper = importlib.import_module("src.helper")
        mask_utils = importlib.import_module("src.masks.utils")
        tensors = importlib.import_module("src.utils.tensors")
    torch.manual_seed(args.seed)
    encoder = vit.VisionTransformer(img_size=[args.size], patch_size=args.patch, in_chans=1, embed_dim=args.dim,
                                    depth=args.depth, num_heads=args.heads)
    predictor = vit.VisionTransformerPredictor(num_patches=(args.size // args.patch) ** 2, embed_dim=args.dim,
                                               predictor_embed_dim=args.pred_dim, depth=args.pred_depth,
                                               num_heads=args.pred_heads)
    for m in list(encoder.modules()) + list(predictor.modules()):  # helper.init_model's initialisation
        if isinstance(m, torch.nn.Linear):
            tensors.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                torch.nn.init.constant_(m.bias, 0)
        elif isinstance(m, torch.nn.LayerNorm):
            torch.nn.init.constant_(m.bias, 0)
            torch.nn.init.constant_(m.weight, 1.0)
    target = copy.deepcopy(encoder).requires_grad_(False)
    collator = multiblock.MaskCollator(input_size=(args.size, args.size), patch_size=args.patch,
                                       enc_mask_scale=(0.85, 1.0), pred_mask_scale=(0.15, 0.2),
                                       aspect_ratio=(0.75, 1.5), nenc=1, npred=args.targets, min_keep=4,
                                       allow_overlap=False)
    loader = DataLoader(data, batch_size=args.batch, shuffle=True, drop_last=True, collate_fn=collator,
                        generator=torch.Generator().manual_seed(args.seed))
    ipe = len(loader)
    epochs = -(-args.steps // ipe)
    optimizer, _, scheduler, wd_scheduler = helper.init_opt(
        encoder=encoder, predictor=predictor, iterations_per_epoch=ipe, start_lr=args.lr_start, ref_lr=args.lr,
        warmup=args.warmup_fraction * args.steps / ipe, num_epochs=args.steps / ipe, wd=0.04, final_wd=0.4,
        final_lr=1e-6, use_bfloat16=False, ipe_scale=1.0)
    momentum = np.linspace(args.ema[0], args.ema[1], args.steps + 1)
    step, losses, tokens, start = 0, [], [], time.perf_counter()
    for _ in range(epochs):
        for batch, masks_enc, masks_pred in loader:
            if step == args.steps:
                break
            imgs = batch["x"][:, :1]
            scheduler.step()
            wd_scheduler.step()
            with torch.no_grad():
                h = target(imgs)
                h = F.layer_norm(h, (h.size(-1),))
                h = tensors.repeat_interleave_batch(mask_utils.apply_masks(h, masks_pred), len(imgs),
                                                    repeat=len(masks_enc))
            z = predictor(encoder(imgs, masks_enc), masks_enc, masks_pred)
            loss = F.smooth_l1_loss(z, h)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            with torch.no_grad():
                m = float(momentum[step])
                for q, k in zip(encoder.parameters(), target.parameters(), strict=True):
                    k.data.mul_(m).add_((1.0 - m) * q.detach().data)
            losses.append(float(loss))
            tokens.append((masks_enc[0].shape[1], sum(p.shape[1] for p in masks_pred)))
            step += 1
            if step % 50 == 0:
                print(f"official I-JEPA step {step}/{args.steps} loss {np.mean(losses[-50:]):.4f}", flush=True)
    info = {"seconds": time.perf_counter() - start, "loss_first": float(np.mean(losses[:20])),
            "loss_last": float(np.mean(losses[-20:])), "tokens": np.mean(tokens, axis=0).tolist()}
    fresh = vit.VisionTransformer(img_size=[args.size], patch_size=args.patch, in_chans=1, embed_dim=args.dim,
                                  depth=args.depth, num_heads=args.heads)
    return PooledTarget(target.eval()), {**info, "random": PooledTarget(fresh.eval())}


def probe(encoder: torch.nn.Module, task: DownstreamDataModule, seeds: tuple[int, ...]):
    feats, targets = extract_features(encoder, task.probe_dataloader(), bf16=False)
    return linear_probe(feats, targets, task.task, task.split_indices, seeds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ijepa", type=Path, required=True, help="local checkout of facebookresearch/ijepa")
    ap.add_argument("--wfm", type=Path, help="wfm JEPA checkpoint trained on the same data and budget")
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--n", type=int, default=4000, help="built-in spectrogram samples (pretraining data)")
    ap.add_argument("--size", type=int, default=56)
    ap.add_argument("--patch", type=int, default=8)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--pred-dim", type=int, default=64)
    ap.add_argument("--pred-depth", type=int, default=2)
    ap.add_argument("--pred-heads", type=int, default=4)
    ap.add_argument("--targets", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--lr-start", type=float, default=2e-4)
    ap.add_argument("--warmup-fraction", type=float, default=0.1)
    ap.add_argument("--ema", type=float, nargs=2, default=(0.98, 0.995))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--probe-n", type=int, default=3000, help="samples of the rfs probe task")
    ap.add_argument("--out", default="-", help="Markdown file to update (section 'Learning parity with the "
                    "official I-JEPA code'), or - to print only")
    args = ap.parse_args()
    if not (args.ijepa / "src" / "masks" / "multiblock.py").is_file():
        ap.error(f"--ijepa {args.ijepa}: not a checkout of facebookresearch/ijepa")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    data = BuiltinDataset("spectrogram", args.n, size=args.size, labels=False)
    official, info = train_official(args.ijepa, args, data)
    task = DownstreamDataModule("rfs", n=args.probe_n, size=args.size, batch_size=256)
    task.prepare_data()
    seeds = (0, 1, 2)
    rows = [("official I-JEPA (52c1ae9), target encoder", probe(official, task, seeds)),
            ("official I-JEPA, random init (its init)", probe(info.pop("random"), task, seeds))]
    if args.wfm is not None:
        backbone = load_backbone(args.wfm)
        rows.append((f"wfm JEPA `{args.wfm}`", probe(backbone.eval(), task, seeds)))
        for name, enc in random_encoders(backbone.config).items():
            rows.append((f"wfm {name}", probe(enc.eval(), task, seeds)))
    print(json.dumps(info))
    lines = [
        f"Built-in `spectrogram` pretraining data ({args.n} samples, {args.size} x {args.size}), {args.steps} "
        f"optimizer steps of batch {args.batch}, encoder {args.dim}-d x {args.depth} blocks (patch {args.patch}), "
        f"predictor {args.pred_dim}-d x {args.pred_depth}, {args.targets} target blocks, lr {args.lr_start} -> "
        f"{args.lr} (warm-up {args.warmup_fraction:.0%}) -> 1e-6, EMA {args.ema[0]} -> {args.ema[1]}. "
        f"Official run: {info['seconds']:.0f} s, smooth-L1 loss {info['loss_first']:.4f} (first 20 steps) -> "
        f"{info['loss_last']:.4f} (last 20), context / target tokens per sample {info['tokens'][0]:.1f} / "
        f"{info['tokens'][1]:.1f} (its collator, min_keep 4). Probe: built-in `rfs`, {args.probe_n} samples, "
        "wfm's linear-probe protocol on mean-pooled target-encoder features, 3 splits.",
        "",
        "| encoder | rfs acc (%) ↑ |",
        "|---|---|",
        *[f"| {name} | {format_cell(r)} |" for name, r in rows],
    ]
    publish(lines, args.out, "Learning parity with the official I-JEPA code", script_command())


if __name__ == "__main__":
    main()
