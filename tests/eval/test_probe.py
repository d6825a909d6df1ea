"""The linear-probe protocol: training-split statistics only, seeds, de-normalised regression."""

from __future__ import annotations

import numpy as np
import pytest

import wfm.eval.probe as probe_mod
from wfm.data.task import TaskInfo
from wfm.eval.probe import linear_probe

CLS = TaskInfo("toy", "label", "classification", num_classes=3)
REG = TaskInfo("pos", "position", "regression", units="m")


def _split(n):
    def split(seed):
        perm = np.random.default_rng(seed).permutation(n)
        k = int(0.8 * n)
        return np.sort(perm[:k]), np.sort(perm[k:])

    return split


def _noisy_classes(n=150, d=8, noise=1.5, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    centres = rng.normal(size=(3, d)) * 2.0
    return (centres[y] + noise * rng.normal(size=(n, d))).astype(np.float32), y


def test_classification_result_and_seeds():
    x, y = _noisy_classes()
    res = linear_probe(x, {"label": y}, CLS, _split(len(x)), seeds=(0, 1, 2))
    assert res.task == "toy" and res.metric == "acc" and res.units == "%" and res.higher_is_better
    assert res.key == "probe/toy/acc" and len(res.values) == 3 and res.seeds == [0, 1, 2]
    assert res.mean == pytest.approx(np.mean(res.values)) and res.std == pytest.approx(np.std(res.values))
    assert 50.0 < res.mean <= 100.0
    again = linear_probe(x, {"label": y}, CLS, _split(len(x)), seeds=(0, 1, 2))
    assert again.values == res.values  # same seeds reproduce exactly
    assert len(set(res.values)) > 1  # different seeds draw different splits


def test_standardisation_uses_training_rows_only(monkeypatch):
    x, y = _noisy_classes()
    split = _split(len(x))
    seen = []
    real = probe_mod.fit_standardiser
    monkeypatch.setattr(probe_mod, "fit_standardiser", lambda a: seen.append(np.array(a)) or real(a))
    linear_probe(x, y, CLS, split, seeds=(0, 1))
    assert len(seen) == 2
    for s, rows in zip((0, 1), seen, strict=True):
        np.testing.assert_array_equal(rows, x[split(s)[0]])

    # regression: features AND targets standardised with training rows only
    seen.clear()
    pos = np.random.default_rng(1).normal(size=(len(x), 3))
    linear_probe(x, {"position": pos}, REG, split, seeds=(0,))
    tr = split(0)[0]
    assert len(seen) == 2
    np.testing.assert_array_equal(seen[0], x[tr])
    np.testing.assert_allclose(seen[1], pos[tr])


def test_leaky_standardisation_would_change_the_result():
    """Feature 1 is noise in training, huge in the test split.

    Fitted on the training rows (correct) the noise feature's small learned weight is multiplied by ~1e4 on
    the test rows, so accuracy falls to chance. Statistics fitted on all rows would shrink it to ~0 and give
    ~100 %: a probe that leaks test statistics fails this test.
    """
    rng = np.random.default_rng(0)
    n = 200
    y = np.arange(n) % 2
    x = np.stack([(2 * y - 1) + 0.3 * rng.normal(size=n), rng.normal(size=n)], axis=1)
    tr, te = np.arange(160), np.arange(160, 200)
    x[te, 1] *= 1e4
    task = TaskInfo("t", "label", "classification", num_classes=2)
    res = linear_probe(x, {"label": y}, task, lambda s: (tr, te), seeds=(0,))
    assert res.mean < 75.0


def test_regression_is_denormalised_to_metres():
    rng = np.random.default_rng(0)
    n, d = 120, 6
    x = rng.normal(size=(n, d))
    w = rng.normal(size=(d, 3))
    pos = 500.0 + 40.0 * (x @ w)  # big offset and scale, exactly linear
    res = linear_probe(x, {"position": pos}, REG, _split(n), seeds=(0, 1))
    assert res.metric == "error" and res.units == "m" and not res.higher_is_better
    assert res.mean < 0.5  # ridge with a tiny penalty: centimetres, not hundreds of metres


def test_train_caps(monkeypatch):
    x, y = _noisy_classes()
    sizes = []
    real = probe_mod.fit_standardiser
    monkeypatch.setattr(probe_mod, "fit_standardiser", lambda a: sizes.append(len(a)) or real(a))
    linear_probe(x, y, CLS, _split(len(x)), seeds=(0,), max_train=30)
    linear_probe(x, y, CLS, _split(len(x)), seeds=(0,), train_fraction=0.5)
    assert sizes == [30, 60]


def test_errors():
    x, y = _noisy_classes()
    with pytest.raises(KeyError, match="label"):
        linear_probe(x, {"beam": y}, CLS, _split(len(x)))
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        linear_probe(bad, y, CLS, _split(len(x)))
    with pytest.raises(ValueError, match="out of range"):
        linear_probe(x, y, CLS, lambda s: (np.arange(10), np.array([len(x)])))
