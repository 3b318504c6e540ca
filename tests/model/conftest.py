"""Fixtures for the model tests."""

from __future__ import annotations

import pytest

from rtrdit.model.config import DiTConfig, get_config


@pytest.fixture
def tiny_cfg() -> DiTConfig:
    return get_config("tiny")
