"""Every error a user can cause through the CLI or a converter: one line naming the file (and sample) and what
was expected, a non-zero exit, no traceback (``--debug`` shows it). tools/bad_inputs.py runs the same kinds
through the installed commands and records the messages in docs/reliability.md."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from wfm.checkpoint import backbone_entry
from wfm.data.converters import main as convert_main
from wfm.data.hdf5 import label_meta, write_h5
from wfm.main import main
from wfm.models import ViTEncoder

ROOT = Path(__file__).resolve().parents[1]
ENC = dict(img_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=4, channel_embed="fixed", max_channels=4)


def _h5(path: Path, c: int = 2, size: int = 32, patch: dict | None = None) -> Path:
    rng = np.random.default_rng(0)
    y = np.array([0, 1, 2] * 4)
    attrs = {"source": "t", "modality": "csi", "preprocessing": {}, "mean": np.zeros(c, np.float32),
             "std": np.ones(c, np.float32), "labels": label_meta({"label": "classification"}, {"label": "abc"})}
    write_h5(path, rng.normal(size=(12, c, size, size)).astype(np.float32), {"label": y}, attrs)
    with h5py.File(path, "r+") as f:  # what wfm's own writer refuses, put in by hand
        for (key, index), value in (patch or {}).items():
            f[key][index] = value
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    enc = ViTEncoder(**ENC)
    torch.save({"wfm_backbone": backbone_entry(enc, enc.config, method="JEPA")}, tmp_path / "jepa.ckpt")
    (tmp_path / "corrupt.h5").write_bytes(b"garbage")
    torch.save({"state_dict": {}}, tmp_path / "foreign.ckpt")
    return {"ckpt": tmp_path / "jepa.ckpt", "good": _h5(tmp_path / "good.h5"),
            "small": _h5(tmp_path / "small.h5", size=16), "wide": _h5(tmp_path / "wide.h5", c=6),
            "nan": _h5(tmp_path / "nan.h5", patch={("inputs", (5, 0, 3, 3)): np.nan}),
            "label": _h5(tmp_path / "label.h5", patch={("label", 8): 7}),
            "corrupt": tmp_path / "corrupt.h5", "foreign": tmp_path / "foreign.ckpt", "tmp": tmp_path}


def _probe(ckpt: object, data: object, *extra: str) -> list[str]:
    return ["test", f"--config={ROOT / 'configs/probe/file.yaml'}", f"--model.init_args.backbone={ckpt}",
            f"--data.init_args.dataset={data}", "--data.init_args.size=32", "--data.init_args.n=40",
            "--trainer.enable_progress_bar=false", "--model.init_args.plots=false", *extra]


CASES = {  # name: (argv from the files fixture, exit code, fragment of the one line)
    "missing file": (lambda f: _probe(f["ckpt"], f["tmp"] / "nope.h5"), 2, "nope.h5: not a built-in dataset"),
    "unknown dataset name": (lambda f: _probe(f["ckpt"], "rsf"), 2, "rsf: not a built-in dataset name"),
    "corrupt file": (lambda f: _probe(f["ckpt"], f["corrupt"]), 2, "corrupt.h5: not a readable HDF5 file"),
    "wrong size for the task": (lambda f: _probe(f["ckpt"], f["small"]), 2, "small.h5: samples are (16, 16)"),
    "wrong size for the encoder": (lambda f: _probe(f["ckpt"], f["small"], "--data.init_args.size=16"), 1,
                                   "small.h5: samples are 16 x 16, but"),
    "channel count for the checkpoint": (lambda f: _probe(f["ckpt"], f["wide"]), 1, "wide.h5: samples have 6"),
    "NaN in a sample": (lambda f: _probe(f["ckpt"], f["nan"]), 1, "nan.h5: sample 5 has NaN/Inf"),
    "label out of range": (lambda f: _probe(f["ckpt"], f["label"]), 1, "label.h5: sample 8 has label label=7"),
    "missing checkpoint": (lambda f: _probe(f["tmp"] / "no.ckpt", f["good"]), 2, "no.ckpt"),
    "not a wfm checkpoint": (lambda f: _probe(f["foreign"], f["good"]), 2, "foreign.ckpt: no 'wfm_backbone'"),
    "unknown config key": (lambda f: ["fit", f"--config={ROOT / 'configs/quickstart.yaml'}",
                                      "--model.init_args.embed_dimm=3"], 2, "embed_dimm"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gives_one_line(case: str, files: dict, capsys: pytest.CaptureFixture) -> None:
    argv, code, fragment = CASES[case]
    with pytest.raises(SystemExit) as exit_info:
        main(argv(files))
    assert exit_info.value.code == code
    err = [ln for ln in capsys.readouterr().err.splitlines() if "error" in ln.lower()]
    assert len(err) == 1 and fragment in err[0] and "Traceback" not in err[0], err


def test_debug_shows_the_traceback(files: dict) -> None:
    # the exception propagates (Python prints its traceback) instead of the one-line exit
    with pytest.raises(Exception, match="corrupt.h5: not a readable HDF5 file"):
        main([*_probe(files["ckpt"], files["corrupt"]), "--debug"])


def test_converter_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "c.bin").write_bytes(np.zeros(7, "<f4").tobytes())
    (raw / "c.json").write_text(json.dumps({"transmitter": "a"}))
    for argv, fragment in ((["powder", str(tmp_path / "none"), str(tmp_path)], "none: no *.bin captures"),
                           (["powder", str(raw), str(tmp_path)], "c.bin: odd number of values"),
                           (["powder", str(raw), str(tmp_path), "--label", "json:tx"], "c.json: no label at json:tx"),
                           (["nosuch", "a", "b"], "unknown format 'nosuch'")):
        assert convert_main(argv) != 0
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and fragment in err[0], err
