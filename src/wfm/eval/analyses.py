"""The probe report's analyses: probe scores swept over the labelled share and over the channels kept, and a
classification probe's accuracy per bin of another label (per SNR bin).

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
from wfm.eval.probe import ProbeResult, SplitFn, _check_indices, linear_probe, probe_predictions, train_subset

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


#: a stratum with at most this many distinct values gets one bin per value (RadioML's 2 dB SNR steps)
MAX_DISCRETE_BINS = 25
#: bin width of a continuous stratum (the SNR of the built-in corpus, drawn uniformly): 5 units
BIN_WIDTH = 5.0


def strata_bins(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Bin index per sample and bin labels: one bin per value when there are at most
    :data:`MAX_DISCRETE_BINS` distinct values, else bins ``[k·w, (k+1)·w)`` of width :data:`BIN_WIDTH`."""
    v = np.asarray(values, np.float64).reshape(len(values), -1)[:, 0]
    distinct = np.unique(v)
    if distinct.size <= MAX_DISCRETE_BINS:
        return np.searchsorted(distinct, v), [f"{x:g}" for x in distinct]
    edges = np.floor(v / BIN_WIDTH).astype(np.int64)
    keys = np.unique(edges)
    return np.searchsorted(keys, edges), [f"{k * BIN_WIDTH:g}..{(k + 1) * BIN_WIDTH:g}" for k in keys]


def accuracy_by_stratum(
    features: np.ndarray,
    targets: Mapping[str, np.ndarray],
    task: TaskInfo,
    split_fn: SplitFn,
    seeds: Sequence[int] = (0, 1, 2),
    max_train: int | None = None,
) -> list[ProbeResult]:
    """The accuracy (%) of the task's linear probe (the table's protocol: same splits, same fit) on the test
    samples of each bin of the label ``task.stratify`` (:func:`strata_bins`), one result per bin, metric
    ``acc@<bin>``; a bin with no test sample on a seed is left out of that bin's mean. Plain accuracy, as
    signal-classification papers plot it against SNR."""
    if task.kind != "classification" or not task.stratify:
        raise ValueError(f"task {task.name!r}: accuracy by stratum needs a classification task with a stratify label")
    if task.stratify not in targets:
        raise KeyError(f"task {task.name!r} is stratified by {task.stratify!r}; batches carry {sorted(targets)}")
    target = np.asarray(targets[task.target])
    bins, names = strata_bins(np.asarray(targets[task.stratify]))
    per_bin: list[list[float]] = [[] for _ in names]
    used: list[list[int]] = [[] for _ in names]
    n = len(target)
    for seed in seeds:
        train_idx, test_idx = split_fn(int(seed))
        train_idx = train_subset(_check_indices(train_idx, n, "train"), int(seed), 1.0, max_train)
        test_idx = _check_indices(test_idx, n, "test")
        pred = probe_predictions(features, target, task, train_idx, test_idx)
        right = pred.reshape(-1) == target[test_idx].reshape(-1)
        for b in range(len(names)):
            sel = bins[test_idx] == b
            if sel.any():
                per_bin[b].append(100.0 * float(right[sel].mean()))
                used[b].append(int(seed))
    return [ProbeResult(task.name, f"acc@{name}", vals, float(np.mean(vals)), float(np.std(vals)), "%", True,
                        seeds_)
            for name, vals, seeds_ in zip(names, per_bin, used, strict=True) if vals]
