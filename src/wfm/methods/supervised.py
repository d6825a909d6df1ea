"""Supervised ViT: the shared encoder plus a linear head trained on one downstream task.

From scratch this is the upper-bound column of the paper's Table II; from a pretrained backbone it is
fine-tuning, in one of the modes of :mod:`wfm.methods.finetune` (full, linear head only, last ``k`` blocks,
LoRA) with optional layer-wise lr decay. Classification trains with (label-smoothed, optionally
class-weighted) cross-entropy, regression with MSE on standardised targets. Validation and test report the
probe protocol's headline metrics: ``acc`` = mean per-class accuracy in %, ``error`` = mean Euclidean error
in the target's units (metres for positioning), computed on de-standardised predictions.

What the head predicts (label key, kind, number of classes, target size) is given to the constructor, or with
``task_from_data: true`` read at setup from the DataModule's :class:`~wfm.data.task.TaskInfo` — which a
downstream DataModule reads from its file's ``labels`` attribute — so recipes do not restate it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wfm.choices import check_choice
from wfm.data.task import TaskInfo, TaskKind
from wfm.eval.metrics import MeanPerClassAccuracy, MeanPositionError
from wfm.methods.base import WFMMethod, adamw
from wfm.methods.finetune import FinetuneMode, apply_finetune_mode, param_groups
from wfm.models.encoder import ViTEncoder
from wfm.models.lora import merged_state_dict
from wfm.views.channels import ChannelSampling

#: what a constructor without ``task_from_data`` assumes for arguments left unset
DEFAULT_TARGET, DEFAULT_KIND, DEFAULT_TARGET_DIM = "label", "classification", 3


def _train_targets(datamodule: Any, target: str) -> torch.Tensor:
    """All training-split values of ``target``: from the DataModule's ``train_targets`` when it has one (a
    downstream DataModule reads the label column alone), else by iterating its training loader."""
    if hasattr(datamodule, "train_targets"):
        return torch.as_tensor(np.asarray(datamodule.train_targets(target)), dtype=torch.float32)
    values = [batch[target].float() for batch in datamodule.train_dataloader()]
    if not values:
        raise ValueError("cannot compute target statistics: the training dataloader is empty")
    return torch.cat(values)


class Supervised(WFMMethod):
    """Encoder + linear head on a downstream task.

    Args:
        encoder: encoder built from scratch (default: the LatentWave size); exclusive with ``backbone``.
        backbone: path of a pretrained backbone (Lightning ``.ckpt`` of any wfm method, or an exported
            ``.safetensors``/``.json`` pair), read with ``wfm.checkpoint.load_backbone``.
        target: batch key of the label (``label``, ``position``, ``beam``, ``los``...); default ``label``.
        task_kind: ``classification`` or ``regression``; default ``classification``.
        num_classes: number of classes (classification).
        target_dim: size of the regression target (3 for positions); default 3.
        task_from_data: read ``target``, ``task_kind``, ``num_classes`` and ``target_dim`` at setup from the
            DataModule's ``task`` (:class:`~wfm.data.task.TaskInfo`, e.g. a
            :class:`~wfm.data.datamodules.DownstreamDataModule`'s, read from its file); values given here
            override it where they can (a larger head), and contradicting it (another target or kind) is an
            error. The resolved values are recorded in the checkpoint's hyperparameters.
        label_smoothing: cross-entropy label smoothing.
        class_weights: optional per-class cross-entropy weights (length ``num_classes``).
        target_mean, target_std: regression standardisation; None computes them from the training split at
            fit start (they are stored in the checkpoint either way).
        finetune: ``full`` | ``linear`` | ``partial`` | ``lora`` (see :mod:`wfm.methods.finetune`).
        partial_blocks: blocks trained by ``partial`` (counted from the last).
        lora_rank, lora_alpha: LoRA rank and scale numerator (``lora``).
        layer_decay: layer-wise lr decay factor (e.g. 0.75), None for a single lr.
        channel_sampling: as in :class:`~wfm.methods.base.WFMMethod`, but off by default (a task sees every
            channel).
        **kwargs: optimisation arguments of :class:`~wfm.methods.base.WFMMethod`; the fine-tuning values
            (lr 5e-4 warmed up from 0, constant weight decay 0.05) are in the recipes (``configs/supervised_*``,
            ``configs/finetune/*``).
    """

    def __init__(
        self,
        encoder: ViTEncoder | None = None,
        backbone: str | None = None,
        target: str | None = None,
        task_kind: TaskKind | None = None,
        num_classes: int | None = None,
        target_dim: int | None = None,
        task_from_data: bool = False,
        label_smoothing: float = 0.0,
        class_weights: Sequence[float] | None = None,
        target_mean: Sequence[float] | None = None,
        target_std: Sequence[float] | None = None,
        finetune: FinetuneMode = "full",
        partial_blocks: int = 1,
        lora_rank: int = 8,
        lora_alpha: float = 16.0,
        layer_decay: float | None = None,
        channel_sampling: ChannelSampling = "none",
        **kwargs: Any,
    ) -> None:
        if encoder is not None and backbone is not None:
            raise ValueError("give either encoder (train from scratch) or backbone (pretrained), not both")
        if backbone is not None:
            from wfm.checkpoint import load_backbone  # late import: only fine-tuning needs it

            encoder = load_backbone(backbone)
        super().__init__(encoder=encoder, channel_sampling=channel_sampling, **kwargs)
        if self.lr_scales:
            raise ValueError("lr_scales is a pretraining option; supervised and fine-tuning runs scale the lr by "
                             "layer with layer_decay")
        if task_kind is not None:
            check_choice("task_kind", task_kind, TaskKind)
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        check_choice("finetune", finetune, FinetuneMode)
        if finetune != "full" and backbone is None and kwargs.get("encoder_config") is None:
            warnings.warn(f"finetune={finetune!r} without a pretrained backbone freezes a randomly "
                          "initialised encoder", stacklevel=2)
        self.label_smoothing = float(label_smoothing)
        self.finetune = finetune
        self.layer_decay = layer_decay
        apply_finetune_mode(self.encoder, finetune, partial_blocks, lora_rank, lora_alpha)
        # the task's part is built once the task is known: now, or at setup from the DataModule
        self._task_given = {"target": target, "task_kind": task_kind, "num_classes": num_classes,
                            "target_dim": target_dim}
        self._task_stats = (class_weights, target_mean, target_std)
        self.head: nn.Linear | None = None
        if not task_from_data:
            self._build_task(target if target is not None else DEFAULT_TARGET,
                             task_kind if task_kind is not None else DEFAULT_KIND, num_classes,
                             target_dim if target_dim is not None else DEFAULT_TARGET_DIM)

    def _build_task(self, target: str, task_kind: str, num_classes: int | None, target_dim: int) -> None:
        """The head, its loss weights, the regression standardisation and the split metrics for one task."""
        class_weights, target_mean, target_std = self._task_stats
        if task_kind == "classification":
            if num_classes is None or num_classes < 2:
                raise ValueError(f"classification needs num_classes >= 2, got {num_classes}")
            out_dim = int(num_classes)
        else:
            if target_dim < 1:
                raise ValueError(f"regression needs target_dim >= 1, got {target_dim}")
            out_dim = int(target_dim)
        self.target = target
        self.task_kind = task_kind
        self.num_classes = num_classes

        self.head = nn.Linear(self.encoder.embed_dim, out_dim)
        # small head init (MAE fine-tuning convention): early steps do not wreck pretrained features
        nn.init.trunc_normal_(self.head.weight, std=0.01)
        nn.init.zeros_(self.head.bias)

        if class_weights is not None:
            if task_kind != "classification" or len(class_weights) != out_dim:
                raise ValueError(
                    f"class_weights needs classification and {out_dim} values, got {class_weights}"
                )
            self.register_buffer("class_weights", torch.as_tensor(class_weights, dtype=torch.float32))
        else:
            self.class_weights = None
        # standardisation of regression targets; persistent so a restored model de-normalises correctly
        f32 = torch.float32
        mean = torch.zeros(out_dim) if target_mean is None else torch.as_tensor(target_mean, dtype=f32)
        std = torch.ones(out_dim) if target_std is None else torch.as_tensor(target_std, dtype=f32)
        bad = mean.shape != (out_dim,) or std.shape != (out_dim,) or bool((std <= 0).any())
        if task_kind == "regression" and bad:
            raise ValueError(f"target_mean/target_std need {out_dim} values each, std > 0; "
                             f"got {target_mean}, {target_std}")
        self.register_buffer("target_mean", mean)
        self.register_buffer("target_std", std)
        known = target_mean is not None and target_std is not None
        self.register_buffer("target_stats_set", torch.tensor(known))
        # the probe protocol's headline metric over the whole split, per evaluation stage (torchmetrics)
        self.split_metrics = nn.ModuleDict({
            stage: MeanPerClassAccuracy(int(num_classes)) if task_kind == "classification" else MeanPositionError()
            for stage in ("val", "test")
        })

    def _task_from(self, task: TaskInfo) -> dict[str, Any]:
        """The constructor's task arguments completed from the DataModule's ``task``; contradictions raise."""
        given = self._task_given
        for key, value in (("target", task.target), ("task_kind", task.kind)):
            if given[key] is not None and given[key] != value:
                raise ValueError(f"{key}={given[key]!r} contradicts the DataModule's task {task.name!r} "
                                 f"({key} {value!r}); leave {key} unset to take it from the data")
        num_classes = given["num_classes"] if given["num_classes"] is not None else task.num_classes
        if task.kind == "classification" and task.num_classes is not None and num_classes < task.num_classes:
            raise ValueError(f"num_classes={num_classes} is fewer than the {task.num_classes} classes of the "
                             f"DataModule's task {task.name!r}")
        target_dim = given["target_dim"] if given["target_dim"] is not None else task.dim
        if task.kind == "regression" and target_dim is None:
            raise ValueError(f"the DataModule's task {task.name!r} does not say its target size; give target_dim")
        return {"target": task.target, "task_kind": task.kind, "num_classes": num_classes,
                "target_dim": target_dim if target_dim is not None else DEFAULT_TARGET_DIM}

    def setup(self, stage: str) -> None:
        """Check that the DataModule's samples fit the encoder (a file of another size fails here, named); with
        ``task_from_data``, build the head from the DataModule's task (before a checkpoint is restored into it)
        and record the values, so the checkpoint rebuilds the same model."""
        dm = self.trainer.datamodule
        ds = getattr(dm, "dataset", None)
        if ds is not None and hasattr(ds, "meta") and hasattr(ds, "modality"):
            try:
                self.encoder.check_input(ds.modality, ds.num_channels, tuple(ds.meta["shape"][1:]))
            except ValueError as e:
                raise ValueError(f"{ds.path}: {e}") from None
        if self.head is not None:
            return
        task = getattr(dm, "task", None)
        if not isinstance(task, TaskInfo):
            which = "no DataModule was given" if dm is None else f"{type(dm).__name__} has none"
            raise ValueError(f"Supervised(task_from_data=True) reads its task from the DataModule's 'task' (a "
                             f"DownstreamDataModule's); {which}: give target, task_kind and num_classes (or "
                             "target_dim) instead")
        resolved = self._task_from(task)
        self._build_task(**resolved)
        self.hparams.update({**resolved, "task_from_data": False})

    # --- modules ---
    def trainable_modules(self) -> list[nn.Module]:
        return [self.encoder, self.head]

    def on_fit_start(self) -> None:
        if self.task_kind != "regression" or bool(self.target_stats_set):
            return
        dm = self.trainer.datamodule
        if dm is None:
            raise ValueError("regression without target_mean/target_std needs a DataModule to compute them")
        y = _train_targets(dm, self.target).reshape(-1, self.target_mean.numel())
        std = y.std(0, unbiased=False)
        # a constant coordinate (e.g. a fixed height) must not divide by zero
        self.target_mean.copy_(y.mean(0))
        self.target_std.copy_(torch.where(std > 1e-8, std, torch.ones_like(std)))
        self.target_stats_set.fill_(True)

    # --- forward and loss ---
    def forward(
        self, x: torch.Tensor, channels: torch.Tensor | None = None, channel_ids: torch.Tensor | None = None,
        modality: str | None = None, complex_pairs: tuple[tuple[int, int], ...] = (),
    ) -> torch.Tensor:
        """Raw head output: logits (classification) or standardised targets (regression) of inputs of
        ``modality`` (the batch's; None for an encoder of one input family) with complex slot pairs
        ``complex_pairs`` (inputs already phase-referenced, as ``sample_views`` gives them)."""
        if self.head is None:
            raise ValueError("Supervised(task_from_data=True) has no head before setup: fit, validate or test it "
                             "with a DataModule that has a task, or give the task to the constructor")
        if self.finetune == "linear":
            with torch.no_grad():  # frozen encoder: no graph needed
                feats = self.encoder.features(x, channels, channel_ids, modality=modality,
                                              complex_pairs=complex_pairs)
        else:
            feats = self.encoder.features(x, channels, channel_ids, modality=modality, complex_pairs=complex_pairs)
        return self.head(feats.float())

    def predict_target(
        self, x: torch.Tensor, channels: torch.Tensor | None = None, modality: str | None = None
    ) -> torch.Tensor:
        """Class indices, or regression targets in their original units."""
        out = self(x, channels, modality=modality)
        if self.task_kind == "classification":
            return out.argmax(-1)
        return out * self.target_std + self.target_mean

    def shared_step(
        self, batch: dict[str, torch.Tensor], rng: np.random.Generator, stage: str
    ) -> dict[str, Any]:
        if self.target not in batch:
            raise ValueError(f"batch has no label {self.target!r}; keys are {sorted(batch)}")
        views = self.sample_views(batch, rng, stage, holdout=0.0)
        # modality is absent from a user's own loader's batches (the encoder's one family then), pairs from
        # batches without complex channels
        extra = {k: v for k, v in (("modality", batch.get("modality")), ("complex_pairs", views.pairs)) if v}
        out = self(views.x, views.channels, views.channel_ids, **extra)
        y = batch[self.target]
        if self.task_kind == "classification":
            y = y.long().reshape(-1)
            loss = F.cross_entropy(out, y, weight=self.class_weights, label_smoothing=self.label_smoothing)
            pred = out.argmax(-1)
            metrics = {"loss": loss, "batch_acc": (pred == y).float().mean() * 100}
        else:
            y = y.float().reshape(out.shape)
            loss = F.mse_loss(out, (y - self.target_mean) / self.target_std)
            pred = out.detach() * self.target_std + self.target_mean
            metrics = {"loss": loss, "batch_error": (pred - y).norm(dim=-1).mean()}
        if stage in self.split_metrics:
            self.split_metrics[stage].update(pred.detach(), y.detach())
        return metrics

    # --- epoch metrics: the probe protocol's headline numbers over the whole split ---
    def epoch_metrics(self, stage: str) -> dict[str, float]:
        """``{"acc": %}`` or ``{"error": units}`` over everything seen in ``stage`` since the last call."""
        metric = self.split_metrics[stage]
        if not metric.update_called:
            return {}
        value = float(metric.compute())
        metric.reset()
        return {"acc" if self.task_kind == "classification" else "error": value}

    def _log_epoch(self, stage: str) -> None:
        # torchmetrics has already reduced the states across ranks: every rank logs the global value
        for key, value in self.epoch_metrics(stage).items():
            self.log(f"{stage}/{key}", value, prog_bar=True, sync_dist=False)

    def on_validation_epoch_start(self) -> None:
        self.split_metrics["val"].reset()

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_start(self) -> None:
        self.split_metrics["test"].reset()

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        out = self.shared_step(batch, self.step_rng(batch_idx, "test"), "test")
        for key, value in out.items():
            self.log(f"test/{key}", value, batch_size=batch["x"].shape[0], sync_dist=True)
        return out["loss"]

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    # --- optimisation ---
    def configure_optimizers(self) -> torch.optim.Optimizer:
        groups = param_groups(self.encoder, [self.head], self.layer_decay)
        return adamw(groups, lr=self.lr_start, betas=self.betas)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        # the exported backbone is a plain ViTEncoder: LoRA deltas are folded into the qkv weights
        checkpoint["wfm_backbone"]["state_dict"] = {k: v.detach().cpu() for k, v in
                                                    merged_state_dict(self.encoder).items()}

