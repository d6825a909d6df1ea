"""Bad inputs a user can give, run through the installed commands exactly as a user runs them, and the faults the
tests inject: writes both tables of docs/reliability.md ("Bad inputs", "Faults").

**Bad inputs.** Every case builds its input in a temporary folder (tiny files in the real formats), runs ``wfm`` /
``wfm-convert`` / ``wfm-export`` / ``wfm-import`` / ``wfm-generate`` / ``wfm-seeds`` / ``wfm-msac-seeds`` /
``wfm-ablate`` / ``wfm-probe-layers`` in a subprocess (``OMP_NUM_THREADS=1``, ``WFM_CACHE`` inside the temporary
folder) and checks the contract: non-zero exit, one line of error, no traceback, and every expected fragment in
that line (the file named, and what was expected). A case that breaks it stays in the table as **no** until the
command is fixed; the tool then exits 1.

**Faults** are not run here: they are the tests that inject them (SIGKILL, a full disk, a crafted file), found by
reading the test files (``ast``, nothing is imported or run) for the marker

    @pytest.mark.fault(what="SIGKILL while a converter writes",
                       survives="no output file; running the converter again writes the complete file")
    def test_sigkill_during_conversion_leaves_nothing_half_written(tmp_path): ...

``what`` (the fault or crafted file) and ``survives`` (what the user keeps or sees) must be string literals
(implicit concatenation is fine); a function may carry several markers; tests with the same ``what`` share a row.
The marker is registered in pyproject.toml (``[tool.pytest.ini_options] markers``), so pytest runs the tests as
before. :data:`PENDING` holds the rows of tests not marked yet (their files are being changed by others); a row
there is dropped as soon as its test carries a marker.

    python tools/bad_inputs.py                 # runs every case, writes both tables into docs/reliability.md
    python tools/bad_inputs.py --faults-only   # only the Faults table (nothing run)
    python tools/bad_inputs.py --only msac     # the cases whose name holds "msac", printed, nothing written
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdoc import publish  # noqa: E402

from wfm.checkpoint import backbone_entry  # noqa: E402
from wfm.data.hdf5 import label_meta, write_h5  # noqa: E402
from wfm.data.sequence import write_sequence_file  # noqa: E402
from wfm.eval.msac import to_csv  # noqa: E402
from wfm.models import ViTEncoder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
C = ROOT / "configs"
ENC = dict(img_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=4, channel_embed="fixed", max_channels=4)
#: per-frame shapes of the tiny sequence files (as tests/msac/msac_tiny.py)
SEQ = {"image": (3, 12, 16), "radar": (1, 8, 8), "lidar": (1, 8, 16), "gps": (2,), "beam_power": (16,)}
#: the tiny JEPA-MSAC the sequence cases pretrain for one step (configs/msac_jepa.yaml at a toy size)
MSAC_TINY = ["--model.init_args.embed_dim=16", "--model.init_args.depth=1", "--model.init_args.num_heads=2",
             "--model.init_args.pred_dim=8", "--model.init_args.pred_depth=1", "--model.init_args.tokenizer_width=4",
             "--data.init_args.batch_size=4"]
ERRORS = "tests/test_errors.py::test_bad_input_gives_one_line"
CLI = "tests/test_bad_inputs_cli.py"


class Case(NamedTuple):
    what: str  # what the user did
    cmd: list[object]  # str() of each is the argument (Path, Lazy)
    expect: str | tuple[str, ...]  # fragment(s) the one error line must hold: the file named, what was expected
    pinned: str = ""  # the CI test that pins the same situation, if any


class Fault(NamedTuple):
    what: str
    survives: str
    test: str  # path::name


class Lazy:
    """A command argument made only when a case that needs it runs (a tiny training run, an export): ``str()``
    calls ``make`` once and keeps what it returns."""

    def __init__(self, make) -> None:  # noqa: ANN001
        self.make, self.value, self.lock = make, None, threading.Lock()

    def __str__(self) -> str:
        with self.lock:  # cases run in parallel (--jobs): one make, the others wait for it
            if self.value is None:
                self.value = str(self.make())
        return self.value

    def __fspath__(self) -> str:
        return str(self)


#: rows of tests whose files are being changed elsewhere and carry no ``fault`` marker yet; a row is dropped
#: once its test is marked (then the marker's text is used)
PENDING: list[Fault] = []


# ------------------------------------------------------------------------------------------- tiny inputs
def h5(path: Path, n: int = 12, c: int = 2, size: int = 32, nan_at: int | None = None,
       bad_label_at: int | None = None, modality: str = "csi", hw: tuple[int, int] | None = None) -> Path:
    """A valid wfm file, then (wfm's writer refuses both) a NaN or an out-of-range label put in by hand."""
    import h5py

    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, c, *(hw or (size, size)))).astype(np.float32)
    y = rng.integers(0, 3, n)
    y[:3] = [0, 1, 2]
    meta = label_meta({"label": "classification"}, {"label": ("a", "b", "c")})
    stats = c if modality != "iq" else 2
    attrs = {"source": "bad_inputs", "modality": modality, "preprocessing": {}, "labels": meta,
             "mean": np.zeros(stats, np.float32), "std": np.ones(stats, np.float32)}
    write_h5(path, x, {"label": y}, attrs)
    with h5py.File(path, "r+") as f:
        if nan_at is not None:
            f["inputs"][nan_at, 0, 3, 3] = np.nan
        if bad_label_at is not None:
            f["label"][bad_label_at] = 7
    return path


def seq_file(path: Path, frames: int = 7, history: int = 4, drop: Sequence[str] = (),
             shapes: dict | None = None, n: int = 24) -> Path:
    """A tiny sequence file (format version 3) of ``n`` windows of ``frames`` frames, without the ``drop`` sensors."""
    shapes = {**SEQ, **(shapes or {})}
    rng = np.random.default_rng(0)
    inputs = {k: rng.random((n, frames, *s)).astype(np.float32) for k, s in shapes.items() if k not in drop}
    gps = (rng.normal(size=(n, 1, 2)) * 10 + np.arange(frames)[None, :, None]).astype(np.float32)
    power = (rng.normal(size=(n, frames, shapes["beam_power"][0])) * 5 - 80).astype(np.float32)
    for k, v in (("gps", gps), ("beam_power", power)):
        if k not in drop:
            inputs[k] = v
    p = power.astype(np.float64)
    labels = {"position": gps, "beam": p.argmax(-1), "beam_power": power,
              "rssi": (10 * np.log10(np.mean(10 ** (p / 10), -1))).astype(np.float32)}
    index = {"sequence": np.arange(n) // 4, "start": np.arange(n) % 4, "block": np.arange(n) // 8}
    return write_sequence_file(path, inputs, labels, index, history=history, num_beams=shapes["beam_power"][0],
                               frame_rate_hz=10.0, source="bad_inputs", preprocessing={})


def ckpt(path: Path) -> Path:
    torch.manual_seed(0)
    enc = ViTEncoder(**ENC)
    torch.save({"wfm_backbone": backbone_entry(enc, enc.config, method="JEPA", encoder="target")}, path)
    return path


def _fit(tmp: Path, args: list[str], root: str) -> Path:
    """The last.ckpt of a real (tiny) ``wfm fit`` run."""
    done = subprocess.run([str(BIN / "wfm"), "fit", *map(str, args), "--trainer.enable_progress_bar=false"],
                          capture_output=True, text=True, cwd=tmp, env=_env(tmp), timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"bad_inputs: the tiny {root} run failed:\n{done.stderr[-3000:]}")
    return next((tmp / root).rglob("last.ckpt"))


def mae_run(tmp: Path) -> Path:
    fixture = ROOT / "tests/fixtures/tiny_fit_mae.yaml"
    return _fit(tmp, [f"--config={fixture}", f"--trainer.default_root_dir={tmp / 'mae'}"], "mae")


def msac_run(tmp: Path, data: Path) -> Path:
    """A JEPA-MSAC checkpoint after one step on ``data`` (windows of 7 frames, 4 of history)."""
    return _fit(tmp, [f"--config={C / 'msac_jepa.yaml'}", f"--data.init_args.dataset={data}", "--trainer.max_steps=1",
                      "--trainer.callbacks=[]", f"--trainer.logger.init_args.save_dir={tmp / 'msac'}", *MSAC_TINY],
                "msac")


def msac_results(folder: Path, horizon: int = 5, rows: dict | None = None, text: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if rows is None:
        rows = {"jepa_msac": {"beam/top1@h1": (40.0, 1.0)}, "gru": {"beam/top1@h1": (30.0, 0.0)}}
    (folder / "probe_results.csv").write_text(text if text is not None else to_csv(rows, horizon=horizon))
    return folder


def probe_results(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "probe_results.csv").write_text(text)
    return folder


def wfm(*args: object) -> list[object]:
    return [BIN / "wfm", *args]


def tool(name: str, *args: object) -> list[object]:
    return [BIN / name, *args]


def opt(name: str, value: object) -> object:
    """``--name=value``, made when the case runs if ``value`` is :class:`Lazy`."""
    return Lazy(lambda: f"{name}={value}") if isinstance(value, Lazy) else f"{name}={value}"


def probe(backbone: object, dataset: object, *extra: str) -> list[object]:
    return wfm("test", f"--config={C / 'probe/file.yaml'}", opt("--model.init_args.backbone", backbone),
               opt("--data.init_args.dataset", dataset), "--data.init_args.size=32", "--data.init_args.n=40", *extra)


# ----------------------------------------------------------------------------------------------- the cases
def cases(tmp: Path) -> list[Case]:
    """Every case; its inputs are written into ``tmp`` (the expensive ones, :class:`Lazy`, when a case runs)."""
    shared = {"ckpt": ckpt(tmp / "jepa.ckpt"), "good": h5(tmp / "good.h5"), "seq": seq_file(tmp / "frames7.h5")}
    shared["msac"] = Lazy(lambda: msac_run(tmp, shared["seq"]))
    return [*frame_cases(tmp, shared), *sequence_cases(tmp, shared), *table_cases(tmp, shared),
            *tool_cases(tmp, shared)]


def frame_cases(tmp: Path, shared: dict) -> list[Case]:
    good_ckpt, good, seq = shared["ckpt"], shared["good"], shared["seq"]
    (tmp / "corrupt.h5").write_bytes(b"not an hdf5 file at all")
    with open(tmp / "notwfm.h5", "wb"):
        pass
    import h5py

    with h5py.File(tmp / "other.h5", "w") as f:
        f["data"] = np.zeros((4, 4))
    h5(tmp / "small.h5", size=16)
    h5(tmp / "wide.h5", c=6)
    h5(tmp / "nan.h5", nan_at=5)
    h5(tmp / "label.h5", bad_label_at=8)
    shutil.copy(good, tmp / "int16.h5")
    with h5py.File(tmp / "int16.h5", "r+") as f:  # raw ADC-like counts where floats belong
        counts = (f["inputs"][:] * 100).astype(np.int16)
        del f["inputs"]
        f["inputs"] = counts
    h5(tmp / "iq.h5", c=1, modality="iq", hw=(2, 256))
    shutil.copy(good, tmp / "victim.h5")
    (tmp / "pickle.ckpt").write_bytes(b"\x80\x04c__builtin__\nprint\n.")  # a pickle that calls a function
    torch.save({"state_dict": {}}, tmp / "foreign.ckpt")
    (tmp / "typeerr.yaml").write_text("trainer:\n  max_steps: many\n")
    (tmp / "broken.yaml").write_text("trainer: [unclosed\n")
    (tmp / "afile").write_text("x")
    (tmp / "incomplete").mkdir()
    (tmp / "incomplete" / "config.json").write_text("{}")

    def bad_json() -> Path:  # a real model folder, then its config.json cut short
        subprocess.run(tool("wfm-export", good_ckpt, tmp / "badjson"), check=True, capture_output=True, env=_env(tmp))
        (tmp / "badjson" / "config.json").write_text('{"format": ')
        return tmp / "badjson"

    tiny_yaml = ROOT / "tests/fixtures/tiny_fit.yaml"
    predict = [*wfm("predict", f"--config={C / 'predict/file.yaml'}", f"--model.init_args.backbone={good_ckpt}",
                    "--data.init_args.size=32")]
    run = [
        Case("missing data file", probe(good_ckpt, tmp / "nope.h5"), "nope.h5", f"{ERRORS}[missing file]"),
        Case("unknown built-in dataset name", probe(good_ckpt, "rsf"), "rsf: not a built-in dataset",
             f"{ERRORS}[unknown dataset name]"),
        Case("corrupt HDF5 file", probe(good_ckpt, tmp / "corrupt.h5"), "corrupt.h5: not a readable HDF5",
             f"{ERRORS}[corrupt file]"),
        Case("HDF5 file of another program", probe(good_ckpt, tmp / "other.h5"), "other.h5: no 'inputs'"),
        Case("empty file", probe(good_ckpt, tmp / "notwfm.h5"), "notwfm.h5"),
        Case("wrong sample size for the task", probe(good_ckpt, tmp / "small.h5"), "small.h5: samples are (16, 16)",
             f"{ERRORS}[wrong size for the task]"),
        Case("file size differs from the encoder's", probe(good_ckpt, tmp / "small.h5", "--data.init_args.size=16"),
             "small.h5: samples are 16 x 16, but", f"{ERRORS}[wrong size for the encoder]"),
        Case("more channels than the checkpoint knows", probe(good_ckpt, tmp / "wide.h5"), "wide.h5: samples have 6",
             f"{ERRORS}[channel count for the checkpoint]"),
        Case("NaN in a sample", probe(good_ckpt, tmp / "nan.h5"), "nan.h5: sample 5 has NaN/Inf",
             f"{ERRORS}[NaN in a sample]"),
        Case("integer inputs (raw counts)", probe(good_ckpt, tmp / "int16.h5"),
             ("int16.h5", "dtype int16, expected floating point"),
             "tests/data/test_reader_attr_types.py::test_a_mistyped_file_is_one_line_naming_the_file[inputs_integers]"),
        Case("label out of range", probe(good_ckpt, tmp / "label.h5"), "label.h5: sample 8 has label label=7",
             f"{ERRORS}[label out of range]"),
        Case("unknown label key", probe(good_ckpt, good, "--data.init_args.target=beam"), "good.h5: no label 'beam'"),
        Case("missing checkpoint", probe(tmp / "nope.ckpt", good), "nope.ckpt", f"{ERRORS}[missing checkpoint]"),
        Case("pickle that runs code as a checkpoint", probe(tmp / "pickle.ckpt", good), "pickle.ckpt",
             "tests/test_checkpoint.py::test_malicious_pickle_is_refused_and_never_executed"),
        Case("checkpoint without a wfm backbone", probe(tmp / "foreign.ckpt", good), "foreign.ckpt",
             f"{ERRORS}[not a wfm checkpoint]"),
        Case("encoder config differs from the checkpoint",
             probe(good_ckpt, good, "--model.init_args.encoder={embed_dim: 64}"), "encoder config does not match"),
        Case("checkpoint of another method to resume",
             wfm("fit", f"--config={tiny_yaml}", "--ckpt_path", Lazy(lambda: mae_run(tmp)),
                 f"--trainer.default_root_dir={tmp / 'run'}"),
             "written by a MAE run, cannot resume a JEPA run"),
        Case("unknown config key", wfm("fit", f"--config={tiny_yaml}", "--model.init_args.embed_dimm=3"), "embed_dimm",
             f"{ERRORS}[unknown config key]"),
        Case("impossible config value",
             wfm("fit", f"--config={tiny_yaml}", "--model.init_args.encoder.init_args.patch_size=5"),
             "patch_size=5 must divide"),
        Case("missing config file", wfm("fit", "--config=nope.yaml"), "nope.yaml"),
        # --- new: data family, configs, predict outputs, model folders
        Case("an IQ file to a spectrogram encoder",
             wfm("test", f"--config={C / 'probe/file.yaml'}", f"--model.init_args.backbone={good_ckpt}",
                 f"--data.init_args.dataset={tmp / 'iq.h5'}"), ("iq.h5", "no IQ tokenizer")),
        Case("a sequence file to a frame-level probe", probe(good_ckpt, seq), ("frames7.h5: a sequence file",
                                                                               "SequenceDataModule")),
        Case("YAML with a type error", wfm("fit", f"--config={tiny_yaml}", f"--config={tmp / 'typeerr.yaml'}"),
             ("max_steps", "many")),
        Case("YAML that does not parse", wfm("fit", f"--config={tmp / 'broken.yaml'}"), "broken.yaml"),
        Case("unknown class_path", wfm("fit", f"--config={tiny_yaml}", "--model.class_path=wfm.methods.Nope"),
             ("wfm.methods", "Nope")),
        Case("a class_path outside the expected base class",
             wfm("fit", f"--config={tiny_yaml}", "--model.init_args.encoder.class_path=os.system"),
             ("os.system", "ViTEncoder")),
        Case("--trainer.max_steps -5", wfm("fit", f"--config={tiny_yaml}", "--trainer.max_steps=-5"),
             ("max_steps", "-5")),
        Case("--trainer.max_epochs 0 (a fit that trains nothing)",
             wfm("fit", f"--config={tiny_yaml}", "--trainer.max_epochs=0"), ("trainer.max_epochs=0", "train nothing"),
             "tests/test_number_checks.py::test_fit_that_would_train_nothing_is_refused"),
        Case("a negative learning rate", wfm("fit", f"--config={tiny_yaml}", "--model.init_args.lr=-1"),
             "lr must be a number > 0, got -1.0",
             "tests/test_number_checks.py::test_wfm_fit_with_a_negative_lr_is_one_line"),
        Case("an encoder of width 0",
             wfm("fit", f"--config={tiny_yaml}", "--model.init_args.encoder.init_args.embed_dim=0"),
             "embed_dim must be an integer >= 1, got 0", "tests/test_number_checks.py::test_encoder_sizes_are_checked"),
        Case("Adam beta2 of 1.5", wfm("fit", f"--config={tiny_yaml}", "--model.init_args.betas=[0.9,1.5]"),
             "betas[1] must be a number >= 0 and < 1", "tests/test_number_checks.py::test_method_numbers_are_checked"),
        Case("predict: output folder is an existing file",
             [*predict, f"--data.init_args.dataset={good}", f"--trainer.default_root_dir={tmp / 'afile'}"],
             "afile/features.h5"),
        Case("predict: output folder cannot be created",
             [*predict, f"--data.init_args.dataset={good}", "--trainer.default_root_dir=/proc/wfm_out"],
             "/proc/wfm_out/features.h5"),
        Case("predict: output path is its own input file",
             [*predict, f"--data.init_args.dataset={tmp / 'victim.h5'}",
              f"--trainer.callbacks.init_args.output_path={tmp / 'victim.h5'}"], ("victim.h5", "input")),
        Case("a JEPA-MSAC checkpoint as a frame-level backbone",
             probe(shared["msac"], good), ("last.ckpt", "MSAC")),
        Case("an incomplete model folder as backbone", probe(tmp / "incomplete", good),
             "incomplete/model.safetensors not found"),
        Case("a model folder whose config.json does not parse", probe(Lazy(bad_json), good),
             "badjson/config.json: not valid JSON"),
    ]
    return run


def sequence_cases(tmp: Path, shared: dict) -> list[Case]:
    seq, msac_ckpt = shared["seq"], shared["msac"]
    seq_file(tmp / "noradar.h5", drop=("radar",))
    seq_file(tmp / "nogps.h5", drop=("gps",))
    seq_file(tmp / "frames9.h5", frames=9, history=6)
    seq_file(tmp / "bigimage.h5", shapes={"image": (3, 24, 32)})
    fit = wfm("fit", f"--config={C / 'msac_jepa.yaml'}", "--trainer.max_steps=1", "--trainer.callbacks=[]",
              *MSAC_TINY)  # logs under the case's own folder (runs/)
    test = wfm("test", f"--config={C / 'msac/deepsense.yaml'}")
    return [
        Case("msac: a frame-level file as the sequence dataset", [*fit, f"--data.init_args.dataset={tmp / 'good.h5'}"],
             ("good.h5: not a sequence file", "layout='sequence'")),
        Case("msac: missing sequence file", [*fit, f"--data.init_args.dataset={tmp / 'none.h5'}"],
             "none.h5: no such sequence file"),
        Case("msac: a sensor the config asks for is not in the file",
             [*fit, f"--data.init_args.dataset={tmp / 'noradar.h5'}", "--data.init_args.modalities=[image, radar]"],
             "noradar.h5: no modality ['radar']"),
        Case("msac: a file without the GPS the heads need", [*fit, f"--data.init_args.dataset={tmp / 'nogps.h5'}"],
             ("nogps.h5: no ['gps'] input", "gps and beam_power")),
        Case("msac: a frame-level DataModule for a JEPA-MSAC model",
             [*fit, "--data=wfm.data.datamodules.DownstreamDataModule", f"--data.init_args.dataset={tmp / 'good.h5'}",
              "--data.init_args.size=32"], "needs a sequence DataModule"),
        Case("msac: window length differs from the checkpoint's",
             [*test, f"--data.init_args.dataset={tmp / 'frames9.h5'}", opt("--ckpt_path", msac_ckpt)],
             ("frames9.h5", "frames 9 (the model: 7)"),
             f"{CLI}::test_a_msac_model_built_for_other_windows_names_the_file"),
        Case("msac: sensor frame sizes differ from the checkpoint's",
             [*test, f"--data.init_args.dataset={tmp / 'bigimage.h5'}", opt("--ckpt_path", msac_ckpt)],
             ("bigimage.h5", "image frames (3, 24, 32) (the model: (3, 12, 16))")),
        Case("msac: wfm test without a checkpoint", [*test, f"--data.init_args.dataset={seq}"],
             ("untrained MSACJEPA", "--ckpt_path"),
             "tests/test_untrained_guard.py::test_every_subcommand_that_reports_a_model_refuses_an_untrained_one"),
    ]


def table_cases(tmp: Path, shared: dict) -> list[Case]:
    t = tmp / "tables"
    h5_ = msac_results(t / "h5")
    h3 = msac_results(t / "h3", horizon=3)
    no_jepa = msac_results(t / "nojepa", rows={"gru": {"beam/top1@h1": (30.0, 0.0)}})
    nan_cell = msac_results(t / "text", text="method,position/error_m@h1\njepa_msac,abc\n")
    frame_table = probe_results(t / "frame", "encoder,los/acc,los/acc_std\nbackbone,61.5,1.0\n")
    no_std = probe_results(t / "nostd", "encoder,los/acc\nbackbone,61.5\n")
    not_number = probe_results(t / "notnum", "encoder,los/acc,los/acc_std\nbackbone,abc,1\n")
    header_only = probe_results(t / "header", "encoder,los/acc,los/acc_std\n")
    empty_run = t / "empty"
    empty_run.mkdir(parents=True)
    good_ckpt, good = shared["ckpt"], shared["good"]
    abl = ["--config", C / "jepa_region.yaml", "--probe-config", C / "probe/all.yaml", "--out", t / "abl",
           "--strategies", "region", "--targets", "2", "--no-random"]
    return [
        Case("wfm-msac-seeds: a run folder without probe_results.csv", tool("wfm-msac-seeds", empty_run),
             "empty/probe_results.csv: no such file"),
        Case("wfm-msac-seeds: a frame-level results table", tool("wfm-msac-seeds", frame_table),
             "frame/probe_results.csv: not a JEPA-MSAC results file"),
        Case("wfm-msac-seeds: a cell that is not a number", tool("wfm-msac-seeds", nan_cell),
             ("text/probe_results.csv: line 2", "'abc' is not a number"),
             f"{CLI}::test_msac_seeds_names_the_file_line_and_column_of_a_cell_that_is_not_a_number"),
        Case("wfm-msac-seeds: runs of different horizons in one table", tool("wfm-msac-seeds", h5_, h3),
             ("h3/probe_results.csv: its columns differ from", "h5/probe_results.csv"),
             f"{CLI}::test_msac_seeds_refuses_runs_of_different_horizons_instead_of_mixing_them"),
        Case("wfm-msac-seeds: --ablation run without a jepa_msac row",
             tool("wfm-msac-seeds", "--ablation", f"a={h5_}", f"b={no_jepa}"),
             "nojepa/probe_results.csv: no 'jepa_msac' row",
             f"{CLI}::test_msac_seeds_ablation_names_the_run_without_a_jepa_msac_row"),
        Case("wfm-msac-seeds: --ablation argument without LABEL=", tool("wfm-msac-seeds", "--ablation", h5_),
             "expected LABEL=DIR"),
        Case("wfm-msac-seeds: --out is a folder", tool("wfm-msac-seeds", h5_, "--out", t),
             ("--out", "tables: Is a directory"), f"{CLI}::test_msac_seeds_out_into_a_folder_is_one_line"),
        Case("wfm-seeds: a run folder without probe_results.csv", tool("wfm-seeds", f"A={empty_run}"),
             "empty/probe_results.csv"),
        Case("wfm-seeds: a method without =DIR", tool("wfm-seeds", "JEPA"), "'JEPA': expected LABEL=DIR"),
        Case("wfm-seeds: results table without the _std columns", tool("wfm-seeds", f"A={no_std}"),
             "nostd/probe_results.csv: no column 'los/acc_std'", f"{CLI}::test_seeds_names_the_results_file"),
        Case("wfm-seeds: a cell that is not a number", tool("wfm-seeds", f"A={not_number}"),
             ("notnum/probe_results.csv", "not a number"), f"{CLI}::test_seeds_names_the_results_file"),
        Case("wfm-seeds: results table with a header and no rows", tool("wfm-seeds", f"A={header_only}"),
             "header/probe_results.csv: no rows", f"{CLI}::test_seeds_names_the_results_file"),
        Case("wfm-seeds: --paired names a method not given",
             tool("wfm-seeds", f"A={frame_table}", "--paired", "A:B"), "--paired 'A:B'"),
        Case("wfm-seeds: --gain row missing from a run", tool("wfm-seeds", f"A={frame_table}", "--gain", "random"),
             ("--gain 'random'", "frame/probe_results.csv has no row 'random'")),
        Case("wfm-seeds: --out is a folder", tool("wfm-seeds", f"A={frame_table}", "--out", t),
             ("--out", "tables: Is a directory"), f"{CLI}::test_seeds_out_into_a_folder_is_one_line"),
        Case("wfm-ablate: --collect-only before any run", tool("wfm-ablate", "--collect-only", "--out", t / "none"),
             "none: no grid point has results",
             f"{CLI}::test_ablate_collect_only_without_results_is_an_error_not_an_empty_table"),
        Case("wfm-ablate: unknown masking strategy", tool("wfm-ablate", *abl, "--strategies", "diagonal"),
             "unknown mask geometry 'diagonal'", f"{CLI}::test_ablate_bad_options_before_any_run[strategy]"),
        Case("wfm-ablate: zero mask targets", tool("wfm-ablate", *abl, "--targets", "0"),
             "argument --targets: expected an integer >= 1", f"{CLI}::test_ablate_bad_options_before_any_run[targets]"),
        Case("wfm-ablate: missing base config",
             tool("wfm-ablate", *abl[2:], "--config", tmp / "nope.yaml"), ("--config", "nope.yaml: no such file"),
             f"{CLI}::test_ablate_bad_options_before_any_run[config]"),
        Case("wfm-ablate: a grid point's wfm fit fails",
             tool("wfm-ablate", "--config", ROOT / "tests/fixtures/tiny_fit.yaml", *abl[2:], "--wfm", BIN / "wfm",
                  "--fit-args=--trainer.max_steps=-5"),
             ("region_M2: `wfm fit` failed (exit 1)", "`max_steps` must be a non-negative integer"),
             f"{CLI}::test_ablate_a_failing_grid_point_is_one_line_with_its_error"),
        Case("wfm-probe-layers: unknown task", tool("wfm-probe-layers", good_ckpt, "--tasks", "nosuchtask"),
             "--tasks 'nosuchtask': nosuchtask: not a built-in dataset"),
        Case("wfm-probe-layers: a negative probe seed",
             tool("wfm-probe-layers", good_ckpt, "--tasks", good, "--seeds", "-1"),
             "argument --seeds: expected an integer >= 0",
             f"{CLI}::test_probe_layers_a_negative_seed_names_the_option"),
        Case("wfm-probe-layers: --out is a folder", tool("wfm-probe-layers", good_ckpt, "--tasks", good, "--out", t),
             ("--out", "tables: is a folder"),
             f"{CLI}::test_probe_layers_out_into_a_folder_is_refused_before_any_probe"),
    ]


def tool_cases(tmp: Path, shared: dict) -> list[Case]:
    raw = tmp / "raw"
    raw.mkdir()
    (raw / "capture.bin").write_bytes(np.zeros(7, "<f4").tobytes())
    (raw / "capture.json").write_text(json.dumps({"transmitter": "bs1"}))
    valid = tmp / "valid"
    for tx in ("bs1", "bs2"):
        (valid / tx).mkdir(parents=True)
        (valid / tx / "c.bin").write_bytes(np.ones(2 * 4096, "<f4").tobytes())
        (valid / tx / "c.json").write_text(json.dumps({"transmitter": tx}))
    empty = tmp / "emptydir"
    empty.mkdir()
    for name, text in (("emptycsv", ""), ("header", "index,unit1_rgb,unit1_pwr_60ghz\n")):
        (tmp / name).mkdir()
        (tmp / name / "scenario.csv").write_text(text)
    (tmp / "random.pth").write_bytes(np.random.default_rng(0).bytes(3000))
    torch.save({f"module.layers.0.{k}": torch.zeros(4, 4) for k in ("norm1.alpha", "pos_ffn.fc1.weight")} |
               {"module.embedding.proj.weight": torch.zeros(128, 32)}, tmp / "lwm_like.pth")
    good_ckpt, good = shared["ckpt"], shared["good"]
    convert = [str(BIN / "wfm-convert")]
    return [
        Case("converter: missing raw folder", [*convert, "powder", tmp / "none", tmp / "o"], "none: no *.bin captures",
             "tests/test_errors.py::test_converter_errors_are_one_line"),
        Case("converter: odd number of IQ values", [*convert, "powder", raw, tmp / "o"],
             "capture.bin: odd number of values", "tests/test_errors.py::test_converter_errors_are_one_line"),
        Case("converter: label not where the layout says", [*convert, "powder", raw, tmp / "o", "--label=json:tx.id"],
             "capture.json: no label at json:tx.id", "tests/test_errors.py::test_converter_errors_are_one_line"),
        Case("converter: unsafe output name",
             [*convert, "powder", valid, tmp / "o", "--nfft=32", "--frames=8", "--name=../../escape"], "unsafe"),
        Case("converter: deepsense on an empty folder", [*convert, "deepsense", empty, tmp / "o.h5"],
             ("emptydir", "*.csv")),
        Case("converter: deepsense with an empty CSV", [*convert, "deepsense", tmp / "emptycsv", tmp / "o.h5"],
             "emptycsv/scenario.csv: empty CSV"),
        Case("converter: deepsense CSV without the expected columns",
             [*convert, "deepsense", tmp / "header", tmp / "o.h5"], ("header/scenario.csv", "--order-column")),
        Case("converter: commrad on an empty folder", [*convert, "commrad", empty, tmp / "o"], "emptydir: no *.png"),
        Case("converter: deepmimo given a folder for its export file", [*convert, "deepmimo", empty, tmp / "o"],
             ("emptydir", ".npz or .mat")),
        Case("converter: unknown format", [*convert, "nosuch", "a", "b"], "unknown format 'nosuch'",
             "tests/test_errors.py::test_converter_errors_are_one_line"),
        Case("export: missing checkpoint", tool("wfm-export", tmp / "nope.ckpt", tmp / "x"), "nope.ckpt"),
        Case("export: random bytes as a checkpoint", tool("wfm-export", tmp / "random.pth", tmp / "x"),
             "random.pth: not a torch checkpoint"),
        Case("export: output is an existing file that is not a model folder",
             tool("wfm-export", good_ckpt, tmp / "afile"), "afile exists and is not a wfm model folder"),
        Case("wfm-generate: unknown source", tool("wfm-generate", "nosuch", tmp / "g.h5"), "unknown source 'nosuch'"),
        Case("wfm-generate sionna: unknown scenario",
             tool("wfm-generate", "sionna", tmp / "g.h5", "--scenario", "Mars"),
             ("--scenario", "'Mars'", "UMi")),
        Case("wfm-generate sionna: --samples 0", tool("wfm-generate", "sionna", tmp / "g.h5", "--samples", "0"),
             ("--samples", "expected an integer >= 2")),
        Case("wfm-generate sionna: unknown task", tool("wfm-generate", "sionna", tmp / "g.h5", "--task", "doppler"),
             ("--task", "'doppler'", "los")),
        Case("wfm-generate sionna: SNR range upside down",
             tool("wfm-generate", "sionna", tmp / "g.h5", "--snr-db", "10", "5"), "--snr-db must be LOW HIGH"),
        Case("wfm-generate sionna: indoor probability above 1",
             tool("wfm-generate", "sionna", tmp / "g.h5", "--indoor-probability", "2"),
             ("--indoor-probability", "[0, 1]")),
        Case("wfm-import: a wfm checkpoint to the WavesFM importer",
             tool("wfm-import", "wavesfm", good_ckpt, tmp / "imp1"), "jepa.ckpt: no state dict found"),
        Case("wfm-import: an LWM checkpoint to the WavesFM importer",
             tool("wfm-import", "wavesfm", tmp / "lwm_like.pth", tmp / "imp2"),
             ("lwm_like.pth", "not a WavesFM checkpoint")),
        Case("wfm-import: random bytes as an LWM checkpoint",
             tool("wfm-import", "lwm", tmp / "random.pth", tmp / "imp3"), "random.pth: not a torch checkpoint"),
        Case("wfm-import: a data file where the checkpoint goes", tool("wfm-import", "lwm", good, tmp / "imp4"),
             "good.h5: not a torch checkpoint"),
        Case("export: a negative hash limit", tool("wfm-export", good_ckpt, tmp / "x", "--hash-limit-mb", "-3"),
             ("--hash-limit-mb", ">= 0")),
        Case("wfm-import: an input scale of 0", tool("wfm-import", "lwm", tmp / "random.pth", tmp / "imp6",
                                                     "--input-scale", "0"), ("--input-scale", "> 0"),
             "tests/test_number_checks.py::test_importer_numeric_options_are_checked_by_their_types"),
        Case("wfm-import: missing checkpoint", tool("wfm-import", "wavesfm", tmp / "nope.pth", tmp / "imp5"),
             "nope.pth"),
    ]


# ------------------------------------------------------------------------------------------------- running
def _env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "tests"), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "WFM_CACHE": str(tmp / "cache"), "PYTHONWARNINGS": "ignore"}


def run(cmd: Sequence[object], tmp: Path, cwd: Path) -> tuple[int, str]:
    """Exit status and the error lines of ``cmd`` run in ``cwd`` (a folder of its own: runs/ of parallel cases
    never meet)."""
    argv = [str(c) for c in cmd]
    cwd.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=600, env=_env(tmp))
    # Lightning's status lines (seed, devices, callbacks) are not errors; the error is what says "error", or a
    # line of the command's own (``wfm-convert: unknown format ...``)
    prog = Path(argv[0]).name
    stderr = done.stderr.splitlines()
    lines = [ln for ln in stderr
             if "error" in ln.lower() or "Traceback" in ln or ln.startswith((f"{prog}:", f"{prog} "))]
    if any("Traceback" in ln for ln in lines) and stderr and stderr[-1] not in lines:
        lines.append(stderr[-1])  # the exception itself, whatever its name
    return done.returncode, "\n".join(lines)


def met(case: Case, code: int, err: str) -> bool:
    expect = (case.expect,) if isinstance(case.expect, str) else case.expect
    return code != 0 and "Traceback" not in err and len(err.splitlines()) == 1 and all(e in err for e in expect)


def command_name(cmd: Sequence[object]) -> str:
    name = Path(str(cmd[0])).name
    return f"{name} {cmd[1]}" if name in ("wfm", "wfm-convert", "wfm-generate", "wfm-import") and len(cmd) > 1 else name


# ---------------------------------------------------------------------------------------- the fault registry
def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def collect_faults(tests: Path) -> list[Fault]:
    """Every ``@pytest.mark.fault(what=..., survives=...)`` on a test function (or class) under ``tests``, read
    with ``ast`` (nothing is imported or run), in file order."""
    out: list[Fault] = []

    def visit(body: list[ast.stmt], rel: str, prefix: str) -> None:
        for node in body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            test = f"{rel}::{prefix}{node.name}"
            for dec in node.decorator_list:
                if not (isinstance(dec, ast.Call) and _dotted(dec.func).endswith("mark.fault")):
                    continue
                fields = {}
                for kw in dec.keywords:
                    try:
                        fields[kw.arg] = ast.literal_eval(kw.value)
                    except ValueError:
                        raise SystemExit(f"{rel}:{dec.lineno}: fault marker field {kw.arg!r} must be a string "
                                         "literal") from None
                if dec.args or set(fields) != {"what", "survives"} or not all(
                        isinstance(v, str) and v.strip() for v in fields.values()):
                    raise SystemExit(f"{rel}:{dec.lineno}: expected @pytest.mark.fault(what='...', survives='...'), "
                                     f"got fields {sorted(map(str, fields))}")
                out.append(Fault(fields["what"], fields["survives"], test))
            if isinstance(node, ast.ClassDef):
                visit(node.body, rel, f"{prefix}{node.name}::")

    for path in sorted(tests.rglob("*.py")):
        rel = path.relative_to(tests.parent).as_posix()
        visit(ast.parse(path.read_text(encoding="utf-8"), str(path)).body, rel, "")
    return out


def fault_rows(tests: Path) -> tuple[list[str], list[Fault]]:
    """The Faults table's rows (tests with the same ``what`` share one) and the :data:`PENDING` rows still used."""
    marked = collect_faults(tests)
    tested = {f.test for f in marked}
    pending = [f for f in PENDING if f.test not in tested]
    rows: dict[str, tuple[str, list[str]]] = {}
    for f in marked + pending:
        survives, ids = rows.setdefault(f.what, (f.survives, []))
        ids.append(f.test)
    lines = [f"| {what} | {', '.join(f'`{t}`' for t in ids)} | {survives} |" for what, (survives, ids) in rows.items()]
    return lines, pending


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/reliability.md", help="Markdown file to update, or - to print only")
    ap.add_argument("--faults-only", action="store_true", help="only the Faults table (from the tests' markers)")
    ap.add_argument("--jobs", type=int, default=2, help="cases run at once (default: %(default)s)")
    ap.add_argument("--only", default="", help="run only the cases whose name holds this (printed, not written)")
    args = ap.parse_args()
    out = "-" if args.only else args.out
    faults, pending = fault_rows(ROOT / "tests")
    for f in pending:
        print(f"pending (no fault marker yet): {f.test}", file=sys.stderr)
    rows, failures = [], 0
    if not args.faults_only:
        tmp = Path(tempfile.mkdtemp(prefix="wfm_bad_"))
        try:
            chosen = [c for c in cases(tmp) if args.only in c.what]
            with ThreadPoolExecutor(max_workers=args.jobs) as pool:
                done = pool.map(lambda ic: run(ic[1].cmd, tmp, tmp / "cwd" / str(ic[0])), enumerate(chosen))
                for case, (code, err) in zip(chosen, done, strict=True):  # in order, each as soon as it is done
                    ok = met(case, code, err)
                    failures += not ok
                    shown = err.replace(str(tmp) + "/", "").replace("|", "\\|").replace("\n", " ⏎ ")
                    pinned = f"`{case.pinned}`" if case.pinned else "—"
                    rows.append(f"| {case.what} | `{command_name(case.cmd)}` | {code} | "
                                f"{'yes' if ok else '**no**'} | `{shown}` | {pinned} |")
                    print(f"{'ok ' if ok else 'BAD'} {case.what}: [{code}] {err}", flush=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        lines = [f"{len(rows)} bad inputs, each run as a subprocess of the installed command; contract = non-zero "
                 "exit, one error line on stderr (Lightning's status lines, e.g. `Seed set to 0`, are not errors "
                 "and not counted), the file named and what was expected (every fragment the case expects), no "
                 f"traceback. Met: {len(rows) - failures} of {len(rows)}. Paths are shown relative to the temporary "
                 "folder the inputs were written to; *pinned by* is the CI test that holds the same situation "
                 f"({len(rows)} bad inputs here + {len(faults)} faults below = {len(rows) + len(faults)} distinct "
                 "situations).", "",
                 "| bad input | command | exit | contract met | what the user sees | pinned by |",
                 "|---|---|---|---|---|---|", *rows]
        publish(lines, out, "Bad inputs")
    flines = ["Each row is a test that runs in CI (`python -m pytest -q`): what it kills, fills or crafts, and what "
              "survives. Collected from the tests' `@pytest.mark.fault(what=..., survives=...)` markers (see "
              "tools/bad_inputs.py)" + (f"; {len(pending)} rows of tests not marked yet come from its PENDING list"
                                        if pending else "") + ".", "",
              "| fault | test | what survives |", "|---|---|---|", *faults]
    publish(flines, out, "Faults")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
