"""Sample videos during training: decode generated latents with the configured codec and write
MP4s under OUT/samples/ (rank 0). A missing codec is a warning, never a failed run."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import Tensor

log = logging.getLogger("rtrdit.train")


def write_sample_videos(latents: Tensor, codec_spec: str, out_dir: Path, step: int, fps: float = 16.0) -> list[Path]:
    """Decode latents [B, 16, F, h, w] and write one MP4 per sample; returns the paths written."""
    try:
        from rtrdit.codecs.base import load_codec, video_to_frames
        from rtrdit.codecs.video_writer import VideoWriter
    except ImportError as exc:
        log.warning("sample videos skipped: codecs unavailable (%s)", exc)
        return []
    try:
        codec = load_codec(codec_spec, device=latents.device)
        with torch.no_grad():
            video = codec.decode(latents.float())  # [B, 3, T, H, W] in [-1, 1]
    except Exception as exc:  # noqa: BLE001 - a sample failure must not stop training
        log.warning("sample videos skipped: %s", exc)
        return []
    frames = video_to_frames(video)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, clip in enumerate(frames):
        path = out_dir / f"step_{step:08d}_{i}.mp4"
        with VideoWriter(str(path), fps=fps) as w:
            w.write(clip)
        paths.append(path)
    return paths


__all__ = ["write_sample_videos"]
