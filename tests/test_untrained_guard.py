"""`wfm test` / `validate` / `predict` never report an untrained model as if it were a result.

Without ``--ckpt_path`` a method's weights are its random init: the run is refused with one line that says what
to give (``--ckpt_path PATH|last``, a backbone for ``predict``, or ``--random_init true`` to mean it), unless the
model brings trained weights itself. The probe evaluator's random rows are explicit (its table names them
``random-init``), so every probe / predict config keeps running as documented without a backbone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_configs import size_overrides, tiny_backbone

from wfm.main import main as wfm_main

ROOT = Path(__file__).resolve().parents[1]
LOS = ROOT / "configs" / "supervised_los.yaml"
HINT = ("give --ckpt_path PATH, --ckpt_path last (the newest last.ckpt of this config's runs), {extra}or "
        "--random_init true to use the random init on purpose")


def _wfm(*args: str) -> tuple[int, str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "wfm.main", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)
    return proc.returncode, proc.stderr


def _lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("Seed set")]


def _tiny(config: Path) -> list[str]:
    return size_overrides(yaml.safe_load(config.read_text()), config.parent)


def test_wfm_test_of_the_supervised_config_without_a_checkpoint_is_refused() -> None:
    """The finding: ``wfm test --config configs/supervised_los.yaml`` evaluated a random init, exit 0."""
    code, err = _wfm("test", "--config", str(LOS))
    assert code == 2 and "Traceback" not in err, err
    assert _lines(err) == ["wfm: error: wfm test would evaluate an untrained Supervised (no --ckpt_path: its "
                           "weights are the random init); " + HINT.format(extra="")
                           + "  (--debug shows the traceback)"]


@pytest.mark.parametrize(("sub", "config", "message"), [
    ("validate", "supervised_los.yaml", "wfm validate would validate an untrained Supervised"),
    ("predict", "supervised_los.yaml", "wfm predict would write the features of an untrained Supervised"),
    ("predict", "quickstart.yaml", "wfm predict would write the features of an untrained JEPA"),
    ("test", "quickstart_mae.yaml", "wfm test would evaluate an untrained MAE"),
    ("test", "msac_jepa.yaml", "wfm test would evaluate an untrained MSACJEPA"),
])
def test_every_subcommand_that_reports_a_model_refuses_an_untrained_one(sub, config, message, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        wfm_main(args=[sub, f"--config={ROOT / 'configs' / config}"])
    lines = _lines(capsys.readouterr().err)
    assert exc.value.code == 2 and len(lines) == 1 and lines[0].startswith(f"wfm: error: {message} "), lines
    extra = "--model.init_args.backbone PATH, " if (sub, config) == ("predict", "supervised_los.yaml") else ""
    assert HINT.format(extra=extra) in lines[0]


def test_a_backbone_is_enough_to_predict_but_not_to_test_a_supervised_head(tmp_path, capsys) -> None:
    backbone = tiny_backbone(tmp_path)
    args = [f"--config={LOS}", *_tiny(LOS), f"--model.init_args.backbone={backbone}",
            "--model.init_args.encoder=null", f"--trainer.default_root_dir={tmp_path}", "--trainer.accelerator=cpu"]
    with pytest.raises(SystemExit) as exc:
        wfm_main(args=["test", *args])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert ("wfm test would evaluate an untrained Supervised head (--model.init_args.backbone gives only its "
            "encoder; the head is trained by wfm fit)") in err
    # the backbone's features: trained weights, so predict runs (through a DataModule with a predict loader)
    wfm_main(args=["predict", *args, "--data={class_path: wfm.data.datamodules.ProbeSuite, init_args: "
                   "{dataset: los, n: 40, size: 32, batch_size: 20}}", "--model.init_args.task_from_data=false",
                   "--model.init_args.task_kind=classification", "--model.init_args.num_classes=2"])


def test_random_init_true_runs_the_untrained_model_on_purpose(tmp_path) -> None:
    wfm_main(args=["test", f"--config={LOS}", *_tiny(LOS), "--random_init=true",
                   f"--trainer.default_root_dir={tmp_path}", "--trainer.accelerator=cpu"])


def test_random_init_and_a_checkpoint_contradict(tmp_path, capsys) -> None:
    ckpt = tiny_backbone(tmp_path)
    with pytest.raises(SystemExit) as exc:
        wfm_main(args=["test", f"--config={LOS}", "--random_init=true", f"--ckpt_path={ckpt}"])
    assert exc.value.code == 2
    assert f"--random_init true and --ckpt_path {ckpt}: choose one" in capsys.readouterr().err


def test_the_documented_random_probe_still_runs_without_a_backbone(tmp_path) -> None:
    """``wfm test --config configs/probe/iq.yaml  # random features only`` (its header): the evaluator's random
    rows are explicit, so no backbone and no --ckpt_path is fine."""
    config = ROOT / "configs" / "probe" / "iq.yaml"
    out = tmp_path / "probe"
    wfm_main(args=["test", f"--config={config}", *_tiny(config), "--model.init_args.seeds=[0]",
                   "--model.init_args.plots=false", f"--model.init_args.output_dir={out}",
                   f"--trainer.default_root_dir={tmp_path}", "--trainer.accelerator=cpu"])
    assert "random-init" in (out / "probe_results.md").read_text()


def test_the_documented_test_after_fit_with_ckpt_path_last_runs(tmp_path) -> None:
    """The header of configs/supervised_los.yaml: ``wfm fit ... && wfm test ... --ckpt_path last`` (here with
    no logger, as the shrunk config has: ``last`` is ``<default_root_dir>/checkpoints/last.ckpt``)."""
    args = [f"--config={LOS}", *_tiny(LOS), f"--trainer.default_root_dir={tmp_path}", "--trainer.accelerator=cpu"]
    wfm_main(args=["fit", *args, "--trainer.max_steps=2", "--trainer.limit_val_batches=1"])
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
    wfm_main(args=["test", *args, "--ckpt_path=last", "--trainer.limit_test_batches=1"])
