"""JEPA-MSAC pretraining (§III-D) and the reconstruction SSL it is compared with, as Lightning methods.

Both mask (frame, modality) cells of a window (:mod:`wfm.views.temporal`: temporal block masking by default,
``ratio`` 0.5), encode the visible tokens with the context encoder (:class:`~wfm.models.msac.MSACEncoder`) and
fill the masked positions with the predictor's mask token (eq. 13-15). :class:`MSACJEPA` regresses the EMA
target encoder's latents of the masked tokens with smooth-L1 (eq. 16-19; momentum 0.996 -> 1 on the same
linear schedule and foreach update as wfm's :class:`~wfm.methods.momentum.MomentumMethod`);
:class:`MSACReconstruction` regresses the standardised raw inputs of the masked cells instead (same tokens,
same masks, same budget).

The networks are built when the data is known (``setup``: the DataModule's ``frame_shapes``, ``frames`` and
``history``); checkpoints record them in their hyperparameters, so ``load_from_checkpoint`` and resume rebuild
the same model. The lr follows wfm's warm-up + cosine schedule; AdamW decays every parameter but biases and norms.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wfm.choices import check_choice, check_number
from wfm.lightning_adapter import attached_trainer
from wfm.methods import schedules
from wfm.methods.base import adamw, adamw_group, check_optimizer, is_decayed, step_generator
from wfm.methods.momentum import ema_update
from wfm.models.msac import MSACEncoder, MSACPredictor
from wfm.views.temporal import MaskPattern, frame_mask, token_masks

#: the checkpoint entry that says what a JEPA-MSAC-family checkpoint holds
MSAC_KEY = "wfm_msac"


class MSACMethod(L.LightningModule):
    """What JEPA-MSAC and its reconstruction baseline share: the encoder + predictor, optimiser, schedules,
    per-step randomness and the checkpoint record.

    Args:
        embed_dim, depth, num_heads: the shared trunk (Table I: D = 128).
        tokens: per-frame token counts by modality (default Table I's 9 / 16 / 16 / 1 / 1).
        image_backbone, image_weights: the image tokenizer (``cnn`` or ``timm:<name>``; local weights only).
        tokenizer_width: channels of the CNN tokenizers' first block.
        gps_relative, power_relative: see :class:`~wfm.models.msac.MSACEncoder`.
        pred_dim, pred_depth: the predictor.
        mask_ratio, mask_pattern: the masking (ρ = 0.5, temporal blocks).
        lr, lr_start, lr_final, warmup_fraction: warm-up + cosine lr (Table I: AdamW 3e-4).
        weight_decay: AdamW weight decay (Table I: 0.05).
        seed: seed of the per-step mask generator (a pure function of the step: exact resume).
        frame_shapes, frames, history: filled from the data at ``setup`` (recorded for reloading).
    """

    def __init__(
        self,
        embed_dim: int = 128,
        depth: int = 4,
        num_heads: int = 4,
        tokens: dict[str, int] | None = None,
        image_backbone: str = "cnn",
        image_weights: str | None = None,
        tokenizer_width: int = 16,
        gps_relative: float = 8.0,
        power_relative: float = 0.0,
        pred_dim: int = 64,
        pred_depth: int = 2,
        mask_ratio: float = 0.5,
        mask_pattern: MaskPattern = "temporal",
        lr: float = 3e-4,
        lr_start: float = 1e-5,
        lr_final: float = 1e-6,
        warmup_fraction: float = 0.05,
        weight_decay: float = 0.05,
        seed: int = 0,
        frame_shapes: dict[str, list[int]] | None = None,
        frames: int | None = None,
        history: int | None = None,
    ) -> None:
        super().__init__()
        check_choice("mask_pattern", mask_pattern, MaskPattern)
        if not 0 < mask_ratio < 1:
            raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio}")
        check_optimizer(lr=lr, lr_start=lr_start, lr_final=lr_final, weight_decay=weight_decay)
        check_number("warmup_fraction", warmup_fraction, ge=0, lt=1)
        check_number("gps_relative", gps_relative, ge=0)
        check_number("power_relative", power_relative, ge=0)
        for name, value in (("embed_dim", embed_dim), ("depth", depth), ("num_heads", num_heads),
                            ("pred_dim", pred_dim), ("pred_depth", pred_depth), ("tokenizer_width", tokenizer_width)):
            check_number(name, value, ge=1, integer=True)
        self.save_hyperparameters()
        self.encoder: MSACEncoder | None = None
        if frame_shapes is not None:
            self.build(frame_shapes, int(frames or 13), int(history or 8))

    # --- networks -----------------------------------------------------------------------------------------------
    def build(self, frame_shapes: Mapping[str, Sequence[int]], frames: int, history: int) -> None:
        hp = self.hparams
        if not 0 < history < frames:
            raise ValueError(f"history must be in [1, {frames - 1}], got {history}")
        self.encoder = MSACEncoder(frame_shapes, frames, hp.tokens, hp.embed_dim, hp.depth, hp.num_heads,
                                   image_backbone=hp.image_backbone, image_weights=hp.image_weights,
                                   tokenizer_width=hp.tokenizer_width, gps_relative=hp.gps_relative,
                                   power_relative=hp.get("power_relative", 0.0))
        self.predictor = MSACPredictor(self.encoder, hp.pred_dim, hp.pred_depth, hp.num_heads)
        self.history = history
        hp.frame_shapes = {k: list(v) for k, v in self.encoder.frame_shapes.items()}
        hp.frames, hp.history = frames, history
        self.build_extra()

    def build_extra(self) -> None:
        """Networks a subclass adds once the encoder exists."""

    def setup(self, stage: str) -> None:
        dm = getattr(attached_trainer(self), "datamodule", None)
        if self.encoder is not None:
            if dm is not None and hasattr(dm, "frame_shapes"):
                dm.setup(stage)
                self.check_windows(dm)
            return
        if dm is None or not hasattr(dm, "frame_shapes"):
            raise ValueError("a JEPA-MSAC method needs a sequence DataModule (wfm.data.SequenceDataModule) to "
                             "learn its input shapes from, or frame_shapes given")
        dm.setup(stage)
        self.build(dm.frame_shapes, dm.frames, dm.history)

    def check_windows(self, dm: Any) -> None:
        """A model built before the data (from a checkpoint's hyperparameters, or ``frame_shapes`` given) reads
        only windows of its own length, history, sensors and frame sizes: anything else is one line naming the
        file, not a shape error deep in a tokenizer."""
        enc = self.encoder
        shapes = {m: tuple(int(s) for s in v) for m, v in dm.frame_shapes.items()}
        diff = [f"{k} {int(a)} (the model: {b})" for k, a, b in
                (("frames", dm.frames, enc.frames), ("history", dm.history, self.history)) if int(a) != int(b)]
        if set(shapes) != set(enc.frame_shapes):
            diff.append(f"sensors {sorted(shapes)} (the model: {sorted(enc.frame_shapes)})")
        diff += [f"{m} frames {shapes[m]} (the model: {enc.frame_shapes[m]})"
                 for m in enc.modalities if m in shapes and shapes[m] != enc.frame_shapes[m]]
        if diff:
            path = getattr(getattr(dm, "data", None), "path", None) or getattr(dm, "dataset", "the data")
            raise ValueError(f"{path}: windows do not fit this model (built from a checkpoint or frame_shapes): "
                             f"{'; '.join(diff)}; use a file with the model's window and sensors (wfm-convert "
                             "deepsense --window / --history / --image-size ...), or pretrain on this one")

    def trainable_modules(self) -> list[nn.Module]:
        return [self.encoder, self.predictor]

    # --- randomness ---------------------------------------------------------------------------------------------
    def step_rng(self, batch_idx: int, stage: str) -> np.random.Generator:
        return step_generator(self, self.hparams.seed, batch_idx, stage)

    def masks(self, batch_size: int, rng: np.random.Generator,
              device: torch.device) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
        """This batch's (frame, modality) mask ``(B, T, M)`` and its ``(keep, masked)`` token indices."""
        enc = self.encoder
        fm = frame_mask(batch_size, enc.frames, len(enc.modalities), self.hparams.mask_ratio, rng,
                        self.hparams.mask_pattern)
        keep, masked = token_masks(fm, [enc.tokens[m] for m in enc.modalities])
        return fm, keep.to(device), masked.to(device)

    # --- steps --------------------------------------------------------------------------------------------------
    def shared_step(self, batch: Mapping[str, Any], rng: np.random.Generator, stage: str) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> torch.Tensor:
        out = self.shared_step(batch, self.step_rng(batch_idx, "train"), "train")
        if not torch.isfinite(out["loss"]):
            raise FloatingPointError(f"non-finite training loss at global step {self.global_step}; stopping "
                                     "(the newest checkpoint on disk is from before that step)")
        bs = next(iter(batch["inputs"].values())).shape[0]
        for k, v in out.items():
            self.log(f"train/{k}", v, prog_bar=k == "loss", on_step=True, on_epoch=True, batch_size=bs)
        return out["loss"]

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> torch.Tensor:
        out = self.shared_step(batch, self.step_rng(batch_idx, "val"), "val")
        bs = next(iter(batch["inputs"].values())).shape[0]
        for k, v in out.items():
            self.log(f"val/{k}", v, prog_bar=k == "loss", batch_size=bs, sync_dist=True)
        return out["loss"]

    def test_step(self, batch: Mapping[str, Any], batch_idx: int) -> torch.Tensor:
        """The pretraining loss on held-out windows (``wfm test``; :class:`~wfm.callbacks.MSACEvaluation` then fits
        the heads)."""
        out = self.shared_step(batch, self.step_rng(batch_idx, "test"), "test")
        self.log("test/loss", out["loss"], batch_size=next(iter(batch["inputs"].values())).shape[0])
        return out["loss"]

    @property
    def backbone(self) -> MSACEncoder:
        """The context encoder (the CollapseMonitor and RankMe read its pooled ``features``)."""
        return self.encoder

    # --- optimisation -------------------------------------------------------------------------------------------
    @property
    def total_steps(self) -> int:
        plain = getattr(self, "_plain_total_steps", None)  # trained outside a Trainer (wfm.eval.msac)
        return int(plain) if plain is not None else max(int(self.trainer.estimated_stepping_batches), 1)

    def schedule_values(self, step: int) -> dict[str, float]:
        total = self.total_steps
        hp = self.hparams
        warmup = int(round(hp.warmup_fraction * total))
        return {"lr": schedules.warmup_cosine(step, total, warmup, hp.lr_start, hp.lr, hp.lr_final)}

    def configure_optimizers(self) -> torch.optim.Optimizer:
        groups = {True: adamw_group(True), False: adamw_group(False)}
        for p in (p for m in self.trainable_modules() for p in m.parameters() if p.requires_grad):
            groups[is_decayed(p)]["params"].append(p)
        groups[True]["weight_decay"] = self.hparams.weight_decay
        return adamw([groups[True], groups[False]], lr=self.hparams.lr_start, betas=(0.9, 0.999))

    def optimizer_step(self, epoch: int, batch_idx: int, optimizer: Any, optimizer_closure: Any = None) -> None:
        values = self.schedule_values(self.global_step)
        for group in optimizer.param_groups:
            group["lr"] = values["lr"]
        self.log_dict({f"train/{k}": v for k, v in values.items()}, on_step=True, on_epoch=False)
        super().optimizer_step(epoch, batch_idx, optimizer, optimizer_closure)
        self.after_optimizer_step()

    def after_optimizer_step(self) -> None:
        """Called once per real optimizer step, after the parameters changed."""

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[MSAC_KEY] = {"method": type(self).__name__, "encoder": self.encoder.config,
                                "predictor": self.predictor.config, "history": self.history}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        written_by = (checkpoint.get(MSAC_KEY) or {}).get("method")
        if written_by is not None and written_by != type(self).__name__:
            raise ValueError(f"checkpoint written by a {written_by} run, cannot resume a {type(self).__name__} run")


def smooth_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 17-18, averaged over tokens and dimensions (``beta = 1``)."""
    return F.smooth_l1_loss(pred, target, beta=1.0)


def gather_tokens(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    return torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


class MSACJEPA(MSACMethod):
    """JEPA-MSAC: temporal block-masked latent prediction against an EMA target encoder (eq. 13-19).

    Args:
        momentum_start, momentum_end: EMA momentum, linear over the run (Table I: 0.996 -> 1.0).
        **kwargs: see :class:`MSACMethod`.
    """

    def __init__(self, momentum_start: float = 0.996, momentum_end: float = 1.0, **kwargs: Any) -> None:
        if not 0 <= momentum_start <= momentum_end <= 1:
            raise ValueError(f"need 0 <= momentum_start <= momentum_end <= 1, got {momentum_start}, {momentum_end}")
        super().__init__(**kwargs)
        self.save_hyperparameters()

    def build_extra(self) -> None:
        self.target = copy.deepcopy(self.encoder)
        for p in self.target.parameters():
            p.requires_grad_(False)

    def momentum(self, step: int) -> float:
        return schedules.linear(step, self.total_steps, self.hparams.momentum_start, self.hparams.momentum_end)

    def after_optimizer_step(self) -> None:
        ema_update([(self.encoder, self.target)], self.momentum(self.global_step))

    def on_train_start(self) -> None:
        self.target.eval()

    def shared_step(self, batch: Mapping[str, Any], rng: np.random.Generator, stage: str) -> dict[str, torch.Tensor]:
        inputs = batch["inputs"]
        tokens = self.encoder.tokenize(inputs)
        b, total = tokens.shape[:2]
        _, keep, masked = self.masks(b, rng, tokens.device)
        with torch.no_grad():
            target = self.target(self.target.tokenize(inputs))  # eq. 16: all tokens
        pred = self.predictor(self.encoder(tokens, keep), keep, total)
        loss = smooth_l1(gather_tokens(pred, masked), gather_tokens(target, masked))
        return {"loss": loss, "target_std": target.detach().std(0).mean()}


class MSACReconstruction(MSACMethod):
    """Reconstruction SSL on the same tokens and masks: the predictor's outputs at a masked (frame, modality)
    cell go through a per-modality linear decoder to that cell's standardised raw input (MSE, averaged per
    modality) — the paper's "reconstruction-based SSL" comparison."""

    def build_extra(self) -> None:
        enc = self.encoder
        self.decoders = nn.ModuleDict({
            m: nn.Linear(enc.tokens[m] * enc.embed_dim, int(np.prod(enc.frame_shapes[m]))) for m in enc.modalities
        })

    def trainable_modules(self) -> list[nn.Module]:
        return [self.encoder, self.predictor, self.decoders]

    def shared_step(self, batch: Mapping[str, Any], rng: np.random.Generator, stage: str) -> dict[str, torch.Tensor]:
        enc = self.encoder
        inputs = batch["inputs"]
        tokens = enc.tokenize(inputs)
        b, total = tokens.shape[:2]
        fm, keep, _ = self.masks(b, rng, tokens.device)
        pred = self.predictor(enc(tokens, keep), keep, total)  # (B, I, D), time-major
        pred = pred.reshape(b, enc.frames, enc.tokens_per_frame, enc.embed_dim)
        cell = torch.from_numpy(fm).to(tokens.device)  # (B, T, M)
        losses, start = [], 0
        for mi, name in enumerate(enc.modalities):
            p = enc.tokens[name]
            z = pred[:, :, start:start + p].reshape(b, enc.frames, p * enc.embed_dim)
            start += p
            rec = self.decoders[name](z)  # (B, T, prod(shape))
            x = inputs[name].reshape(b, enc.frames, -1)
            err = ((rec - x) ** 2).mean(-1)  # (B, T)
            w = cell[:, :, mi].float()
            losses.append((err * w).sum() / w.sum())
        loss = torch.stack(losses).mean()
        return {"loss": loss}
