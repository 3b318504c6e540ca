"""Fixtures for the live server: a small random stylizer saved in a tmp dir, and servers on
free loopback ports started inside the test and stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live_server import LiveServer, live_server

AE_SCALE = 0.1  # random autoencoder weights at this scale give varied frames that depend on the prompt


def build_tiny_stylizer(path: Path) -> Path:
    """A random tiny stylizer (tiny block-causal DiT, tiny autoencoder, MiniLM) saved like a real model."""
    import torch
    from testing_helpers import randomize_

    from rtrdit.codecs.text import CachedTextEncoder, load_text_encoder
    from rtrdit.codecs.tiny_ae import TinyAutoencoder
    from rtrdit.model.config import get_config
    from rtrdit.model.dit import DiT
    from rtrdit.stream.stylizer import Stylizer, StylizerConfig

    torch.manual_seed(0)
    text = load_text_encoder("minilm")
    dit = DiT(get_config("tiny", text_dim=text.dim, text_len=text.max_tokens, attention="block_causal"))
    randomize_(dit, seed=0)  # Wan's init zeroes the head: every prompt would give the same frames
    ae = TinyAutoencoder()
    randomize_(ae, seed=1, scale=AE_SCALE)
    Stylizer(dit, ae, CachedTextEncoder(text), StylizerConfig(area=64 * 64)).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_stylizer(tmp_path_factory.mktemp("serve_model"))


@pytest.fixture(scope="session")
def tiny_stylizer(tiny_model_dir: Path) -> Any:
    from rtrdit.stream.stylizer import Stylizer

    return Stylizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def server(tiny_stylizer: Any) -> Iterator[LiveServer]:
    with live_server(tiny_stylizer, max_sessions=6, idle_timeout=20.0) as s:
        yield s
