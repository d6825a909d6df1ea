"""A full disk under every HDF5 writer of the data side (``wfm-convert``, the built-in cache build, ``wfm-generate``,
sequence files): one error line naming the output file, no crash, no temporary file left, a previous output intact.

The issue: ``wfm-convert sigmf`` into a 200 KB tmpfs printed HDF5's "Can't decrement id ref count" and died of a
segfault (exit 139), leaving its temporary file; a cache build on a full disk left a 0-byte temporary file. The
cause: HDF5 (1.14 under h5py 3.x) that meets a failed write while flushing its caches keeps objects it can no longer
close and crashes at ``File.close`` or at exit; a failed ``h5py.File(tmp, "w")`` (the superblock write) left the
file it had created. Now every writer goes through ``wfm.data.hdf5.AtomicH5``: the bytes reach the disk through a
Python file object whose failed write is recorded (HDF5 never sees it), the file is closed cleanly, the temporary
file removed and ``OutputWriteError`` raised: ``<out>: no space left on device (wrote N of about M); ...``.

Three ways to fill the disk: in-process, ``wfm.data.hdf5._pwrite`` raising ``ENOSPC`` after a byte budget; in a
subprocess, a real 200 KB tmpfs (``unshare -rm``, where the machine allows it) and a real ``RLIMIT_FSIZE`` (every
Linux machine; the kernel refuses writes past the limit with ``EFBIG``), so a segfault would show as exit -11.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import load_module

import wfm.data.hdf5 as hdf5
from wfm.data.converters import main as convert_main
from wfm.data.datasets.builtin import build_builtin
from wfm.data.sequence import load_sequence, write_sequence_file
from wfm.generate import main as generate_main

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
make_sigmf = load_module("tests/data/sigmf/make.py", "make_sigmf_full").make
SIGMF_ARGS = ["--size", "112", "--nfft", "32", "--frames", "8"]  # ota_tiny.h5: 12 samples of 112 x 112, ~600 KB
FULL = re.compile(r"(?P<out>\S+): no space left on device \(wrote [\d.]+ (bytes|KiB|MiB) of about [\d.]+ KiB\); the "
                  r"temporary file was removed and (?P<kept>.*)$")


def full_disk_after(monkeypatch: pytest.MonkeyPatch, budget: int) -> dict[str, int]:
    """Every output write goes through ``hdf5._pwrite``: let ``budget`` bytes through, then ``ENOSPC`` (the write
    that crosses the budget is partial, as the kernel's is)."""
    real = hdf5._pwrite
    state = {"written": 0, "refused": 0}

    def pwrite(fd: int, data, offset: int) -> int:
        room = budget - state["written"]
        if room <= 0:
            state["refused"] += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        k = real(fd, memoryview(data)[:room], offset)
        state["written"] += k
        return k

    monkeypatch.setattr(hdf5, "_pwrite", pwrite)
    return state


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def sigmf_raw(tmp_path: Path) -> Path:
    return make_sigmf(tmp_path / "raw")


# ------------------------------------------------------------------------------------------- in-process
@pytest.mark.fault(what=('a full disk (`ENOSPC`) while `wfm-convert` writes its output file: at the '
                        'superblock, mid-file, near the end'),
                   survives=('one line `wfm-convert NAME: error: OUT.h5: no space left on device (wrote N '
                             'KiB of about M KiB); the temporary file was removed and no OUT.h5 was '
                             'written`, exit 1; nothing left in the output folder, not even a 0-byte file'))
@pytest.mark.parametrize("budget", [0, 1000, 100_000])  # 0: the file's first bytes (the superblock) fail
def test_convert_into_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch, sigmf_raw, budget):
    state = full_disk_after(monkeypatch, budget)
    out = tmp_path / "out"
    assert convert_main(["sigmf", str(sigmf_raw), str(out), *SIGMF_ARGS]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    assert err[0].startswith("wfm-convert sigmf: error: ") and err[0].endswith("  (--debug shows the traceback)")
    m = FULL.search(err[0].removesuffix("  (--debug shows the traceback)"))
    assert m and m["out"] == str((out / "ota_tiny.h5").resolve()) and m["kept"] == "no ota_tiny.h5 was written", err
    assert state["refused"] >= 1
    assert _leftovers(out) == []  # no temporary file, not even a 0-byte one


@pytest.mark.fault(what='a full disk while `wfm-convert` rewrites an output file that already exists',
                   survives=('one line `OUT.h5: no space left on device (wrote N KiB of about M KiB); the '
                             'temporary file was removed and the previous OUT.h5 is unchanged`, exit 1; the'
                             ' previous file is kept byte for byte and still reads'))
def test_a_full_disk_keeps_the_previous_output(tmp_path, capsys, monkeypatch, sigmf_raw):
    out = tmp_path / "out"
    assert convert_main(["sigmf", str(sigmf_raw), str(out), *SIGMF_ARGS]) == 0
    before = (out / "ota_tiny.h5").read_bytes()
    full_disk_after(monkeypatch, 50_000)
    assert convert_main(["sigmf", str(sigmf_raw), str(out), *SIGMF_ARGS]) == 1
    line = capsys.readouterr().err.strip()
    assert line.endswith("the temporary file was removed and the previous ota_tiny.h5 is unchanged  (--debug shows "
                         "the traceback)"), line
    assert _leftovers(out) == ["ota_tiny.h5"] and (out / "ota_tiny.h5").read_bytes() == before
    monkeypatch.undo()
    with h5py.File(out / "ota_tiny.h5") as f:
        assert f["inputs"].shape == (12, 1, 112, 112)


@pytest.mark.fault(what='a full disk while a built-in dataset is built into the cache',
                   survives=('one error `NAME.h5: no space left on device (wrote N KiB of about M KiB); the'
                             ' temporary file was removed and no NAME.h5 was written`; no temporary file in'
                             ' the cache (its lock file only), and the next build with space completes'))
def test_cache_build_on_a_full_disk_leaves_no_temporary_file_and_builds_later(tmp_path, monkeypatch):
    full_disk_after(monkeypatch, 20_000)
    cache = tmp_path / "cache"
    with pytest.raises(hdf5.OutputWriteError, match=r"csi-n64-s0-16x16-g\d+\.h5: no space left on device \(wrote "
                       r"19\.5 KiB of about 256\.0 KiB\); the temporary file was removed and no csi-n64"):
        build_builtin("csi", 64, 0, 16, root=cache, chunk=8)
    assert [n for n in _leftovers(cache) if not n.endswith(".lock")] == []  # the lock file is kept by design
    monkeypatch.undo()  # space again: the next build completes
    path = build_builtin("csi", 64, 0, 16, root=cache, chunk=8)
    with h5py.File(path) as f:
        assert f["inputs"].shape[0] == 64


def _sequence_arrays(n: int = 6, t: int = 4) -> tuple[dict, dict, dict]:
    rng = np.random.default_rng(0)
    inputs = {"gps": rng.normal(size=(n, t, 2)).astype(np.float32),
              "beam_power": rng.normal(size=(n, t, 8)).astype(np.float32)}
    labels = {"beam": rng.integers(0, 8, (n, t)), "position": rng.normal(size=(n, t, 2))}
    index = {"sequence": np.arange(n) % 2, "start": np.arange(n), "block": np.arange(n) % 2}
    return inputs, labels, index


@pytest.mark.fault(what='a full disk while a sequence file is rewritten',
                   survives=('one error `seq.h5: no space left on device (wrote N KiB of about M KiB); the '
                             'temporary file was removed and the previous seq.h5 is unchanged`; the '
                             'previous file is kept byte for byte and still loads'))
def test_sequence_file_on_a_full_disk(tmp_path, monkeypatch):
    path = tmp_path / "seq.h5"
    kw = dict(history=2, num_beams=8, frame_rate_hz=10.0, source="t", preprocessing={})
    write_sequence_file(path, *_sequence_arrays(), **kw)
    before = path.read_bytes()
    full_disk_after(monkeypatch, 3000)
    with pytest.raises(hdf5.OutputWriteError, match=r"seq.h5: no space left on device \(wrote 2\.9 KiB of about "
                       r"[\d.]+ KiB\); the temporary file was removed and the previous seq.h5 is unchanged"):
        write_sequence_file(path, *_sequence_arrays(), **kw)
    assert _leftovers(tmp_path) == ["seq.h5"] and path.read_bytes() == before
    monkeypatch.undo()
    assert load_sequence(path).n == 6


@pytest.mark.fault(what='a full disk while `wfm-generate sionna` writes its file',
                   survives=('one line `wfm-generate sionna: error: OUT.h5: no space left on device (wrote '
                             'N KiB of about M KiB); the temporary file was removed and no OUT.h5 was '
                             'written`, exit 1; nothing left in the output folder'))
def test_wfm_generate_on_a_full_disk(tmp_path, capsys, monkeypatch):
    from wfm.data import sionna_source

    def fake_generate(scenario, task, samples, seed, **kw):  # no Sionna needed: the writer is what is tested
        x = np.random.default_rng(seed).normal(size=(samples, 2, 16, 64)).astype(np.float32)
        return x, {"los": np.arange(samples) % 2}, {"scenario": scenario}

    monkeypatch.setattr(sionna_source, "generate", fake_generate)
    full_disk_after(monkeypatch, 10_000)
    out = tmp_path / "gen" / "umi.h5"
    assert generate_main(["sionna", str(out), "--samples", "40"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("wfm-generate sionna: error: "), err
    assert f"{out.resolve()}: no space left on device (wrote 9.8 KiB of about 320.0 KiB); the temporary file was " \
           "removed and no umi.h5 was written" in err[0]
    assert _leftovers(out.parent) == []


@pytest.mark.fault(what='another write error (`EIO`) while `wfm-convert` writes its output file',
                   survives=('one line `OUT.h5: input/output error (wrote 0 bytes of about M KiB); the '
                             'temporary file was removed and no OUT.h5 was written`, exit 1; nothing left '
                             'in the output folder'))
def test_other_write_errors_are_one_line_too(tmp_path, monkeypatch, sigmf_raw, capsys):
    def eio(fd, data, offset):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(hdf5, "_pwrite", eio)
    assert convert_main(["sigmf", str(sigmf_raw), str(tmp_path / "out"), *SIGMF_ARGS]) == 1
    line = capsys.readouterr().err.strip()
    assert "ota_tiny.h5: input/output error (wrote 0 bytes of about" in line and "\n" not in line
    assert _leftovers(tmp_path / "out") == []


# ------------------------------------------------------------------------------------------- subprocesses
def _tmpfs_works(folder: Path) -> bool:
    if not shutil.which("unshare"):
        return False
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=200k tmpfs {folder}"],
                          capture_output=True, timeout=30)
    return done.returncode == 0


def _run_full(kind: str, cmd: list[str], out_dir: Path, cwd: Path) -> subprocess.CompletedProcess:
    """``cmd`` with ``out_dir`` a full 200 KB disk: a fresh tmpfs mounted there in a private mount namespace
    (``kind="tmpfs"``), or the process's file size limit at 200 KB (``kind="rlimit"``: writes past it fail)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if kind == "tmpfs":
        # the tmpfs vanishes with the namespace: list what is left in it from inside, on stdout after a marker
        script = ('d="$1"; shift; mount -t tmpfs -o size=200k tmpfs "$d" || exit 99; "$@"; rc=$?; '
                  'echo "LEFT:$(ls -A "$d" | tr "\\n" " ")"; exit $rc')
        return subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", str(out_dir), *cmd], capture_output=True,
                              text=True, cwd=cwd, timeout=300)

    def limit() -> None:
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill; inherited across exec
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=300, preexec_fn=limit)


KINDS = ["tmpfs", "rlimit"]
REASON = {"tmpfs": "no space left on device", "rlimit": "file size limit exceeded"}


@pytest.mark.fault(what=('the installed `wfm-convert` writing onto a real full disk: a 200 KB tmpfs, or '
                        '`RLIMIT_FSIZE` at 200 KB (was a segfault, exit 139)'),
                   survives=('one line `wfm-convert sigmf: error: OUT.h5: no space left on device (or: file'
                             ' size limit exceeded) (wrote N KiB of about M KiB); the temporary file was '
                             'removed and no OUT.h5 was written`, exit 1, no Traceback; nothing left on the'
                             ' full disk'))
@pytest.mark.parametrize("kind", KINDS)
def test_installed_wfm_convert_on_a_full_disk_exits_1_without_a_crash(tmp_path, sigmf_raw, kind):
    if kind == "tmpfs" and not _tmpfs_works(tmp_path / "probe"):
        pytest.skip("no private tmpfs on this machine (unshare -rm / mount refused); the rlimit case covers it")
    out = tmp_path / "out"
    done = _run_full(kind, [str(BIN / "wfm-convert"), "sigmf", str(sigmf_raw), str(out), *SIGMF_ARGS], out, tmp_path)
    assert done.returncode == 1, (done.returncode, done.stderr[-3000:])  # was 139 / -11: a segfault
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr and "decrement" not in done.stderr, done.stderr[-3000:]
    assert lines[0].startswith(f"wfm-convert sigmf: error: {(out / 'ota_tiny.h5').resolve()}: {REASON[kind]} (wrote ")
    assert "the temporary file was removed and no ota_tiny.h5 was written" in lines[0]
    left = done.stdout.split("LEFT:")[-1].split() if kind == "tmpfs" else _leftovers(out)
    assert left == [], left  # no temporary file on the full disk


@pytest.mark.fault(what=('a built-in cache build in a subprocess onto a real full disk: a 200 KB tmpfs, or '
                        '`RLIMIT_FSIZE` at 200 KB'),
                   survives=('one error `NAME.h5: no space left on device (or: file size limit exceeded) '
                             '(wrote N KiB of about M KiB); the temporary file was removed and no NAME.h5 '
                             'was written`, exit 1, no Traceback; no temporary file left in the cache (its '
                             'lock file only)'))
@pytest.mark.parametrize("kind", KINDS)
def test_cache_build_on_a_full_disk_in_a_subprocess_exits_cleanly(tmp_path, kind):
    if kind == "tmpfs" and not _tmpfs_works(tmp_path / "probe"):
        pytest.skip("no private tmpfs on this machine (unshare -rm / mount refused); the rlimit case covers it")
    cache = tmp_path / "cache"
    body = textwrap.dedent(f"""
        import sys
        from wfm.data.datasets.builtin import build_builtin
        from wfm.data.hdf5 import OutputWriteError
        try:
            build_builtin("csi", 256, 0, 32, root={str(cache)!r}, chunk=16)
        except OutputWriteError as e:
            print(e, file=sys.stderr)
            sys.exit(1)
    """)
    done = _run_full(kind, [sys.executable, "-c", body], cache, tmp_path)
    assert done.returncode == 1, (done.returncode, done.stderr[-3000:])
    assert f": {REASON[kind]} (wrote " in done.stderr and "Traceback" not in done.stderr, done.stderr[-3000:]
    left = done.stdout.split("LEFT:")[-1].split() if kind == "tmpfs" else _leftovers(cache)
    assert [n for n in left if not n.endswith(".lock")] == [], left
