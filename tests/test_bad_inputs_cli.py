"""Bad inputs to the table commands (``wfm-msac-seeds``, ``wfm-seeds``, ``wfm-ablate``, ``wfm-probe-layers``) and
to a JEPA-MSAC model built before its data: one line naming the file (and the row, column or option) and what was
expected, a non-zero exit, never a traceback or a table of blanks with exit 0. tools/bad_inputs.py runs the same
situations through the installed commands (docs/reliability.md); the ``fault`` markers it collects are checked
here too."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from helpers import load_module

from wfm import ablate, msac_seeds, probe_layers, seeds
from wfm.eval.msac import to_csv

ROOT = Path(__file__).resolve().parents[1]


def _one_error_line(capsys: pytest.CaptureFixture) -> str:
    err = [ln for ln in capsys.readouterr().err.splitlines() if "error" in ln.lower() or "Traceback" in ln]
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def _msac_run(folder: Path, horizon: int = 5, rows: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = rows if rows is not None else {"jepa_msac": {"beam/top1@h1": (40.0, 1.0), "rssi/mae_db@h1": (3.0, 0.1)}}
    (folder / "probe_results.csv").write_text(to_csv(rows, horizon=horizon))
    return folder


# ------------------------------------------------------------------------------------------ wfm-msac-seeds
def test_msac_seeds_names_the_file_line_and_column_of_a_cell_that_is_not_a_number(tmp_path, capsys) -> None:
    run = tmp_path / "r"
    run.mkdir()
    (run / "probe_results.csv").write_text("method,position/error_m@h1\njepa_msac,abc\n")
    assert msac_seeds.main([str(run)]) == 1
    line = _one_error_line(capsys)
    assert "r/probe_results.csv: line 2 ('jepa_msac'), column 'position/error_m@h1': 'abc' is not a number" in line


def test_msac_seeds_refuses_runs_of_different_horizons_instead_of_mixing_them(tmp_path, capsys) -> None:
    a, b = _msac_run(tmp_path / "h5"), _msac_run(tmp_path / "h3", horizon=3)
    assert msac_seeds.main([str(a), str(b)]) == 1
    line = _one_error_line(capsys)
    assert "h3/probe_results.csv: its columns differ from" in line and "h5/probe_results.csv" in line


def test_msac_seeds_ablation_names_the_run_without_a_jepa_msac_row(tmp_path, capsys) -> None:
    a = _msac_run(tmp_path / "a")
    b = _msac_run(tmp_path / "b", rows={"gru": {"beam/top1@h1": (30.0, 0.0)}})
    assert msac_seeds.main(["--ablation", f"x={a}", f"y={b}"]) == 1
    assert "b/probe_results.csv: no 'jepa_msac' row (rows: ['gru'])" in _one_error_line(capsys)


def test_msac_seeds_refuses_a_results_file_of_another_layout(tmp_path, capsys) -> None:
    run = tmp_path / "r"
    run.mkdir()
    (run / "probe_results.csv").write_text("method,foo\njepa_msac,1\n")  # exit 0 with a table of blanks before
    assert msac_seeds.main([str(run)]) == 1
    assert "r/probe_results.csv: not a JEPA-MSAC results file: columns ['foo']" in _one_error_line(capsys)


def test_msac_seeds_full_table_of_a_real_run_has_every_column(tmp_path, capsys) -> None:
    # rssi/mae_db (written by every run) used to be a KeyError traceback in --full
    assert msac_seeds.main(["--full", str(_msac_run(tmp_path / "r"))]) == 0
    assert "RSSI MAE h1 (dB) ↓" in capsys.readouterr().out


def test_msac_seeds_out_into_a_folder_is_one_line(tmp_path, capsys) -> None:
    run = _msac_run(tmp_path / "r")
    assert msac_seeds.main([str(run), "--out", str(run)]) == 1
    assert f"--out {run}: Is a directory" in _one_error_line(capsys)


# ------------------------------------------------------------------------------------------------ wfm-seeds
@pytest.mark.parametrize("text, message", [
    ("encoder,los/acc\nbackbone,61.5\n", "no column 'los/acc_std'; a `wfm test` results table has a '<metric>_std'"),
    ("encoder,los/acc,los/acc_std\nbackbone,abc,1\n", "a cell is not a number (could not convert string to float"),
    ("encoder,los/acc,los/acc_std\n", "no rows"),
], ids=["no std twin", "not a number", "header only"])
def test_seeds_names_the_results_file(tmp_path, capsys, text: str, message: str) -> None:
    (tmp_path / "probe_results.csv").write_text(text)
    with pytest.raises(SystemExit) as exit_info:
        seeds.main([f"A={tmp_path}"])
    assert exit_info.value.code == 2
    line = _one_error_line(capsys)
    assert f"{tmp_path}/probe_results.csv: {message}" in line, line


def test_seeds_out_into_a_folder_is_one_line(tmp_path, capsys) -> None:
    (tmp_path / "probe_results.csv").write_text("encoder,los/acc,los/acc_std\nbackbone,61.5,1.0\n")
    with pytest.raises(SystemExit):
        seeds.main([f"A={tmp_path}", "--out", str(tmp_path)])
    assert f"--out {tmp_path}: Is a directory" in _one_error_line(capsys)


# ----------------------------------------------------------------------------------------- wfm-probe-layers
def test_probe_layers_a_negative_seed_names_the_option(capsys) -> None:
    with pytest.raises(SystemExit):
        probe_layers.parser().parse_args(["x.ckpt", "--tasks", "los", "--seeds", "-1"])
    assert "argument --seeds: expected an integer >= 0, got '-1'" in _one_error_line(capsys)


def test_probe_layers_out_into_a_folder_is_refused_before_any_probe(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit):  # the checkpoint is not even read: no such file, yet the --out error comes
        probe_layers.main([str(tmp_path / "none.ckpt"), "--tasks", "los", "--out", str(tmp_path)])
    assert f"--out {tmp_path}: is a folder" in _one_error_line(capsys)


# ---------------------------------------------------------------------------------------------- wfm-ablate
def test_ablate_collect_only_without_results_is_an_error_not_an_empty_table(tmp_path, capsys) -> None:
    assert ablate.main(["--out", str(tmp_path), "--collect-only"]) == 1
    assert f"{tmp_path}: no grid point has results" in _one_error_line(capsys)
    assert not (tmp_path / "ablation_masking.md").exists()


@pytest.mark.parametrize("argv, message", [
    (["--strategies", "diagonal"], "--strategies: unknown mask geometry 'diagonal'"),
    (["--targets", "0"], "argument --targets: expected an integer >= 1"),
    (['--fit-args=--a "b'], "No closing quotation"),
    (["--config", "nope.yaml"], "--config nope.yaml: no such file"),
], ids=["strategy", "targets", "quoting", "config"])
def test_ablate_bad_options_before_any_run(tmp_path, capsys, argv: list[str], message: str) -> None:
    base = ["--config", str(ROOT / "configs/jepa_region.yaml"), "--probe-config", str(ROOT / "configs/probe/all.yaml"),
            "--out", str(tmp_path), "--wfm", str(tmp_path / "never-run")]
    with pytest.raises(SystemExit) as exit_info:
        ablate.main(base + argv)
    assert exit_info.value.code == 2
    assert message in _one_error_line(capsys)


def test_ablate_a_failing_grid_point_is_one_line_with_its_error(tmp_path, capsys) -> None:
    fake = tmp_path / "wfm"
    fake.write_text(f"#!{sys.executable}\nimport sys\nprint('wfm: error: boom.yaml: broken', file=sys.stderr)\n"
                    "sys.exit(2)\n")
    fake.chmod(0o755)
    argv = ["--config", str(ROOT / "configs/jepa_region.yaml"), "--probe-config", str(ROOT / "configs/probe/all.yaml"),
            "--out", str(tmp_path / "abl"), "--wfm", str(fake), "--strategies", "region", "--targets", "2",
            "--no-random"]
    assert ablate.main(argv) == 1
    assert "region_M2: `wfm fit` failed (exit 2): boom.yaml: broken" in _one_error_line(capsys)


# -------------------------------------------------------------------------- JEPA-MSAC: windows of a checkpoint
def test_a_msac_model_built_for_other_windows_names_the_file(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from wfm.data.datamodules import SequenceDataModule
    from wfm.methods import MSACJEPA

    tiny = load_module("tests/msac/msac_tiny.py", "msac_tiny_bad_inputs")
    model = MSACJEPA(embed_dim=16, depth=1, num_heads=2, tokens=tiny.TOKENS, tokenizer_width=4, pred_dim=8,
                     pred_depth=1, frame_shapes=tiny.SHAPES, frames=7, history=4)  # as from a checkpoint
    same = SequenceDataModule(str(tiny.tiny_sequence_file(tmp_path / "same.h5")), batch_size=4)
    model._trainer = SimpleNamespace(datamodule=same)
    model.setup("test")  # the window it was built for: fine
    other = SequenceDataModule(str(tiny.tiny_sequence_file(tmp_path / "longer.h5", frames=9, history=6)))
    model._trainer = SimpleNamespace(datamodule=other)
    with pytest.raises(ValueError, match=r"longer.h5: windows do not fit this model .*frames 9 \(the model: 7\); "
                                         r"history 6 \(the model: 4\)"):
        model.setup("test")


# ------------------------------------------------------------------------- the fault registry of the tests
def test_every_fault_marker_is_literal_and_names_a_test_that_exists() -> None:
    tool = load_module("tools/bad_inputs.py", "bad_inputs_tool")
    faults = tool.collect_faults(ROOT / "tests")
    assert len(faults) >= 8
    for f in faults:
        path, _, name = f.test.partition("::")
        tree = ast.parse((ROOT / path).read_text())
        names = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        assert name.split("::")[-1] in names and f.what.strip() and f.survives.strip(), f
    assert "fault(what, survives)" in (ROOT / "pyproject.toml").read_text()  # registered: no unknown-mark warning


# ------------------------------------------------------------------------ wfm fit / predict / test (bad_inputs)
def _wfm_error(capsys: pytest.CaptureFixture, argv: list[str]) -> tuple[int, str]:
    """``wfm <argv>`` in process: (exit code, its one error line)."""
    from wfm.main import main as wfm_main

    with pytest.raises(SystemExit) as exc:
        wfm_main(args=argv)
    return int(exc.value.code), _one_error_line(capsys)


def test_predict_refuses_to_write_its_features_over_its_input_file(tmp_path, capsys, monkeypatch) -> None:
    tool = load_module("tools/bad_inputs.py", "bad_inputs_tool")
    monkeypatch.chdir(tmp_path)
    backbone, victim = tool.ckpt(tmp_path / "jepa.ckpt"), tool.h5(tmp_path / "victim.h5")
    before = victim.read_bytes()
    code, line = _wfm_error(capsys, [
        "predict", f"--config={ROOT / 'configs/predict/file.yaml'}", f"--model.init_args.backbone={backbone}",
        "--data.init_args.size=32", "--data.init_args.dataset=victim.h5",
        f"--trainer.callbacks.init_args.output_path={tmp_path / 'victim.h5'}",  # another spelling, same file
        "--trainer.enable_progress_bar=false"])
    assert code != 0 and line == (f"wfm: error: {tmp_path / 'victim.h5'}: the output path is the input "
                                  "dataset; choose another --trainer.callbacks.init_args.output_path  (--debug "
                                  "shows the traceback)")
    assert victim.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["jepa.ckpt", "victim.h5"]


def test_a_wrong_type_in_a_config_file_names_the_key_and_the_file(tmp_path, capsys) -> None:
    sys.path.insert(0, str(ROOT / "tests"))  # tiny_fit.yaml's classes (tests/tiny.py)
    bad = tmp_path / "typeerr.yaml"
    bad.write_text("trainer: {max_steps: many}\n")
    fixture = f"--config={ROOT / 'tests/fixtures/tiny_fit.yaml'}"
    code, line = _wfm_error(capsys, ["fit", fixture, f"--config={bad}"])
    assert code == 2 and line == (f"wfm: error: {bad}: trainer.max_steps: Expected a <class 'int'>. Got value: "
                                  "many  (--debug shows the traceback)")
    code, line = _wfm_error(capsys, ["fit", fixture, f"--config={bad}", "--trainer.max_steps", "lots"])
    assert line.startswith(f"wfm: error: {bad}: trainer.max_steps: Expected a <class 'int'>. Got value: many")
    code, line = _wfm_error(capsys, ["fit", fixture, "--trainer.max_steps", "lots"])  # a flag: no file to name
    assert line.startswith("wfm: error: trainer.max_steps: Expected a <class 'int'>. Got value: lots")
    code, line = _wfm_error(capsys, ["fit", fixture, "--model.init_args.lr=abc"])  # inside a class's init_args
    assert code == 2 and line.startswith("wfm: error: model.init_args.lr: Expected a <class 'float'>. Got value: abc")


def test_a_yaml_syntax_error_names_the_config_file_line_and_column(tmp_path, capsys) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("trainer: [unclosed\n")
    code, line = _wfm_error(capsys, ["fit", f"--config={bad}"])
    assert code == 2 and line == (f"wfm: error: {bad}: not valid YAML (line 2, column 1: expected ',' or ']', but "
                                  "got '<stream end>'; while parsing a flow sequence from line 1, column 10)  "
                                  "(--debug shows the traceback)")
    code, line = _wfm_error(capsys, ["fit", "--config", str(bad)])  # the two-word spelling too
    assert line.startswith(f"wfm: error: {bad}: not valid YAML (line 2, column 1")


def test_a_msac_checkpoint_as_a_frame_level_backbone_says_what_it_is(tmp_path, capsys) -> None:
    import torch

    import wfm.export

    last = tmp_path / "last.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"_class_path": "wfm.methods.msac.MSACJEPA"}}, last)
    expected = (f"{last}: a JEPA-MSAC sequence model (wfm.methods.MSACJEPA), not a frame-level backbone; use it "
                "with configs/msac/*.yaml (wfm test --ckpt_path)")
    code, line = _wfm_error(capsys, ["test", f"--config={ROOT / 'configs/probe/file.yaml'}",
                                     f"--model.init_args.backbone={last}", "--data.init_args.dataset=rfs"])
    assert code == 2 and line == f"wfm: error: {expected}  (--debug shows the traceback)"
    assert wfm.export.main([str(last), str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == f"wfm-export: error: {expected}  (--debug shows the traceback)\n"
    with pytest.raises(SystemExit):
        probe_layers.main([str(last), "--tasks", "rfs", "--out", "-"])
    assert expected in _one_error_line(capsys)
