"""Heads variants on one frozen JEPA-MSAC checkpoint against the untrained backbone (issue #45, 2026-12-07).

    python docs/experiments/scripts/msac_heads_compare.py runs/s0/version_0/checkpoints/last.ckpt \
        "power_coarse='last', beam_soft_db=0.0" "power_coarse='filter', beam_soft_db=0.0" \
        "power_coarse='last', beam_soft_db=2.0"

Each argument is a set of HeadConfig fields; prints beam top-1 h1..h5, RSSI RMSE h1..h5, ΔP at h3 and ADE, the
mean over head seeds 0-2, test split of the recipe (by sequence). With --val the heads are fitted on 75 % of the
training recordings and scored on the other 25 % (the test windows are not read): how beam_soft_db was chosen.
"""
import sys
import time

import numpy as np
import torch

from wfm.data.datamodules.sequence import SequenceDataModule
from wfm.eval import msac as M
from wfm.methods.msac import MSACJEPA
from wfm.models.msac import MSACEncoder, MSACPredictor

args = [a for a in sys.argv[1:] if a != "--val"]
ckpt, variants = args[0], args[1:]
torch.set_num_threads(2)
dm = SequenceDataModule(dataset="v2i", v2i={"num_sequences": 48, "frames_per_sequence": 100, "seed": 0},
                        split_by="sequence", test_fraction=0.3)
tr, te = M.split_of(dm.windows("train")), M.split_of(dm.windows("test"))
if "--val" in sys.argv:  # whole recordings of the training split held out; the test split is never read
    groups = dm.windows("train").data.index["sequence"]
    names = np.random.default_rng([0, 2718]).permutation(np.unique(groups))
    held = np.isin(groups, names[: round(0.25 * len(names))])

    def sub(sp, rows):
        return M.Split({k: v[rows] for k, v in sp.inputs.items()}, {k: v[rows] for k, v in sp.labels.items()},
                       {k: v[rows] for k, v in sp.raw.items()})

    tr, te = sub(tr, np.flatnonzero(~held)), sub(tr, np.flatnonzero(held))
H = dm.history
method = MSACJEPA.load_from_checkpoint(ckpt, map_location="cpu")
enc, pred = method.encoder.eval(), method.predictor.eval()
torch.manual_seed(method.hparams["seed"])
fe = MSACEncoder(**enc.config)
fp = MSACPredictor(fe, **pred.config)
S = {}
for name, (e, p) in {"jepa": (enc, pred), "untr": (fe, fp)}.items():
    S[name] = (M.future_latents(e, p, tr, H), M.future_latents(e, p, te, H))
def show(tag, runs):
    def row(key, digits):
        return " ".join(f"{np.mean([r[f'{key}@h{k}'] for r in runs]):.{digits}f}" for k in range(1, 6))

    dp3 = np.mean([r["beam/dp_db@h3"] for r in runs])
    ade = np.mean([r["position/ade"] for r in runs])
    print(f"{tag:40s} top1 {row('beam/top1', 1)} | rssi {row('rssi/rmse_db', 2)} | dp3 {dp3:.2f} ade {ade:.3f}",
          flush=True)


for v in variants:
    kw = eval(f"dict({v})")
    cfg = M.HeadConfig(epochs=40, lr=1e-3, **kw)
    t = time.time()
    for name in ("jepa", "untr"):
        runs = []
        for seed in (0, 1, 2):
            heads = M.fit_heads(S[name][0], tr, H, dm.data.num_beams, cfg, seed)
            p = M.apply_heads(heads, S[name][1], te, H, cfg)
            runs.append(M.horizon_metrics(H, te.labels, p["position"], p["beam_scores"], p["rssi"]))
        show(f"{name} {v}", runs)
    print(f"  ({time.time()-t:.0f}s)", flush=True)
