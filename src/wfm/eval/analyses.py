"""The probe report's analyses: probe scores swept over the labelled share and over the channels kept.

Each point is the linear-probe protocol of :mod:`wfm.eval.probe` (mean ± std over the same seeds as the
table); :mod:`wfm.eval.report` computes them once per report and :mod:`wfm.eval.plots` draws them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from wfm.data.task import TaskInfo
from wfm.eval.features import extract_features
from wfm.eval.probe import ProbeResult, SplitFn, linear_probe

#: labelled shares of the training split on a report's label-efficiency curves
FRACTIONS = (0.05, 0.1, 0.25, 0.5, 1.0)


def label_efficiency(
    features: np.ndarray,
    targets: Mapping[str, np.ndarray] | np.ndarray,
    task: TaskInfo,
    split_fn: SplitFn,
    fractions: Iterable[float] = (0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0),
    seeds: Sequence[int] = (0, 1, 2),
) -> dict[float, ProbeResult]:
    """Probe score when only a fraction of the training split is labelled (test split unchanged)."""
    return {
        float(f): linear_probe(features, targets, task, split_fn, seeds=seeds, train_fraction=float(f))
        for f in fractions
    }


def usable_fractions(task: TaskInfo, split_fn: SplitFn, fractions: Iterable[float], seed: int) -> list[float]:
    """The shares of ``fractions`` that leave enough labelled samples to fit a probe on ``seed``'s split.

    A point needs at least 10 labelled samples and 2 per class; with none left, the full split (1.0) is kept.
    """
    n_train = len(split_fn(int(seed))[0])
    least = max(10, 2 * (task.num_classes or 0))
    return [f for f in fractions if round(f * n_train) >= least] or [1.0]


def channel_robustness(
    encoder: torch.nn.Module,
    loader: Iterable[Mapping[str, Any]],
    task: TaskInfo,
    split_fn: SplitFn,
    channel_counts: Iterable[int],
    seeds: Sequence[int] = (0, 1, 2),
    bf16: bool = False,
) -> dict[int, ProbeResult]:
    """Probe score when the encoder sees only the first ``k`` channels of every sample (features re-extracted
    per ``k``; samples with fewer channels keep all of theirs)."""
    out = {}
    for k in channel_counts:
        feats, targets = extract_features(encoder, loader, bf16=bf16, max_channels=int(k))
        out[int(k)] = linear_probe(feats, targets, task, split_fn, seeds=seeds)
    return out
