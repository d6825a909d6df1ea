"""Numbers a part is built with are checked when it is built: a negative learning rate, a zero width or a zero
batch is one line naming the option, not a run that trains on it (or a ZeroDivisionError deep inside)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wfm.choices import check_number
from wfm.data.datamodules.downstream import DownstreamDataModule
from wfm.methods import JEPA, MAE, MSACJEPA
from wfm.models import ViTEncoder

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(img_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=4)


def test_check_number_messages_name_the_option_and_the_bounds() -> None:
    assert check_number("lr", 1e-3, gt=0) == 1e-3
    for value, bounds, expected in [
        (-1.0, dict(gt=0), "lr must be a number > 0, got -1.0"),
        (float("nan"), dict(gt=0), "lr must be a number > 0, got nan"),
        (float("inf"), dict(ge=0), "lr must be a number >= 0, got inf"),
        (True, dict(gt=0), "lr must be a number > 0, got True"),
        ("1e-3", dict(gt=0), "lr must be a number > 0, got '1e-3'"),
        (1.0, dict(ge=0, lt=1), "lr must be a number >= 0 and < 1, got 1.0"),
        (2.5, dict(ge=1, integer=True), "lr must be an integer >= 1, got 2.5"),
    ]:
        with pytest.raises(ValueError) as err:
            check_number("lr", value, **bounds)
        assert str(err.value) == expected


@pytest.mark.parametrize("kwargs, message", [
    (dict(embed_dim=0), "embed_dim must be an integer >= 1, got 0"),
    (dict(depth=-2), "depth must be an integer >= 1, got -2"),
    (dict(num_heads=0), "num_heads must be an integer >= 1, got 0"),
    (dict(patch_size=0), "patch_size must be an integer >= 1, got 0"),
    (dict(img_size=[32, 0]), "img_size must be an integer >= 1, got 0"),
    (dict(mlp_ratio=0.0), "mlp_ratio must be a number > 0, got 0.0"),
    (dict(iq_length=-256), "iq_length must be an integer >= 1, got -256"),
])
def test_encoder_sizes_are_checked(kwargs, message) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        ViTEncoder(**{**TINY, **kwargs})


@pytest.mark.parametrize("method, kwargs, message", [
    (JEPA, dict(lr=-1.0), "lr must be a number > 0, got -1.0"),
    (JEPA, dict(lr=0.0), "lr must be a number > 0, got 0.0"),
    (JEPA, dict(lr_final=-1e-6), "lr_final must be a number >= 0, got -1e-06"),
    (JEPA, dict(weight_decay_end=-0.4), "weight_decay_end must be a number >= 0, got -0.4"),
    (JEPA, dict(betas=(0.9, 1.0)), "betas[1] must be a number >= 0 and < 1, got 1.0"),
    (JEPA, dict(betas=(0.9,)), "betas must be two numbers (beta1, beta2), got [0.9]"),
    (JEPA, dict(predictor_dim=0), "predictor width must be an integer >= 1, got 0"),
    (MAE, dict(decoder_heads=0), "decoder heads must be an integer >= 1, got 0"),
])
def test_method_numbers_are_checked(method, kwargs, message) -> None:
    with pytest.raises(ValueError) as err:
        method(encoder=ViTEncoder(**TINY), **kwargs)
    assert str(err.value) == message


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=-3e-4), "lr must be a number > 0, got -0.0003"),
    (dict(weight_decay=-0.05), "weight_decay must be a number >= 0, got -0.05"),
    (dict(embed_dim=0), "embed_dim must be an integer >= 1, got 0"),
    (dict(pred_depth=0), "pred_depth must be an integer >= 1, got 0"),
])
def test_msac_numbers_are_checked(kwargs, message) -> None:
    with pytest.raises(ValueError) as err:
        MSACJEPA(**kwargs)
    assert str(err.value) == message


def test_a_zero_batch_is_refused_when_the_datamodule_is_built() -> None:
    with pytest.raises(ValueError, match="^batch_size must be an integer >= 1, got 0$"):
        DownstreamDataModule("rfs", batch_size=0)
    with pytest.raises(ValueError, match="^num_workers must be an integer >= 0, got -1$"):
        DownstreamDataModule("rfs", num_workers=-1)


@pytest.mark.fault(what='`wfm fit` with `--trainer.max_epochs 0` (or `max_steps 0`, `limit_train_batches 0`)',
                   survives='exit 2, one line naming the option; no `last.ckpt` of the random init, no probe table '
                            'printed as the trained model')
@pytest.mark.parametrize("flag", ["--trainer.max_epochs=0", "--trainer.max_steps=0", "--trainer.limit_train_batches=0"])
def test_fit_that_would_train_nothing_is_refused(flag, tmp_path, capsys, monkeypatch) -> None:
    from wfm.main import main as wfm_main

    monkeypatch.syspath_prepend(str(ROOT / "tests"))  # tiny_fit.yaml's classes (tests/tiny.py)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        wfm_main(args=["fit", f"--config={ROOT / 'tests/fixtures/tiny_fit.yaml'}", flag])
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("wfm")]
    key = flag[2:].split("=")[0]
    assert exc.value.code == 2 and lines == [
        f"wfm: error: {key}=0: wfm fit would train nothing and report the random init as the trained model; give "
        "a positive value (random-init features: wfm test --random_init true)  (--debug shows the traceback)"]
    assert list(tmp_path.iterdir()) == []


def test_wfm_fit_with_a_negative_lr_is_one_line(tmp_path, capsys, monkeypatch) -> None:
    from wfm.main import main as wfm_main

    monkeypatch.syspath_prepend(str(ROOT / "tests"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        wfm_main(args=["fit", f"--config={ROOT / 'tests/fixtures/tiny_fit.yaml'}", "--model.init_args.lr=-1"])
    assert exc.value.code == 2
    assert "wfm: error: lr must be a number > 0, got -1.0  (--debug shows the traceback)" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["wavesfm", "x.pth", "out", "--img-size", "0"], "argument --img-size: expected an integer >= 1, got '0'"),
    (["lwm", "x.pth", "out", "--input-scale", "-1"], "argument --input-scale: expected a finite number > 0, got '-1'"),
])
def test_importer_numeric_options_are_checked_by_their_types(argv, message, capsys) -> None:
    from wfm import importers

    with pytest.raises(SystemExit) as exc:
        importers.main(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_import_of_a_folder_is_one_line_with_the_command_name(tmp_path, capsys) -> None:
    from wfm import importers

    assert importers.main(["wavesfm", str(tmp_path), str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == (f"wfm-import wavesfm: error: {tmp_path}: a folder, not a checkpoint file  "
                                       "(--debug shows the traceback)\n")
