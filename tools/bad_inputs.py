"""Bad inputs a user can give, run through the installed commands exactly as a user runs them; records the exit
status and what the user sees on stderr (docs/reliability.md, "Bad inputs").

Every case builds its input in a temporary folder (tiny files in the real formats), runs ``wfm`` /
``wfm-convert`` / ``wfm-export`` in a subprocess and checks the contract: non-zero exit, one line of error,
no traceback, the file (and sample where there is one) named.

    python tools/bad_inputs.py            # writes the table into docs/reliability.md
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdoc import publish  # noqa: E402

from wfm.checkpoint import backbone_entry  # noqa: E402
from wfm.data.hdf5 import label_meta, write_h5  # noqa: E402
from wfm.models import ViTEncoder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENC = dict(img_size=32, patch_size=8, embed_dim=32, depth=1, num_heads=4, channel_embed="fixed", max_channels=4)


def h5(path: Path, n: int = 12, c: int = 2, size: int = 32, nan_at: int | None = None,
       bad_label_at: int | None = None) -> Path:
    """A valid wfm file, then (wfm's writer refuses both) a NaN or an out-of-range label put in by hand."""
    import h5py

    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, c, size, size)).astype(np.float32)
    y = rng.integers(0, 3, n)
    y[:3] = [0, 1, 2]
    meta = label_meta({"label": "classification"}, {"label": ("a", "b", "c")})
    attrs = {"source": "bad_inputs", "modality": "csi", "preprocessing": {}, "labels": meta,
             "mean": np.zeros(c, np.float32), "std": np.ones(c, np.float32)}
    write_h5(path, x, {"label": y}, attrs)
    with h5py.File(path, "r+") as f:
        if nan_at is not None:
            f["inputs"][nan_at, 0, 3, 3] = np.nan
        if bad_label_at is not None:
            f["label"][bad_label_at] = 7
    return path


def ckpt(path: Path) -> Path:
    torch.manual_seed(0)
    enc = ViTEncoder(**ENC)
    torch.save({"wfm_backbone": backbone_entry(enc, enc.config, method="JEPA", encoder="target")}, path)
    return path


def mae_run(tmp: Path) -> Path:
    """The last.ckpt of a real (tiny) MAE run."""
    subprocess.run([str(BIN / "wfm"), "fit", f"--config={ROOT / 'tests/fixtures/tiny_fit_mae.yaml'}",
                    f"--trainer.default_root_dir={tmp / 'mae'}"], check=True, capture_output=True, cwd=tmp,
                   env={**os.environ, "PYTHONPATH": str(ROOT / "tests")}, timeout=600)
    return next((tmp / "mae").rglob("last.ckpt"))


def probe(backbone: Path | str, dataset: Path | str, *extra: str) -> list[str]:
    return [str(BIN / "wfm"), "test", f"--config={ROOT / 'configs/probe/file.yaml'}",
            f"--model.init_args.backbone={backbone}", f"--data.init_args.dataset={dataset}",
            "--data.init_args.size=32", "--data.init_args.n=40", *extra]


def cases(tmp: Path) -> list[tuple[str, list[str], str]]:
    """(what the user did, the command, a fragment the one-line message must contain)."""
    good_ckpt = ckpt(tmp / "jepa.ckpt")
    good = h5(tmp / "good.h5")
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
    (tmp / "pickle.ckpt").write_bytes(b"\x80\x04c__builtin__\nprint\n.")  # a pickle that calls a function
    torch.save({"state_dict": {}}, tmp / "foreign.ckpt")
    raw = tmp / "raw"
    raw.mkdir()
    (raw / "capture.bin").write_bytes(np.zeros(7, "<f4").tobytes())
    (raw / "capture.json").write_text(json.dumps({"transmitter": "bs1"}))
    valid = tmp / "valid"
    for tx in ("bs1", "bs2"):
        (valid / tx).mkdir(parents=True)
        (valid / tx / "c.bin").write_bytes(np.ones(2 * 4096, "<f4").tobytes())
        (valid / tx / "c.json").write_text(json.dumps({"transmitter": tx}))
    tiny_yaml = ROOT / "tests/fixtures/tiny_fit.yaml"
    return [
        ("missing data file", probe(good_ckpt, tmp / "nope.h5"), "nope.h5"),
        ("unknown built-in dataset name", probe(good_ckpt, "rsf"), "rsf: not a built-in dataset"),
        ("corrupt HDF5 file", probe(good_ckpt, tmp / "corrupt.h5"), "corrupt.h5: not a readable HDF5"),
        ("HDF5 file of another program", probe(good_ckpt, tmp / "other.h5"), "other.h5: no 'inputs'"),
        ("empty file", probe(good_ckpt, tmp / "notwfm.h5"), "notwfm.h5"),
        ("wrong sample size for the task", probe(good_ckpt, tmp / "small.h5"), "small.h5: samples are (16, 16)"),
        ("file size differs from the encoder's", probe(good_ckpt, tmp / "small.h5", "--data.init_args.size=16"),
         "small.h5: samples are 16 x 16, but"),
        ("more channels than the checkpoint knows", probe(good_ckpt, tmp / "wide.h5"), "wide.h5: samples have 6"),
        ("NaN in a sample", probe(good_ckpt, tmp / "nan.h5"), "nan.h5: sample 5 has NaN/Inf"),
        ("label out of range", probe(good_ckpt, tmp / "label.h5"), "label.h5: sample 8 has label label=7"),
        ("unknown label key", probe(good_ckpt, good, "--data.init_args.target=beam"), "good.h5: no label 'beam'"),
        ("missing checkpoint", probe(tmp / "nope.ckpt", good), "nope.ckpt"),
        ("pickle that runs code as a checkpoint", probe(tmp / "pickle.ckpt", good), "pickle.ckpt"),
        ("checkpoint without a wfm backbone", probe(tmp / "foreign.ckpt", good), "foreign.ckpt"),
        ("encoder config differs from the checkpoint",
         probe(good_ckpt, good, "--model.init_args.encoder={embed_dim: 64}"), "encoder config does not match"),
        ("checkpoint of another method to resume",
         [str(BIN / "wfm"), "fit", f"--config={tiny_yaml}", f"--ckpt_path={mae_run(tmp)}",
          f"--trainer.default_root_dir={tmp / 'run'}"], "written by a MAE run, cannot resume a JEPA run"),
        ("unknown config key", [str(BIN / "wfm"), "fit", f"--config={tiny_yaml}", "--model.init_args.embed_dimm=3"],
         "embed_dimm"),
        ("impossible config value",
         [str(BIN / "wfm"), "fit", f"--config={tiny_yaml}", "--model.init_args.encoder.init_args.patch_size=5"],
         "patch_size=5 must divide"),
        ("missing config file", [str(BIN / "wfm"), "fit", "--config=nope.yaml"], "nope.yaml"),
        ("converter: missing raw folder", [str(BIN / "wfm-convert"), "powder", str(tmp / "none"), str(tmp / "o")],
         "none: no *.bin captures"),
        ("converter: odd number of IQ values", [str(BIN / "wfm-convert"), "powder", str(raw), str(tmp / "o")],
         "capture.bin: odd number of values"),
        ("converter: label not where the layout says",
         [str(BIN / "wfm-convert"), "powder", str(raw), str(tmp / "o"), "--label=json:tx.id"],
         "capture.json: no label at json:tx.id"),
        ("converter: unsafe output name",
         [str(BIN / "wfm-convert"), "powder", str(valid), str(tmp / "o"), "--nfft=32", "--frames=8",
          "--name=../../escape"], "unsafe"),
        ("export: missing checkpoint", [str(BIN / "wfm-export"), str(tmp / "nope.ckpt"), str(tmp / "x")],
         "nope.ckpt"),
    ]


def run(cmd: list[str], tmp: Path) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, timeout=600, env=env)
    # Lightning's status lines (seed, devices, callbacks) are not errors; the error is what says "error:"
    lines = [ln for ln in done.stderr.splitlines() if "error" in ln.lower() or "Traceback" in ln]
    return done.returncode, "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/reliability.md", help="Markdown file to update, or - to print only")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wfm_bad_"))
    rows, failures = [], 0
    try:
        for what, cmd, expect in cases(tmp):
            code, err = run(cmd, tmp)
            ok = code != 0 and expect in err and "Traceback" not in err and len(err.splitlines()) == 1
            failures += not ok
            shown = err.replace(str(tmp) + "/", "").replace("|", "\\|")
            rows.append(f"| {what} | {code} | {'yes' if ok else '**no**'} | `{shown}` |")
            print(f"{'ok ' if ok else 'BAD'} {what}: [{code}] {err}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lines = [f"{len(rows)} bad inputs, each run as a subprocess of the installed command; contract = non-zero exit, "
             "one error line on stderr (Lightning's status lines, e.g. `Seed set to 0`, are not errors and not "
             "counted), the file and sample named, "
             f"no traceback. Met: {len(rows) - failures} of {len(rows)}. Paths are shown relative to the temporary "
             "folder the inputs were written to.", "",
             "| bad input | exit | contract met | what the user sees |", "|---|---|---|---|", *rows]
    publish(lines, args.out, "Bad inputs")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
