"""The ``wfm`` command's allocator setting: freed large blocks are reused without faulting their pages in again."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from wfm.allocator import keep_freed_memory

glibc = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")

# allocates, touches and frees a 64 MiB block twice; prints the minor page faults of the second round
SCRIPT = """
import resource, sys
import torch
from wfm.allocator import keep_freed_memory
print(keep_freed_memory())
for i in range(2):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t = torch.empty(16 * 2**20, dtype=torch.float32)
    t.fill_(1.0)
    del t
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def second_round_faults(**env: str) -> tuple[str, int]:
    clean = {k: v for k, v in os.environ.items() if k not in ("WFM_MALLOC", "MALLOC_MMAP_MAX_")}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env={**clean, **env}, capture_output=True, text=True,
                         check=True).stdout.split()
    return out[0], int(out[1])


@glibc
def test_freed_block_is_reused_without_page_faults():
    applied, faults = second_round_faults()
    assert applied == "True"
    assert faults < 1000  # the 16384 pages of the block stay mapped


@glibc
def test_opt_out_keeps_glibc_defaults():
    applied, faults = second_round_faults(WFM_MALLOC="system")
    assert applied == "False"
    assert faults >= 16000  # glibc maps a fresh block and faults every 4 KiB page in again


def test_user_malloc_settings_win(monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_MAX_", "65536")
    assert keep_freed_memory() is False
