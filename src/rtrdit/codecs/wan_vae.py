"""The Wan2.1 VAE (diffusers ``AutoencoderKLWan``) as a streaming :class:`~rtrdit.codecs.base.LatentCodec`.

diffusers' public ``encode``/``decode`` clear the causal-convolution caches on every call, so they cannot
continue a stream. Here each stream object owns its caches and drives ``vae.encoder`` / ``vae.decoder``
group by group exactly as diffusers' whole-clip loop does (first frame alone, then 4 frames per latent
frame), so a live stream never re-encodes its past and equals the whole-clip result.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rtrdit.codecs.base import WAN_VAE_PTH, CodecError, load_state_dict_file
from rtrdit.errors import one_line

DIFFUSERS_WEIGHTS = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")


def _check_video(video: Tensor, spatial: int) -> None:
    if video.ndim != 5 or video.shape[1] != 3:
        raise CodecError(f"video must be [B, 3, T, H, W], got {list(video.shape)}")
    h, w = video.shape[-2:]
    if h % spatial or w % spatial:
        raise CodecError(f"video height and width must be multiples of {spatial}, got {h}x{w}")


def _check_latent(latent: Tensor, channels: int) -> None:
    if latent.ndim != 5 or latent.shape[1] != channels:
        raise CodecError(f"latent must be [B, {channels}, F, h, w], got {list(latent.shape)}")


class WanVAE:
    """Wan2.1's causal video VAE: video ``[B,3,1+4k,H,W]`` in ``[-1,1]`` <-> latents ``[B,16,1+k,H/8,W/8]``
    normalised with the config's ``latents_mean`` / ``latents_std`` (the posterior mean, no sampling)."""

    temporal_factor = 4
    spatial_factor = 8

    def __init__(self, vae: Any) -> None:
        self.vae = vae.eval().requires_grad_(False)
        cfg = vae.config
        self.latent_channels = int(cfg.z_dim)
        if len(cfg.latents_mean) != self.latent_channels or len(cfg.latents_std) != self.latent_channels:
            raise CodecError(f"VAE config: latents_mean/latents_std must have {self.latent_channels} values")
        p = next(vae.parameters())
        shape = (1, self.latent_channels, 1, 1, 1)
        self.latents_mean = torch.tensor(cfg.latents_mean, dtype=torch.float32, device=p.device).view(shape)
        self.latents_std = torch.tensor(cfg.latents_std, dtype=torch.float32, device=p.device).view(shape)
        self.encoder_convs = vae._cached_conv_counts["encoder"]
        self.decoder_convs = vae._cached_conv_counts["decoder"]

    @property
    def device(self) -> torch.device:
        return self.latents_mean.device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.vae.parameters()).dtype

    def to(self, device: str | torch.device) -> WanVAE:
        self.vae.to(device)
        self.latents_mean = self.latents_mean.to(device)
        self.latents_std = self.latents_std.to(device)
        return self

    def normalize(self, mu: Tensor) -> Tensor:
        return (mu.float() - self.latents_mean) / self.latents_std

    def denormalize(self, latent: Tensor) -> Tensor:
        return latent.float() * self.latents_std + self.latents_mean

    def encode(self, video: Tensor) -> Tensor:
        """Whole clip ``[B,3,1+4k,H,W]`` -> normalised latents ``[B,16,1+k,H/8,W/8]`` (float32)."""
        _check_video(video, self.spatial_factor)
        t = video.shape[2]
        if t < 1 or (t - 1) % self.temporal_factor:
            raise CodecError(f"a whole clip needs 1 + 4k frames, got {t} (stream it to buffer the rest)")
        return self.stream_encoder().push(video)

    def decode(self, latent: Tensor) -> Tensor:
        """Normalised latents ``[B,16,F,h,w]`` -> video ``[B,3,1+4(F-1),8h,8w]`` clamped to ``[-1,1]``."""
        _check_latent(latent, self.latent_channels)
        if latent.shape[2] < 1:
            raise CodecError("cannot decode zero latent frames")
        return self.stream_decoder().push(latent)

    def stream_encoder(self) -> WanStreamEncoder:
        return WanStreamEncoder(self)

    def stream_decoder(self) -> WanStreamDecoder:
        return WanStreamDecoder(self)


class WanStreamEncoder:
    """``push(video [B,3,t,H,W])`` -> the latent frames finished so far; keeps the encoder's causal caches
    and buffers frames until a group of 4 (after the first frame) is complete."""

    def __init__(self, codec: WanVAE) -> None:
        self.codec = codec
        self.cache: list[Any] = [None] * codec.encoder_convs
        self.started = False
        self.buffer: Tensor | None = None

    def _group(self, frames: Tensor) -> Tensor:
        vae = self.codec.vae
        out = vae.encoder(frames, feat_cache=self.cache, feat_idx=[0])
        mu = vae.quant_conv(out)[:, : self.codec.latent_channels]  # 1x1x1 conv: no temporal state
        return self.codec.normalize(mu)

    @torch.no_grad()
    def push(self, video: Tensor) -> Tensor:
        codec = self.codec
        _check_video(video, codec.spatial_factor)
        x = video.to(device=codec.device, dtype=codec.dtype)
        if self.buffer is not None:
            if self.buffer.shape[:2] != x.shape[:2] or self.buffer.shape[3:] != x.shape[3:]:
                raise CodecError(f"stream changed shape from {list(self.buffer.shape)} to {list(x.shape)}")
            x = torch.cat([self.buffer, x], dim=2)
            self.buffer = None
        outs = []
        if not self.started and x.shape[2] > 0:
            outs.append(self._group(x[:, :, :1]))
            self.started = True
            x = x[:, :, 1:]
        n = x.shape[2] // codec.temporal_factor * codec.temporal_factor
        for i in range(0, n, codec.temporal_factor):
            outs.append(self._group(x[:, :, i : i + codec.temporal_factor]))
        if n < x.shape[2]:
            self.buffer = x[:, :, n:]
        if not outs:
            b, _, _, h, w = video.shape
            s = codec.spatial_factor
            return torch.zeros(b, codec.latent_channels, 0, h // s, w // s, device=codec.device)
        return torch.cat(outs, dim=2)

    @property
    def pending_frames(self) -> int:
        """Video frames buffered until their group of 4 is complete."""
        return 0 if self.buffer is None else int(self.buffer.shape[2])


class WanStreamDecoder:
    """``push(latent [B,16,f,h,w])`` -> video frames (1 for latent frame 0, then 4 for each later one),
    keeping the decoder's causal caches between pushes."""

    def __init__(self, codec: WanVAE) -> None:
        self.codec = codec
        self.cache: list[Any] = [None] * codec.decoder_convs
        self.started = False

    @torch.no_grad()
    def push(self, latent: Tensor) -> Tensor:
        codec = self.codec
        _check_latent(latent, codec.latent_channels)
        b, _, f, h, w = latent.shape
        if f == 0:
            s = codec.spatial_factor
            return torch.zeros(b, 3, 0, h * s, w * s, device=codec.device)
        vae = codec.vae
        z = codec.denormalize(latent.to(codec.device)).to(codec.dtype)
        x = vae.post_quant_conv(z)  # 1x1x1 conv: no temporal state
        outs = []
        for i in range(f):
            outs.append(vae.decoder(x[:, :, i : i + 1], feat_cache=self.cache, feat_idx=[0],
                                    first_chunk=not self.started))
            self.started = True
        return torch.cat(outs, dim=2).float().clamp_(-1.0, 1.0)


# --------------------------------------------------------------------------- loading


def wan_vae_config_from_state(state: dict[str, Tensor]) -> dict[str, Any]:
    """``AutoencoderKLWan`` arguments for an original Wan2.1 VAE state dict (sizes read from its shapes;
    ``latents_mean``/``latents_std`` are diffusers' Wan2.1 defaults, which the ``.pth`` does not store)."""
    try:
        base_dim = int(state["encoder.conv1.weight"].shape[0])
        z_dim = int(state["conv2.weight"].shape[0])
    except KeyError as exc:
        raise CodecError(f"not a Wan2.1 VAE checkpoint (no {exc.args[0]})") from None
    # diffusers' converter hard-codes Wan2.1's block layout: dim_mult [1,2,4,4], 2 residual blocks.
    return {"base_dim": base_dim, "z_dim": z_dim, "dim_mult": [1, 2, 4, 4], "num_res_blocks": 2,
            "attn_scales": [], "temperal_downsample": [False, True, True]}


def _load_pth(path: Path, dtype: torch.dtype) -> Any:
    from diffusers import AutoencoderKLWan
    from diffusers.loaders.single_file_utils import convert_wan_vae_to_diffusers

    try:
        state = load_state_dict_file(path)
    except Exception as exc:  # noqa: BLE001 - an unreadable checkpoint is one line for the user
        raise CodecError(f"{path}: cannot read Wan VAE checkpoint ({one_line(exc, 200)})") from None
    if not isinstance(state, dict):
        raise CodecError(f"{path}: not a Wan2.1 VAE checkpoint (not a state dict)")
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    config = wan_vae_config_from_state(state)
    vae = AutoencoderKLWan(**config)
    converted = convert_wan_vae_to_diffusers(state)
    try:
        vae.load_state_dict(converted, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1:2] or [str(exc)]
        raise CodecError(f"{path}: weights do not fit a Wan2.1 VAE ({first[0].strip()[:200]})") from None
    return vae.to(dtype)


def _load_diffusers(folder: Path, dtype: torch.dtype) -> Any:
    from diffusers import AutoencoderKLWan

    cfg_file = folder / "config.json"
    if not cfg_file.is_file():
        raise CodecError(f"Wan VAE: missing {cfg_file}")
    if not any((folder / name).is_file() for name in DIFFUSERS_WEIGHTS):
        raise CodecError(f"Wan VAE: missing {folder / DIFFUSERS_WEIGHTS[0]}")
    try:
        json.loads(cfg_file.read_text())
    except ValueError as exc:
        raise CodecError(f"{cfg_file}: not valid JSON ({exc})") from None
    from safetensors import SafetensorError

    try:
        return AutoencoderKLWan.from_pretrained(str(folder), torch_dtype=dtype)
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:  # a truncated download, weights that do not fit
        raise CodecError(f"Wan VAE {folder}: cannot load ({one_line(exc, 200)})") from None


def load_wan_vae(
    path: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
) -> WanVAE:
    """A Wan2.1 VAE from a diffusers folder (``config.json`` + ``diffusion_pytorch_model.safetensors``),
    a whole diffusers pipeline folder (``vae/``), a folder holding ``Wan2.1_VAE.pth``, or that file.
    float32 unless ``dtype`` is given (bf16 is fine on GPU)."""
    p = Path(path)
    dtype = dtype or torch.float32
    if p.is_file():
        vae = _load_pth(p, dtype)
    elif p.is_dir():
        if (p / "config.json").is_file():
            vae = _load_diffusers(p, dtype)
        elif (p / "vae" / "config.json").is_file():
            vae = _load_diffusers(p / "vae", dtype)
        elif (p / WAN_VAE_PTH).is_file():
            vae = _load_pth(p / WAN_VAE_PTH, dtype)
        else:
            raise CodecError(f"Wan VAE: missing {p / WAN_VAE_PTH} (or a diffusers config.json in {p})")
    else:
        raise CodecError(f"Wan VAE: no such file or directory {p}")
    return WanVAE(vae.to(device))
