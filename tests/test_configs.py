"""Every file in configs/ runs through the `wfm` CLI (fast_dev_run on CPU; overrides only shrink sizes)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wfm.main import main

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted(p for p in (ROOT / "configs").rglob("*.yaml") if p.parent.name not in ("sweeps",))
# fragments are not whole runs: they are exercised by combining them with a recipe
FRAGMENT_DIRS = {"model", "data", "trainer", "logger"}


def size_overrides(cfg: dict) -> list[str]:
    """Shrink model and data to seconds on 2 cores; everything else stays as the recipe says."""
    out = ["--trainer.precision=32-true", "--trainer.logger=false"]
    model = cfg["model"]["init_args"]
    if "encoder" in model and isinstance(model["encoder"], dict) and "class_path" in model["encoder"]:
        out += [f"--model.init_args.encoder.init_args.{a}" for a in
                ("img_size=32", "patch_size=8", "embed_dim=32", "depth=2", "num_heads=2")]
    if "masking" in model:
        out += ["--model.init_args.masking.init_args.num_targets=2",
                "--model.init_args.masking.init_args.min_context=4"]
    if cfg["model"]["class_path"].endswith("LinearProbeEvaluator"):
        out += ["--model.init_args.encoder={img_size: 32, patch_size: 8, embed_dim: 32, depth: 2, num_heads: 2}"]
    if "predictor_dim" in model:
        out += ["--model.init_args.predictor_dim=16", "--model.init_args.predictor_depth=1"]
    if "decoder_dim" in model:
        out += ["--model.init_args.decoder_dim=16", "--model.init_args.decoder_depth=1"]
    data = cfg["data"]
    if "tasks" in data["init_args"]:
        tasks = [{"class_path": t["class_path"], "init_args": {**t["init_args"], "n": 40, "size": 32, "batch_size": 8}}
                 for t in data["init_args"]["tasks"]]
        out += [f"--data.init_args.tasks={yaml.safe_dump(tasks, default_flow_style=True).strip()}"]
    else:
        out += ["--data.init_args.n=48", "--data.init_args.size=32", "--data.init_args.batch_size=8",
                "--data.init_args.num_workers=0"]
    for cb in cfg.get("trainer", {}).get("callbacks", []) or []:
        if "tasks" in cb.get("init_args", {}):
            out.append("--trainer.callbacks=[]")  # the probe callback's own data is tested in test_callbacks
            break
    return out


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in RECIPES if p.parent.name not in FRAGMENT_DIRS],
                         ids=lambda p: str(p.relative_to(ROOT / "configs")))
def test_recipe_runs_fast_dev_run(path: Path, tmp_path: Path) -> None:
    cfg = yaml.safe_load(path.read_text())
    sub = "test" if cfg["model"]["class_path"].endswith("LinearProbeEvaluator") else "fit"
    # the probe protocol needs every sample of its (tiny) tasks, so it runs whole rather than fast_dev_run
    quick = ["--trainer.fast_dev_run=true"] if sub == "fit" else []
    args = [sub, f"--config={path}", *quick, f"--trainer.default_root_dir={tmp_path}",
            "--trainer.accelerator=cpu", *size_overrides(cfg)]
    if sub == "fit" and cfg["model"]["class_path"].endswith("Supervised") and cfg["model"]["init_args"].get(
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
    over = [o for o in size_overrides(cfg) if not o.startswith("--trainer.logger")]
    main(args=["fit", f"--config={ROOT / 'configs/quickstart.yaml'}", "--trainer.fast_dev_run=true",
               f"--trainer.default_root_dir={tmp_path}", f"--trainer.logger={ROOT / 'configs' / fragment}",
               *over])


def test_model_and_data_fragments_compose(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args=["fit", f"--config={ROOT / 'configs/quickstart.yaml'}",
                   f"--model={ROOT / 'configs/model/jepa_latentwave.yaml'}",
                   f"--data={ROOT / 'configs/data/builtin_pretrain.yaml'}", "--print_config"])
    assert exit_info.value.code in (0, None)
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["model"]["init_args"]["encoder"]["init_args"]["embed_dim"] == 256
    assert cfg["data"]["init_args"]["datasets"] == ["spectrogram", "csi", "csi2"]
    assert cfg["data"]["init_args"]["size"] == 112


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
           "--trainer.fast_dev_run=true", f"--trainer.default_root_dir={tmp_path}", *size_overrides(cfg)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    help_out = subprocess.run([sys.executable, "-m", "wfm", "--help"], capture_output=True, text=True, timeout=120)
    assert help_out.returncode == 0 and "fit" in help_out.stdout
