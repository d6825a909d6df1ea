"""Mean per-class accuracy and mean positioning error on hand-computed toy sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score
from torchmetrics.classification import MulticlassAccuracy

from wfm.eval.metrics import mean_per_class_accuracy, mean_position_error

# imbalanced: 6 x class 0 (5 right), 3 x class 1 (1 right), 1 x class 2 (right)
TARGET = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 2])
PRED = np.array([0, 0, 0, 0, 0, 1, 1, 0, 0, 2])


def test_mean_per_class_accuracy_hand_computed():
    expected = (5 / 6 + 1 / 3 + 1 / 1) / 3  # 0.7222..., while plain accuracy is 0.7
    assert mean_per_class_accuracy(PRED, TARGET, 3) == pytest.approx(expected)
    assert mean_per_class_accuracy(torch.tensor(PRED), torch.tensor(TARGET), 3) == pytest.approx(expected)
    assert expected == pytest.approx(balanced_accuracy_score(TARGET, PRED))
    tm = MulticlassAccuracy(num_classes=3, average="macro")(torch.tensor(PRED), torch.tensor(TARGET))
    assert float(tm) == pytest.approx(expected)
    logits = np.eye(3)[PRED] * 5.0
    assert mean_per_class_accuracy(logits, TARGET, 3) == pytest.approx(expected)


def test_absent_classes_are_left_out():
    # class 3 never occurs in the target but is predicted once; class 4 occurs nowhere
    target = np.array([0, 0, 1, 1])
    pred = np.array([0, 3, 1, 1])
    ours = mean_per_class_accuracy(pred, target, 5)
    assert ours == pytest.approx((1 / 2 + 2 / 2) / 2)
    # torchmetrics also averages in class 3 (predicted, absent from target) as 0: documented difference
    tm = MulticlassAccuracy(num_classes=5, average="macro")(torch.tensor(pred), torch.tensor(target))
    assert float(tm) == pytest.approx((1 / 2 + 2 / 2 + 0) / 3)


def test_mean_per_class_accuracy_errors():
    with pytest.raises(ValueError, match="must lie in"):
        mean_per_class_accuracy(np.array([0]), np.array([5]), 3)
    with pytest.raises(ValueError, match="samples"):
        mean_per_class_accuracy(np.array([0, 1]), np.array([0]), 3)


def test_mean_position_error():
    target = np.zeros((3, 3))
    pred = np.array([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0], [1.0, 2.0, 2.0]])
    assert mean_position_error(pred, target) == pytest.approx((0 + 5 + 3) / 3)
    assert mean_position_error(torch.tensor([1.0, -2.0]), torch.tensor([0.0, 0.0])) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="does not match"):
        mean_position_error(np.zeros((2, 3)), np.zeros((2, 2)))
