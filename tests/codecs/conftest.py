"""Fixtures for codec tests: real clips written with PyAV under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from video_clips import make_clip


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """A 9-frame 64x48 H.264 MP4 at 24 fps with an AAC audio track."""
    return make_clip(tmp_path / "clip.mp4", audio="aac")
