"""wfm.lightning_adapter: every Lightning internal it reads still exists, and nothing else in wfm reads one."""

from __future__ import annotations

import re
from pathlib import Path

import lightning as L
from lightning.pytorch.cli import LightningCLI
from tiny import tiny_jepa

from wfm import lightning_adapter as adapter

SRC = Path(__file__).resolve().parents[1] / "src" / "wfm"
PRIVATE = re.compile(r"\b(_logger_connector|_accelerator_connector|_parse_ckpt_path|_instantiate_trainer|"
                     r"_active_loop|_batches_that_stepped)\b|\._trainer\b|\.fit_loop\b")


def test_the_internals_the_adapter_reads_exist_on_the_installed_lightning() -> None:
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, log_every_n_steps=1)
    assert hasattr(trainer._logger_connector, "should_update_logs")
    assert hasattr(trainer._accelerator_connector, "use_distributed_sampler")
    assert trainer.fit_loop.epoch_loop.batch_progress.current.processed == 0
    assert adapter.epoch_batches_done(trainer) == 0 and adapter.uses_distributed_sampler(trainer) is True
    assert isinstance(adapter.should_update_logs(trainer), bool)
    assert callable(LightningCLI._parse_ckpt_path) and callable(LightningCLI._instantiate_trainer)
    model = tiny_jepa()
    assert adapter.attached_trainer(model) is None
    model.trainer = trainer
    assert adapter.attached_trainer(model) is trainer


def test_no_module_but_the_adapter_reads_lightning_internals() -> None:
    offenders = [f"{p.relative_to(SRC)}:{i}" for p in SRC.rglob("*.py") if p.name != "lightning_adapter.py"
                 for i, line in enumerate(p.read_text().splitlines(), 1) if PRIVATE.search(line)]
    assert offenders == []
