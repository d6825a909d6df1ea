"""wfm.atomic.atomic_file: complete-or-nothing writes with ordinary permissions."""

from __future__ import annotations

import os
import stat

import pytest

from wfm.atomic import atomic_file


def test_atomic_file_writes_with_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_file(tmp_path / "sub" / "a.txt") as f:
            f.write(b"hello")
    finally:
        os.umask(old)
    path = tmp_path / "sub" / "a.txt"
    assert path.read_bytes() == b"hello"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's 0600
    assert os.listdir(path.parent) == ["a.txt"]


def test_atomic_file_error_keeps_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_file(path) as f:
        f.write(b"half of the new")
        raise KeyboardInterrupt
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["a.txt"]
