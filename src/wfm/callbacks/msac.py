"""``MSACEvaluation``: at the end of a JEPA-MSAC pretraining run, the frozen-backbone heads, every baseline on the
same windows and budget, and the per-horizon table written to ``<log_dir>/probe_results.{csv,md}``
(:func:`wfm.eval.msac.evaluate`)."""

from __future__ import annotations

import inspect
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

from wfm.checkpoint import read_checkpoint
from wfm.choices import check_choice, check_number
from wfm.eval.msac import HeadConfig, evaluate, split_of, write_table
from wfm.models.msac_heads import PowerCoarse


class MSACEvaluation(Callback):
    """Fit the heads and baselines once training ends (rank 0), print and write the table.

    Args:
        seeds: head-training seeds (frozen rows and GRUs are mean ± std over them).
        head_epochs, head_lr, head_weight_decay, head_batch_size: stage 2 of Table I.
        baselines: also the untrained, supervised, reconstruction, physical and GRU rows (False: the
            pretrained row alone, for ablations).
        use_location: the localization-guided cascade (beam and power heads see the predicted trajectory).
        history_missing: eq. 22 / 28's mode without the target's own history.
        power_coarse: the power head's coarse estimate: ``filter`` (a learned per-step average of the history's
            beam sweeps) or ``last`` (eq. 28, the last sweep).
        beam_soft_db: the beam heads' cross-entropy target: the measured future sweep as ``softmax(P / this)``
            (dB); 0 is eq. 27's one-hot best beam.
    """

    def __init__(self, seeds: list[int] | None = None, head_epochs: int = 30, head_lr: float = 1e-4,
                 head_weight_decay: float = 1e-2, head_batch_size: int = 64, baselines: bool = True,
                 use_location: bool = True, history_missing: bool = False, power_coarse: PowerCoarse = "filter",
                 beam_soft_db: float = 2.0) -> None:
        super().__init__()
        check_choice("power_coarse", power_coarse, PowerCoarse)
        check_number("beam_soft_db", beam_soft_db, ge=0)
        self.seeds = list(seeds if seeds is not None else [0, 1, 2])
        self.head = HeadConfig(head_epochs, head_lr, head_weight_decay, head_batch_size, use_location=use_location,
                               history_missing=history_missing, power_coarse=power_coarse,
                               beam_soft_db=beam_soft_db)
        self.baselines = baselines
        self.table: Any = None

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.run(trainer, pl_module, int(trainer.global_step))

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """``wfm test --ckpt_path CKPT``: the heads on a pretrained checkpoint; the baselines' budget is the
        checkpoint's number of pretraining steps."""
        if not trainer.ckpt_path:
            raise ValueError("wfm test of a JEPA-MSAC model needs --ckpt_path (a pretrained checkpoint); the heads "
                             "of an untrained backbone are the table's 'untrained' row already")
        steps = int(read_checkpoint(trainer.ckpt_path).get("global_step", 0))
        self.run(trainer, pl_module, max(steps, 1))

    def run(self, trainer: Trainer, pl_module: LightningModule, steps: int) -> None:
        if trainer.global_rank != 0:
            return
        from wfm.methods.msac import MSACMethod, MSACReconstruction

        dm = trainer.datamodule
        train, test = split_of(dm.windows("train")), split_of(dm.windows("test"))
        hp = dict(pl_module.hparams)
        was = pl_module.training
        pl_module.eval()
        # `wfm test` ends inside Lightning's inference mode; the heads and baselines train
        with torch.inference_mode(False), torch.enable_grad():
            recon = None
            if self.baselines:  # the same networks and masking, the method's own arguments (momentum) left out
                shared = inspect.signature(MSACMethod.__init__).parameters
                recon = MSACReconstruction(**{k: v for k, v in hp.items() if k in shared})
            table = evaluate(pl_module.encoder.cpu(), pl_module.predictor.cpu(), train, test, dm.history,
                             dm.data.num_beams, steps=steps, batch_size=dm.batch_size, lr=hp["lr"], seeds=self.seeds,
                             head=self.head, baselines=self.baselines, reconstruction=recon, init_seed=hp["seed"])
        pl_module.train(was)
        table.info["windows (train / test)"] = f"{train.n} / {test.n}, split by {dm.split_by}"
        table.info["pretraining steps (also the reconstruction and supervised budget)"] = steps
        out = trainer.log_dir or trainer.default_root_dir
        csv_path, md_path = write_table(table, out, dm.frames - dm.history,
                                        note=f"JEPA-MSAC per-horizon table ({dm.path.name})")
        print(md_path.read_text())
        print(f"wrote {csv_path} and {md_path}")
        self.table = table
