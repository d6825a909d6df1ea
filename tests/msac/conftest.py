"""The ``seq_file`` fixture: a tiny sequence file (``msac_tiny.tiny_sequence_file``) for the JEPA-MSAC tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from msac_tiny import tiny_sequence_file


@pytest.fixture
def seq_file(tmp_path: Path) -> Path:
    return tiny_sequence_file(tmp_path / "tiny_seq.h5")
