"""W&B without an account: the offline logger path end to end, and the sweep file checked offline."""

from __future__ import annotations

import warnings
from pathlib import Path

import lightning as L
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_offline_run_logs_config_probe_table_and_plots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lightning.pytorch.loggers import WandbLogger
    from tiny import IndexedDataModule, tiny_jepa
    from toy import ToyDownstream

    from wfm.callbacks import ProbeCallback

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    logger = WandbLogger(project="wfm-test", save_dir=str(tmp_path))
    probe = ProbeCallback(tasks=[ToyDownstream(name="cls", num_samples=40)], every_n_epochs=1, max_samples=None,
                          bf16=False, final_seeds=[0, 1])
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", logger=logger, callbacks=[probe], limit_val_batches=0,
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    model = tiny_jepa()
    trainer.fit(model, IndexedDataModule(n=16, batch_size=4))
    run = logger.experiment
    assert run.config["lr"] == model.lr and run.config["encoder_config"]["embed_dim"] == 32  # the run's config
    run_dir = Path(run.dir)
    run.finish()  # closes the offline run: its .wandb log holds config, metrics and media for `wandb sync`
    files = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}
    images = [f for f in files if f.startswith("media/images/")]
    assert any("label_efficiency" in f for f in images) and any("masks" in f for f in images), files
    assert any(f.startswith("media/table/probe_results") for f in files), files
    logs = list(run_dir.parent.glob("run-*.wandb"))
    assert logs and logs[0].stat().st_size > 0  # what `wandb sync` uploads later


def test_sweep_file_is_a_valid_wandb_sweep() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydantic v1-style config warnings inside the sweeps package
        import sweeps
    from wfm.views import class_path
    cfg = yaml.safe_load((ROOT / "configs/sweeps/masking.yaml").read_text())
    assert sweeps.schema_violations_from_proposed_config(cfg) == []
    runs = [r for r in sweeps.next_runs(sweeps.SweepConfig(cfg), [], n=100) if r is not None]
    grid = {(r.config["model.init_args.masking"]["value"],
             r.config["model.init_args.masking.init_args.num_targets"]["value"]) for r in runs}
    assert grid == {(class_path(s), m) for s in ("region", "frequency", "time") for m in (2, 3, 4, 5, 6)}
    # every swept key is a key of the recipe the sweep runs
    from wfm.main import build_cli

    recipe = cfg["command"][cfg["command"].index("--config") + 1]
    build_cli([f"--config={ROOT / recipe}", *[f"--{k}={v['values'][0]}" for k, v in cfg["parameters"].items()],
               "--data.init_args.n=8"], run=False)
