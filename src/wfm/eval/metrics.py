"""Headline metrics of the downstream tasks (method.md §7).

* Mean per-class accuracy ``(1/K) * sum_k correct_k / n_k`` for classification, where the mean runs over
  the classes **present in the target** (``n_k > 0``). This equals scikit-learn's ``balanced_accuracy_score``.
  It differs from torchmetrics ``MulticlassAccuracy(average="macro")`` in one corner: torchmetrics also
  averages in classes that are absent from the target but predicted (with accuracy 0) and skips only
  classes absent from both. An absent class has no ``n_k``, so the paper's formula leaves it undefined;
  counting it as 0 would make the score depend on which wrong class a mistake went to. With an 80/20 split
  of a dataset that holds every class, both agree. :class:`MeanPerClassAccuracy` accumulates torchmetrics'
  per-class statistics (synchronised across ranks) and averages them this way; training logs it.
* Mean positioning error ``(1/N) * sum ||p_hat - p||_2`` in the task's units (metres).
"""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassStatScores

ArrayLike = np.ndarray | torch.Tensor


def _np(a: ArrayLike) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def mean_per_class_accuracy(pred: ArrayLike, target: ArrayLike, num_classes: int) -> float:
    """Mean per-class accuracy as a fraction in ``[0, 1]`` (multiply by 100 for %).

    Args:
        pred: (N,) predicted class indices, or (N, K) scores/logits (arg-maxed).
        target: (N,) true class indices in ``[0, num_classes)``.
        num_classes: number of classes ``K``.
    """
    p, t = _np(pred), _np(target).reshape(-1)
    if p.ndim == 2:
        p = p.argmax(axis=1)
    p = p.reshape(-1)
    if p.shape != t.shape:
        raise ValueError(f"pred has {p.shape[0]} samples but target has {t.shape[0]}")
    if t.size == 0:
        raise ValueError("mean_per_class_accuracy: empty target")
    t = t.astype(np.int64)
    if t.min() < 0 or t.max() >= num_classes:
        raise ValueError(f"target labels must lie in [0, {num_classes}), got range [{t.min()}, {t.max()}]")
    n_k = np.bincount(t, minlength=num_classes)
    correct_k = np.bincount(t[p.astype(np.int64) == t], minlength=num_classes)
    present = n_k > 0
    return float(np.mean(correct_k[present] / n_k[present]))


def mean_position_error(pred: ArrayLike, target: ArrayLike) -> float:
    """Mean Euclidean distance between predicted and true positions, (N, d) each (or (N,) for d = 1)."""
    p, t = _np(pred).astype(np.float64), _np(target).astype(np.float64)
    if p.ndim == 1:
        p = p[:, None]
    if t.ndim == 1:
        t = t[:, None]
    if p.shape != t.shape:
        raise ValueError(f"pred shape {p.shape} does not match target shape {t.shape}")
    if p.shape[0] == 0:
        raise ValueError("mean_position_error: empty input")
    return float(np.linalg.norm(p - t, axis=1).mean())


class MeanPerClassAccuracy(MulticlassStatScores):
    """:func:`mean_per_class_accuracy` (in %) accumulated over batches by torchmetrics (synchronised across
    DDP ranks): per-class true positives and false negatives, averaged over the classes present in the target."""

    def __init__(self, num_classes: int, **kwargs) -> None:
        super().__init__(num_classes=num_classes, average=None, **kwargs)

    def compute(self) -> torch.Tensor:
        tp, _, _, fn = self._final_state()
        support = tp + fn
        present = support > 0
        return 100.0 * (tp[present].double() / support[present]).mean()


class MeanPositionError(MeanMetric):
    """:func:`mean_position_error` accumulated over batches by torchmetrics (synchronised across DDP ranks)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.set_dtype(torch.float64)  # the probe protocol's float64 metres

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:  # type: ignore[override]
        super().update((pred.double() - target.double()).norm(dim=-1))
