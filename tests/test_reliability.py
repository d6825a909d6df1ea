"""Faults: a SIGKILLed run resumes from ``last.ckpt``; checkpoint writes never leave a truncated file; a NaN loss
stops with the step; bad configurations fail at start-up with a clear message before any data is read."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import fsspec.implementations.local as fs_local
import lightning as L
import pytest
import tiny
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from test_resume import _config, _logged_steps
from tiny import IndexedDataModule, tiny_jepa

from wfm.checkpoint_io import AtomicCheckpointIO
from wfm.main import build_cli
from wfm.main import main as wfm_main

TESTS = Path(__file__).resolve().parent


def _cli(cfg: Path, *args: str, throttle: float = 0.0) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "WFM_TEST_THROTTLE": str(throttle), "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "wfm.main", "fit", "--config", str(cfg), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.fault(what='SIGKILL in the middle of `wfm fit`',
                   survives=('`last.ckpt` from the last finished checkpoint step; `--ckpt_path last` resumes there and '
                             'the run finishes at the planned step, its log continuing (not restarting)'))
def test_sigkill_mid_run_resumes_from_last_and_finishes(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    cfg.write_text(cfg.read_text().replace("callbacks: []", "callbacks: [{class_path: tiny.Throttle}]"))
    steps, last = 12, tmp_path / "ckpt" / "last.ckpt"
    proc = _cli(cfg, "--trainer.max_steps", str(steps), "--checkpoint.every_n_train_steps", "2", throttle=0.4)
    deadline = time.monotonic() + 90
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert proc.poll() is None, "run ended before it could be killed:\n" + proc.communicate()[0][-3000:]
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    killed_at = torch.load(last, weights_only=True)["global_step"]
    assert 2 <= killed_at < steps and killed_at % 2 == 0
    # the same command plus --ckpt_path last: with other checkpoint.* args the ModelCheckpoint state key changes,
    # its state isn't restored and the resumed run writes last-v1.ckpt instead of last.ckpt
    resumed = _cli(cfg, "--trainer.max_steps", str(steps), "--checkpoint.every_n_train_steps", "2",
                   "--ckpt_path", "last")
    out = resumed.communicate(timeout=120)[0]
    assert resumed.returncode == 0, out[-3000:]
    assert torch.load(last, weights_only=True)["global_step"] == steps
    assert _logged_steps(tmp_path, 1)[0] == killed_at  # the resumed run continues, it doesn't restart


def _saved(make_trainer, tmp_path: Path, steps: int) -> tuple[L.Trainer, Path]:
    L.seed_everything(0)
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_last=True, save_top_k=0, every_n_train_steps=1)
    trainer = make_trainer(max_steps=steps, callbacks=[ckpt], enable_checkpointing=True, limit_val_batches=0)
    trainer.fit(tiny_jepa(), IndexedDataModule(n=16))
    return trainer, tmp_path / "last.ckpt"


@pytest.mark.fault(what='SIGKILL while a checkpoint is written',
                   survives=('the previous `last.ckpt`, complete (checkpoints are written to a temporary file next to '
                             'it and renamed)'))
def test_interrupted_checkpoint_write_keeps_previous_last(
    cpu_trainer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lightning 2.6 writes through an fsspec transaction: the bytes go to a temp file that is moved over
    ``last.ckpt`` only when complete. A write dying halfway leaves the previous file intact and loadable."""
    trainer, last = _saved(cpu_trainer, tmp_path, 1)
    before = last.read_bytes()
    real_write = fs_local.LocalFileOpener.write

    def half_then_die(self, data):  # noqa: ANN001
        real_write(self, data[: len(data) // 2])
        raise OSError("killed during checkpoint write")

    monkeypatch.setattr(fs_local.LocalFileOpener, "write", half_then_die)
    with pytest.raises(OSError, match="killed during"):
        trainer.save_checkpoint(last)
    monkeypatch.undo()
    assert last.read_bytes() == before
    assert torch.load(last, weights_only=True)["global_step"] == 1


@pytest.mark.fault(what='SIGKILL while a checkpoint is written',
                   survives=('the previous `last.ckpt`, complete (checkpoints are written to a temporary file next to '
                             'it and renamed)'))
def test_atomic_checkpoint_io_survives_a_kill_mid_save(
    cpu_trainer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The temp file lives next to ``last.ckpt`` (no cross-filesystem copy into the final path): a save dying
    halfway leaves the previous checkpoint byte-identical and no stray temp file; ``wfm`` installs this IO."""
    trainer, last = _saved(cpu_trainer, tmp_path, 1)
    trainer.strategy.checkpoint_io = AtomicCheckpointIO()
    before = last.read_bytes()
    real_save = torch.save

    def half_then_die(obj, f, *a, **k):  # noqa: ANN001, ANN002, ANN003
        f.write(before[: len(before) // 2])
        raise KeyboardInterrupt  # what a SIGINT/SIGTERM handler would raise mid-write

    monkeypatch.setattr(torch, "save", half_then_die)
    with pytest.raises(KeyboardInterrupt):
        trainer.save_checkpoint(last)
    monkeypatch.setattr(torch, "save", real_save)
    assert last.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]
    trainer.save_checkpoint(tmp_path / "sub" / "again.ckpt")
    assert torch.load(tmp_path / "sub" / "again.ckpt", weights_only=True)["global_step"] == 1

    cli = build_cli(["--config", str(_config(tmp_path))], run=False)
    assert isinstance(cli.trainer.strategy.checkpoint_io, AtomicCheckpointIO)


@pytest.mark.fault(what='a NaN in a batch',
                   survives='the run stops naming the bad step; `last.ckpt` is from before it and finite')
def test_nan_loss_stops_with_step_and_last_checkpoint_stays_loadable(cpu_trainer, tmp_path: Path) -> None:
    L.seed_everything(0)
    dm = IndexedDataModule(n=16, batch_size=4)
    dm.samples[13]["x"][0, 0, 0] = float("nan")  # batch 3 (unshuffled): global step 3
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_last=True, save_top_k=0, every_n_train_steps=1)
    with pytest.raises(FloatingPointError, match="global step 3"):
        cpu_trainer(max_steps=8, callbacks=[ckpt], enable_checkpointing=True, limit_val_batches=0).fit(
            tiny_jepa(), dm
        )
    state = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert state["global_step"] == 3
    assert all(torch.isfinite(v).all() for v in state["state_dict"].values() if v.is_floating_point())


@pytest.mark.parametrize(
    "override, message",
    [
        (["--model.init_args.encoder.init_args.patch_size", "7"], "patch_size=7 must divide img_size"),
        (["--model.init_args.encoder.init_args.pool", "max"], "pool must be 'mean' or 'cls'"),
        (["--model.init_args.masking", "wfm.views.FrequencyMask",
          "--model.init_args.masking.init_args.num_targets", "9"], "9 bands of 1 don't fit"),
    ],
    ids=["patch-size", "pooling", "masking"],
)
def test_bad_config_fails_before_data(
    tmp_path: Path, override: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    cfg = str(_config(tmp_path))
    tiny.TOUCHED.clear()
    with pytest.raises(SystemExit) as exc:
        wfm_main(args=["fit", "--config", cfg, "--trainer.max_steps", "1", *override])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and "Union subtypes" not in err
    assert tiny.TOUCHED == []  # no setup, no DataLoader
    assert not (tmp_path / "ckpt").exists()


def test_unknown_config_key_is_a_short_parser_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfg = str(_config(tmp_path))
    with pytest.raises(SystemExit) as exc:
        wfm_main(args=["fit", "--config", cfg, "--model.init_args.bogus_key", "1"])
    assert exc.value.code != 0
    err = capsys.readouterr().err
    assert "bogus_key" in err and "Traceback" not in err


@pytest.mark.fault(what='a NaN found steps later (no per-step host sync)',
                   survives=('the error names the bad step and the step it was found at; no checkpoint is written in '
                             'between (the check runs before every save)'))
def test_non_finite_loss_is_found_at_the_next_logging_step_without_a_per_step_sync(cpu_trainer) -> None:
    L.seed_everything(0)
    dm = IndexedDataModule(n=32, batch_size=4)
    dm.samples[5]["x"][:] = float("nan")  # batch 1 (unshuffled): global step 1
    with pytest.raises(FloatingPointError, match=r"global step 1 \(detected at step 3\)"):
        # log_every_n_steps=4: the flag is read (one host sync) at step 3, the first logging step after it
        cpu_trainer(max_steps=8, limit_val_batches=0, log_every_n_steps=4).fit(tiny_jepa(), dm)


# --- the shipped quickstart, killed with SIGKILL and resumed with the README's command -----------------------
QUICKSTART = TESTS.parent / "configs" / "quickstart.yaml"
#: what a user on a small machine could pass to shrink the run: sizes, steps and the checkpoint interval only
#: (the callbacks keep the recipe's two, with the probe on a tiny task: its step-0 and per-epoch probes and its
#: final table run as in the recipe, and resume must not disturb the weights)
SHRINK = [
    "--model.init_args.encoder={class_path: wfm.models.ViTEncoder, init_args: {img_size: 32, patch_size: 8, "
    "embed_dim: 32, depth: 2, num_heads: 2}}",
    "--model.init_args.masking.init_args.num_targets=2", "--model.init_args.masking.init_args.min_context=4",
    "--data.init_args.n=16", "--data.init_args.size=32", "--data.init_args.batch_size=8",
    "--trainer.max_epochs=4", "--checkpoint.every_n_train_steps=2",
    "--trainer.callbacks=[{class_path: wfm.callbacks.ProbeCallback, init_args: {tasks: [{class_path: "
    "wfm.data.datamodules.DownstreamDataModule, init_args: {dataset: rfs, n: 40, size: 32, batch_size: 8}}], "
    "every_n_epochs: 1, max_samples: 40, final_seeds: [0], plots: false}}, "
    "{class_path: wfm.callbacks.CollapseMonitor, init_args: {num_batches: 1}}]",
]


def _wfm_fit(cwd: Path, cache: Path, *extra: str) -> subprocess.Popen:
    """``wfm fit --config configs/quickstart.yaml <SHRINK> <extra>`` in ``cwd`` (its ``runs/`` is the config's)."""
    cwd.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "WFM_CACHE": str(cache), "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-m", "wfm.main", "fit", "--config", str(QUICKSTART), *SHRINK, *extra],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.fault(what='SIGKILL mid-epoch in `wfm fit --config configs/quickstart.yaml` (as a user runs it)',
                   survives=("the README's `wfm fit --config configs/quickstart.yaml --ckpt_path last` continues "
                             'from the last saved step in the same version folder and ends bit-identical (weights, '
                             'optimizer state, probe curve) to an uninterrupted run'))
@pytest.mark.slow
def test_quickstart_sigkilled_mid_run_resumes_with_the_readme_command_bit_for_bit(tmp_path: Path) -> None:
    """``wfm fit --config configs/quickstart.yaml``, SIGKILL mid-epoch after a checkpoint, then the README's
    ``wfm fit --config configs/quickstart.yaml --ckpt_path last``: the run continues from the last saved step in
    the same version folder and ends with exactly the weights and optimizer state of an uninterrupted run."""
    cache = tmp_path / "cache"
    straight = _wfm_fit(tmp_path / "straight", cache)
    cut = _wfm_fit(tmp_path / "cut", cache)  # both at once: the two cores, the cache built once (its lock)
    last = tmp_path / "cut" / "runs" / "quickstart" / "version_0" / "checkpoints" / "last.ckpt"
    seen, deadline = None, time.monotonic() + 240
    while cut.poll() is None and time.monotonic() < deadline:
        if last.exists() and last.stat().st_mtime_ns != seen:
            seen = last.stat().st_mtime_ns
            step = torch.load(last, weights_only=True)["global_step"]
            if step >= 14 and step % 10:  # past epoch 1's end and its probe (10 steps an epoch), mid-epoch
                cut.send_signal(signal.SIGKILL)
                break
        time.sleep(0.02)
    out = cut.communicate(timeout=60)[0]
    assert cut.returncode == -signal.SIGKILL, "run ended before it could be killed:\n" + out[-3000:]
    killed_at = torch.load(last, weights_only=True)["global_step"]
    assert 14 <= killed_at < 40 and killed_at % 2 == 0  # (mid-epoch but for a rare late kill)
    resumed = _wfm_fit(tmp_path / "cut", cache, "--ckpt_path", "last")  # README: continue the newest run
    out = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0, out[-3000:]
    assert f"starting at step {killed_at}" in out
    out = straight.communicate(timeout=300)[0]
    assert straight.returncode == 0, out[-3000:]

    a = torch.load(tmp_path / "straight" / "runs" / "quickstart" / "version_0" / "checkpoints" / "last.ckpt",
                   weights_only=True)
    b = torch.load(last, weights_only=True)
    assert a["global_step"] == b["global_step"] == 40
    assert a["state_dict"].keys() == b["state_dict"].keys()
    differ = [k for k, v in a["state_dict"].items() if not torch.equal(v, b["state_dict"][k])]
    assert differ == [], f"{len(differ)} tensors differ, first {differ[:5]}"
    for (i, sa), (j, sb) in zip(a["optimizer_states"][0]["state"].items(),
                                b["optimizer_states"][0]["state"].items(), strict=True):
        assert i == j and all(torch.equal(sa[k], sb[k]) for k in sa), f"optimizer state {i}"
    # the probe curve goes on where it stopped: the same values at the same steps (its timing aside)
    hist = [[{k: v for k, v in h.items() if k != "probe/seconds"} for h in c["callbacks"]["ProbeCallback"]["history"]]
            for c in (a, b)]
    # step 0 and the ends of epochs 1-3 (the step-40 checkpoint is written before epoch 4's probe)
    assert hist[0] == hist[1] and [h["step"] for h in hist[0]] == [0.0, 10.0, 20.0, 30.0]
    assert not (tmp_path / "cut" / "runs" / "quickstart" / "version_1").exists()  # the same run went on
