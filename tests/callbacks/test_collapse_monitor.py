"""CollapseMonitor: warns on (and can stop at) constant features, stays quiet on healthy ones."""

from __future__ import annotations

import warnings

import pytest
import torch
from callback_stubs import LIMITS, ConstantBackbone, Method
from toy import ToyDownstream

from wfm.callbacks import CollapseMonitor


def test_collapse_monitor_warns_on_constant_features(cpu_trainer):
    mon = CollapseMonitor(num_batches=2, patience=2, std_threshold=1e-4)
    with pytest.warns(UserWarning, match="collapse suspected"):
        cpu_trainer(max_epochs=2, callbacks=[mon], **LIMITS).fit(
            Method(ConstantBackbone()), datamodule=ToyDownstream(num_samples=40)
        )
    assert mon.history[-1]["feature_std"] < 1e-6 and mon.history[-1]["rankme"] < 1.01


def test_collapse_monitor_quiet_on_healthy_features(cpu_trainer):
    torch.manual_seed(0)
    mon = CollapseMonitor(num_batches=2, patience=1)
    trainer = cpu_trainer(max_epochs=2, callbacks=[mon], **LIMITS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(Method(), datamodule=ToyDownstream(num_samples=40))
    assert not [w for w in caught if "collapse" in str(w.message)]
    assert "monitor/rankme" in trainer.callback_metrics and mon.history[-1]["rankme"] > 2.0


def test_collapse_monitor_stops(cpu_trainer):
    mon = CollapseMonitor(num_batches=1, patience=1, stop_on_collapse=True)
    trainer = cpu_trainer(max_epochs=5, callbacks=[mon], **LIMITS)
    with pytest.warns(UserWarning, match="stopping training"):
        trainer.fit(Method(ConstantBackbone()), datamodule=ToyDownstream(num_samples=40))
    assert trainer.current_epoch < 5
