"""ProbeCallback: probe metrics and caps during training, the step-0 baselines, the final report and plots."""

from __future__ import annotations

import torch
from callback_stubs import LIMITS, Method
from toy import ToyDownstream

from wfm.callbacks import ProbeCallback


def test_probe_callback_logs_and_caps(cpu_trainer):
    torch.manual_seed(0)
    tasks = [
        ToyDownstream(name="cls", num_samples=60),
        ToyDownstream(kind="regression", name="pos", num_samples=30),
    ]
    cb = ProbeCallback(tasks=tasks, every_n_epochs=2, max_samples=40, bf16=False)
    trainer = cpu_trainer(max_epochs=2, callbacks=[cb], **LIMITS)
    trainer.fit(Method(), datamodule=ToyDownstream(num_samples=32))
    m = trainer.callback_metrics
    assert {"probe/cls/acc", "probe/pos/error", "probe/seconds"} <= set(m)
    assert float(m["probe/seconds"]) > 0
    # step 0 (the initial weights) and the end of epoch 2 (every_n_epochs=2; one batch per epoch)
    assert [(h["step"], h["epoch"]) for h in cb.history] == [(0.0, 0.0), (2.0, 1.0)]
    # the random baselines of the curves: one per init scheme, on the same samples
    assert set(cb.baselines) == {"random-init", "random-init (ijepa)"}
    assert set(cb.baselines["random-init"]) == {"probe/cls/acc", "probe/pos/error"}
    # the 60-sample task is probed on a fixed 40-sample subset whose split follows split_indices
    sub = cb._subsets[0]
    loader, sel, n = sub.probe_dataloader(), sub.indices, sub.num_samples
    assert n == 60 and len(sel) == 40 and len(loader.dataset) == 40
    tr, te = sub.split_indices(0)
    full_tr, _ = tasks[0].split_indices(0)
    assert set(sel[tr]) == set(full_tr) & set(sel) and not set(tr) & set(te)
    assert cb._subsets[1].indices is None  # 30 <= 40: all samples


def test_probe_callback_final_report_writes_table_and_plots(cpu_trainer, tmp_path):
    from tiny import tiny_jepa

    torch.manual_seed(0)
    tasks = [ToyDownstream(name="cls", num_samples=60), ToyDownstream(kind="regression", name="pos", num_samples=40)]
    cb = ProbeCallback(tasks=tasks, every_n_epochs=1, max_samples=None, bf16=False, final_seeds=[0, 1])
    trainer = cpu_trainer(max_epochs=2, callbacks=[cb], **LIMITS)
    trainer.fit(tiny_jepa(), datamodule=ToyDownstream(num_samples=32))
    assert [r.seeds for r in cb.final_results["JEPA"]] == [[0, 1], [0, 1]]
    md = (tmp_path / "probe_results.md").read_text(encoding="utf-8")
    assert "| JEPA |" in md and "| random-init |" in md and "| random-init (ijepa) |" in md
    assert "| strongest random |" in md
    pngs = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert pngs == sorted([
        "cls_embedding_pca.png", "cls_label_efficiency.png", "masks.png", "pos_embedding_pca.png",
        "pos_label_efficiency.png", "probe_cls_acc_vs_step.png", "probe_pos_error_vs_step.png",
    ])
    assert all((tmp_path / "plots" / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)
