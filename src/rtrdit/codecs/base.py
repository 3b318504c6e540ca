"""The latent codec contract shared by the Wan VAE and our tiny autoencoder, `load_codec`, and the
conversions between uint8 frames and the codecs' videos.

Wan's causal layout: video ``[B,3,1+4k,H,W]`` in ``[-1,1]`` <-> normalised latents ``[B,16,1+k,H/8,W/8]``;
the first frame alone makes latent frame 0, then every 4 frames make one latent frame.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch
    from torch import Tensor

# File names of the original Wan2.1 release.
WAN_VAE_PTH = "Wan2.1_VAE.pth"


class CodecError(ValueError):
    """A codec or text encoder that cannot be loaded or used, explained in one line."""


@runtime_checkable
class StreamEncoder(Protocol):
    """Encodes a live stream: each push returns the latent frames finished so far (maybe none)."""

    def push(self, video: Tensor) -> Tensor:
        """Video ``[B,3,t,H,W]`` in [-1, 1] -> the latent frames ``[B,16,f,H/8,W/8]`` it completes."""
        ...


@runtime_checkable
class StreamDecoder(Protocol):
    """Decodes a live stream: latent frame 0 gives 1 video frame, each later one gives 4."""

    def push(self, latent: Tensor) -> Tensor:
        """Latent frames ``[B,16,f,h,w]`` -> their video frames ``[B,3,t,8h,8w]`` in [-1, 1]."""
        ...


@runtime_checkable
class LatentCodec(Protocol):
    """A causal video autoencoder with Wan's latent layout (16 channels, 4x time, 8x space)."""

    latent_channels: int
    temporal_factor: int
    spatial_factor: int

    def encode(self, video: Tensor) -> Tensor:
        """A whole video ``[B,3,1+4k,H,W]`` -> normalised latents ``[B,16,1+k,H/8,W/8]`` (equal to streaming it)."""
        ...

    def decode(self, latent: Tensor) -> Tensor:
        """Normalised latents ``[B,16,1+k,h,w]`` -> video ``[B,3,1+4k,8h,8w]`` in [-1, 1]."""
        ...

    def stream_encoder(self) -> StreamEncoder:
        """A fresh encoder state for one live stream."""
        ...

    def stream_decoder(self) -> StreamDecoder:
        """A fresh decoder state for one live stream."""
        ...


def decode_from_source(codec: LatentCodec, latent: Tensor, source: Tensor) -> Tensor:
    """``codec.decode(latent)``, giving a source-guided decoder (our autoencoder with a guide branch) the
    source video ``[B,3,1+4k,H,W]`` the latents were made from, as a stream session does."""
    if getattr(codec, "guided", False):
        return codec.decode(latent, guide=source)  # type: ignore[call-arg]
    return codec.decode(latent)


def frames_to_video(frames: np.ndarray) -> Tensor:
    """uint8 frames ``(T, H, W, 3)`` -> a codec's input video ``[1, 3, T, H, W]`` float in ``[-1, 1]``."""
    import torch

    return torch.from_numpy(frames).permute(3, 0, 1, 2).unsqueeze(0).float().div_(127.5).sub_(1.0)


def video_to_frames(video: Tensor) -> np.ndarray:
    """A decoded video ``[..., 3, T, H, W]`` in ``[-1, 1]`` -> uint8 frames ``[..., T, H, W, 3]`` (rounded,
    clipped), the codec's output as the video files and metrics see it."""
    import torch

    v = ((video.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return v.movedim(-4, -1).cpu().numpy()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CodecError(f"{path}: unreadable config ({exc})") from None
    return data if isinstance(data, dict) else {}


def codec_kind(spec: str | os.PathLike[str]) -> tuple[str, Path | None]:
    """Which codec ``spec`` names: ``("tiny", None)`` for the shipped demo codec, ``("tiny", dir)``,
    ``("wan", dir_or_file)``; raises CodecError naming what is missing."""
    if str(spec) == "tiny":
        return "tiny", None
    p = Path(spec)
    if not p.exists():
        raise CodecError(f"codec: no such file or directory {p} (give 'tiny', a VAE directory or {WAN_VAE_PTH})")
    if p.is_file():
        if p.suffix == ".pth":
            return "wan", p
        raise CodecError(f"codec: {p} is not a {WAN_VAE_PTH}-style checkpoint (give its directory instead)")
    for d in (p, p / "vae"):  # a VAE folder, or a whole diffusers Wan pipeline folder
        if (d / "config.json").is_file() and _read_json(d / "config.json").get("_class_name") == "AutoencoderKLWan":
            return "wan", d
    if (p / WAN_VAE_PTH).is_file():
        return "wan", p / WAN_VAE_PTH
    if (p / "config.json").is_file():
        return "tiny", p
    raise CodecError(
        f"codec: {p} holds no codec: missing {p / 'config.json'} (diffusers AutoencoderKLWan or tiny "
        f"autoencoder) and {p / WAN_VAE_PTH}"
    )


def load_codec(spec: str | os.PathLike[str], device: str | torch.device = "cpu", **kwargs: Any) -> LatentCodec:
    """Load a codec from ``"tiny"`` (the shipped demo autoencoder), a tiny-autoencoder directory, a Wan VAE
    directory (diffusers layout, or holding the original ``Wan2.1_VAE.pth``) or that ``.pth`` file."""
    kind, path = codec_kind(spec)
    if kind == "wan":
        from rtrdit.codecs.wan_vae import load_wan_vae

        return load_wan_vae(path, device=device, **kwargs)
    from rtrdit.codecs.tiny_ae import load_tiny_ae

    try:
        return load_tiny_ae(path, device=device)
    except FileNotFoundError as exc:
        raise CodecError(str(exc)) from None


def load_state_dict_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A ``.pth`` state dict loaded safely (``weights_only=True``), memory-mapped when the file allows it,
    so a multi-GB checkpoint is not copied into RAM before its tensors are used."""
    import torch

    try:
        return torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as exc:
        if "mmap" not in str(exc) and "zip" not in str(exc):
            raise
    return torch.load(str(path), map_location="cpu", weights_only=True)  # legacy (non-zip) format

