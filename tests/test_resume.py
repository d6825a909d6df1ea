"""Exact resume: 2N steps straight == N steps, stop, resume from the checkpoint for N more.

Same online/target weights, optimizer state, lr / weight-decay / momentum schedule and mask sequence.
The stop is at step N of a run configured for 2N steps (a kill or time limit), so the schedule — a function
of ``max_steps`` — is the same in both runs. Masks are a pure function of ``(seed, global_step, rank)``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from helpers import assert_same_training_state
from lightning.pytorch.callbacks import ModelCheckpoint
from tiny import IndexedDataModule, Recorder, StopAt, tiny_jepa

from wfm.data.datamodules.pretrain import PretrainDataModule
from wfm.main import main as wfm_main

N = 3


def _fit(make_trainer, tmp: Path, dm_fn, stop: int | None = None, ckpt: str | None = None):
    L.seed_everything(0)
    model, rec = tiny_jepa(), Recorder()
    cbs: list = [rec, ModelCheckpoint(dirpath=tmp, save_last=True, save_top_k=0, every_n_train_steps=N)]
    if stop:
        cbs.append(StopAt(stop))
    trainer = make_trainer(max_steps=2 * N, callbacks=cbs, deterministic=True, enable_checkpointing=True,
                           limit_val_batches=0)
    trainer.fit(model, dm_fn(), ckpt_path=ckpt)
    return model, rec, trainer


def _assert_same_state(a: tuple, b: tuple) -> None:
    (ma, _, ta), (mb, _, tb) = a, b
    assert ta.global_step == 2 * N
    assert_same_training_state(ma, ta, mb, tb)


def _check_resume(make_trainer, tmp_path: Path, dm_fn) -> None:
    straight = _fit(make_trainer, tmp_path / "straight", dm_fn)
    first = _fit(make_trainer, tmp_path / "cut", dm_fn, stop=N)
    ckpt = tmp_path / "cut" / "last.ckpt"
    assert torch.load(ckpt, weights_only=True)["global_step"] == N
    resumed = _fit(make_trainer, tmp_path / "cut", dm_fn, ckpt=str(ckpt))
    s, f, r = straight[1], first[1], resumed[1]
    assert f.steps == list(range(N)) and r.steps == list(range(N, 2 * N))
    assert f.indices + r.indices == s.indices, "resumed run did not continue the data order"
    for a, b in zip(f.schedule + r.schedule, s.schedule, strict=True):  # lr, wd, momentum per step
        assert a.keys() == b.keys() == {"lr", "wd", "momentum"} and a == pytest.approx(b, rel=1e-12)
    for a, b in zip(f.masks + r.masks, s.masks, strict=True):
        assert torch.equal(a, b)
    _assert_same_state(resumed, straight)


@pytest.mark.fault(what='exact resume mid-epoch',
                   survives=('the resumed run sees the same batches, masks and channel subsets and ends bit-identical '
                             'to the uninterrupted one'))
@pytest.mark.parametrize(
    "n", [48, 20], ids=["mid-epoch", "across-epoch-boundary"]  # 12 batches/epoch; 5/epoch: epoch 1 starts at 5
)
def test_exact_resume(cpu_trainer, tmp_path: Path, n: int) -> None:
    """Resume mid-epoch from a step checkpoint (``every_n_train_steps``), with a seeded per-epoch shuffle.

    Uses ``ResumableDataLoader``: with a plain DataLoader Lightning restarts the interrupted epoch from
    its first batch."""
    _check_resume(cpu_trainer, tmp_path, lambda: IndexedDataModule(n=n, batch_size=4, shuffle=True, resumable=True))


def test_exact_resume_pretrain_datamodule(cpu_trainer, tmp_path: Path) -> None:
    _check_resume(cpu_trainer, tmp_path, lambda: PretrainDataModule(datasets=["csi"], n=40, size=32, batch_size=4,
                                                       val_fraction=0, group_by_channels=True))


def _config(tmp_path: Path) -> Path:
    cfg = {
        "seed_everything": 0,
        "trainer": {"accelerator": "cpu", "devices": 1, "precision": "32-true", "log_every_n_steps": 1,
                    "num_sanity_val_steps": 0, "limit_val_batches": 0,
                    "enable_model_summary": False, "callbacks": [],
                    "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger",
                               "init_args": {"save_dir": str(tmp_path / "runs"), "name": "tiny"}}},
        "checkpoint": {"dirpath": str(tmp_path / "ckpt")},
        "model": {"class_path": "wfm.methods.jepa.JEPA", "init_args": {
            "encoder": {"class_path": "wfm.models.ViTEncoder",
                        "init_args": {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 4}},
            "masking": {"class_path": "wfm.views.RegionMask",
                        "init_args": {"num_targets": 2, "min_context": 4}},
            "predictor_dim": 16, "predictor_depth": 1, "predictor_heads": 2}},
        "data": {"class_path": "tiny.IndexedDataModule", "init_args": {"n": 48, "batch_size": 4, "shuffle": True}},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _logged_steps(tmp_path: Path, version: int) -> list[int]:
    with open(tmp_path / "runs" / "tiny" / f"version_{version}" / "metrics.csv") as f:
        return [int(row["step"]) for row in csv.DictReader(f) if row.get("train/loss_step")]


def test_cli_resume_with_ckpt_path_last(tmp_path: Path) -> None:
    """``wfm fit --trainer.max_steps N`` then ``... --trainer.max_steps 2N --ckpt_path last`` continues from N.

    ``checkpoint.dirpath`` is fixed: by default it lives under the logger's ``version_<k>`` folder, and the
    second invocation gets a new version, where ``last`` would find nothing."""
    cfg = str(_config(tmp_path))
    wfm_main(args=["fit", "--config", cfg, "--trainer.max_steps", str(N)])
    assert torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)["global_step"] == N
    wfm_main(args=["fit", "--config", cfg, "--trainer.max_steps", str(2 * N), "--ckpt_path", "last"])
    assert torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)["global_step"] == 2 * N
    assert _logged_steps(tmp_path, 0) == list(range(N))
    assert _logged_steps(tmp_path, 1) == list(range(N, 2 * N))


@pytest.mark.fault(what=('a second `wfm fit ... --ckpt_path last` (no fixed `checkpoint.dirpath`, as every shipped '
                         'config)'),
                   survives=('the newest `<save_dir>/<name>/version_*/checkpoints/last.ckpt` is resumed and its '
                             'version keeps logging; with no earlier run: `wfm: error: --ckpt_path last: no '
                             'runs/<name>/version_*/checkpoints/last.ckpt to continue from; ...`, exit 2'))
def test_cli_ckpt_path_last_continues_the_newest_run_of_the_recipe(tmp_path: Path) -> None:
    """Without a fixed ``checkpoint.dirpath`` (every shipped config), ``--ckpt_path last`` finds the newest
    ``version_*/checkpoints/last.ckpt`` of the recipe's logger and continues there; none is a clear error."""
    cfg = yaml.safe_load(_config(tmp_path).read_text())
    del cfg["checkpoint"]
    path = tmp_path / "tiny_default.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(SystemExit) as exc:
        wfm_main(args=["fit", "--config", str(path), "--trainer.max_steps", str(N), "--ckpt_path", "last"])
    assert exc.value.code == 2
    wfm_main(args=["fit", "--config", str(path), "--trainer.max_steps", str(N)])
    last = tmp_path / "runs" / "tiny" / "version_0" / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["global_step"] == N
    wfm_main(args=["fit", "--config", str(path), "--trainer.max_steps", str(2 * N), "--ckpt_path", "last"])
    assert torch.load(last, weights_only=True)["global_step"] == 2 * N  # the same run went on
    assert not (tmp_path / "runs" / "tiny" / "version_1").exists()
    assert _logged_steps(tmp_path, 0)[-N:] == list(range(N, 2 * N))


@pytest.mark.fault(what='a checkpoint whose hyperparameters name a class outside wfm (`_class_path: this.JEPA`)',
                   survives='exit 2 naming the class; the module is never imported')
def test_a_checkpoint_naming_a_class_outside_wfm_is_refused_before_anything_is_imported(tmp_path, monkeypatch,
                                                                                         capsys) -> None:
    sentinel = tmp_path / "imported"
    (tmp_path / "evil_module.py").write_text(f"open({str(sentinel)!r}, 'w').close()\nclass JEPA: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = str(_config(tmp_path))
    wfm_main(args=["fit", "--config", cfg, "--trainer.max_steps", "1"])
    ckpt = tmp_path / "ckpt" / "last.ckpt"
    state = torch.load(ckpt, weights_only=True)
    state["hyper_parameters"]["_class_path"] = "evil_module.JEPA"
    torch.save(state, ckpt)
    with pytest.raises(SystemExit) as exc:
        wfm_main(args=["fit", "--config", cfg, "--trainer.max_steps", "2", "--ckpt_path", str(ckpt)])
    assert exc.value.code == 2
    assert "evil_module.JEPA" in capsys.readouterr().err and not sentinel.exists()


@pytest.mark.fault(what=("`--ckpt_path` with explicit flags that differ from the checkpoint's hyperparameters "
                         '(`--model.init_args.lr`)'),
                   survives=('the explicit flag wins, in the model, `config.yaml` and `hparams.yaml`; unset keys keep '
                             "the checkpoint's values"))
def test_explicit_cli_flags_win_over_the_checkpoints_hyperparameters(tmp_path: Path, monkeypatch) -> None:
    """Lightning merges a ``--ckpt_path`` checkpoint's hyperparameters over the whole config, so an explicit
    ``--model.init_args.lr 0.001`` used to end as the checkpoint's value (in the model and in config.yaml)."""
    from wfm.main import WFMCLI, build_cli

    cfg = str(_config(tmp_path))
    wfm_main(args=["fit", "--config", cfg, "--trainer.max_steps", str(N), "--model.init_args.lr", "0.01"])
    ckpt = tmp_path / "ckpt" / "last.ckpt"
    assert torch.load(ckpt, weights_only=True)["hyper_parameters"]["lr"] == 0.01
    wfm_main(args=["fit", "--config", cfg, "--trainer.max_steps", str(2 * N), "--ckpt_path", str(ckpt),
                   "--model.init_args.lr=0.001"])
    assert torch.load(ckpt, weights_only=True)["hyper_parameters"]["lr"] == 0.001
    saved = yaml.safe_load((tmp_path / "runs" / "tiny" / "version_1" / "config.yaml").read_text())
    assert saved["model"]["init_args"]["lr"] == 0.001
    hparams = yaml.safe_load((tmp_path / "runs" / "tiny" / "version_1" / "hparams.yaml").read_text())
    assert hparams["lr"] == 0.001
    # test / validate / predict: the same merge (JEPA has no test_step: the run itself is left out here)
    monkeypatch.setattr(WFMCLI, "_run_subcommand", lambda self, sub: None)
    cli = build_cli(["test", "--config", cfg, "--ckpt_path", str(ckpt), "--model.init_args.lr", "0.002"])
    assert cli.model.hparams["lr"] == 0.002 and cli.config["test"]["model"]["init_args"]["lr"] == 0.002
    cli = build_cli(["test", "--config", cfg, "--ckpt_path", str(ckpt)])  # no flag: the checkpoint's value
    assert cli.model.hparams["lr"] == 0.001


def test_ckpt_path_last_with_a_fixed_dirpath_and_nothing_there_is_an_error(tmp_path: Path, capsys) -> None:
    """Lightning's own lookup (a fixed ``checkpoint.dirpath``) found nothing, warned and started over."""
    cfg = str(_config(tmp_path))
    with pytest.raises(SystemExit) as exc:
        wfm_main(args=["fit", "--config", cfg, "--trainer.max_steps", str(N), "--ckpt_path", "last"])
    assert exc.value.code == 2
    assert (f"wfm: error: --ckpt_path last: no {tmp_path / 'ckpt' / 'last.ckpt'} to continue from; give the "
            "checkpoint's path (or leave --ckpt_path out to start a new run)") in capsys.readouterr().err


def test_ckpt_path_last_for_test_with_no_run_does_not_advise_leaving_it_out(tmp_path: Path, capsys) -> None:
    """Without --ckpt_path, `wfm test` of a trained-only model is refused; the hint says to fit first."""
    cfg = str(_config(tmp_path))
    with pytest.raises(SystemExit) as exc:
        wfm_main(args=["test", "--config", cfg, "--ckpt_path", "last"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "to continue from; give the checkpoint's path (or run `wfm fit` with this config first)" in err
    assert "leave --ckpt_path out" not in err
