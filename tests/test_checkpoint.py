"""wfm.checkpoint: backbones load from checkpoints and exports, and malicious pickles are refused."""

from __future__ import annotations

import json
import pickle
import re

import pytest
import torch
from helpers import PROBE_ENCODER_CFG as CFG
from lightning.pytorch import LightningModule

from wfm.checkpoint import (
    BackboneLoadError,
    backbone_entry,
    export_backbone,
    load_backbone,
    load_backbone_with_meta,
)
from wfm.models.encoder import ViTEncoder


def _encoder(seed: int = 0) -> ViTEncoder:
    torch.manual_seed(seed)
    return ViTEncoder(**CFG)


def _save_ckpt(path, enc, **extra):
    torch.save({"state_dict": {}, "epoch": 3, "wfm_backbone": backbone_entry(enc, CFG, **extra)}, path)


def _same(a: ViTEncoder, b: ViTEncoder) -> bool:
    x = torch.randn(2, 2, 32, 32)
    with torch.no_grad():
        return torch.allclose(a.eval().features(x), b.eval().features(x))


def test_load_from_ckpt_roundtrip(tmp_path):
    enc = _encoder()
    _save_ckpt(tmp_path / "m.ckpt", enc, encoder="target")
    loaded, meta = load_backbone_with_meta(tmp_path / "m.ckpt")
    assert isinstance(loaded, ViTEncoder) and _same(enc, loaded)
    assert meta["encoder"] == "target" and meta["config"]["embed_dim"] == 32


def test_export_roundtrip_and_cli(tmp_path):
    import wfm.export as mod  # the ``wfm-export`` command (was tools/export_backbone.py)

    enc = _encoder(1)
    _save_ckpt(tmp_path / "m.ckpt", enc, encoder="target")
    st, js = export_backbone(tmp_path / "m.ckpt", tmp_path / "out" / "jepa")
    assert st.name == "jepa.safetensors" and js.name == "jepa.json"
    meta = json.loads(js.read_text())
    assert meta["encoder"] == "target" and meta["config"]["img_size"] == [32, 32]
    assert meta["source"].endswith("m.ckpt")
    for p in (st, js, tmp_path / "out" / "jepa"):
        assert _same(enc, load_backbone(p))
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")]

    assert mod.main([str(tmp_path / "m.ckpt"), str(tmp_path / "cli.safetensors")]) == 0
    assert _same(enc, load_backbone(tmp_path / "cli.json"))
    assert mod.main([str(tmp_path / "nope.ckpt"), str(tmp_path / "x")]) == 1


def test_export_context_encoder_of_a_jepa_checkpoint(tmp_path):
    from wfm.methods.jepa import JEPA
    from wfm.views import RegionMask

    model = JEPA(encoder=_encoder(0), masking=RegionMask(num_targets=2), predictor_dim=16,
                 predictor_depth=1, predictor_heads=2)
    with torch.no_grad():  # make the two encoders differ, as after training
        for p in model.encoder.parameters():
            p.add_(0.1)
    ckpt = {"state_dict": model.state_dict()}
    model.on_save_checkpoint(ckpt)
    torch.save(ckpt, tmp_path / "jepa.ckpt")
    _, js_t = export_backbone(tmp_path / "jepa.ckpt", tmp_path / "target")
    _, js_c = export_backbone(tmp_path / "jepa.ckpt", tmp_path / "ctx", which="context")
    assert json.loads(js_t.read_text())["encoder"] == "target"
    assert json.loads(js_c.read_text())["encoder"] == "context"
    assert _same(model.target_encoder, load_backbone(js_t)) and _same(model.encoder, load_backbone(js_c))
    assert not _same(model.encoder, load_backbone(js_t))
    _save_ckpt(tmp_path / "bare.ckpt", _encoder(1))
    with pytest.raises(BackboneLoadError, match="no context encoder"):
        export_backbone(tmp_path / "bare.ckpt", tmp_path / "x", which="context")


class _Method(LightningModule):
    """Stand-in for a wfm method: saves hyperparameters and `wfm_backbone` like the real ones."""

    def __init__(self, lr: float = 0.1, encoder: dict | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.backbone = ViTEncoder(**(encoder or CFG))

    def training_step(self, batch, batch_idx):
        return self.backbone.features(batch[0]).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    def on_save_checkpoint(self, checkpoint):
        checkpoint["wfm_backbone"] = backbone_entry(
            self.backbone, self.hparams.encoder or CFG, encoder="backbone"
        )


def test_real_lightning_checkpoint_loads_weights_only(cpu_trainer, tmp_path):
    data = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.randn(4, 1, 32, 32)), batch_size=2
    )
    model = _Method(encoder=CFG)
    trainer = cpu_trainer(max_steps=1, enable_checkpointing=True)  # Lightning's default ModelCheckpoint
    trainer.fit(model, data)
    ckpts = list(tmp_path.rglob("*.ckpt"))
    assert ckpts, "Lightning wrote no checkpoint"
    assert _same(model.backbone, load_backbone(ckpts[0]))


class _Evil:
    """Unpickling this runs ``open(marker, "w")``: it creates a file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.fault(what='a pickle that runs code given as a checkpoint',
                   survives='refused (`weights_only=True` loading); nothing executed')
def test_malicious_pickle_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"wfm_backbone": _Evil(str(marker))}, tmp_path / "evil.ckpt")
    with open(tmp_path / "raw.ckpt", "wb") as f:  # a plain (non-zip) pickle too
        pickle.dump({"wfm_backbone": _Evil(str(marker))}, f)
    for name in ("evil.ckpt", "raw.ckpt"):
        with pytest.raises(BackboneLoadError, match="refusing to load"):
            load_backbone(tmp_path / name)
        with pytest.raises(BackboneLoadError, match="refusing to load"):
            export_backbone(tmp_path / name, tmp_path / "x")
    assert not marker.exists()
    # the payload is live: an unrestricted load would have run it (so the test above means something)
    live = tmp_path / "live"
    torch.save({"wfm_backbone": _Evil(str(live))}, tmp_path / "live.ckpt")
    torch.load(tmp_path / "live.ckpt", weights_only=False)
    assert live.exists()


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_backbone(tmp_path / "missing.ckpt")
    torch.save({"state_dict": {}}, tmp_path / "plain.ckpt")
    with pytest.raises(BackboneLoadError, match="no 'wfm_backbone'"):
        load_backbone(tmp_path / "plain.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(BackboneLoadError):
        load_backbone(tmp_path / "junk.ckpt")

    enc = _encoder()
    entry = backbone_entry(enc, CFG)
    entry["config"] = {**CFG, "embed_dim": 64, "num_heads": 2}
    torch.save({"wfm_backbone": entry}, tmp_path / "shape.ckpt")
    with pytest.raises(BackboneLoadError, match="shape mismatches"):
        load_backbone(tmp_path / "shape.ckpt")

    entry = backbone_entry(enc, CFG)
    entry["config"] = {**CFG, "depth": 2}
    torch.save({"wfm_backbone": entry}, tmp_path / "depth.ckpt")
    with pytest.raises(BackboneLoadError, match="missing keys"):
        load_backbone(tmp_path / "depth.ckpt")

    entry = backbone_entry(enc, CFG)
    entry["config"] = {**CFG, "not_a_kwarg": 1}
    torch.save({"wfm_backbone": entry}, tmp_path / "kw.ckpt")
    with pytest.raises(BackboneLoadError, match="not valid for ViTEncoder"):
        load_backbone(tmp_path / "kw.ckpt")

    _save_ckpt(tmp_path / "m.ckpt", enc)
    st, js = export_backbone(tmp_path / "m.ckpt", tmp_path / "half")
    js.unlink()
    with pytest.raises(FileNotFoundError, match="incomplete"):
        load_backbone(st)


# --- every checkpoint load goes through one loader: a bad file is one line naming it, never torch's traceback ---
NOT_TORCH = "not a torch checkpoint (truncated or another format)"


def _bad_files(tmp_path):
    """What a user may hand over as a checkpoint by mistake: ``{name: (path, expected message part)}``."""
    import random

    # torch: IndexError (these bytes), UnpicklingError / KeyError (others); not the start of a pickle or a zip
    (tmp_path / "random.ckpt").write_bytes(b"\x01" + random.Random(0).randbytes(4095))
    (tmp_path / "empty.ckpt").write_bytes(b"")  # torch: EOFError
    (tmp_path / "text.ckpt").write_text("hello world\n" * 20)  # torch: KeyError / UnpicklingError
    enc = _encoder()
    _save_ckpt(tmp_path / "whole.ckpt", enc)
    data = (tmp_path / "whole.ckpt").read_bytes()
    (tmp_path / "truncated.ckpt").write_bytes(data[: len(data) // 2])  # torch: RuntimeError (zip reader)
    (tmp_path / "folder.ckpt").mkdir()
    return {"random bytes": (tmp_path / "random.ckpt", NOT_TORCH),
            "empty file": (tmp_path / "empty.ckpt", NOT_TORCH),
            "text file": (tmp_path / "text.ckpt", NOT_TORCH),
            "truncated checkpoint": (tmp_path / "truncated.ckpt", NOT_TORCH),
            "a folder": (tmp_path / "folder.ckpt", "a folder, not a")}


def test_one_loader_names_the_file_for_every_bad_checkpoint(tmp_path):
    import os

    from wfm.checkpoint import load_torch_file
    from wfm.checkpoint_io import AtomicCheckpointIO
    from wfm.importers.common import read_released
    from wfm.pretrained import load_pretrained

    for seed in range(20):  # random bytes take many paths through torch's parser
        (tmp_path / "r.bin").write_bytes(os.urandom(8 + 97 * seed))
        with pytest.raises(BackboneLoadError, match="not a torch checkpoint|refusing to load") as err:
            load_torch_file(tmp_path / "r.bin")
        assert str(err.value).startswith(str(tmp_path / "r.bin")) and "\n" not in str(err.value)
    for name, (path, expected) in _bad_files(tmp_path).items():
        # the loader itself, wfm-export, wfm-import, wfm.load_pretrained, and the trainer's restore (wfm's IO)
        for load in (load_torch_file, export_backbone_to(tmp_path), read_released, load_pretrained,
                     AtomicCheckpointIO().load_checkpoint):
            if name == "a folder" and load is load_pretrained:
                expected_here = "not a wfm model folder"  # a folder may be a model folder: said so instead
            else:
                expected_here = expected
            with pytest.raises((BackboneLoadError, FileNotFoundError), match=re.escape(expected_here)) as err:
                load(path)
            assert str(path) in str(err.value) and "\n" not in str(err.value), (name, load)


def export_backbone_to(tmp_path):
    return lambda path: export_backbone(path, tmp_path / "exported")


def _wfm(*args: str) -> tuple[int, str]:
    """The installed ``wfm`` command as a subprocess: (exit code, stderr)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "wfm.main", *args], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parents[1], timeout=300)
    return proc.returncode, proc.stderr


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("Seed set")]


@pytest.mark.fault(what='random bytes given as `--ckpt_path` or as `--model.init_args.backbone`',
                   survives=('one line naming the file (`wfm: error: <file>: not a torch checkpoint ...`), exit 2, no '
                             'traceback'))
def test_random_bytes_as_ckpt_path_or_backbone_are_one_line_not_a_traceback(tmp_path):
    """The two ways a user hands wfm a checkpoint, as the installed command: ``--ckpt_path`` and a backbone."""
    import random

    bad = tmp_path / "random.ckpt"
    bad.write_bytes(b"\x01" + random.Random(1).randbytes(4095))
    code, err = _wfm("fit", "--config", "configs/quickstart.yaml", "--ckpt_path", str(bad))
    assert code == 2 and "Traceback" not in err, err
    assert _error_lines(err) == [f"wfm: error: {bad}: {NOT_TORCH}  (--debug shows the traceback)"]
    code, err = _wfm("test", "--config", "configs/probe/file.yaml", "--model.init_args.backbone", str(bad),
                     "--data.init_args.dataset", "rfs")
    assert code == 2 and "Traceback" not in err, err
    assert _error_lines(err) == [f"wfm: error: {bad}: {NOT_TORCH}  (--debug shows the traceback)"]


@pytest.mark.parametrize("sub", ["fit", "test"])
def test_every_bad_ckpt_path_is_one_line(sub, tmp_path, capsys):
    from wfm.main import main as wfm_main

    cases = _bad_files(tmp_path)
    cases["missing file"] = (tmp_path / "nope.ckpt", f"--ckpt_path {tmp_path / 'nope.ckpt'}: no such file")
    config = "configs/quickstart.yaml" if sub == "fit" else "configs/supervised_los.yaml"
    for name, (path, expected) in cases.items():
        with pytest.raises(SystemExit) as exc:
            wfm_main(args=[sub, f"--config={ROOT_CONFIGS / config}", f"--ckpt_path={path}"])
        err = capsys.readouterr().err
        lines = _error_lines(err)
        assert exc.value.code == 2 and len(lines) == 1 and expected in lines[0] and str(path) in lines[0], (name, err)


def test_a_run_folder_as_ckpt_path_points_at_its_checkpoint(tmp_path, capsys):
    from wfm.main import main as wfm_main

    run = tmp_path / "version_0"
    (run / "checkpoints").mkdir(parents=True)
    _save_ckpt(run / "checkpoints" / "last.ckpt", _encoder())
    with pytest.raises(SystemExit) as exc:
        wfm_main(args=["test", f"--config={ROOT_CONFIGS / 'configs/supervised_los.yaml'}", f"--ckpt_path={run}"])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert f"--ckpt_path {run}: a folder, not a checkpoint file (the run's newest checkpoint is " \
           f"{run / 'checkpoints' / 'last.ckpt'})" in err


def test_export_of_a_bad_checkpoint_is_one_line(tmp_path, capsys):
    import wfm.export as mod

    for name, (path, expected) in _bad_files(tmp_path).items():
        assert mod.main([str(path), str(tmp_path / "out")]) == 1, name
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err and err.startswith(f"wfm-export: error: {path}"), (name, err)


ROOT_CONFIGS = __import__("pathlib").Path(__file__).resolve().parents[1]
