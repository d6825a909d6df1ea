"""Model folders (config.json + model.safetensors + README.md): written by wfm-export atomically, loaded by
wfm.load_pretrained in three lines, probed by wfm test; the older .safetensors + .json pairs keep loading; and
one wfm test compares several backbones in one table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import PROBE_ENCODER_CFG as CFG

import wfm
import wfm.export as export_cli
from wfm.checkpoint import (
    BackboneLoadError,
    backbone_entry,
    export_backbone,
    export_model,
    load_backbone,
    load_backbone_with_meta,
)
from wfm.models.encoder import ViTEncoder

ROOT = Path(__file__).resolve().parents[1]


def _encoder(seed: int = 0, **kw) -> ViTEncoder:
    torch.manual_seed(seed)
    return ViTEncoder(**{**CFG, **kw})


def _ckpt(path: Path, enc: ViTEncoder, data: Path | None = None) -> Path:
    """A checkpoint as a wfm run writes one: the backbone entry, the method's and the DataModule's hparams."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {}, "epoch": 4, "global_step": 120,
                "hyper_parameters": {"_class_path": "wfm.methods.jepa.JEPA", "lr": 1e-3, "ema": [0.996, 1.0]},
                "datamodule_hyper_parameters": {"datasets": [str(data)] if data else ["rfs"], "size": 32},
                "wfm_backbone": backbone_entry(enc, enc.config, method="JEPA", encoder="target", epoch=4,
                                               global_step=120)}, path)
    return path


def _features(model, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.features(x)


def test_export_writes_a_self_describing_folder_that_round_trips(tmp_path: Path) -> None:
    enc = _encoder(1)
    data = tmp_path / "data" / "mine.h5"
    data.parent.mkdir()
    data.write_bytes(b"pretend hdf5 bytes")
    ckpt = _ckpt(tmp_path / "run" / "last.ckpt", enc, data)
    (ckpt.parent / "probe_results.md").write_text("| method | rfs acc (%) ↑ |\n|:---|---:|\n| last | 71.2 ± 1.0 |\n")
    (ckpt.parent / "probe_command.txt").write_text("wfm test --config configs/probe/file.yaml ...\n")
    assert export_cli.main([str(ckpt), str(tmp_path / "exports" / "jepa")]) == 0
    folder = tmp_path / "exports" / "jepa"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temporary left behind

    # the three lines of user code
    model = wfm.load_pretrained(folder)
    x = torch.randn(3, 2, 32, 32)
    torch.testing.assert_close(_features(model, x), _features(enc.eval(), x))
    assert not any(p.requires_grad for p in model.parameters()) and not model.training

    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["format"] == "wfm-model" and cfg["wfm_version"] == wfm.__version__
    assert cfg["architecture"] == "vit" and cfg["config"]["embed_dim"] == 32 and cfg["encoder"] == "target"
    assert cfg["input"]["image"]["size"] == [32, 32] and cfg["feature_dim"] == 32
    assert cfg["training"]["method"] == "JEPA" and cfg["training"]["global_step"] == 120
    assert cfg["training"]["recipe"]["lr"] == 1e-3 and cfg["training"]["data"]["size"] == 32
    import hashlib

    assert cfg["training"]["data_files"][str(data)]["sha256"] == hashlib.sha256(b"pretend hdf5 bytes").hexdigest()
    assert cfg["preprocessing"]["steps"] == []
    card = (folder / "README.md").read_text()
    assert "| last | 71.2 ± 1.0 |" in card and "wfm test --config configs/probe/file.yaml ..." in card
    assert "120 optimizer steps (saved at epoch 4)" in card and "## Limits" in card
    assert 'wfm.load_pretrained("jepa")' in card
    # every loader takes the folder: training's, the probe's
    assert isinstance(load_backbone(folder), ViTEncoder)
    assert load_backbone_with_meta(folder)[1]["training"]["method"] == "JEPA"


def test_folder_writes_are_atomic_and_never_clobber_other_files(tmp_path: Path, monkeypatch) -> None:
    enc = _encoder(2)
    ckpt = _ckpt(tmp_path / "last.ckpt", enc)
    out = export_model(ckpt, tmp_path / "m")
    first = (out / "model.safetensors").read_bytes()
    # a failure while writing leaves the old folder as it was and no temporary
    import safetensors.torch

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        export_model(_ckpt(tmp_path / "other.ckpt", _encoder(3)), out)
    monkeypatch.undo()
    assert (out / "model.safetensors").read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt", "m", "other.ckpt"]
    # an existing model folder is replaced; a folder with other files is refused, not deleted
    export_model(tmp_path / "other.ckpt", out)
    x = torch.randn(2, 1, 32, 32)
    torch.testing.assert_close(_features(wfm.load_pretrained(out), x), _features(_encoder(3).eval(), x))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a wfm model folder"):
        export_model(ckpt, tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    # an incomplete or foreign folder is named
    (out / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model folder incomplete"):
        wfm.load_pretrained(out)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text(json.dumps({"format": "something-else"}))
    (tmp_path / "bad" / "model.safetensors").write_bytes(b"")
    with pytest.raises(BackboneLoadError, match="not a wfm model description"):
        load_backbone(tmp_path / "bad")


def test_old_pair_exports_still_load_everywhere(tmp_path: Path) -> None:
    enc = _encoder(4)
    ckpt = _ckpt(tmp_path / "last.ckpt", enc)
    st, js = export_backbone(ckpt, tmp_path / "pair")
    assert export_cli.main([str(ckpt), str(tmp_path / "cli.safetensors")]) == 0  # a suffix keeps the pair format
    assert (tmp_path / "cli.json").is_file() and not (tmp_path / "cli").exists()
    x = torch.randn(2, 1, 32, 32)
    for path in (st, js, tmp_path / "pair", tmp_path / "cli.json"):
        torch.testing.assert_close(_features(load_backbone(path), x), _features(enc.eval(), x))
        torch.testing.assert_close(_features(wfm.load_pretrained(path), x), _features(enc, x))
    # and the wfm ckpt itself
    torch.testing.assert_close(_features(wfm.load_pretrained(ckpt), x), _features(enc, x))
    # a pair from before the folder format (no architecture / adjust keys) is what export_backbone writes
    assert set(json.loads(js.read_text())) == {"format", "version", "config", "encoder", "modalities", "source",
                                               "method", "epoch", "global_step"}


def test_context_encoder_exports_as_a_folder(tmp_path: Path) -> None:
    from wfm.methods.jepa import JEPA
    from wfm.views import RegionMask

    model = JEPA(encoder=_encoder(0), masking=RegionMask(num_targets=2), predictor_dim=16, predictor_depth=1,
                 predictor_heads=2)
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.add_(0.1)
    ckpt = {"state_dict": model.state_dict()}
    model.on_save_checkpoint(ckpt)
    torch.save(ckpt, tmp_path / "jepa.ckpt")
    assert export_cli.main([str(tmp_path / "jepa.ckpt"), str(tmp_path / "ctx"), "--encoder", "context"]) == 0
    assert json.loads((tmp_path / "ctx" / "config.json").read_text())["encoder"] == "context"
    x = torch.randn(2, 1, 32, 32)
    torch.testing.assert_close(_features(wfm.load_pretrained(tmp_path / "ctx"), x), _features(model.encoder.eval(), x))
    assert export_cli.main([str(tmp_path / "missing.ckpt"), str(tmp_path / "x")]) == 1


def test_one_table_compares_several_backbones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture) -> None:
    """wfm test --model.init_args.backbones '{...}': a wfm checkpoint and a wider model's folder on one built-in
    task, the same splits and probe; each row's parameters and feature width are listed."""
    from wfm.eval.tables import read_results_csv
    from wfm.main import main as wfm_main

    monkeypatch.setenv("WFM_CACHE", str(tmp_path / "cache"))
    small = _ckpt(tmp_path / "a" / "last.ckpt", _encoder(5))
    wide = export_model(_ckpt(tmp_path / "b" / "last.ckpt", _encoder(6, embed_dim=64, num_heads=4)), tmp_path / "wide")
    out = tmp_path / "cmp"
    wfm_main(args=["test", f"--config={ROOT / 'configs/probe/file.yaml'}",
                   f"--model.init_args.backbones={{small: {small}, wide: {wide}}}",
                   "--data.init_args.dataset=rfs", "--data.init_args.size=32", "--data.init_args.n=40",
                   "--data.init_args.batch_size=20", "--model.init_args.seeds=[0, 1]", "--model.init_args.plots=false",
                   f"--model.init_args.output_dir={out}", "--trainer.enable_progress_bar=false"])
    table = read_results_csv(out / "probe_results.csv")
    assert list(table) == ["small", "wide", "random-init", "random-init (ijepa)", "strongest random"]
    assert all(len(v["rfs/acc"]) == 2 for v in table.values())  # mean and std over the same 2 splits
    md = (out / "probe_backbones.md").read_text()
    assert "| small | vit |" in md and "| 32 |" in md and "| wide | vit |" in md and "| 64 |" in md
    n_small = sum(p.numel() for p in _encoder(5).parameters())
    assert f"{n_small:,}" in md and "| wide |" in capsys.readouterr().out
    assert (out / "probe_command.txt").is_file()
    with pytest.raises(ValueError, match="not both"):
        from wfm.eval.evaluator import LinearProbeEvaluator

        LinearProbeEvaluator(backbone=str(small), backbones={"x": str(small)})
    with pytest.raises(ValueError, match="reserved"):
        LinearProbeEvaluator(backbones={"random-init": str(small)})
