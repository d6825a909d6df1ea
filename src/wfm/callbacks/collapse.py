"""``CollapseMonitor``: catch representation collapse while it happens, not after the probe.

On each validation epoch it pools ``pl_module.backbone`` features of the first ``num_batches`` validation
batches (image / IQ batches through :func:`~wfm.eval.features.encode_batch`, JEPA-MSAC's sequence windows through
the encoder's ``features``) (a fixed set when the validation loader does not shuffle), logs ``monitor/rankme`` and
``monitor/feature_std``, and after ``patience`` consecutive epochs below a threshold warns on rank 0 and,
with ``stop_on_collapse``, stops training. Under DDP the numbers are rank 0's and the stop decision is
broadcast so all ranks stop together.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_warn

from wfm.eval.features import encode_batch, eval_mode
from wfm.eval.rankme import feature_std, rankme


class CollapseMonitor(Callback):
    """Log RankMe and feature std of pooled backbone features; warn (or stop) on collapse.

    Args:
        num_batches: validation batches (of the first validation loader) pooled per epoch.
        rankme_threshold: collapse when RankMe falls below this (1 = all features on one line).
        std_threshold: collapse when the mean per-dimension std across samples falls below this.
        patience: consecutive collapsed epochs before warning / stopping.
        stop_on_collapse: set ``trainer.should_stop`` once collapse has lasted ``patience`` epochs.
        bf16: bf16 autocast for the feature pass where native (default off: fp32 features, the same numbers on every
            machine; :func:`wfm.eval.features.extract_features` says why).
    """

    def __init__(
        self,
        num_batches: int = 8,
        rankme_threshold: float = 2.0,
        std_threshold: float = 1e-3,
        patience: int = 1,
        stop_on_collapse: bool = False,
        bf16: bool = False,
    ) -> None:
        super().__init__()
        if num_batches < 1 or patience < 1:
            raise ValueError(f"num_batches and patience must be >= 1, got {num_batches}, {patience}")
        self.num_batches = num_batches
        self.rankme_threshold = rankme_threshold
        self.std_threshold = std_threshold
        self.patience = patience
        self.stop_on_collapse = stop_on_collapse
        self.bf16 = bf16
        self.collapsed_epochs = 0
        self.history: list[dict[str, float]] = []
        self._feats: list[torch.Tensor] = []

    def on_validation_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._feats = []

    def on_validation_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if trainer.sanity_checking or dataloader_idx != 0 or batch_idx >= self.num_batches:
            return
        if not isinstance(batch, dict):
            return
        if "x" not in batch and isinstance(batch.get("inputs"), dict):  # sequence windows (JEPA-MSAC)
            with eval_mode(pl_module.backbone), torch.no_grad():
                inputs = {k: v.to(pl_module.device) for k, v in batch["inputs"].items()}
                self._feats.append(pl_module.backbone.features(inputs).float().cpu())
            return
        if "x" not in batch:
            return
        with eval_mode(pl_module.backbone), torch.no_grad():
            self._feats.append(encode_batch(pl_module.backbone, batch, self.bf16).cpu())

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking or not self._feats:
            return
        feats = torch.cat(self._feats)
        self._feats = []
        rm, sd = rankme(feats), feature_std(feats)
        pl_module.log("monitor/rankme", rm, sync_dist=False)
        pl_module.log("monitor/feature_std", sd, sync_dist=False)
        self.history.append({"epoch": float(trainer.current_epoch), "rankme": rm, "feature_std": sd})

        collapsed = rm < self.rankme_threshold or sd < self.std_threshold
        if trainer.world_size > 1:
            collapsed = bool(trainer.strategy.broadcast(collapsed, src=0))
        self.collapsed_epochs = self.collapsed_epochs + 1 if collapsed else 0
        if self.collapsed_epochs < self.patience:
            return
        msg = (
            f"representation collapse suspected at epoch {trainer.current_epoch}: RankMe {rm:.3g} "
            f"(threshold {self.rankme_threshold}), feature std {sd:.3g} (threshold {self.std_threshold}) "
            f"for {self.collapsed_epochs} consecutive validation epoch(s) of {feats.shape[0]} samples "
            f"(feature dim {feats.shape[1]})"
        )
        if self.stop_on_collapse:
            trainer.should_stop = True
            msg += "; stopping training (stop_on_collapse=True)"
        rank_zero_warn(msg, category=UserWarning)
