"""Per-horizon metrics exact on hand-made cases; the physical baselines; the LDA rank."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wfm.eval.msac import (
    Split,
    delta_p_db,
    displacement,
    horizon_metrics,
    lda_rank,
    physical_baselines,
    to_csv,
    topk_hit,
)
from wfm.models.msac_heads import constant_velocity, power_mean_db


def test_topk_and_delta_p_on_a_hand_case() -> None:
    scores = np.array([[[0.1, 0.5, 0.3, 0.2], [0.9, 0.0, 0.05, 0.04]]])  # (1, 2 steps, 4 beams)
    beam = np.array([[2, 3]])
    assert topk_hit(scores, beam, 1).tolist() == [[False, False]]
    assert topk_hit(scores, beam, 2).tolist() == [[True, False]]
    assert topk_hit(scores, beam, 3).tolist() == [[True, True]]
    power = np.array([[[-70.0, -65.0, -60.0, -90.0], [-80.0, -70.0, -75.0, -60.0]]])
    # chosen beams 1 and 0: lose 5 dB and 20 dB against the best
    assert delta_p_db(scores.argmax(-1), power).tolist() == [[5.0, 20.0]]


def test_ade_fde_and_rssi_errors_are_exact() -> None:
    history = 1
    pos = np.zeros((2, 3, 2))
    pos[:, 1:, 0] = [[3.0, 6.0], [0.0, 0.0]]
    pred = np.zeros((2, 2, 2))
    pred[0, :, 1] = 4.0  # errors 5 (3-4-5) and sqrt(36 + 16)
    labels = {"position": pos, "beam": np.zeros((2, 3), int), "beam_power": np.zeros((2, 3, 4)),
              "rssi": np.array([[0.0, -70.0, -72.0], [0.0, -60.0, -60.0]])}
    assert displacement(pred, pos[:, 1:]).ravel().tolist() == pytest.approx([5.0, np.sqrt(52), 0.0, 0.0])
    m = horizon_metrics(history, labels, position=pred, rssi=np.array([[-71.0, -72.0], [-57.0, -60.0]]))
    assert m["position/error_m@h1"] == pytest.approx(2.5)
    assert m["position/fde"] == pytest.approx(np.sqrt(52) / 2)
    assert m["position/ade"] == pytest.approx((5 + np.sqrt(52)) / 4)
    assert m["rssi/rmse_db@h1"] == pytest.approx(np.sqrt((1 + 9) / 2))
    assert m["rssi/mae_db@h1"] == pytest.approx(2.0) and m["rssi/rmse_db@h2"] == 0.0


def test_constant_velocity_and_power_mean() -> None:
    p = torch.tensor([[[0.0, 0.0], [1.0, 2.0]]])
    assert constant_velocity(p, 3).tolist() == [[[2.0, 4.0], [3.0, 6.0], [4.0, 8.0]]]
    db = torch.tensor([[-60.0, -70.0]])
    expect = 10 * np.log10((1e-6 + 1e-7) / 2)
    assert power_mean_db(db).item() == pytest.approx(expect, abs=1e-4)


def test_physical_baselines_on_a_hand_case() -> None:
    beam = np.array([[3, 3, 4, 2]])  # history 2: the last observed beam is 3
    power = np.full((1, 4, 8), -90.0)
    power[0, np.arange(4), beam[0]] = -60.0
    gps = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]])
    labels = {"beam": beam, "beam_power": power, "position": np.array([[[0, 0], [1, 0], [2, 0], [3, 1]]]),
              "rssi": np.array([[-70.0, -71.0, -72.0, -75.0]])}
    split = Split({}, labels, {"gps": gps, "beam_power": torch.tensor(power)})
    rows = physical_baselines(split, history=2, num_beams=8)
    lb = rows["last_beam"]
    assert lb["beam/top1@h1"] == 0.0 and lb["beam/top3@h1"] == 100.0  # 4 is a neighbour of 3
    assert lb["beam/top3@h2"] == 100.0 and lb["beam/dp_db@h1"] == 30.0
    cv = rows["constant_velocity"]
    assert cv["position/error_m@h1"] == 0.0 and cv["position/fde"] == pytest.approx(1.0)
    assert rows["last_rssi"]["rssi/mae_db@h2"] == pytest.approx(4.0)


def test_lda_rank_counts_directions_that_separate_samples() -> None:
    rng = np.random.default_rng(0)
    centres = np.zeros((200, 6))
    centres[:, :2] = rng.normal(size=(200, 2)) * 10  # samples differ along 2 directions only
    views = centres[:, None] + rng.normal(size=(200, 4, 6))
    assert lda_rank(views) == pytest.approx(2.0, abs=0.3)
    centres[:, :] = rng.normal(size=(200, 6)) * 10
    views = centres[:, None] + rng.normal(size=(200, 4, 6))
    assert lda_rank(views) == pytest.approx(6.0, abs=0.6)
    with pytest.raises(ValueError, match="A >= 2"):
        lda_rank(np.zeros((3, 1, 4)))


def test_csv_has_every_column_with_a_std_twin_and_empty_cells() -> None:
    text = to_csv({"last_beam": {"beam/top1@h1": (40.0, 0.0)}}, horizon=5)
    head, row = text.strip().splitlines()
    cols = head.split(",")
    assert cols[0] == "method" and "position/error_m@h5" in cols and "rssi/rmse_db@h3_std" in cols
    assert "position/ade_std" in cols and "beam/dp_db@h5" in cols and "beam/top3@h2" in cols
    cells = dict(zip(cols, row.split(","), strict=True))
    assert cells["beam/top1@h1"] == "40" and cells["position/ade"] == ""


def test_seed_table_is_mean_and_std_over_runs(tmp_path, monkeypatch) -> None:
    from wfm.msac_seeds import main

    for i, top1 in enumerate([20.0, 30.0]):
        d = tmp_path / f"run{i}"
        d.mkdir()
        (d / "probe_results.csv").write_text(to_csv({"jepa_msac": {"beam/top1@h3": (top1, 1.0)},
                                                     "last_beam": {"beam/top1@h3": (10.0, 0.0)}}, horizon=5))
    out = tmp_path / "notes.md"
    assert main([str(tmp_path / "run0"), str(tmp_path / "run1"), "--out", str(out), "--title", "T"]) == 0
    text = out.read_text()
    assert "| jepa_msac | 2 |" in text and "25.0 ± 5.0" in text and "10.0 ± 0.0" in text
    assert main(["--ablation", f"a={tmp_path / 'run0'}", f"b={tmp_path / 'run1'}"]) == 0
    assert main([str(tmp_path / "missing")]) == 1
    monkeypatch.chdir(tmp_path)  # `--out -` prints only: no file named "-"
    assert main([str(tmp_path / "run0"), "--out", "-"]) == 0 and not (tmp_path / "-").exists()
