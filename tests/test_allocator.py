"""The ``wfm`` command's allocator setting: a training step's freed activations are reused by the next step
instead of being unmapped and faulted in again."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from wfm.allocator import USER_SETTINGS, is_glibc, keep_freed_memory

# four forward/backward steps of an MLP on a 4096 x 512 batch (8-32 MiB activations) after two warm-up steps:
# prints whether the setting was applied and the minor page faults of the four steps
SCRIPT = """
import resource
import torch
from wfm.allocator import keep_freed_memory
print(keep_freed_memory())
torch.manual_seed(0)
torch.set_num_threads(1)
model = torch.nn.Sequential(torch.nn.Linear(512, 2048), torch.nn.GELU(), torch.nn.Linear(2048, 512))
x = torch.randn(4096, 512)
for i in range(6):
    if i == 2:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    model(x).square().mean().backward()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def step_faults(**env: str) -> tuple[str, int]:
    clean = {k: v for k, v in os.environ.items() if k not in ("WFM_MALLOC", *USER_SETTINGS)}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env={**clean, **env}, capture_output=True, text=True,
                         check=True).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not is_glibc(), reason="glibc only")
def test_steps_reuse_freed_activations():
    applied, kept = step_faults()
    skipped, default = step_faults(WFM_MALLOC="system")
    assert (applied, skipped) == ("True", "False")
    assert default > 50_000  # glibc's defaults map fresh pages for the large activations of every step
    assert 4 * kept < default


def test_user_malloc_settings_win(monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_MAX_", "65536")
    assert keep_freed_memory() is False


def test_opt_out(monkeypatch):
    monkeypatch.setenv("WFM_MALLOC", "system")
    assert keep_freed_memory() is False
