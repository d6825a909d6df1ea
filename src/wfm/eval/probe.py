"""The linear-probe protocol of method.md §7.

Frozen pooled features -> standardise with **training-split** statistics -> logistic regression
(classification) or ridge regression with a tiny penalty (regression, targets standardised with training
statistics and de-normalised before the metric) -> mean per-class accuracy (%) or mean error (task units).
Each seed draws its own 80/20 split through the task's ``split_indices(seed)``; the result is mean ± std
over seeds (``std`` is the population std, ``ddof=0``, so one seed reports 0 rather than NaN).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from threadpoolctl import threadpool_limits

from wfm.data.task import TaskInfo
from wfm.eval.metrics import mean_per_class_accuracy, mean_position_error

SplitFn = Callable[[int], tuple[np.ndarray, np.ndarray]]


@dataclass
class ProbeResult:
    """Outcome of one probe on one task: the metric per seed and its mean ± std."""

    task: str
    metric: str
    values: list[float]
    mean: float
    std: float
    units: str = ""
    higher_is_better: bool = True
    seeds: list[int] = field(default_factory=list)

    @property
    def key(self) -> str:
        """Logging key ``probe/<task>/<metric>``."""
        return f"probe/{self.task}/{self.metric}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Standardiser:
    """Per-feature affine map ``(x - mean) / std`` fitted on one array (constant columns get std 1)."""

    mean: np.ndarray
    std: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.std

    def inverse(self, z: np.ndarray) -> np.ndarray:
        return z * self.std + self.mean


def fit_standardiser(train: np.ndarray) -> Standardiser:
    """Statistics of the TRAINING rows only; the probe must never look at test rows here (no leakage)."""
    train = np.asarray(train, dtype=np.float64)
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    # a constant column carries no information: leave it at 0 instead of dividing by 0
    std = np.where(std > 1e-12, std, 1.0)
    return Standardiser(mean, std)


def _check_indices(idx: np.ndarray, n: int, what: str) -> np.ndarray:
    idx = np.asarray(idx, dtype=np.int64).reshape(-1)
    if idx.size == 0:
        raise ValueError(f"linear_probe: the {what} split is empty")
    if idx.min() < 0 or idx.max() >= n:
        raise ValueError(
            f"linear_probe: {what} indices out of range [0, {n}): min {idx.min()}, max {idx.max()}"
        )
    return idx


def probe_once(
    features: np.ndarray,
    target: np.ndarray,
    task: TaskInfo,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    C: float = 1.0,
    ridge_alpha: float = 1e-3,
    max_iter: int = 2000,
) -> float:
    """Fit one linear probe on ``train_idx`` and return its metric on ``test_idx`` (% or task units).

    BLAS runs single-threaded here: these problems are small (thousands x hundreds), and on a busy or small
    machine multi-threaded BLAS next to torch's OpenMP pool made a 1280 x 128 logistic fit 20-60x slower
    (docs/benchmarks.md, "Probe fit").
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _probe_once(features, target, task, train_idx, test_idx, C, ridge_alpha, max_iter)


def _probe_once(
    features: np.ndarray,
    target: np.ndarray,
    task: TaskInfo,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    C: float,
    ridge_alpha: float,
    max_iter: int,
) -> float:
    pred = _fit_predict(features, target, task, train_idx, test_idx, C, ridge_alpha, max_iter)
    if task.kind == "classification":
        return 100.0 * mean_per_class_accuracy(pred, target[test_idx], task.num_classes)
    return mean_position_error(pred, _rows(target)[test_idx])


def _rows(target: np.ndarray) -> np.ndarray:
    """Regression targets as float64 ``(N, d)``."""
    y = target.astype(np.float64)
    return y[:, None] if y.ndim == 1 else y.reshape(len(y), -1)


def probe_predictions(
    features: np.ndarray,
    target: np.ndarray,
    task: TaskInfo,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    C: float = 1.0,
    ridge_alpha: float = 1e-3,
    max_iter: int = 2000,
) -> np.ndarray:
    """The predictions on ``test_idx`` of the probe :func:`probe_once` fits (class indices, or de-normalised
    regression outputs ``(n_test, d)``): for scores over parts of the test split (accuracy per SNR bin)."""
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit_predict(np.asarray(features), np.asarray(target), task, train_idx, test_idx, C, ridge_alpha,
                            max_iter)


def _fit_predict(
    features: np.ndarray,
    target: np.ndarray,
    task: TaskInfo,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    C: float,
    ridge_alpha: float,
    max_iter: int,
) -> np.ndarray:
    scaler = fit_standardiser(features[train_idx])
    x_train, x_test = scaler(features[train_idx]), scaler(features[test_idx])
    if task.kind == "classification":
        y_train = target[train_idx].astype(np.int64).reshape(-1)
        if np.unique(y_train).size < 2:
            raise ValueError(
                f"task {task.name!r}: the training split holds a single class; cannot fit a probe"
            )
        clf = LogisticRegression(C=C, max_iter=max_iter, solver="lbfgs")
        with warnings.catch_warnings():
            # lbfgs may stop a hair short on nearly separable features; the probe is still well defined
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(x_train, y_train)
        return clf.predict(x_test)
    y = _rows(target)
    yscale = fit_standardiser(y[train_idx])
    reg = Ridge(alpha=ridge_alpha)
    reg.fit(x_train, yscale(y[train_idx]))
    return yscale.inverse(reg.predict(x_test).reshape(len(test_idx), -1))


def train_subset(train_idx: np.ndarray, seed: int, train_fraction: float = 1.0,
                 max_train: int | None = None) -> np.ndarray:
    """The training rows a probe of ``seed`` fits on: a ``train_fraction`` share capped at ``max_train``, a
    seeded random subset (it depends on the seed only, so a seed reproduces its probe exactly)."""
    keep = len(train_idx)
    if train_fraction < 1.0:
        keep = max(1, int(round(train_fraction * keep)))
    if max_train is not None:
        keep = min(keep, int(max_train))
    if keep < len(train_idx):
        rng = np.random.default_rng(int(seed) + 1_000_003)
        train_idx = np.sort(rng.choice(train_idx, size=keep, replace=False))
    return train_idx


def linear_probe(
    features: np.ndarray,
    targets: Mapping[str, np.ndarray] | np.ndarray,
    task: TaskInfo,
    split_fn: SplitFn,
    seeds: Sequence[int] = (0, 1, 2),
    max_train: int | None = None,
    train_fraction: float = 1.0,
    C: float = 1.0,
    ridge_alpha: float = 1e-3,
) -> ProbeResult:
    """Run the linear-probe protocol over ``seeds``.

    Args:
        features: (N, D) pooled features, row ``i`` = sample ``i`` of the task's probe loader.
        targets: label arrays by batch key (``task.target`` is used) or the target array itself.
        task: what to predict and how to score it.
        split_fn: ``seed -> (train_idx, test_idx)``, normally ``datamodule.split_indices``.
        seeds: one split per seed; mean ± std over them.
        max_train: cap on training samples (a seeded random subset of the training split).
        train_fraction: keep this fraction (0, 1] of the training split (label-efficiency curves).
        C: inverse L2 strength of the logistic regression.
        ridge_alpha: ridge penalty of the regression probe (on standardised features and targets).
    """
    features = np.asarray(features)
    if features.ndim != 2:
        raise ValueError(f"features must be (N, D), got shape {features.shape}")
    if not np.isfinite(features).all():
        raise ValueError(f"task {task.name!r}: features contain NaN or inf (a diverged encoder?)")
    if isinstance(targets, Mapping):
        if task.target not in targets:
            raise KeyError(
                f"task {task.name!r} needs target key {task.target!r}; batches carry {sorted(targets)}"
            )
        target = np.asarray(targets[task.target])
    else:
        target = np.asarray(targets)
    n = features.shape[0]
    if target.shape[0] != n:
        raise ValueError(f"task {task.name!r}: {n} feature rows but {target.shape[0]} targets")
    if not 0.0 < train_fraction <= 1.0:
        raise ValueError(f"train_fraction must be in (0, 1], got {train_fraction}")
    if not seeds:
        raise ValueError("linear_probe needs at least one seed")
    values = []
    for seed in seeds:
        train_idx, test_idx = split_fn(int(seed))
        train_idx = _check_indices(train_idx, n, "train")
        test_idx = _check_indices(test_idx, n, "test")
        train_idx = train_subset(train_idx, int(seed), train_fraction, max_train)
        values.append(probe_once(features, target, task, train_idx, test_idx, C=C, ridge_alpha=ridge_alpha))
    arr = np.asarray(values, dtype=np.float64)
    classification = task.kind == "classification"
    return ProbeResult(
        task=task.name,
        metric=task.metric,
        values=[float(v) for v in arr],
        mean=float(arr.mean()),
        std=float(arr.std(ddof=0)),
        units="%" if classification else (task.units or ""),
        higher_is_better=classification,
        seeds=[int(s) for s in seeds],
    )
