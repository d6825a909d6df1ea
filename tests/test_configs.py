"""Every file in configs/ runs through the `wfm` CLI (fast_dev_run on CPU; overrides only shrink sizes)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wfm.main import main

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted(p for p in (ROOT / "configs").rglob("*.yaml") if p.parent.name not in ("sweeps",))
# fragments are not whole runs: they are exercised by combining them with a recipe
FRAGMENT_DIRS = {"model", "data", "trainer", "logger", "masking"}
TINY_ENCODER = ("{class_path: wfm.models.ViTEncoder, "
                "init_args: {img_size: 32, patch_size: 8, embed_dim: 32, depth: 2, num_heads: 2}}")
TINY_ENCODER_IQ = TINY_ENCODER.replace("num_heads: 2}", "num_heads: 2, iq_length: 64}")


def resolve(value: object, base: Path) -> dict:
    """A config entry that is either inline or a fragment path relative to the config file."""
    return yaml.safe_load((base / value).read_text()) if isinstance(value, str) else value


def size_overrides(cfg: dict, base: Path) -> list[str]:
    """Shrink the encoder, the masking and the data to seconds on 2 cores; nothing method-specific is touched
    (predictors and decoders keep their recipe size: one step of them on 32 x 32 inputs is cheap)."""
    out = ["--trainer.precision=32-true", "--trainer.logger=false"]
    method = resolve(cfg["model"], base)
    model_base = (base / cfg["model"]).parent if isinstance(cfg["model"], str) else base
    model = method["init_args"]
    if method["class_path"].endswith("LinearProbeEvaluator"):
        enc = resolve(model.get("encoder") or {}, model_base)
        iq = ", iq_length: 64" if "iq_length" in enc.get("init_args", enc) else ""
        out += [f"--model.init_args.encoder={{img_size: 32, patch_size: 8, embed_dim: 32, depth: 2, num_heads: 2{iq}}}"]
    elif "encoder" in model:
        enc = resolve(model["encoder"], model_base)
        iq = "iq_length" in enc.get("init_args", enc)
        out += [f"--model.init_args.encoder={TINY_ENCODER_IQ if iq else TINY_ENCODER}"]
    if "masking" in model:  # a 4 x 4 grid holds at most 2 bands of one row and leaves 4 positions of context
        out += ["--model.init_args.masking.init_args.num_targets=2",
                "--model.init_args.masking.init_args.min_context=4"]
    data = resolve(cfg["data"], base)
    if data["class_path"].endswith("SequenceDataModule"):  # JEPA-MSAC: a tiny built-in V2I scene, tiny heads
        tiny_scene = ("{num_sequences: 3, frames_per_sequence: 20, stride: 4, image_hw: [24, 32], "
                      "radar_bins: [16, 16], lidar_hw: [16, 32]}")
        return out + ["--data.init_args.dataset=v2i", f"--data.init_args.v2i={tiny_scene}",
                      "--data.init_args.batch_size=4", "--model.init_args.embed_dim=16", "--model.init_args.depth=1",
                      "--model.init_args.pred_dim=8", "--model.init_args.num_heads=2",
                      "--trainer.callbacks.init_args.head_epochs=1", "--trainer.callbacks.init_args.seeds=[0]"]
    if "dataset" in data["init_args"] and data["init_args"]["dataset"] is None:  # one task named on the CLI
        out += ["--data.init_args.dataset=rfs", "--data.init_args.n=40", "--data.init_args.size=32"]
    elif "tasks" in data["init_args"]:
        tasks = [{"class_path": t["class_path"], "init_args": {
            **t["init_args"], "n": 40, "size": 64 if is_iq(t["init_args"]["dataset"]) else 32, "batch_size": 8}}
            for t in resolve(data["init_args"]["tasks"], base)]
        out += [f"--data.init_args.tasks={yaml.safe_dump(tasks, default_flow_style=True).strip()}"]
    else:
        out += ["--data.init_args.n=48", "--data.init_args.size=32", "--data.init_args.batch_size=8",
                "--data.init_args.num_workers=0"]
        if "iq_length" in data["init_args"]:
            out += ["--data.init_args.iq_length=64"]
    for cb in cfg.get("trainer", {}).get("callbacks", []) or []:
        if "tasks" in cb.get("init_args", {}):
            out.append("--trainer.callbacks=[]")  # the probe callback's own data: callbacks/test_probe_callback.py
            break
    return out


def is_iq(dataset: str) -> bool:
    from wfm.data import synthetic

    spec = synthetic.BUILTIN.get(dataset)
    return spec is not None and spec.modality == "iq"


def is_recipe(path: Path) -> bool:
    """A whole run (a mapping with a model), not a fragment that recipes include (e.g. a list of tasks)."""
    return path.parent.name not in FRAGMENT_DIRS and isinstance(yaml.safe_load(path.read_text()), dict)


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in RECIPES if is_recipe(p)],
                         ids=lambda p: str(p.relative_to(ROOT / "configs")))
def test_recipe_runs_fast_dev_run(path: Path, tmp_path: Path) -> None:
    cfg = yaml.safe_load(path.read_text())
    method = resolve(cfg["model"], path.parent)
    if path.parent.name == "predict":
        sub = "predict"
    else:
        sub = "test" if method["class_path"].endswith("LinearProbeEvaluator") else "fit"
    # the probe protocol needs every sample of its (tiny) tasks, so it runs whole rather than fast_dev_run
    quick = ["--trainer.fast_dev_run=true"] if sub == "fit" else []
    args = [sub, f"--config={path}", *quick, f"--trainer.default_root_dir={tmp_path}",
            "--trainer.accelerator=cpu", *size_overrides(cfg, path.parent)]
    if sub == "fit" and method["class_path"].endswith("Supervised") and method["init_args"].get(
            "finetune") not in (None, "full"):
        # fine-tuning recipes need a pretrained backbone: make one from a tiny JEPA checkpoint
        args.append(f"--model.init_args.backbone={tiny_backbone(tmp_path)}")
    main(args=args)


def tiny_backbone(tmp_path: Path) -> Path:
    """A wfm checkpoint file holding a tiny encoder (what a pretraining run leaves behind)."""
    import torch

    from wfm.methods.jepa import JEPA
    from wfm.models import ViTEncoder

    enc = ViTEncoder(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2)
    model = JEPA(encoder=enc, predictor_dim=16, predictor_depth=1)
    ckpt: dict = {"state_dict": model.state_dict()}
    model.on_save_checkpoint(ckpt)
    path = tmp_path / "tiny.ckpt"
    torch.save(ckpt, path)
    return path


@pytest.mark.parametrize("fragment", ["logger/csv.yaml", "logger/wandb.yaml"])
def test_logger_fragments_attach(fragment: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    cfg = yaml.safe_load((ROOT / "configs/quickstart.yaml").read_text())
    over = [o for o in size_overrides(cfg, ROOT / "configs") if not o.startswith("--trainer.logger")]
    main(args=["fit", f"--config={ROOT / 'configs/quickstart.yaml'}", "--trainer.fast_dev_run=true",
               f"--trainer.default_root_dir={tmp_path}", f"--trainer.logger={ROOT / 'configs' / fragment}",
               *over])


def test_model_and_data_fragments_compose(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args=["fit", f"--config={ROOT / 'configs/quickstart.yaml'}",
                   f"--model.init_args.encoder={ROOT / 'configs/model/encoder_latentwave.yaml'}",
                   f"--config={ROOT / 'configs/masking/frequency.yaml'}",
                   f"--data={ROOT / 'configs/data/builtin_pretrain.yaml'}", "--print_config"])
    assert exit_info.value.code in (0, None)
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["model"]["init_args"]["encoder"]["init_args"]["embed_dim"] == 256
    assert cfg["model"]["init_args"]["masking"]["class_path"] == "wfm.views.FrequencyMask"
    assert cfg["data"]["init_args"]["datasets"] == ["spectrogram", "csi", "csi2", "csi_ri", "csi2_ri"]
    assert cfg["data"]["init_args"]["size"] == 112


def test_masking_overrides_change_only_the_masking(capsys: pytest.CaptureFixture) -> None:
    """The paper recipe plus a geometry override = the same run with another geometry."""
    configs = {}
    for extra in ([], [f"--config={ROOT / 'configs/masking/time.yaml'}"]):
        with pytest.raises(SystemExit):
            main(args=["fit", f"--config={ROOT / 'configs/jepa_region.yaml'}", *extra, "--print_config"])
        configs[bool(extra)] = yaml.safe_load(capsys.readouterr().out)
    base, time_ = configs[False], configs[True]
    assert time_["model"]["init_args"]["masking"]["class_path"] == "wfm.views.TimeMask"
    time_["model"]["init_args"]["masking"] = base["model"]["init_args"]["masking"]
    assert time_ == base


def test_wrong_key_gives_a_clear_error(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args=["fit", f"--config={ROOT / 'configs/quickstart.yaml'}", "--model.init_args.embed_dimm=3"])
    assert exit_info.value.code != 0
    err = capsys.readouterr().err
    assert "embed_dimm" in err and "Traceback" not in err


def test_console_command_exits_zero(tmp_path: Path) -> None:
    import subprocess
    import sys

    # `wfm` as a user runs it: a finished run must exit 0 (the console script passes main()'s return to exit)
    cfg = yaml.safe_load((ROOT / "configs/quickstart.yaml").read_text())
    exe = Path(sys.executable).parent / "wfm"  # the installed console script, exactly what users run
    cmd = [str(exe), "fit", f"--config={ROOT / 'configs/quickstart.yaml'}",
           "--trainer.fast_dev_run=true", f"--trainer.default_root_dir={tmp_path}",
           *size_overrides(cfg, ROOT / "configs")]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    help_out = subprocess.run([sys.executable, "-m", "wfm", "--help"], capture_output=True, text=True, timeout=120)
    assert help_out.returncode == 0 and "fit" in help_out.stdout
