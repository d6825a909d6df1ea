"""A full disk (ENOSPC) for every writer outside the data layer: checkpoints, exports, model folders, predict's
features.h5, the probe tables and plots, and ``wfm.atomic.atomic_file`` itself.

Each turns the failed write into one line naming the output (``<path>: no space left on device; the previous
file is kept``), removes its temporary file and leaves the previous output as it was. Faults are injected (a
file object whose ``write`` raises ``OSError(ENOSPC)``, or ``wfm.data.hdf5._pwrite`` for HDF5); where the
machine lets an unprivileged user namespace mount a small tmpfs (``unshare -rm``), the same writers also run
on a really full filesystem (``test_a_really_full_tmpfs``).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from helpers import PROBE_ENCODER_CFG as CFG

import wfm.atomic
from wfm.atomic import WriteFailed, atomic_file
from wfm.checkpoint import backbone_entry, export_backbone, export_model
from wfm.checkpoint_io import AtomicCheckpointIO
from wfm.models.encoder import ViTEncoder

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class _FullAfter:
    """A file object that takes ``room`` bytes, then raises ``OSError(ENOSPC)`` as a full disk's ``write``."""

    def __init__(self, f, room: int) -> None:
        self._f, self.room = f, room

    def write(self, data) -> int:
        n = memoryview(data).nbytes
        if n > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= n
        return self._f.write(data)

    def __getattr__(self, name: str):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._f.close()


def _full_disk(monkeypatch, room: int = 100, nth: int = 0) -> None:
    """Every file ``wfm.atomic`` opens from the ``nth`` on gets ``room`` bytes, then ENOSPC."""
    real = os.fdopen
    count = {"n": 0}

    def fdopen(fd, *args, **kw):
        f = real(fd, *args, **kw)
        count["n"] += 1
        return _FullAfter(f, room) if count["n"] > nth else f

    monkeypatch.setattr(wfm.atomic.os, "fdopen", fdopen)


def _only(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_atomic_file_on_a_full_disk_keeps_the_previous_file_and_no_temp(tmp_path, monkeypatch) -> None:
    path = tmp_path / "table.md"
    path.write_bytes(b"old")
    _full_disk(monkeypatch, room=3)
    with pytest.raises(WriteFailed) as err, atomic_file(path) as f:
        f.write(b"the new table, longer than the room left")
    assert str(err.value) == f"{path}: no space left on device; the previous file is kept"
    assert err.value.errno == errno.ENOSPC and isinstance(err.value, OSError)
    assert path.read_bytes() == b"old" and _only(tmp_path) == ["table.md"]
    with pytest.raises(WriteFailed, match=f"^{tmp_path / 'new.md'}: no space left on device; nothing was written$"), \
            atomic_file(tmp_path / "new.md") as f:
        f.write(b"x" * 10)
    assert _only(tmp_path) == ["table.md"]


def test_an_error_that_is_not_a_write_passes_unchanged(tmp_path) -> None:
    with pytest.raises(ValueError, match="^bad value$"), atomic_file(tmp_path / "a.txt") as f:
        f.write(b"x")
        raise ValueError("bad value")
    assert _only(tmp_path) == []


@pytest.mark.fault(what='a full disk (ENOSPC) while a checkpoint is written',
                   survives=("`<file>: no space left on device; the previous checkpoint is kept` (not torch's `enforce "
                             'fail`); no temporary file'))
def test_checkpoint_save_on_a_full_disk_is_one_line_not_torchs_enforce_fail(tmp_path, monkeypatch) -> None:
    """torch's zip writer reports the failed write as ``RuntimeError: [enforce fail at inline_container.cc:672]
    . unexpected pos``; the errno is found in its chain."""
    last = tmp_path / "ckpt" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"w": torch.zeros(10)}, last)
    before = last.read_bytes()
    _full_disk(monkeypatch, room=2000)
    with pytest.raises(WriteFailed) as err:
        AtomicCheckpointIO().save_checkpoint({"w": torch.zeros(100_000)}, last)
    assert str(err.value) == f"{last}: no space left on device; the previous checkpoint is kept"
    assert isinstance(err.value.__cause__, RuntimeError) and "unexpected pos" in str(err.value.__cause__)
    assert last.read_bytes() == before and _only(last.parent) == ["last.ckpt"]


def test_torchs_writer_error_without_an_errno_is_read_from_the_free_space(tmp_path, monkeypatch) -> None:
    def fails(obj, f, *a, **k):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file")

    monkeypatch.setattr("wfm.checkpoint_io.torch.save", fails)
    monkeypatch.setattr(wfm.atomic, "_low_on_space", lambda path, margin=0: True)
    with pytest.raises(WriteFailed, match="no space left on device; nothing was written"):
        AtomicCheckpointIO().save_checkpoint({}, tmp_path / "last.ckpt")
    monkeypatch.setattr(wfm.atomic, "_low_on_space", lambda path, margin=0: False)
    with pytest.raises(WriteFailed, match=r"could not write it \(Input/output error\); nothing was written"):
        AtomicCheckpointIO().save_checkpoint({}, tmp_path / "last.ckpt")
    assert _only(tmp_path) == []


def _ckpt(tmp_path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    path = tmp_path / f"src{seed}.ckpt"
    torch.save({"state_dict": {}, "wfm_backbone": backbone_entry(ViTEncoder(**CFG), CFG)}, path)
    return path


@pytest.mark.fault(what='a full disk (ENOSPC) while `wfm-export` writes `.safetensors` + `.json`',
                   survives=('`wfm-export: error: <st> and <json>: no space left on device; the previous exports are '
                             'kept`; both old files intact'))
def test_export_pair_on_a_full_disk_keeps_the_whole_previous_pair(tmp_path, monkeypatch, capsys) -> None:
    import wfm.export

    out = tmp_path / "out"
    st, js = export_backbone(_ckpt(tmp_path, 0), out / "enc")
    old = st.read_bytes(), js.read_bytes()
    _full_disk(monkeypatch, room=100, nth=1)  # the .safetensors fits, the .json does not
    assert wfm.export.main([str(_ckpt(tmp_path, 1)), str(out / "enc.safetensors")]) == 1
    err = capsys.readouterr().err
    assert err == (f"wfm-export: error: {st} and {js}: no space left on device; the previous exports are kept"
                   "  (--debug shows the traceback)\n")
    assert (st.read_bytes(), js.read_bytes()) == old and _only(out) == ["enc.json", "enc.safetensors"]


@pytest.mark.fault(what='a full disk (ENOSPC) while `wfm-export` writes a model folder',
                   survives=('`wfm-export: error: <folder>: no space left on device; the previous model folder is '
                             'kept`; the old folder intact'))
def test_export_folder_on_a_full_disk_keeps_the_previous_folder(tmp_path, monkeypatch, capsys) -> None:
    import wfm.export

    folder = export_model(_ckpt(tmp_path, 0), tmp_path / "model")
    old = {p.name: p.read_bytes() for p in folder.iterdir()}
    real = Path.write_text

    def full(self, *a, **k):
        if self.name == "config.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "write_text", full)
    assert wfm.export.main([str(_ckpt(tmp_path, 1)), str(folder)]) == 1
    assert capsys.readouterr().err == (f"wfm-export: error: {folder}: no space left on device; the previous model "
                                       "folder is kept  (--debug shows the traceback)\n")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == old
    assert _only(tmp_path) == ["model", "src0.ckpt", "src1.ckpt"]


@pytest.mark.fault(what='a full disk (ENOSPC) while the probe tables (`.md` + `.csv`) are written',
                   survives=('`<md> and <csv>: no space left on device; the previous files are kept` (both or '
                             'neither replaced)'))
@pytest.mark.fault(what='a full disk (ENOSPC) while a plot (`.png`) is written',
                   survives='`<png>: no space left on device; nothing was written`; no temporary file')
def test_probe_tables_and_plots_on_a_full_disk(tmp_path, monkeypatch) -> None:
    from wfm.eval import plots
    from wfm.eval.probe import ProbeResult
    from wfm.eval.tables import write_results

    r = ProbeResult(task="rfs", metric="acc", mean=71.0, std=1.0, values=[70.0, 72.0], higher_is_better=True)
    md, cs = write_results({"jepa": [r]}, tmp_path)
    old = md.read_bytes(), cs.read_bytes()
    _full_disk(monkeypatch, room=10)
    with pytest.raises(WriteFailed) as err:  # the .md and .csv replace their old versions together or not at all
        write_results({"jepa": [r], "random-init": [r]}, tmp_path)
    assert str(err.value) == f"{md} and {cs}: no space left on device; the previous files are kept"
    assert (md.read_bytes(), cs.read_bytes()) == old
    with pytest.raises(WriteFailed, match="curve.png: no space left on device; nothing was written"):
        plots.plot_probe_history([{"step": 0.0, "probe/rfs/acc": 50.0}, {"step": 10.0, "probe/rfs/acc": 60.0}],
                                 "probe/rfs/acc", tmp_path / "curve.png")
    assert _only(tmp_path) == ["probe_results.csv", "probe_results.md"]


@pytest.mark.fault(what='a full disk (ENOSPC) while `wfm predict` writes `features.h5`',
                   survives=('one line `<features.h5>: no space left on device ...`; no temporary file, the previous '
                             'features.h5 kept'))
def test_predict_features_on_a_full_disk(cpu_trainer, tmp_path, monkeypatch) -> None:
    """``wfm predict``'s ``FeatureWriter``: the failed write is found after the batch, HDF5 never sees it (no
    crash at close or exit), the temporary file goes and a previous features.h5 stays."""
    sys.path.insert(0, str(TESTS / "callbacks"))
    from callback_stubs import LIMITS, Method
    from toy import ToyDownstream

    import wfm.data.hdf5 as hdf5
    from wfm.callbacks import FeatureWriter

    out = tmp_path / "features.h5"
    dm = ToyDownstream(num_samples=40, batch_size=8)
    cpu_trainer(callbacks=[FeatureWriter(str(out))], **LIMITS).predict(
        Method(), dataloaders=dm.probe_dataloader(), return_predictions=False)
    old = out.read_bytes()

    def full(fd, data, offset):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(hdf5, "_pwrite", full)
    with pytest.raises(OSError, match=f"^{out}: no space left on device") as err:
        cpu_trainer(callbacks=[FeatureWriter(str(out))], **LIMITS).predict(
            Method(), dataloaders=dm.probe_dataloader(), return_predictions=False)
    assert "\n" not in str(err.value)
    assert out.read_bytes() == old and _only(tmp_path) == ["features.h5"]


# ------------------------------------------------------------------------ a really full filesystem (tmpfs)
def _tmpfs_works() -> bool:
    if shutil.which("unshare") is None or sys.platform != "linux":
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs $d"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


SCRIPT = textwrap.dedent('''
    import errno, json, os, subprocess, sys
    from pathlib import Path
    import torch
    mnt, work = Path(sys.argv[1]), Path(sys.argv[2])
    out = {}

    def fill(leave):
        """Fill the filesystem until at most ``leave`` bytes are free."""
        with open(mnt / "filler", "ab") as f:
            while True:
                st = os.statvfs(mnt)
                free = st.f_bavail * st.f_frsize
                if free <= leave:
                    return
                try:
                    f.write(b"\\0" * min(free - leave, 1 << 16)); f.flush()
                except OSError:
                    return

    def empty():
        (mnt / "filler").unlink(missing_ok=True)

    def case(name, fn, target):
        try:
            fn(); out[name] = {"ok": True}
        except BaseException as e:
            out[name] = {"type": type(e).__name__, "msg": str(e)}
        parent = Path(target).parent
        out[name]["left"] = sorted(p.name for p in parent.iterdir()) if parent.is_dir() else []
        out[name]["target"] = str(target)

    from wfm.checkpoint_io import AtomicCheckpointIO
    from wfm.checkpoint import export_backbone, export_model
    from wfm.eval.tables import atomic_write_text
    last = mnt / "ckpt" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"w": torch.zeros(10)}, last)
    out["ckpt_before"] = last.read_bytes().hex()
    fill(8192)
    case("checkpoint", lambda: AtomicCheckpointIO().save_checkpoint({"w": torch.zeros(100000)}, last), last)
    out["ckpt_after"] = last.read_bytes().hex()
    empty()
    st, js = export_backbone(work / "src.ckpt", mnt / "exp" / "enc")
    fill(2048)
    case("pair", lambda: export_backbone(work / "src.ckpt", mnt / "exp" / "enc"), st)
    empty()
    folder = export_model(work / "src.ckpt", mnt / "model")
    fill(2048)
    case("folder", lambda: export_model(work / "src.ckpt", mnt / "model"), folder / "x")
    out["folder_after"] = sorted(p.name for p in folder.iterdir())
    empty()
    atomic_write_text(mnt / "res" / "probe_results.md", "old table")
    fill(0)
    case("table", lambda: atomic_write_text(mnt / "res" / "probe_results.md", "x" * 100000),
         mnt / "res" / "probe_results.md")
    out["table_after"] = (mnt / "res" / "probe_results.md").read_text()
    empty()
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    fill(16384)
    fit = subprocess.run([sys.executable, "-m", "wfm.main", "fit", "--config", str(work / "tiny.yaml"),
                          "--trainer.max_steps", "2", "--checkpoint.dirpath", str(mnt / "run")],
                         capture_output=True, text=True, env=env)
    out["fit"] = {"rc": fit.returncode, "err": fit.stderr, "left": sorted(os.listdir(mnt / "run"))
                  if (mnt / "run").is_dir() else []}
    empty()
    fill(4096)
    pred = subprocess.run([sys.executable, "-m", "wfm.main", "predict", "--config", sys.argv[3],
                           "--model.init_args.encoder={img_size: 32, patch_size: 8, embed_dim: 32, depth: 1, "
                           "num_heads: 2}", "--data.init_args.dataset=rfs", "--data.init_args.n=400",
                           "--data.init_args.size=32", "--trainer.default_root_dir", str(mnt / "pred")],
                          capture_output=True, text=True, env=env)
    out["predict"] = {"rc": pred.returncode, "err": pred.stderr, "left": sorted(os.listdir(mnt / "pred"))
                      if (mnt / "pred").is_dir() else []}
    import yaml
    out["predict_config"] = yaml.safe_load((mnt / "pred" / "config.yaml").read_text())["data"]["init_args"]["n"]
    print("RESULT" + json.dumps(out))
''')


@pytest.mark.fault(what=('a really full filesystem (a 512 KB tmpfs) under checkpoints, exports, tables, `wfm fit` '
                         'and `wfm predict`'),
                   survives=("each writer's one line `<path>: no space left on device; ...`, exit 1, no traceback, no "
                             'temporary file, previous outputs kept'))
@pytest.mark.slow
@pytest.mark.skipif(not _tmpfs_works(), reason="no user namespace for a small tmpfs (unshare -rm) here")
def test_a_really_full_tmpfs(tmp_path) -> None:
    from test_resume import _config

    torch.manual_seed(0)
    torch.save({"state_dict": {}, "wfm_backbone": backbone_entry(ViTEncoder(**CFG), CFG)}, tmp_path / "src.ckpt")
    tiny = _config(tmp_path)
    tiny.rename(tmp_path / "tiny.yaml")
    (tmp_path / "script.py").write_text(SCRIPT)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    cmd = (f"mount -t tmpfs -o size=512k tmpfs {mnt} && exec {sys.executable} {tmp_path / 'script.py'} {mnt} "
           f"{tmp_path} {ROOT / 'configs' / 'predict' / 'file.yaml'}")
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", cmd], capture_output=True, text=True, env=env,
                          timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads(proc.stdout.split("RESULT", 1)[1])

    ckpt = res["checkpoint"]
    assert ckpt["type"] == "WriteFailed"
    assert ckpt["msg"] == f"{mnt / 'ckpt' / 'last.ckpt'}: no space left on device; the previous checkpoint is kept"
    assert ckpt["left"] == ["last.ckpt"] and res["ckpt_after"] == res["ckpt_before"]
    pair = res["pair"]
    assert pair["msg"] == (f"{mnt / 'exp' / 'enc.safetensors'} and {mnt / 'exp' / 'enc.json'}: no space left on "
                           "device; the previous exports are kept")
    assert pair["left"] == ["enc.json", "enc.safetensors"]
    folder = res["folder"]
    assert folder["msg"] == f"{mnt / 'model'}: no space left on device; the previous model folder is kept"
    assert res["folder_after"] == ["README.md", "config.json", "model.safetensors"]
    assert "filler" in folder["left"] or folder["left"] == ["README.md", "config.json", "model.safetensors"]
    table = res["table"]
    assert table["msg"] == f"{mnt / 'res' / 'probe_results.md'}: no space left on device; the previous file is kept"
    assert table["left"] == ["probe_results.md"] and res["table_after"] == "old table"

    assert res["predict_config"] == 400
    for run, output in (("fit", mnt / "run" / "last.ckpt"), ("predict", mnt / "pred" / "features.h5")):
        lines = [line for line in res[run]["err"].splitlines() if line.startswith("wfm: error")]
        assert res[run]["rc"] == 1 and "Traceback" not in res[run]["err"], res[run]["err"][-3000:]
        assert len(lines) == 1 and lines[0].startswith(f"wfm: error: {output}: no space left on device"), lines
        # no temporary file, no partial output (predict's run folder keeps its config.yaml, written whole)
        assert res[run]["left"] == ([] if run == "fit" else ["config.yaml"]), res[run]
