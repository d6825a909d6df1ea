"""Method search at the quickstart budget: pretrain one JEPA / MAE variant on the built-in mix, probe it on the
built-in image-like tasks (3 splits) next to random-init encoders of both init schemes; one JSON line per run.

Experiment record: docs/experiments/baselines.md, "Method search at the quickstart budget" (was
tools/method_search.py). Its runs were made with this script, run from the repository root, e.g.

    python docs/experiments/scripts/method_search.py base_xavier '{}'
    python docs/experiments/scripts/method_search.py ijepa_sigreg005 \\
        '{"encoder": {"init": "ijepa"}, "regularizer": "sigreg", "reg_weight": 0.05}'
    python docs/experiments/scripts/method_search.py v3_xavier_lr3 '{"lr": 3e-3}'

Defaults: the small encoder (56 x 56, patch 8, 128-d x 4, fixed channel codes, xavier), 5 built-in pretraining
sets of 1000 samples, batch 64, 6 epochs (450 steps), region M = 4, EMA 0.98 -> 0.995, lr 1e-3; JSON overrides
replace method arguments (``encoder``, ``data``, ``masking``, ``epochs``, ``method`` are special keys). The
probe tasks are every built-in task that is not raw IQ (the registry's; at the record: rfs, positioning, beam,
los). Appends the result to ``$WFM_SEARCH_LOG`` (default runs/method_search.jsonl).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import lightning as L
import torch

from wfm.data.datamodules import DownstreamDataModule, PretrainDataModule
from wfm.data.synthetic import builtin_tasks, describe
from wfm.eval.features import extract_features
from wfm.eval.probe import linear_probe
from wfm.eval.report import random_encoders
from wfm.methods import JEPA, MAE
from wfm.models import ViTEncoder
from wfm.views import RegionMask

ENCODER = dict(img_size=56, patch_size=8, embed_dim=128, depth=4, num_heads=4, init="xavier", channel_embed="fixed")
DATA = dict(datasets=["spectrogram", "csi", "csi2", "csi_ri", "csi2_ri"], n=1000, size=56, batch_size=64,
            num_workers=0, val_fraction=0.05)
JEPA_ARGS = dict(predictor_dim=64, predictor_depth=2, predictor_heads=4, momentum_start=0.98, momentum_end=0.995,
                 lr=1e-3, warmup_fraction=0.1)
MAE_ARGS = dict(decoder_dim=64, decoder_depth=2, decoder_heads=4, mask_ratio=0.75, lr=1e-3, warmup_fraction=0.1)


def build(cfg: dict) -> tuple[L.LightningModule, PretrainDataModule, int, dict]:
    cfg = dict(cfg)
    enc_kw = {**ENCODER, **cfg.pop("encoder", {})}
    data_kw = {**DATA, **cfg.pop("data", {})}
    epochs = cfg.pop("epochs", 6)
    method = cfg.pop("method", "jepa")
    masking = cfg.pop("masking", RegionMask(num_targets=4))
    L.seed_everything(cfg.pop("seed_everything", 0))
    enc = ViTEncoder(**enc_kw)
    if method == "jepa":
        model = JEPA(encoder=enc, masking=masking, **{**JEPA_ARGS, **cfg})
    else:
        model = MAE(encoder=enc, **{**MAE_ARGS, **cfg})
    return model, PretrainDataModule(**data_kw), epochs, enc_kw


def probe(encoder: torch.nn.Module, task: DownstreamDataModule) -> list[float]:
    f, y = extract_features(encoder, task.probe_dataloader(), bf16=False)
    r = linear_probe(f, y, task.task, task.split_indices, (0, 1, 2))
    return [round(r.mean, 2), round(r.std, 2)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", help="run name (the JSON line's 'name')")
    ap.add_argument("overrides", nargs="?", type=json.loads, default={},
                    help="JSON object of overrides of the defaults above (default: {})")
    args = ap.parse_args()
    torch.set_num_threads(2)
    model, dm, epochs, enc_kw = build(args.overrides)
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", precision="32-true", logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, log_every_n_steps=10)
    start = time.time()
    trainer.fit(model, datamodule=dm)
    metrics = {k: round(float(v), 4) for k, v in trainer.callback_metrics.items()}
    res = {"name": args.name, "train_s": round(time.time() - start), "steps": trainer.global_step,
           "metrics": metrics}
    randoms = random_encoders(enc_kw)
    for t in (t for t in builtin_tasks() if describe(t).modality != "iq"):
        task = DownstreamDataModule(t, n=2400, size=enc_kw["img_size"], batch_size=256)
        task.prepare_data()
        res[t] = probe(model.backbone, task)
        res[t + "_rand"] = {row: probe(e, task) for row, e in randoms.items()}
    print("RESULT", json.dumps(res), flush=True)
    log = os.environ.get("WFM_SEARCH_LOG", "runs/method_search.jsonl")
    os.makedirs(os.path.dirname(log) or ".", exist_ok=True)
    with open(log, "a") as fh:
        fh.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
