"""Where is a task's information kept or lost? Linear probes on the mean-pooled output of every block.

For a wfm JEPA checkpoint: its target encoder, its context encoder and a random-init encoder of the same
config (xavier, seed 0), each probed after every transformer block with the probe protocol (3 splits) on
built-in tasks. Prints one row per encoder and task.

    python tools/probe_layers.py runs/cpu_proof/version_0/checkpoints/last.ckpt --tasks beam los
    python tools/probe_layers.py runs/iq_jepa/version_0/checkpoints/last.ckpt --tasks rffp interference:interference \
        --size 1024      # IQ tasks: TASK:TARGET picks a label, --size is the IQ length
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from wfm.data.datamodules import DownstreamDataModule
from wfm.eval.probe import linear_probe
from wfm.models import ViTEncoder


def encoders(ckpt_path: str) -> dict[str, ViTEncoder]:
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    cfg, sd = ckpt["wfm_backbone"]["config"], ckpt["state_dict"]
    out = {}
    for name, prefix in (("target", "target_encoder."), ("context", "encoder.")):
        enc = ViTEncoder(**cfg)
        enc.load_state_dict({k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)})
        out[name] = enc.eval()
    torch.manual_seed(0)
    out["random-init"] = ViTEncoder(**cfg).eval()
    return out


def block_features(enc: ViTEncoder, dm: DownstreamDataModule) -> tuple[list[np.ndarray], np.ndarray]:
    """Mean over real tokens of every block's output, and the targets."""
    feats: list[list[torch.Tensor]] = [[] for _ in enc.blocks]
    valid_now: list[torch.Tensor] = []

    def hook(i: int):
        def fn(_m, _inp, out):
            w = valid_now[0][:, :, None].float()
            feats[i].append((out * w).sum(1) / w.sum(1))
        return fn

    handles = [blk.register_forward_hook(hook(i)) for i, blk in enumerate(enc.blocks)]
    ys = []
    try:
        with torch.no_grad():
            for batch in dm.probe_dataloader():
                gh, gw = enc.grid(enc.modality_of(batch["x"]))
                valid_now[:] = [enc.channel_valid(batch["x"], batch["channels"]).repeat_interleave(gh * gw, dim=1)]
                enc(batch["x"], batch["channels"])
                ys.append(batch[dm.task.target].numpy())
    finally:
        for h in handles:
            h.remove()
    return [torch.cat(f).numpy() for f in feats], np.concatenate(ys)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ckpt")
    ap.add_argument("--tasks", nargs="+", default=["rfs", "positioning", "beam", "los"],
                    help="built-in tasks, TASK or TASK:TARGET (the label of a multi-label task)")
    ap.add_argument("--n", type=int, default=2400)
    ap.add_argument("--size", type=int, default=56)
    args = ap.parse_args()
    encs = encoders(args.ckpt)
    for spec in args.tasks:
        task, _, target = spec.partition(":")
        dm = DownstreamDataModule(task, target=target or None, n=args.n, size=args.size, batch_size=256)
        dm.prepare_data()
        for name, enc in encs.items():
            feats, y = block_features(enc, dm)
            scores = [linear_probe(f, {dm.task.target: y}, dm.task, dm.split_indices, (0, 1, 2)).mean for f in feats]
            print(f"{task} {name}: " + " / ".join(f"{s:.1f}" for s in scores), flush=True)


if __name__ == "__main__":
    main()
