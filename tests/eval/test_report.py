"""wfm.eval.report owns the probe report: `wfm test` and the pretraining callback get the same numbers from it,
and publishing only writes and draws what it computed."""

from __future__ import annotations

import numpy as np
import torch
from helpers import PROBE_ENCODER_CFG as CFG
from toy import ToyDownstream

from wfm.callbacks import ProbeCallback
from wfm.checkpoint import backbone_entry
from wfm.data.datamodules import ProbeSuite
from wfm.eval.evaluator import LinearProbeEvaluator
from wfm.eval.probe import ProbeResult
from wfm.eval.report import STRONGEST_ROW, probe_report, publish, random_encoders, task_features
from wfm.eval.subset import ProbeSubset
from wfm.models.encoder import ViTEncoder


def _tasks():
    return [
        ToyDownstream(name="cls", num_samples=40, batch_size=16, variable_channels=True),
        ToyDownstream(kind="regression", name="pos", num_samples=40, batch_size=16),
    ]


class _Trained:
    """What the callback reads of a method at the end of fit: its backbone and device."""

    def __init__(self, backbone: ViTEncoder) -> None:
        self.backbone, self.device = backbone, torch.device("cpu")


def test_wfm_test_and_the_callback_report_the_same_rows(cpu_trainer, tmp_path):
    torch.manual_seed(0)
    enc = ViTEncoder(**CFG)
    ckpt = tmp_path / "jepa.ckpt"
    torch.save({"wfm_backbone": backbone_entry(enc, CFG, encoder="target")}, ckpt)
    evaluator = LinearProbeEvaluator(backbone=str(ckpt), seeds=[0, 1], output_dir=str(tmp_path / "test"))
    cpu_trainer().test(evaluator, datamodule=ProbeSuite(tasks=_tasks()))

    cb = ProbeCallback(tasks=_tasks(), max_samples=None, final_seeds=[0, 1])
    rows = cb.final_report(_Trained(enc), tmp_path / "fit")

    # the same rows, digit for digit: the backbone's (named after the checkpoint / the method) and every floor
    assert list(rows) == ["_Trained", "random-init", "random-init (ijepa)", STRONGEST_ROW]
    assert list(evaluator.results) == ["jepa", *list(rows)[1:]]
    assert rows["_Trained"] == evaluator.results["jepa"]
    assert all(rows[r] == evaluator.results[r] for r in list(rows)[1:])
    table = (tmp_path / "test" / "probe_results.csv").read_text(encoding="utf-8")
    fit_table = (tmp_path / "fit" / "probe_results.csv").read_text(encoding="utf-8")
    assert fit_table == table.replace("\njepa,", "\n_Trained,")
    # and the same figures, drawn from the same analyses
    assert sorted(p.name for p in (tmp_path / "fit" / "plots").iterdir() if "_vs_step" not in p.name) == sorted(
        p.name for p in (tmp_path / "test" / "plots").iterdir())


def test_publish_only_writes_and_draws_what_the_report_computed(tmp_path, monkeypatch):
    import wfm.eval.features as features
    import wfm.eval.probe as probe

    torch.manual_seed(0)
    enc = ViTEncoder(**CFG)
    tasks = _tasks()
    encoders = {"backbone": enc, **random_encoders(enc.config)}
    report = probe_report(task_features(encoders, tasks), seeds=(0, 1), fractions=(0.25, 1.0),
                          channel_encoder=enc, channel_counts=[1, 2])
    assert set(report.label_efficiency) == {"cls", "pos"} and set(report.label_efficiency["cls"]) == set(encoders)
    assert set(report.label_efficiency["cls"]["backbone"]) == {1.0}  # 25 % of 32 = 8 < 10 labelled: left out
    assert set(report.channel_robustness["cls"]) == {1, 2}
    assert report.channel_robustness["pos"][2] == report.rows["backbone"][1]  # all its channels: the table's cell

    def forbidden(*args, **kwargs):
        raise AssertionError("publishing must not fit a probe or run an encoder")

    monkeypatch.setattr(probe, "probe_once", forbidden)
    monkeypatch.setattr(features, "encode_batch", forbidden)
    publish(report, tmp_path, "title")
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "cls_channels.png", "cls_embedding_pca.png", "cls_label_efficiency.png", "pos_channels.png",
        "pos_embedding_pca.png", "pos_label_efficiency.png"]
    assert (tmp_path / "probe_results.md").is_file()


def test_report_without_analyses_draws_nothing(tmp_path):
    enc = ViTEncoder(**CFG)
    report = probe_report(task_features({"backbone": enc}, _tasks()), seeds=(0,), analyses=False)
    assert report.label_efficiency is None and not report.channel_robustness
    publish(report, tmp_path, "title")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["probe_results.csv", "probe_results.md"]


def test_a_subset_is_probed_like_its_task():
    torch.manual_seed(0)
    enc = ViTEncoder(**CFG)
    dm = ToyDownstream(num_samples=30, batch_size=8)
    sub = ProbeSubset(dm, max_samples=12, seed=3)
    assert sub.num_samples == 30 and len(sub.indices) == 12 and sub.task is dm.task
    [(_, full, labels)] = task_features({"enc": enc}, [dm])
    [(_, part, sub_labels)] = task_features({"enc": enc}, [sub])
    np.testing.assert_allclose(part["enc"], full["enc"][sub.indices], atol=1e-6)
    np.testing.assert_array_equal(sub_labels["label"], labels["label"][sub.indices])
    tr, te = sub.split_indices(0)
    full_tr, full_te = dm.split_indices(0)
    assert set(sub.indices[tr]) == set(full_tr) & set(sub.indices)
    assert set(sub.indices[te]) == set(full_te) & set(sub.indices)
    assert ProbeSubset(dm, max_samples=None).indices is None


def test_gap_closed_is_the_share_of_the_random_to_supervised_gap_per_split() -> None:
    from wfm.eval.report import gap_closed
    from wfm.eval.tables import results_to_csv, results_to_markdown

    floor = ProbeResult("beam", "acc", [70.0, 72.0], 71.0, 1.0, "%", True, [0, 1])
    jepa = ProbeResult("beam", "acc", [76.0, 72.0], 74.0, 2.0, "%", True, [0, 1])
    gap = gap_closed(jepa, floor, 82.0)
    assert gap.metric == "gap_closed" and gap.values == [50.0, 0.0] and gap.mean == 25.0
    err_floor = ProbeResult("positioning", "error", [8.0], 8.0, 0.0, "m", False, [0])
    err = gap_closed(ProbeResult("positioning", "error", [6.0], 6.0, 0.0, "m", False, [0]), err_floor, 4.0)
    assert err.values == [50.0]  # lower is better: half-way from 8 m to 4 m
    table = {"jepa": [jepa, gap], "strongest random": [floor]}
    md = results_to_markdown(table)
    assert "beam gap closed (%) ↑" in md and "25.0 ± 25.0" in md and md.count("—") == 1
    assert "beam/gap_closed" in results_to_csv(table).splitlines()[0]
