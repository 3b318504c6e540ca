"""A small random stylizer (tiny DiT, untrained tiny autoencoder, real MiniLM) for stream tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from testing_helpers import randomize_

from rtrdit.codecs.text import CachedTextEncoder, load_text_encoder
from rtrdit.codecs.tiny_ae import TinyAEConfig, TinyAutoencoder
from rtrdit.model.config import get_config
from rtrdit.model.dit import DiT
from rtrdit.stream.stylizer import Stylizer, StylizerConfig


def build_tiny_stylizer(window: int = 4, area: int = 32 * 32, guide_channels: int = 0) -> Stylizer:
    torch.manual_seed(0)
    dit = randomize_(DiT(get_config("tiny").replace(text_dim=384, text_len=32, attention="block_causal")), seed=0, scale=0.6)
    codec = randomize_(TinyAutoencoder(TinyAEConfig(guide_channels=guide_channels)), seed=1, scale=0.15).eval()
    text = CachedTextEncoder(load_text_encoder("minilm", max_tokens=32))
    return Stylizer(dit, codec, text, StylizerConfig(area=area, window_frames=window))


@pytest.fixture(scope="session")
def tiny_stylizer() -> Stylizer:
    return build_tiny_stylizer()


@pytest.fixture(scope="session")
def guided_stylizer() -> Stylizer:
    """The tiny stylizer with a source-guided decoder (random guide weights, so the guide matters)."""
    return build_tiny_stylizer(guide_channels=4)


@pytest.fixture(scope="session")
def clip() -> np.ndarray:
    """A moving gradient clip, 23 frames of 40x48 (not a multiple of anything)."""
    t, h, w = 23, 40, 48
    yy, xx = np.mgrid[0:h, 0:w]
    frames = [
        np.stack([(xx * 5 + 7 * i) % 256, (yy * 6 + 3 * i) % 256, ((xx + yy) * 3) % 256], -1)
        for i in range(t)
    ]
    return np.stack(frames).astype(np.uint8)


@pytest.fixture(scope="session")
def tiny_stylizer_dir(tmp_path_factory: pytest.TempPathFactory, tiny_stylizer: Stylizer) -> str:
    """The tiny stylizer saved as a model directory (for --model DIR)."""
    path = tmp_path_factory.mktemp("stylizer") / "model"
    tiny_stylizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def clip_file(tmp_path_factory: pytest.TempPathFactory, clip: np.ndarray) -> str:
    """A 23-frame 48x40 H.264 MP4 at 12 fps with an AAC audio track."""
    from video_clips import make_clip

    return str(make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", frames=23, size=(48, 40),
                         fps=12, audio="aac"))
