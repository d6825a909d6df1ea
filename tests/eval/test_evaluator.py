"""LinearProbeEvaluator + ProbeSuite under `Trainer.test`, and the DDP row merge."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import PROBE_ENCODER_CFG as CFG
from torch.utils.data import DistributedSampler
from toy import ToyDownstream

from wfm.checkpoint import BackboneLoadError, backbone_entry
from wfm.data.datamodules import ProbeSuite
from wfm.eval.evaluator import LinearProbeEvaluator, merge_interleaved
from wfm.eval.tables import read_results_csv
from wfm.models.encoder import ViTEncoder


def _suite():
    return ProbeSuite(
        tasks=[
            ToyDownstream(name="cls", num_samples=40, batch_size=16, variable_channels=True),
            ToyDownstream(kind="regression", name="pos", num_samples=40, batch_size=16),
        ]
    )


def test_evaluator_end_to_end(cpu_trainer, tmp_path):
    torch.manual_seed(0)
    enc = ViTEncoder(**CFG)
    ckpt = tmp_path / "ckpts" / "jepa.ckpt"
    ckpt.parent.mkdir()
    torch.save({"wfm_backbone": backbone_entry(enc, CFG, encoder="target")}, ckpt)
    model = LinearProbeEvaluator(
        backbone=str(ckpt), encoder={"embed_dim": 32}, seeds=[0, 1], bf16=False, channel_counts=[1, 2]
    )
    metrics = cpu_trainer().test(model, datamodule=_suite())[0]
    assert {
        "probe/cls/acc",
        "probe/pos/error",
        "probe_random_init/cls/acc",
        "probe_random_init/pos/error",
        "probe_strongest_random/cls/acc",
        "probe_strongest_random/pos/error",
    } <= set(metrics)
    rows = ["jepa", "random-init", "random-init (ijepa)", "strongest random"]
    assert list(model.results) == rows
    # the strongest random row is, per task, the best random row: max accuracy, min error
    random_rows = [model.results[r] for r in rows[1:3]]
    best_acc = max(r[0].mean for r in random_rows)
    best_err = min(r[1].mean for r in random_rows)
    assert [r.mean for r in model.results["strongest random"]] == [best_acc, best_err]
    assert metrics["probe_strongest_random/cls/acc"] == pytest.approx(best_acc, rel=1e-5)
    table = read_results_csv(tmp_path / "ckpts" / "probe_results.csv")  # next to the checkpoint
    assert set(table) == set(rows)
    assert table["jepa"]["cls/acc"][0] == pytest.approx(metrics["probe/cls/acc"], rel=1e-5)
    assert 0.0 <= metrics["probe/cls/acc"] <= 100.0 and metrics["probe/pos/error"] > 0
    md = (tmp_path / "ckpts" / "probe_results.md").read_text(encoding="utf-8")
    assert "cls acc (%) ↑" in md and "pos error (m) ↓" in md
    plots = sorted(p.name for p in (tmp_path / "ckpts" / "plots").iterdir())
    assert plots == ["cls_channels.png", "cls_embedding_pca.png", "cls_label_efficiency.png", "pos_channels.png",
                     "pos_embedding_pca.png", "pos_label_efficiency.png"]


def test_random_init_only_and_output_dir(cpu_trainer, tmp_path):
    model = LinearProbeEvaluator(encoder=CFG, seeds=[0], output_dir=str(tmp_path / "out"), bf16=True, plots=False)
    metrics = cpu_trainer().test(model, datamodule=_suite())[0]
    assert list(model.results) == ["random-init"] and "probe/cls/acc" in metrics
    assert (tmp_path / "out" / "probe_results.md").is_file()
    assert not (tmp_path / "out" / "plots").exists()


def test_config_mismatch_and_bad_datamodule(cpu_trainer, tmp_path):
    enc = ViTEncoder(**CFG)
    torch.save({"wfm_backbone": backbone_entry(enc, CFG)}, tmp_path / "m.ckpt")
    with pytest.raises(BackboneLoadError, match="embed_dim"):
        LinearProbeEvaluator(backbone=str(tmp_path / "m.ckpt"), encoder={"embed_dim": 64})
    with pytest.raises(ValueError, match="encoder kwargs"):
        LinearProbeEvaluator()
    model = LinearProbeEvaluator(encoder=CFG, seeds=[0], output_dir=str(tmp_path))
    with pytest.raises(TypeError, match="ProbeSuite"):
        cpu_trainer().test(model, datamodule=ToyDownstream(num_samples=20))
    with pytest.raises(TypeError, match="not a downstream DataModule"):
        ProbeSuite(tasks=[object()])


@pytest.mark.parametrize("world", [2, 3])
def test_merge_interleaved_matches_distributed_sampler(world):
    n = 7
    data = torch.arange(n).float()[:, None] * 10
    per_rank = [
        data[list(DistributedSampler(range(n), num_replicas=world, rank=r, shuffle=False))]
        for r in range(world)
    ]
    merged = merge_interleaved(torch.stack(per_rank), n)
    np.testing.assert_array_equal(merged.numpy(), data.numpy())


def _iq_suite(tmp_path, size=64):
    from wfm.data.datamodules import DownstreamDataModule

    kw = dict(n=40, size=size, batch_size=16, cache_dir=str(tmp_path / "cache"))
    return ProbeSuite(tasks=[DownstreamDataModule("rffp", **kw),
                             DownstreamDataModule("interference", target="interference", **kw)])


def test_image_and_iq_tasks_in_one_table(cpu_trainer, tmp_path):
    from wfm.data.datamodules import DownstreamDataModule

    cfg = {**CFG, "iq_length": 64, "iq_segment": 16}
    suite = _iq_suite(tmp_path)
    suite.tasks.insert(0, DownstreamDataModule("rfs", n=40, size=CFG["img_size"], batch_size=16,
                                               cache_dir=str(tmp_path / "cache")))
    model = LinearProbeEvaluator(encoder=cfg, seeds=[0], output_dir=str(tmp_path / "out"), bf16=False)
    metrics = cpu_trainer().test(model, datamodule=suite)[0]
    assert {"probe/rfs/acc", "probe/rffp/acc", "probe/interference/acc"} <= set(metrics)
    assert 0.0 <= metrics["probe/rffp/acc"] <= 100.0
    plots = {p.name for p in (tmp_path / "out" / "plots").iterdir()}
    assert {"rffp_label_efficiency.png", "rffp_embedding_pca.png", "interference_label_efficiency.png"} <= plots


def test_iq_tasks_need_an_encoder_that_takes_them(cpu_trainer, tmp_path):
    model = LinearProbeEvaluator(encoder=CFG, seeds=[0], bf16=False, plots=False, output_dir=str(tmp_path))
    with pytest.raises(ValueError, match="rffp.*IQ streams, but .* has no IQ tokenizer"):
        cpu_trainer().test(model, datamodule=_iq_suite(tmp_path))
    model = LinearProbeEvaluator(encoder={**CFG, "iq_length": 128}, seeds=[0], bf16=False, plots=False,
                                 output_dir=str(tmp_path))
    with pytest.raises(ValueError, match="have 64 time samples, but .* takes 128"):
        cpu_trainer().test(model, datamodule=_iq_suite(tmp_path))


def test_predict_writes_features_of_an_iq_dataset(tmp_path, monkeypatch):
    from pathlib import Path

    import h5py

    from wfm.main import main as wfm_main

    monkeypatch.setenv("WFM_CACHE", str(tmp_path / "cache"))
    config = Path(__file__).resolve().parents[2] / "configs" / "predict" / "file.yaml"
    wfm_main(args=["predict", "--config", str(config), f"--trainer.default_root_dir={tmp_path}",
                   "--model.init_args.encoder={img_size: 32, patch_size: 8, embed_dim: 32, depth: 1, num_heads: 2, "
                   "iq_length: 64}",
                   "--data.init_args.dataset=rffp", "--data.init_args.n=20", "--data.init_args.size=64"])
    with h5py.File(tmp_path / "features.h5") as f:
        assert f["features"].shape == (20, 32) and np.isfinite(f["features"][:]).all()
        np.testing.assert_array_equal(f["tx"][:], np.arange(20) % 8)
