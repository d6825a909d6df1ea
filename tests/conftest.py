"""Shared test settings: small thread count (CI has 2 cores) and a per-session cache for built-in data."""

from __future__ import annotations

import os

import pytest
import torch

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True, scope="session")
def _wfm_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    # built-in corpus files are generated once per test session, never into the user's cache
    os.environ.setdefault("WFM_CACHE", str(tmp_path_factory.mktemp("wfm_cache")))
