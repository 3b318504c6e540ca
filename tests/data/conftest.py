"""Fixtures for data tests: small real clips written under tmp_path, an untrained tiny codec, MiniLM."""

from __future__ import annotations

from pathlib import Path

import pytest
from data_scenes import write_scene


@pytest.fixture
def videos(tmp_path: Path) -> Path:
    """A folder with two short 96x80 camera-like clips (24 frames each)."""
    folder = tmp_path / "videos"
    folder.mkdir()
    write_scene(folder / "walk.mp4")
    write_scene(folder / "pan.mp4", frames=20)
    return folder


@pytest.fixture(scope="session")
def codec_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained (seeded) tiny autoencoder saved as a codec directory."""
    import torch

    from rtrdit.codecs.tiny_ae import TinyAutoencoder

    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("codec")
    TinyAutoencoder().save_pretrained(d)
    return d


@pytest.fixture(scope="session")
def minilm():
    """The shipped MiniLM text encoder behind the prompt cache (loaded once per session)."""
    from rtrdit.codecs.text import CachedTextEncoder, load_text_encoder

    return CachedTextEncoder(load_text_encoder("minilm"))
