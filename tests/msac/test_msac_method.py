"""JEPA-MSAC pretraining through Lightning: a step lowers nothing it should not, the EMA target follows, exact resume,
the reconstruction baseline, and the end-of-fit table with every method row."""

from __future__ import annotations

import csv
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from msac_tiny import TOKENS

from wfm.callbacks import MSACEvaluation
from wfm.data.datamodules import SequenceDataModule
from wfm.eval.msac import METHODS
from wfm.methods import MSACJEPA, MSACReconstruction

N = 3
TINY = {"embed_dim": 16, "depth": 1, "num_heads": 2, "tokens": TOKENS, "tokenizer_width": 4, "pred_dim": 8,
        "pred_depth": 1, "lr": 1e-3}


class StopAt(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, *args) -> None:  # noqa: ANN001
        if trainer.global_step >= self.step:
            trainer.should_stop = True


def _fit(make_trainer, seq_file: Path, tmp: Path, stop: int | None = None, ckpt: str | None = None) -> MSACJEPA:
    L.seed_everything(0)
    model = MSACJEPA(**TINY)
    cbs: list = [ModelCheckpoint(dirpath=tmp, save_last=True, save_top_k=0, every_n_train_steps=N)]
    if stop:
        cbs.append(StopAt(stop))
    trainer = make_trainer(max_steps=2 * N, callbacks=cbs, enable_checkpointing=True, limit_val_batches=0)
    trainer.fit(model, SequenceDataModule(str(seq_file), batch_size=4), ckpt_path=ckpt)
    return model


def test_exact_resume_of_a_pretraining_run(cpu_trainer, seq_file: Path, tmp_path: Path) -> None:
    straight = _fit(cpu_trainer, seq_file, tmp_path / "straight")
    _fit(cpu_trainer, seq_file, tmp_path / "cut", stop=N)
    ckpt = tmp_path / "cut" / "last.ckpt"
    assert torch.load(ckpt, weights_only=True)["global_step"] == N
    resumed = _fit(cpu_trainer, seq_file, tmp_path / "cut", ckpt=str(ckpt))
    a, b = straight.state_dict(), resumed.state_dict()
    assert a.keys() == b.keys() and any(k.startswith("target.") for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), k




def test_networks_are_built_from_the_data_and_recorded(seq_file: Path) -> None:
    dm = SequenceDataModule(str(seq_file), batch_size=4)
    dm.setup()
    model = MSACJEPA(**TINY, frame_shapes=dm.frame_shapes, frames=dm.frames, history=dm.history)
    again = MSACJEPA(**dict(model.hparams))
    assert again.encoder.config == model.encoder.config
    assert list(model.hparams.frame_shapes["radar"]) == [1, 8, 8] and model.hparams.history == 4
    batch = next(iter(dm.train_dataloader()))
    out = model.shared_step(batch, np.random.default_rng(0), "train")
    out["loss"].backward()
    assert model.encoder.blocks[0].attn.qkv.weight.grad is not None
    assert all(p.grad is None for p in model.target.parameters())
    before = [p.clone() for p in model.target.parameters()]
    from wfm.methods.momentum import ema_update

    with torch.no_grad():
        for p in model.encoder.parameters():
            p.add_(1.0)
    ema_update([(model.encoder, model.target)], 0.75)
    for b0, t, o in zip(before, model.target.parameters(), model.encoder.parameters(), strict=True):
        assert torch.allclose(t, 0.75 * b0 + 0.25 * o)


def test_reconstruction_baseline_learns_the_inputs(seq_file: Path) -> None:
    from wfm.eval.msac import split_of, train_backbone

    dm = SequenceDataModule(str(seq_file), batch_size=4)
    dm.setup()
    model = MSACReconstruction(**TINY, frame_shapes=dm.frame_shapes, frames=dm.frames, history=dm.history)
    train = split_of(dm.windows("train"))
    first = model.shared_step({"inputs": train.batch(slice(0, 8))}, np.random.default_rng(0), "train")["loss"].item()
    train_backbone(model, train, steps=30, batch_size=8, seed=0)
    after = model.shared_step({"inputs": train.batch(slice(0, 8))}, np.random.default_rng(0), "train")["loss"].item()
    assert after < first


@pytest.mark.slow
@pytest.mark.parametrize("heads", [{}, {"beam_soft_db": 0.0, "power_coarse": "last"}],
                         ids=["defaults", "one-hot beams, last sweep"])
def test_fit_ends_with_the_per_horizon_table(cpu_trainer, seq_file: Path, tmp_path: Path, heads: dict) -> None:
    L.seed_everything(0)
    cb = MSACEvaluation(seeds=[0, 1], head_epochs=2, head_lr=1e-3, **heads)
    trainer = cpu_trainer(max_steps=2, callbacks=[cb], limit_val_batches=0)
    trainer.fit(MSACJEPA(**TINY), SequenceDataModule(str(seq_file), batch_size=4))
    rows = list(csv.DictReader((Path(trainer.log_dir or tmp_path) / "probe_results.csv").open()))
    assert [r["method"] for r in rows] == list(METHODS)
    by = {r["method"]: r for r in rows}
    for k in range(1, 4):  # 7 frames, 4 of history: 3 future steps
        assert by["jepa_msac"][f"beam/top1@h{k}"] != "" and by["jepa_msac"][f"position/error_m@h{k}"] != ""
    assert by["last_beam"]["position/ade"] == "" and by["last_beam"]["beam/top1@h1"] != ""
    assert by["constant_velocity"]["position/fde"] != "" and by["last_rssi"]["rssi/rmse_db@h3"] != ""
    assert (Path(trainer.log_dir or tmp_path) / "probe_results.md").read_text().count("| jepa_msac |") == 5


@pytest.mark.slow
def test_deepsense_recipe_fits_and_tests_a_converted_scenario(tmp_path: Path) -> None:
    """The DeepSense config as a user runs it: convert the fixture folder, pretrain on it (tiny), then fit the heads
    on that checkpoint with ``wfm test --ckpt_path``; both write the per-horizon table."""
    from helpers import ROOT, load_module

    from wfm.data.converters import main as wfm_convert
    from wfm.main import main as wfm_main

    root = ROOT
    mk = load_module("tests/data/deepsense/make.py", "make_deepsense")
    scenario = mk.make(tmp_path / "scenario")
    out = tmp_path / "s32.h5"
    assert wfm_convert(["deepsense", str(scenario), str(out), "--window", "7", "--history", "4",
                        "--image-size", "12", "16", "--radar-bins", "8", "8", "--lidar-size", "8", "16"]) == 0
    tiny = ["--model.init_args.embed_dim=16", "--model.init_args.depth=1", "--model.init_args.num_heads=2",
            "--model.init_args.pred_dim=8", "--data.init_args.batch_size=4", "--trainer.max_steps=2",
            "--trainer.callbacks.init_args.head_epochs=1", "--trainer.callbacks.init_args.seeds=[0]",
            f"--trainer.logger.init_args.save_dir={tmp_path / 'runs'}", f"--data.init_args.dataset={out}"]
    cfg = f"--config={root / 'configs/msac/deepsense.yaml'}"
    wfm_main(args=["fit", cfg, *tiny, "--model.init_args.seed=1"])  # a pretraining seed apart from the split's
    ckpt = next((tmp_path / "runs").rglob("last.ckpt"))
    wfm_main(args=["test", cfg, *tiny, f"--ckpt_path={ckpt}"])
    tables = sorted((tmp_path / "runs").rglob("probe_results.csv"))
    assert len(tables) == 2
    for t in tables:
        assert [r["method"] for r in csv.DictReader(t.open())] == list(METHODS)


def test_collapse_monitor_reads_sequence_batches(cpu_trainer, seq_file: Path) -> None:
    from wfm.callbacks import CollapseMonitor

    L.seed_everything(0)
    mon = CollapseMonitor(num_batches=2)
    trainer = cpu_trainer(max_epochs=1, limit_train_batches=1, callbacks=[mon], limit_val_batches=2)
    trainer.fit(MSACJEPA(**TINY), SequenceDataModule(str(seq_file), batch_size=4))
    assert mon.history and mon.history[-1]["rankme"] >= 1.0 and mon.history[-1]["feature_std"] > 0
