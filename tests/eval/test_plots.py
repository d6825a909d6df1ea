"""wfm.eval.plots: mask examples, probe history, label efficiency, channel robustness and embedding plots are
written as PNG files (the curves computed by wfm.eval.analyses)."""

from __future__ import annotations

import numpy as np
from helpers import PROBE_ENCODER_CFG
from toy import ToyDownstream

from wfm.eval import analyses, plots
from wfm.eval.features import extract_features
from wfm.models.encoder import ViTEncoder


def test_plots(tmp_path):
    dm = ToyDownstream(num_samples=40)
    enc = ViTEncoder(**PROBE_ENCODER_CFG)
    feats, targets = extract_features(enc, dm.probe_dataloader(), bf16=False)

    def mask_fn(strategy):
        ctx = np.zeros(16, bool)
        ctx[:8] = True
        tgt = np.zeros((2, 16), bool)
        tgt[0, 8:10], tgt[1, 12:14] = True, True
        return ctx, tgt

    paths = [
        plots.plot_mask_examples(dm.dataset[0]["x"], mask_fn, (4, 4), tmp_path / "masks.png"),
        plots.plot_probe_history(
            [{"step": 0, "probe/toy/acc": 50.0}, {"step": 10, "probe/toy/acc": 60.0}],
            "probe/toy/acc",
            tmp_path / "hist.png",
            baselines={"random-init": 40.0},
        ),
        plots.plot_label_efficiency(
            analyses.label_efficiency(
                feats, targets, dm.task, dm.split_indices, fractions=(0.25, 1.0), seeds=(0,)
            ),
            tmp_path / "eff.png",
        ),
        plots.plot_channel_robustness(
            analyses.channel_robustness(
                enc, dm.probe_dataloader(), dm.task, dm.split_indices, [1, 2], seeds=(0,)
            ),
            tmp_path / "chan.png",
        ),
        plots.plot_embedding(feats, targets["label"], tmp_path / "emb.png"),
    ]
    for p in paths:
        assert p.is_file() and p.read_bytes()[:4] == b"\x89PNG"
