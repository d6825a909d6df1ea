"""The heads' coarse beam-power estimate and the beam targets: exact values on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wfm.callbacks.msac import MSACEvaluation
from wfm.eval.msac import beam_cross_entropy, beam_target
from wfm.models.msac_heads import PowerHead


def _sweeps() -> torch.Tensor:
    hist = torch.zeros(2, 4, 3)  # (B, T_h = 4, K = 3) dB
    hist[:, :, 0] = torch.tensor([-80.0, -70.0, -60.0, -50.0])
    hist[:, :, 1] = -90.0
    hist[1] += 5.0
    return hist


def test_last_coarse_repeats_the_last_sweep_for_every_step() -> None:
    head = PowerHead(8, 3, horizon=2, coarse="last", history=4)
    assert torch.equal(head.coarse_estimate(_sweeps()), _sweeps()[:, -1:].expand(-1, 2, -1))


def test_filter_coarse_is_a_convex_average_of_the_history_sweeps() -> None:
    head = PowerHead(8, 3, horizon=2, coarse="filter", history=4)
    with torch.no_grad():
        head.history_logits.zero_()  # equal weights: the plain mean of the 4 sweeps
    est = head.coarse_estimate(_sweeps())
    assert est.shape == (2, 2, 3)
    assert torch.allclose(est[0, 0], torch.tensor([-65.0, -90.0, 0.0]))
    assert torch.allclose(est[1, 1], torch.tensor([-60.0, -85.0, 5.0]))
    # at initialisation most of the weight sits on the last sweep
    fresh = PowerHead(8, 3, horizon=2, coarse="filter", history=4).coarse_estimate(_sweeps())
    assert (fresh[0, :, 0] < -50.0).all() and (fresh[0, :, 0] > -52.0).all()


def test_beam_target_hard_and_soft() -> None:
    power = np.full((1, 3, 4), -100.0)
    power[0, :, 2] = -60.0
    power[0, 1:, 1] = -60.0 - 2.0 * np.log(3.0)  # exp(-ln 3) = 1/3 of beam 2's weight at 2 dB
    labels = {"beam": np.array([[0, 2, 2]]), "beam_power": power}
    hard = beam_target(labels, 1, 0.0)
    assert hard.dtype == torch.long and hard.tolist() == [[2, 2]]
    soft = beam_target(labels, 1, 2.0)
    assert soft.shape == (1, 2, 4)
    assert torch.allclose(soft.sum(-1), torch.ones(1, 2))
    assert soft[0, 0, 2] == pytest.approx(0.75, abs=1e-6) and soft[0, 0, 1] == pytest.approx(0.25, abs=1e-6)
    assert soft[0, 0, 0] < 1e-8


def test_beam_cross_entropy_takes_either_target() -> None:
    logits = torch.log(torch.tensor([[[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]]))  # (B = 1, H = 2, K = 3)
    hard = torch.tensor([[0, 2]])
    assert beam_cross_entropy(logits, hard).item() == pytest.approx(-(np.log(0.5) + np.log(0.8)) / 2, abs=1e-6)
    soft = torch.tensor([[[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]])
    expected = -(0.5 * np.log(0.5) + 0.5 * np.log(0.25) + np.log(0.8)) / 2
    assert beam_cross_entropy(logits, soft).item() == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(("kwargs", "message"), [({"power_coarse": "mean"}, "power_coarse"),
                                                 ({"beam_soft_db": -1.0}, "beam_soft_db")])
def test_evaluation_options_are_checked(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MSACEvaluation(**kwargs)
