"""Shared test settings and fixtures: small thread count (CI has 2 cores), a per-session cache for built-in
data, and ``cpu_trainer`` (a factory of small CPU ``lightning.Trainer`` objects).

This folder is on ``sys.path`` (pytest's prepend import mode inserts the folder of a rootdir ``conftest.py``),
so tests in every sub-folder import the shared modules here: ``helpers``, ``tiny``, ``toy``, ``ddp_worker``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
from helpers import cpu_trainer_kwargs

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True, scope="session")
def _wfm_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    # built-in corpus files are generated once per test session, never into the user's cache
    os.environ.setdefault("WFM_CACHE", str(tmp_path_factory.mktemp("wfm_cache")))


@pytest.fixture
def cpu_trainer(tmp_path: Path) -> Callable[..., L.Trainer]:
    """``make(**overrides) -> lightning.Trainer``: :func:`helpers.cpu_trainer_kwargs` with
    ``default_root_dir=tmp_path``; ``overrides`` replace or add any argument (``enable_checkpointing=True``
    to checkpoint)."""

    def make(**overrides: Any) -> L.Trainer:
        return L.Trainer(**cpu_trainer_kwargs(**{"default_root_dir": tmp_path, **overrides}))

    return make
