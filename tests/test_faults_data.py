"""Faults on the data side: a SIGKILL while a converter writes or while the built-in cache is being built
leaves no file under the final name (only a hidden temporary), the next run completes; two processes
building the same cache share one build."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import pytest

ROOT = Path(__file__).resolve().parents[1]

# runs `body` with wfm's HDF5 appends slowed down, so the test can kill the process while it writes
SLOW = textwrap.dedent("""
    import sys, time
    import wfm.data.hdf5 as h
    _append = h.H5Writer.append
    def slow(self, *a, **k):
        _append(self, *a, **k)
        print("appended", flush=True)
        time.sleep(float(sys.argv[1]))
    h.H5Writer.append = slow
""")


def _start(body: str, delay: float, tmp: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests"), "WFM_CACHE": str(tmp / "cache")}
    return subprocess.Popen([sys.executable, "-c", SLOW + textwrap.dedent(body), str(delay)], env=env, cwd=tmp,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _kill_after_append(proc: subprocess.Popen, appends: int = 1) -> None:
    for _ in range(appends):
        line = proc.stdout.readline()  # blocks until that chunk is in the temporary file
        assert line.strip() == "appended", line + proc.communicate()[0][-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.fault(what='SIGKILL while the built-in cache is built',
                   survives=("nothing under the cache's final name (only a hidden temporary); the lock dies with "
                             'the process, the next build completes and removes the temporary'))
@pytest.mark.parametrize("appends", [1, 5, 8])  # killed early, mid-way, after the last chunk (before the rename)
def test_sigkill_while_building_the_cache_leaves_nothing_half_written(tmp_path: Path, appends: int) -> None:
    build = """
        from wfm.data.datasets.builtin import build_builtin
        print(build_builtin("csi", 64, 0, 16, chunk=8), flush=True)
    """
    _kill_after_append(_start(build, 30.0, tmp_path), appends)
    cache = tmp_path / "cache"
    assert not list(cache.glob("csi-*.h5")), list(cache.iterdir())  # nothing under a final name
    assert list(cache.glob(".csi-*.tmp-*"))  # what was being written stays a hidden temporary file
    done = _start(build, 0.0, tmp_path)  # the lock died with the killed process: a new build goes through
    out = done.communicate(timeout=300)[0]
    assert done.returncode == 0, out[-2000:]
    path = Path(out.strip().splitlines()[-1])
    with h5py.File(path) as f:
        assert f["inputs"].shape[0] == 64
    assert not list(cache.glob(".*tmp*"))  # the killed build's temporary was removed by the next one


@pytest.mark.fault(what='SIGKILL while a converter writes',
                   survives='no output file; running the converter again writes the complete file and removes '
                            "the killed run's temporary")
def test_sigkill_during_conversion_leaves_nothing_half_written(tmp_path: Path) -> None:
    from helpers import load_module

    mk = load_module("tests/data/powder/make.py", "mk")
    raw = mk.make(tmp_path / "raw")
    convert = f"""
        from wfm.data.converters import powder
        print(powder.convert({str(raw)!r}, {str(tmp_path / 'out')!r}, size=16, nfft=32, frames=8), flush=True)
    """
    _kill_after_append(_start(convert, 30.0, tmp_path))  # its one chunk written, before the rename
    assert not (tmp_path / "out" / "powder.h5").exists()
    done = _start(convert, 0.0, tmp_path)
    out = done.communicate(timeout=300)[0]
    assert done.returncode == 0, out[-2000:]
    with h5py.File(tmp_path / "out" / "powder.h5") as f:
        assert f["inputs"].shape[0] == 9
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["powder.h5"]  # the killed temporary is gone


@pytest.mark.fault(what='two processes building the same cache',
                   survives='one build (the second waits on the lock and reuses the file), no temporary left')
def test_two_processes_building_the_same_cache_share_one_build(tmp_path: Path) -> None:
    build = """
        from wfm.data.datasets.builtin import build_builtin
        p = build_builtin("csi", 48, 0, 16, chunk=8)
        print(p, p.stat().st_mtime_ns, flush=True)
    """
    procs = [_start(build, 0.2, tmp_path) for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    finals = {o.strip().splitlines()[-1] for o in outs}
    assert len(finals) == 1  # same file, same mtime: the second waited for the first and reused its file
    assert sum(o.count("appended") for o in outs) == 6  # one build of 48 / 8 chunks, not two
    assert not list((tmp_path / "cache").glob(".*tmp*"))


def test_only_the_temporaries_of_dead_writers_are_removed(tmp_path: Path) -> None:
    from wfm.data.hdf5 import remove_stale_temps

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    out = tmp_path / "set[1].h5"  # glob characters in the name are taken literally
    dead = tmp_path / f".{out.name}.tmp-{gone.pid}-deadbeef"
    live = tmp_path / f".{out.name}.tmp-{os.getpid()}-cafecafe"
    other = tmp_path / f".other.h5.tmp-{gone.pid}-deadbeef"
    for p in (dead, live, other):
        p.write_bytes(b"partial")
    assert remove_stale_temps(out) == [dead]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name])
