"""Tiny JEPA fits under Lightning DDP on CPU (gloo); every rank saves what it saw to ``<outdir>/<mode>-rank<r>.pt``.

Launched the way torchrun / SLURM launch ``wfm fit``: one process per rank, started from outside with
``MASTER_ADDR``, ``MASTER_PORT``, ``WORLD_SIZE``, ``NODE_RANK`` and ``LOCAL_RANK`` set, so Lightning starts no
processes itself (and one script can run several fits on the same process group)::

    LOCAL_RANK=r ... python tests/ddp_worker.py OUTDIR --devices 2 --modes sampled,shared

Without those variables (``--devices 2`` alone) Lightning's ``ddp`` launcher re-runs this command line for rank 1.
Modes: ``sampled`` — the default per-rank masks and channel sampling; ``shared`` — ``StepMasking``,
``channel_sampling=none`` and one channel per sample (draws independent of rank and batch size).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import lightning as L
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import cpu_trainer_kwargs  # noqa: E402
from tiny import IndexedDataModule, Recorder, StepMasking, tiny_jepa  # noqa: E402


def run(mode: str, devices: int = 2, batch_size: int = 4, steps: int = 4, n: int = 64) -> dict[str, Any]:
    """One fit; returns this rank's record."""
    L.seed_everything(0, workers=True)
    if mode == "shared":
        model = tiny_jepa(masking=StepMasking(num_targets=2, min_context=4),
                          channel_sampling="none")
        # one process reads the order of the DistributedSampler's epoch 0 (seed 0), so both see the same batches
        dm = IndexedDataModule(n=n, batch_size=batch_size, max_channels=1, perm_seed=0 if devices == 1 else None)
    else:
        model = tiny_jepa()
        dm = IndexedDataModule(n=n, batch_size=batch_size)
    rec = Recorder()
    trainer = L.Trainer(**cpu_trainer_kwargs(strategy="ddp" if devices > 1 else "auto", devices=devices,
                                             max_steps=steps, enable_checkpointing=False, callbacks=[rec],
                                             deterministic=True, limit_val_batches=0, log_every_n_steps=2))
    trainer.fit(model, dm)
    return {
        "rank": trainer.global_rank,
        "world_size": trainer.world_size,
        "encoder": {k: v.detach().clone() for k, v in model.encoder.state_dict().items()},
        "target_encoder": {k: v.detach().clone() for k, v in model.target_encoder.state_dict().items()},
        "steps": rec.steps,
        "indices": rec.indices,
        "losses": rec.losses,
        "synced_losses": rec.synced_losses,
        "masks": rec.masks,
        "rng_draws": rec.rng_draws,
        "loss_epoch": float(trainer.callback_metrics["train/loss_epoch"]),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("outdir")
    p.add_argument("--devices", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--modes", default="sampled")
    a = p.parse_args()
    torch.set_num_threads(1)
    os.makedirs(a.outdir, exist_ok=True)
    for mode in a.modes.split(","):
        out = run(mode, a.devices, a.batch_size, a.steps, a.n)
        torch.save(out, Path(a.outdir) / f"{mode}-rank{out['rank']}.pt")


if __name__ == "__main__":
    main()
