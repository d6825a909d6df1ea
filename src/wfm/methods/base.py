"""What every wfm training method shares: the encoder, AdamW groups without decay on 1-D parameters,
per-step lr / weight-decay schedules, the per-step random generator, feature extraction, and the backbone
record written into every checkpoint.

Subclasses implement ``shared_step`` (loss on a batch) and the ``backbone`` property (the encoder that is
exported and probed); optional ``after_optimizer_step`` (JEPA's EMA update).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn

from wfm.checkpoint import BACKBONE_KEY, backbone_entry, upgrade_state_dict
from wfm.choices import check_choice, check_number
from wfm.lightning_adapter import attached_trainer, should_update_logs
from wfm.methods import schedules
from wfm.models.encoder import ViTEncoder
from wfm.models.tokenizers.iq import IQ
from wfm.views.channels import ChannelSampling, Views, holdout_views

_STAGE_ID = {"train": 0, "val": 1, "test": 2, "predict": 3}


def adamw_group(decay: bool, lr_scale: float = 1.0, **fields: Any) -> dict[str, Any]:
    """An empty AdamW parameter group in wfm's convention, to be filled with ``params``.

    ``decay``: whether the weight-decay schedule applies; groups of 1-D tensors (biases, norms, tokens: see
    :func:`is_decayed`) are never decayed (the I-JEPA / MAE convention) and pin ``weight_decay`` at 0.
    ``lr_scale`` multiplies the scheduled lr every step (``WFMMethod.optimizer_step``). ``fields`` are kept for
    inspection (e.g. fine-tuning's ``layer``).
    """
    return {"params": [], "decay": decay, "lr_scale": lr_scale, **({} if decay else {"weight_decay": 0.0}), **fields}


def check_optimizer(**values: float) -> None:
    """The optimizer's numbers when a method is built: the peak ``lr`` > 0, every other rate or decay >= 0."""
    for name, value in values.items():
        check_number(name, value, gt=0) if name == "lr" else check_number(name, value, ge=0)


def is_decayed(p: nn.Parameter) -> bool:
    """Whether weight decay applies to ``p``: matrices and kernels yes; biases, norms and tokens (1-D) no."""
    return p.ndim > 1


def adamw(groups: list[dict[str, Any]], lr: float, betas: tuple[float, float]) -> torch.optim.AdamW:
    """AdamW over ``groups``, with the fused kernel when every parameter lives where torch has one (CPU, CUDA).

    The fused step updates all parameters in a few kernels instead of a dozen small ops per tensor (measured
    against torch's per-tensor loop in docs/benchmarks.md, "Optimizer step"; ``tools/bench_optimizer.py``), and
    is the fastest AdamW on GPUs. Its arithmetic is AdamW's; results differ from the loop only in float rounding.
    """
    params = [p for g in groups for p in g["params"]]
    fused = bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
    return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=fused)


def per_modality(name: str, value: Any, modalities: tuple[str, ...], default: Any) -> dict[str, Any]:
    """One setting per modality from a single value (every modality) or a ``{modality: value}`` mapping
    (modalities it leaves out get ``default``); a key the encoder does not take is an error."""
    if not isinstance(value, dict):
        return dict.fromkeys(modalities, value)
    unknown = sorted(set(value) - set(modalities))
    if unknown:
        raise ValueError(f"{name}: unknown modalities {unknown}; this encoder takes {list(modalities)}")
    return {m: value.get(m, default) for m in modalities}


def step_generator(module: L.LightningModule, seed: int, batch_idx: int, stage: str) -> np.random.Generator:
    """A method's per-batch generator (masks, channel subsets): a pure function of ``seed``, the step, micro-batch
    and rank in training (exact resume), of the batch index in evaluation (the same masks every epoch)."""
    if stage == "train":
        acc = module.trainer.accumulate_grad_batches if attached_trainer(module) is not None else 1
        key = [seed, _STAGE_ID[stage], module.global_step, batch_idx % acc, module.global_rank]
    else:
        key = [seed, _STAGE_ID[stage], batch_idx, module.global_rank]
    return np.random.default_rng(key)


class WFMMethod(L.LightningModule):
    """Base LightningModule.

    Args:
        encoder: the ViT encoder (default: the LatentWave size, 112 x 112, patch 16, 256-d, 8 blocks).
        lr: peak learning rate reached after warm-up.
        lr_start: learning rate at step 0 (linear warm-up from here).
        lr_final: learning rate at the last step (cosine decay to here).
        warmup_fraction: share of all optimizer steps spent warming up (paper: 12 of 240 epochs = 0.05).
        weight_decay_start, weight_decay_end: cosine weight-decay schedule (not applied to 1-D parameters).
        betas: AdamW betas.
        channel_sampling: stochastic channel sampling during training: ``sample`` | ``batch`` | ``none``.
        seed: seed of the per-step generator (masks, channel subsets) — independent of data order.
        encoder_config: encoder kwargs that rebuild the architecture when no ``encoder`` is given; every
            checkpoint records them, so a run resumes (and ``load_from_checkpoint`` works) from hparams alone.
        compile: ``torch.compile`` the networks (``compiled_modules``) in place before fitting, with dynamic
            shapes: token counts vary with channel sampling and masks, so a static graph would recompile for
            every new count. State-dict keys do not change.
        lr_scales: learning-rate factors by parameter-name prefix, ``{prefix: factor}`` (e.g. ``{encoder.iq:
            3.0}``: the IQ tokenizer of a multimodal run learns at 3x the scheduled lr, as the IQ-only recipe's
            whole encoder does). Every trainable parameter whose name starts with ``prefix.`` gets the factor
            (the longest matching prefix wins); a prefix that matches nothing is refused.
        modality_weight: factors on the training loss of each modality's batches, ``{modality: factor}``
            (modalities left out keep 1). In round-robin multimodal runs the gradients of one batch per
            modality are summed into each optimizer step, so these set each modality's share of the shared
            blocks' update (e.g. ``{iq: 0.5}``); parameters only one modality reaches (its tokenizer) see a
            scaled gradient, which AdamW's normalisation largely undoes. Validation losses are not weighted.
    """

    def __init__(
        self,
        encoder: ViTEncoder | None = None,
        lr: float = 1e-3,
        lr_start: float = 2e-4,
        lr_final: float = 1e-6,
        warmup_fraction: float = 0.05,
        weight_decay_start: float = 0.04,
        weight_decay_end: float = 0.4,
        betas: Sequence[float] = (0.9, 0.999),
        channel_sampling: ChannelSampling = "sample",
        seed: int = 0,
        encoder_config: dict[str, Any] | None = None,
        compile: bool = False,
        lr_scales: dict[str, float] | None = None,
        modality_weight: dict[str, float] | None = None,
    ) -> None:
        super().__init__()
        self.lr_scales = {str(k): float(v) for k, v in (lr_scales or {}).items()}
        if any(v <= 0 for v in self.lr_scales.values()):
            raise ValueError(f"lr_scales factors must be > 0, got {self.lr_scales}")
        check_choice("channel_sampling", channel_sampling, ChannelSampling)
        check_optimizer(lr=lr, lr_start=lr_start, lr_final=lr_final, weight_decay_start=weight_decay_start,
                        weight_decay_end=weight_decay_end)
        if len(betas) != 2:
            raise ValueError(f"betas must be two numbers (beta1, beta2), got {list(betas)}")
        for i, b in enumerate(betas):
            check_number(f"betas[{i}]", b, ge=0, lt=1)
        if not 0 <= warmup_fraction < 1:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {warmup_fraction}")
        if encoder is None:  # a checkpoint's record of the encoder (resume, load_from_checkpoint), else the default
            encoder = ViTEncoder(**encoder_config) if encoder_config is not None else ViTEncoder()
        self.encoder = encoder
        factors = per_modality("modality_weight", dict(modality_weight or {}), encoder.modalities, 1.0)
        self.modality_weight = {mod: float(f) for mod, f in factors.items()}
        negative = {mod: f for mod, f in self.modality_weight.items() if not f >= 0}
        if negative:
            raise ValueError(f"modality_weight factors must be >= 0, got {negative}")
        encoder_config = dict(encoder.config)  # recorded (hparams are read from the locals here)
        # objects stay out of hparams: checkpoints must load with torch.load(weights_only=True)
        self.save_hyperparameters(ignore=["encoder", "masking", "backbone"])
        self.lr, self.lr_start, self.lr_final = lr, lr_start, lr_final
        self.warmup_fraction = warmup_fraction
        self.wd_start, self.wd_end = weight_decay_start, weight_decay_end
        self.betas = tuple(betas)
        self.channel_sampling = channel_sampling
        self.seed = seed
        self.compile_networks = bool(compile)

    # --- what subclasses provide --------------------------------------------------------------------------------
    #: which of the method's encoders ``backbone`` is (recorded in checkpoints and exports)
    backbone_name = "encoder"

    @property
    def backbone(self) -> ViTEncoder:
        """The encoder that is exported and probed."""
        return self.encoder

    def shared_step(self, batch: dict[str, torch.Tensor], rng: np.random.Generator, stage: str) -> dict[str, Any]:
        """Return a dict with ``loss`` and any scalar metrics to log under ``<stage>/``."""
        raise NotImplementedError

    def after_optimizer_step(self) -> None:
        """Called once per real optimizer step (after accumulation), after the parameters changed."""

    def trainable_modules(self) -> list[nn.Module]:
        """Modules whose parameters the optimizer updates."""
        return [self.encoder]

    def compiled_modules(self) -> list[nn.Module]:
        """Modules ``compile=True`` compiles: the trainable ones and the backbone (e.g. JEPA's target encoder)."""
        mods = list(self.trainable_modules())
        return mods + [self.backbone] if all(self.backbone is not m for m in mods) else mods

    def configure_model(self) -> None:
        if self.compile_networks:
            avoid_inductor_tiling_crash()
            for module in self.compiled_modules():
                module.compile(dynamic=True)

    # --- randomness ---------------------------------------------------------------------------------------------
    def step_rng(self, batch_idx: int, stage: str) -> np.random.Generator:
        """Generator for this batch's masks and channel subsets: a pure function of the step, micro-batch and rank.

        Training draws depend on ``global_step`` (exact resume); evaluation draws on the batch index only, so
        validation sees the same masks every epoch.
        """
        return step_generator(self, self.seed, batch_idx, stage)

    def maybe_sample_channels(
        self, batch: dict[str, torch.Tensor], rng: np.random.Generator, stage: str
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(x, channels, channel_ids)``: a channel subset in training (:mod:`wfm.views.channels`), else all."""
        views = self.sample_views(batch, rng, stage, holdout=0.0)
        return views.x, views.channels, views.channel_ids

    def sample_views(self, batch: dict[str, torch.Tensor], rng: np.random.Generator, stage: str,
                     holdout: float) -> Views:
        """A channel subset and, with ``holdout`` > 0, channels hidden from the context, in training
        (:func:`~wfm.views.channels.holdout_views`); all channels, all visible, otherwise."""
        train = stage == "train"
        x = self.encoder.reference_phase(batch["x"], batch.get("complex_pairs"))
        return holdout_views(x, batch["channels"], rng, self.channel_sampling if train else "none",
                             holdout if train else 0.0, counts=batch.get("channels_host"),
                             pairs=batch.get("complex_pairs"))

    def views_on_grid(self, batch: dict[str, Any], rng: np.random.Generator, stage: str,
                      holdout: float) -> tuple[Views, str, tuple[int, int]]:
        """:meth:`sample_views` of the batch, its token family (the batch says which modality it holds; the
        family keys per-family settings such as the masking) and that family's token grid."""
        views = self.sample_views(batch, rng, stage, holdout)
        family = self.encoder.family(batch.get("modality"))
        return views, family, self.encoder.grid(family)

    def masking_for(self, family: str) -> Any:
        """The mask geometry of a token family's batches, for methods that mask: ``iq_masking`` for IQ,
        ``masking`` otherwise."""
        return self.iq_masking if family == IQ else self.masking

    # --- Lightning hooks ----------------------------------------------------------------------------------------
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        out = self.shared_step(batch, self.step_rng(batch_idx, "train"), "train")
        loss = out["loss"]
        self._watch_finite(loss.detach())
        factor = self.modality_weight[self.encoder.family(batch.get("modality"))]
        if factor != 1.0:  # the logged loss stays unweighted (comparable across runs and with validation)
            loss = loss * factor
        logging = self._is_logging_step()
        if logging:
            self.check_finite()  # the one host sync of the steady state, at logging steps only
        bs = batch["x"].shape[0]
        for key, value in out.items():
            # step values reduced across ranks only on the steps that write them (a collective on every rank
            # at the same steps); epoch means reduced once, at the epoch's end
            step_value = self._rank_mean(value) if logging else value
            self.log(f"train/{key}_step", step_value, prog_bar=key == "loss", on_step=True, on_epoch=False,
                     batch_size=bs, sync_dist=False)
            self.log(f"train/{key}_epoch", value, on_step=False, on_epoch=True, batch_size=bs, sync_dist=True)
        return loss

    # --- non-finite losses without a per-step host sync -----------------------------------------------------
    def _watch_finite(self, loss: torch.Tensor) -> None:
        """Remember, on the device, the first step whose loss was not finite (no ``.item()``, no branch)."""
        step = torch.full_like(loss, float(self.global_step))
        first = getattr(self, "_first_bad_step", None)
        if first is None or first.device != loss.device:
            first = torch.full_like(loss, -1.0)
        bad = ~torch.isfinite(loss) & (first < 0)
        self._first_bad_step = torch.where(bad, step, first)

    def check_finite(self) -> None:
        """Raise if a training loss was not finite since the run started (one host sync).

        Called at logging steps, at epoch and training end, and before any checkpoint is written — so the
        newest checkpoint on disk is always from before the bad step, even though detection may come a few
        steps after it.
        """
        first = getattr(self, "_first_bad_step", None)
        if first is None:
            return
        step = int(first.item())
        if step >= 0:
            raise FloatingPointError(
                f"non-finite training loss at global step {step} (detected at step {self.global_step}); "
                "stopping — the newest checkpoint on disk is from before that step"
            )

    def _is_logging_step(self) -> bool:
        trainer = attached_trainer(self)
        return True if trainer is None else should_update_logs(trainer)

    def _rank_mean(self, value: torch.Tensor) -> torch.Tensor:
        if attached_trainer(self) is None or self.trainer.world_size <= 1:
            return value
        return self.all_gather(value.detach().float()).mean(0)

    def on_train_epoch_end(self) -> None:
        self.check_finite()

    def on_train_end(self) -> None:
        self.check_finite()

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        out = self.shared_step(batch, self.step_rng(batch_idx, "val"), "val")
        for key, value in out.items():
            self.log(f"val/{key}", value, prog_bar=key == "loss", batch_size=batch["x"].shape[0], sync_dist=True)
        return out["loss"]

    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, torch.Tensor]:
        """Pooled backbone features plus the batch's labels (``wfm predict`` writes them to HDF5)."""
        feats = self.backbone.features(batch["x"], batch["channels"], modality=batch.get("modality"),
                                       complex_pairs=batch.get("complex_pairs"))
        out = {"features": feats.float()}
        out.update({k: v for k, v in batch.items() if k not in ("x", "channels", "modality", "complex_pairs")})
        return out

    @property
    def total_steps(self) -> int:
        return max(int(self.trainer.estimated_stepping_batches), 1)

    def schedule_values(self, step: int) -> dict[str, float]:
        """lr and weight decay at optimizer step ``step`` (pure function of the step)."""
        total = self.total_steps
        warmup = int(round(self.warmup_fraction * total))
        return {
            "lr": schedules.warmup_cosine(step, total, warmup, self.lr_start, self.lr, self.lr_final),
            "wd": schedules.cosine(step, total, self.wd_start, self.wd_end),
        }

    def configure_optimizers(self) -> torch.optim.Optimizer:
        name_of = {id(p): name for name, p in self.named_parameters()}
        groups: dict[tuple[bool, float], dict[str, Any]] = {}
        used: set[str] = set()
        for p in (p for m in self.trainable_modules() for p in m.parameters() if p.requires_grad):
            name = name_of[id(p)]
            prefix = max((k for k in self.lr_scales if name.startswith(k + ".")), key=len, default=None)
            if prefix is not None:
                used.add(prefix)
            key = (is_decayed(p), self.lr_scales.get(prefix, 1.0))
            groups.setdefault(key, adamw_group(*key))["params"].append(p)
        unused = sorted(set(self.lr_scales) - used)
        if unused:
            raise ValueError(f"lr_scales: no trainable parameter under {unused} (names look like "
                             f"{next(n for n, _ in self.named_parameters())!r})")
        # the group order is what optimizer checkpoints map by index: decayed groups first, then by lr scale
        order = sorted(groups, key=lambda k: (not k[0], k[1]))
        return adamw([groups[k] for k in order], lr=self.lr_start, betas=self.betas)

    def optimizer_step(self, epoch: int, batch_idx: int, optimizer: Any, optimizer_closure: Any = None) -> None:
        values = self.schedule_values(self.global_step)
        for group in optimizer.param_groups:
            group["lr"] = values["lr"] * group.get("lr_scale", 1.0)
            if group.get("decay", True):
                group["weight_decay"] = values["wd"]
        self.log_dict({f"train/{k}": v for k, v in values.items()}, on_step=True, on_epoch=False)
        super().optimizer_step(epoch, batch_idx, optimizer, optimizer_closure)
        self.after_optimizer_step()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # resuming another method's run would fail on its state-dict keys; say what the file is instead
        written_by = (checkpoint.get(BACKBONE_KEY) or {}).get("method")
        if written_by is not None and written_by != type(self).__name__:
            path = getattr(attached_trainer(self), "ckpt_path", None)
            raise ValueError(f"{path or 'checkpoint'}: written by a {written_by} run, cannot resume a "
                             f"{type(self).__name__} run from it (to start from its encoder, fine-tune: "
                             "--model.init_args.backbone)")
        # checkpoints written before the blocks became timm's name their MLP layers by index
        checkpoint["state_dict"] = upgrade_state_dict(checkpoint["state_dict"])

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.check_finite()  # never write a checkpoint taken after a non-finite step
        # a self-contained encoder record: wfm.checkpoint.load_backbone rebuilds the probed encoder from it
        checkpoint[BACKBONE_KEY] = backbone_entry(
            self.backbone, self.backbone.config, method=type(self).__name__, encoder=self.backbone_name
        )


def avoid_inductor_tiling_crash() -> None:
    """Turn off inductor's coalescing analysis for Triton tiling before compiling with dynamic shapes.

    With torch 2.11 on an H200 (2026-11-28) compiling the JEPA networks with ``dynamic=True`` failed in that
    analysis (``AssertionError`` in ``torch/_inductor/tiling_utils.py``, ``get_pw_red_splits``); with it off the
    same step compiled and ran 1.36x faster than eager (docs/benchmarks.md). Inductor's own config notes that
    the analysis does not apply to dynamic shapes yet, so nothing is lost. The setting only exists on
    Triton-capable torch builds; elsewhere this does nothing.
    """
    try:
        from torch._inductor import config as inductor_config
    except ImportError:  # a torch build without inductor: nothing to configure
        return
    if hasattr(inductor_config.triton, "coalesce_tiling_analysis"):
        inductor_config.triton.coalesce_tiling_analysis = False
