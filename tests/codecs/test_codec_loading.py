"""`load_codec` sends each spec to the right codec and names what is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rtrdit.codecs import CodecError, LatentCodec, load_codec
from rtrdit.codecs.base import WAN_VAE_PTH, codec_kind


def test_kinds(tmp_path: Path) -> None:
    assert codec_kind("tiny") == ("tiny", None)
    wan = tmp_path / "wan"
    wan.mkdir()
    (wan / "config.json").write_text(json.dumps({"_class_name": "AutoencoderKLWan"}))
    assert codec_kind(wan) == ("wan", wan)
    pipeline = tmp_path / "pipeline"
    (pipeline / "vae").mkdir(parents=True)
    (pipeline / "vae" / "config.json").write_text(json.dumps({"_class_name": "AutoencoderKLWan"}))
    assert codec_kind(pipeline) == ("wan", pipeline / "vae")
    release = tmp_path / "release"
    release.mkdir()
    (release / WAN_VAE_PTH).write_bytes(b"")
    assert codec_kind(release) == ("wan", release / WAN_VAE_PTH)
    assert codec_kind(release / WAN_VAE_PTH) == ("wan", release / WAN_VAE_PTH)
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    (tiny / "config.json").write_text(json.dumps({"latent_channels": 16}))
    assert codec_kind(tiny) == ("tiny", tiny)


def test_tiny_directory_loads_the_tiny_autoencoder(tmp_path: Path) -> None:
    from rtrdit.codecs.tiny_ae import TinyAEConfig, TinyAutoencoder

    small = TinyAEConfig(enc_channels=(8, 8, 16), enc_blocks=(1, 1), dec_channels=(16, 8, 8), dec_blocks=(1, 1))
    TinyAutoencoder(small).save_pretrained(tmp_path / "ae")
    codec = load_codec(str(tmp_path / "ae"))
    assert isinstance(codec, TinyAutoencoder) and isinstance(codec, LatentCodec)
    (tmp_path / "ae" / "model.safetensors").unlink()
    with pytest.raises(CodecError, match=r"missing .*model\.safetensors"):
        load_codec(str(tmp_path / "ae"))


def test_errors_name_the_missing_thing(tmp_path: Path) -> None:
    with pytest.raises(CodecError, match="no such file or directory .*nowhere"):
        load_codec(str(tmp_path / "nowhere"))
    with pytest.raises(CodecError, match=f"missing .*config.json.*{WAN_VAE_PTH}"):
        load_codec(str(tmp_path))
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(CodecError, match="not a Wan2.1_VAE.pth-style checkpoint"):
        load_codec(str(tmp_path / "weights.bin"))


def test_frames_and_codec_videos_convert_both_ways() -> None:
    import numpy as np
    import torch

    from rtrdit.codecs.base import frames_to_video, video_to_frames

    frames = np.random.default_rng(0).integers(0, 256, (5, 6, 7, 3), dtype=np.uint8)
    video = frames_to_video(frames)
    assert video.shape == (1, 3, 5, 6, 7) and video.dtype == torch.float32
    assert float(video.min()) >= -1.0 and float(video.max()) <= 1.0
    assert np.array_equal(video_to_frames(video[0]), frames)  # exact round trip
    assert np.array_equal(video_to_frames(video)[0], frames)  # a batch dimension is kept
    # out-of-range decoder output is clipped, and bfloat16 (a GPU decoder's dtype) converts too
    assert video_to_frames(torch.full((3, 1, 1, 1), 1.7)).tolist() == [[[[255, 255, 255]]]]
    assert video_to_frames(torch.full((3, 1, 1, 1), -1.0, dtype=torch.bfloat16)).tolist() == [[[[0, 0, 0]]]]
