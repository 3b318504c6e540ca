"""Fixtures for evaluation tests (helpers live in eval_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from eval_helpers import save_tiny_clip


@pytest.fixture(scope="session")
def weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights folder holding only the tiny open_clip CLIP under its real name."""
    root = tmp_path_factory.mktemp("weights")
    save_tiny_clip(root)
    return root
