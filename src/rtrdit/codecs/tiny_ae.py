"""Our fast streaming autoencoder: a tiny causal video codec with the Wan VAE's latent layout.

Per-frame 2D convolutions, "memory" blocks that see the previous frame's features, and
learned temporal pooling/growing by 4 (in the spirit of the public TAEHV design). Video
``[B,3,1+4k,H,W]`` in ``[-1,1]`` <-> normalised latents ``[B,16,1+k,H/8,W/8]``. The first frame
alone makes latent frame 0 (it is repeated to fill a group of 4, and the decoder keeps only the
last of that group's 4 frames); every later group of 4 frames makes one latent frame.
Everything is causal, so the stream objects give exactly the whole-clip result chunk by chunk.

A guided decoder (``guide_channels > 0``, made by ``rtrdit train decoder --guide-channels``) also
reads the source frames each output frame was made from, at full resolution: in video-to-video
stylization they are always at hand, and they hold the fine detail (outlines, strokes) that the 8x
latent cannot. Given no source, its guide branch is simply left out.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rtrdit.errors import first_line
from rtrdit.files import atomic_path, atomic_write_text

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
# The shipped demo codec, trained by `rtrdit train autoencoder` on ../shared/videos.
DEMO_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "demo" / "autoencoder"

State = dict[str, Tensor]


@dataclass
class TinyAEConfig:
    """Sizes of the tiny autoencoder; the defaults are the shipped demo codec."""

    latent_channels: int = 16
    # encoder widths at 1/2, 1/4 and 1/8 resolution
    enc_channels: tuple[int, int, int] = (24, 48, 64)
    # memory blocks at 1/8 resolution before and after the second temporal pooling
    enc_blocks: tuple[int, int] = (1, 1)
    # decoder widths at 1/8, 1/4 and 1/2 resolution
    dec_channels: tuple[int, int, int] = (64, 32, 16)
    # memory blocks at 1/8 and 1/4 resolution
    dec_blocks: tuple[int, int] = (2, 1)
    # the decoder soft-clamps normalised latents to +-this (robust to diffusion outliers)
    latent_clamp: float = 4.0
    # width of the source-guide branch (0: none). A guided decoder also reads the source frames at full
    # resolution, so the fine detail that 8x compression loses (outlines, pencil strokes) can come back.
    guide_channels: int = 0
    temporal_factor: int = 4
    spatial_factor: int = 8
    extra: dict = field(default_factory=dict)  # free-form metadata (training run, report)

    @classmethod
    def from_dict(cls, d: dict) -> TinyAEConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown tiny autoencoder config keys: {sorted(unknown)}")
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        cfg = cls(**kw)
        if cfg.temporal_factor != 4 or cfg.spatial_factor != 8:
            raise ValueError("the tiny autoencoder supports only temporal_factor 4 and spatial_factor 8")
        if cfg.guide_channels < 0:
            raise ValueError(f"guide_channels must be >= 0, got {cfg.guide_channels}")
        return cfg


def _conv(cin: int, cout: int, k: int = 3, stride: int = 1, bias: bool = True, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=dilation * (k // 2), bias=bias, dilation=dilation)


class MemBlock(nn.Module):
    """Residual block over ``[current frame, previous frame]`` features (zeros before the first)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = _conv(2 * channels, channels)
        self.conv2 = _conv(channels, channels)

    def forward(self, x: Tensor, past: Tensor) -> Tensor:
        h = F.relu(self.conv1(torch.cat([x, past], 1)), inplace=True)
        return F.relu(self.conv2(h).add_(x), inplace=True)


class TPool(nn.Module):
    """Merge ``stride`` consecutive frames into one (channel concat + 1x1 conv)."""

    def __init__(self, channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(channels * stride, channels, 1, bias=False)

    def forward(self, x: Tensor, b: int) -> Tensor:
        n, c, h, w = x.shape
        return self.conv(x.reshape(b, n // b // self.stride, self.stride * c, h, w).flatten(0, 1))


class TGrow(nn.Module):
    """Split each frame into ``stride`` consecutive frames (1x1 conv + channel split)."""

    def __init__(self, channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(channels, channels * stride, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        return self.conv(x).reshape(n * self.stride, c, h, w)


class UpConv(nn.Module):
    """2x spatial upsampling by a sub-pixel convolution (conv to 4x channels + pixel shuffle)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = _conv(cin, cout * 4)
        with torch.no_grad():  # ICNR init: the 4 sub-pixels start equal (no checkerboard)
            w = self.conv.weight.view(cout, 4, cin, 3, 3)
            w.copy_(w[:, :1].expand_as(w))
            self.conv.bias.view(cout, 4).copy_(self.conv.bias.view(cout, 4)[:, :1].expand(cout, 4))

    def forward(self, x: Tensor) -> Tensor:
        return F.pixel_shuffle(self.conv(x), 2)


def _mem(block: MemBlock, x: Tensor, b: int, state: State, key: str) -> Tensor:
    """Run a memory block over ``[B*T, C, H, W]`` frames in parallel; ``state[key]`` holds
    the last frame seen by this block (carried across calls for streaming)."""
    n, c, h, w = x.shape
    frames = x.reshape(b, n // b, c, h, w)
    prev = state.get(key)
    if prev is None:
        prev = torch.zeros_like(frames[:, :1])
    past = torch.cat([prev, frames[:, :-1]], 1).flatten(0, 1)
    state[key] = frames[:, -1:].detach().clone()
    return block(x, past)


class TinyEncoder(nn.Module):
    """Groups of 4 frames -> one raw latent frame each (1/8 spatial)."""

    def __init__(self, cfg: TinyAEConfig) -> None:
        super().__init__()
        c1, c2, c3 = cfg.enc_channels
        self.stem1 = _conv(3, c1, stride=2)
        self.stem2 = _conv(c1, c2, stride=2)
        self.pool1 = TPool(c2, 2)
        self.down3 = _conv(c2, c3, stride=2)
        self.blocks1 = nn.ModuleList(MemBlock(c3) for _ in range(cfg.enc_blocks[0]))
        self.pool2 = TPool(c3, 2)
        self.blocks2 = nn.ModuleList(MemBlock(c3) for _ in range(cfg.enc_blocks[1]))
        self.out = _conv(c3, cfg.latent_channels)

    def forward(self, frames: Tensor, state: State) -> Tensor:
        """``frames`` [B, T, 3, H, W] with T a multiple of 4 -> [B, T/4, C, H/8, W/8]."""
        b, t = frames.shape[:2]
        x = frames.flatten(0, 1).contiguous(memory_format=torch.channels_last)
        x = F.relu(self.stem1(x), inplace=True)
        x = F.relu(self.stem2(x), inplace=True)
        x = F.relu(self.down3(self.pool1(x, b)), inplace=True)
        for i, blk in enumerate(self.blocks1):
            x = _mem(blk, x, b, state, f"e1.{i}")
        x = self.pool2(x, b)
        for i, blk in enumerate(self.blocks2):
            x = _mem(blk, x, b, state, f"e2.{i}")
        x = self.out(x)
        return x.reshape(b, t // 4, *x.shape[1:])


class SourceGuide(nn.Module):
    """The guided decoder's view of the source frames. The decoder's last features (half resolution) and
    the source frame folded to half resolution (pixel unshuffle: every source pixel is read) pass through
    dilated convolutions that see about 40 source pixels around each output pixel, wide enough to find
    the outlines and strokes a style draws along the source's edges, and add a full-resolution residual
    to the decoded frame. The residual starts at zero, so a decoder that gains this branch decodes exactly
    as before until it is trained."""

    dilations = (1, 2, 4, 2)

    def __init__(self, channels: int, dec_channels: int) -> None:
        super().__init__()
        g = channels
        self.inp = _conv(dec_channels + 3 * 4, g)
        self.body = nn.ModuleList(_conv(g, g, dilation=d) for d in self.dilations)
        self.out = _conv(g, 3 * 4)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, features: Tensor, guide: Tensor) -> Tensor:
        """Decoder features [N, C, H/2, W/2] and source frames [N, 3, H, W] -> residual [N, 3, H, W]."""
        x = F.relu(self.inp(torch.cat([features, F.pixel_unshuffle(guide, 2)], 1)), inplace=True)
        for conv in self.body:
            x = F.relu(conv(x), inplace=True)
        return F.pixel_shuffle(self.out(x), 2)


class TinyDecoder(nn.Module):
    """One latent frame -> a group of 4 video frames."""

    def __init__(self, cfg: TinyAEConfig) -> None:
        super().__init__()
        d1, d2, d3 = cfg.dec_channels
        self.clamp = cfg.latent_clamp
        self.inp = _conv(cfg.latent_channels, d1)
        self.blocks1 = nn.ModuleList(MemBlock(d1) for _ in range(cfg.dec_blocks[0]))
        self.grow1 = TGrow(d1, 2)
        self.up2 = UpConv(d1, d2)
        self.blocks2 = nn.ModuleList(MemBlock(d2) for _ in range(cfg.dec_blocks[1]))
        self.grow2 = TGrow(d2, 2)
        self.up3 = UpConv(d2, d3)
        self.mid3 = _conv(d3, d3)
        self.out = _conv(d3, 3 * 4)  # pixel shuffle to full resolution
        self.guide = SourceGuide(cfg.guide_channels, d3) if cfg.guide_channels else None

    def forward(self, z: Tensor, state: State, guide: Tensor | None = None) -> Tensor:
        """``z`` [B, F, C, h, w] normalised -> [B, 4F, 3, 8h, 8w] (unclamped); ``guide``, the source
        frames [B, 4F, 3, 8h, 8w] in [-1, 1] that made ``z``, is read by a guided decoder (else ignored)."""
        b, f = z.shape[:2]
        x = z.flatten(0, 1).contiguous(memory_format=torch.channels_last)
        x = torch.tanh(x / self.clamp) * self.clamp
        x = F.relu(self.inp(x), inplace=True)
        for i, blk in enumerate(self.blocks1):
            x = _mem(blk, x, b, state, f"d1.{i}")
        x = F.relu(self.up2(self.grow1(x)), inplace=True)
        for i, blk in enumerate(self.blocks2):
            x = _mem(blk, x, b, state, f"d2.{i}")
        x = F.relu(self.up3(self.grow2(x)), inplace=True)
        x = F.relu(self.mid3(x), inplace=True)
        rgb = F.pixel_shuffle(self.out(x), 2)
        if self.guide is not None and guide is not None:
            rgb = rgb + self.guide(x, guide.flatten(0, 1).contiguous(memory_format=torch.channels_last))
        return rgb.reshape(b, 4 * f, *rgb.shape[1:])


def _check_video(video: Tensor) -> None:
    if video.dim() != 5 or video.shape[1] != 3:
        raise ValueError(f"expected video [B, 3, T, H, W], got {tuple(video.shape)}")
    if video.shape[-1] % 8 or video.shape[-2] % 8:
        raise ValueError(f"video height and width must be multiples of 8, got {tuple(video.shape[-2:])}")


def _check_latent(latent: Tensor, channels: int) -> None:
    if latent.dim() != 5 or latent.shape[1] != channels:
        raise ValueError(f"expected latent [B, {channels}, F, h, w], got {tuple(latent.shape)}")


def _check_guide(guide: Tensor, latent: Tensor, first: bool) -> None:
    """The source frames of a guided decode must be the video frames ``latent`` decodes to."""
    b, _, f, h, w = latent.shape
    t = 1 + 4 * (f - 1) if first else 4 * f
    if tuple(guide.shape) != (b, 3, t, 8 * h, 8 * w):
        raise ValueError(f"expected a guide video {(b, 3, t, 8 * h, 8 * w)} for latent {tuple(latent.shape)}, "
                         f"got {tuple(guide.shape)}")


class TinyAutoencoder(nn.Module):
    """The fast streaming video autoencoder (a ``LatentCodec``): 4x time, 8x space, 16 channels."""

    def __init__(self, config: TinyAEConfig | None = None) -> None:
        super().__init__()
        self.config = config or TinyAEConfig()
        self.latent_channels = self.config.latent_channels
        self.temporal_factor = self.config.temporal_factor
        self.spatial_factor = self.config.spatial_factor
        self.encoder = TinyEncoder(self.config)
        self.decoder = TinyDecoder(self.config)
        # per-channel statistics of raw latents; normalised latent = (raw - mean) / std
        self.register_buffer("latents_mean", torch.zeros(self.latent_channels))
        self.register_buffer("latents_std", torch.ones(self.latent_channels))
        self.to(memory_format=torch.channels_last)

    # -- raw building blocks (differentiable; used by training and the stream objects) --
    def encode_groups(self, frames: Tensor, state: State) -> Tensor:
        """[B, 4n, 3, H, W] in [-1, 1] -> normalised latents [B, n, C, H/8, W/8]."""
        raw = self.encoder(frames, state)
        return (raw - self.latents_mean.view(1, 1, -1, 1, 1)) / self.latents_std.view(1, 1, -1, 1, 1)

    def decode_groups(self, z: Tensor, state: State, guide: Tensor | None = None) -> Tensor:
        """Normalised latents [B, n, C, h, w] -> frames [B, 4n, 3, 8h, 8w] (unclamped); ``guide``: the
        source frames [B, 4n, 3, 8h, 8w] the encoder saw for them (read only by a guided decoder)."""
        return self.decoder(z, state, guide)

    @property
    def guided(self) -> bool:
        """Whether the decoder reads the source frames (``guide``) besides the latents."""
        return self.decoder.guide is not None

    def forward(self, video: Tensor) -> tuple[Tensor, Tensor]:
        """Training pass: video [B,3,1+4k,H,W] -> (reconstruction (unclamped), normalised latent)."""
        latent = self._encode(video)
        return self._decode(latent), latent

    def _encode(self, video: Tensor) -> Tensor:
        _check_video(video)
        t = video.shape[2]
        if (t - 1) % 4:
            raise ValueError(f"the number of video frames must be 1 + 4k, got {t}")
        frames = video.transpose(1, 2)
        return self.encode_groups(_lead_group(frames), {}).transpose(1, 2)

    def _decode(self, latent: Tensor, guide: Tensor | None = None) -> Tensor:
        _check_latent(latent, self.latent_channels)
        groups = None
        if guide is not None and self.guided:
            _check_guide(guide, latent, first=True)
            groups = _lead_group(guide.transpose(1, 2))  # as the encoder saw them
        frames = self.decode_groups(latent.transpose(1, 2), {}, groups)
        return frames[:, 3:].transpose(1, 2)

    # -- LatentCodec --
    @torch.no_grad()
    def encode(self, video: Tensor) -> Tensor:
        """[B,3,1+4k,H,W] in [-1,1] -> normalised [B,16,1+k,H/8,W/8]."""
        return self._encode(video.to(self.latents_mean.device, self.latents_mean.dtype))

    @torch.no_grad()
    def decode(self, latent: Tensor, guide: Tensor | None = None) -> Tensor:
        """Normalised [B,16,1+k,h,w] -> video [B,3,1+4k,8h,8w] clamped to [-1, 1]. ``guide``: the source
        video [B,3,1+4k,8h,8w] the latents were made from, for a guided decoder (ignored otherwise)."""
        ref = self.latents_mean
        guide = guide.to(ref.device, ref.dtype) if guide is not None else None
        return self._decode(latent.to(ref.device, ref.dtype), guide).clamp_(-1, 1)

    def with_guide(self, channels: int) -> TinyAutoencoder:
        """A copy of this autoencoder whose decoder gains a source-guide branch ``channels`` wide; the branch's
        additions start at zero, so the copy decodes exactly as this one until its decoder is trained."""
        if self.guided:
            raise ValueError(f"this decoder already has a guide branch ({self.config.guide_channels} wide)")
        if channels <= 0:
            raise ValueError(f"the guide branch needs a positive width, got {channels}")
        ref = self.latents_mean
        copy = TinyAutoencoder(dataclasses.replace(self.config, guide_channels=channels)).to(ref.device, ref.dtype)
        copy.load_state_dict(self.state_dict(), strict=False)
        return copy.train(self.training)

    def stream_encoder(self) -> TinyStreamEncoder:
        return TinyStreamEncoder(self)

    def stream_decoder(self) -> TinyStreamDecoder:
        return TinyStreamDecoder(self)

    # -- persistence --
    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """Write ``config.json`` and ``model.safetensors`` (each atomically) into ``directory``."""
        from safetensors.torch import save_file

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        with atomic_path(out / WEIGHTS_NAME) as tmp:
            save_file(tensors, str(tmp), metadata={"format": "pt"})
        text = json.dumps(asdict(self.config), indent=2) + "\n"
        atomic_write_text(out / CONFIG_NAME, text)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, device: str | torch.device = "cpu") -> TinyAutoencoder:
        """Load a directory written by :meth:`save_pretrained`; missing files raise one clear line."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        from rtrdit.codecs.base import CodecError

        d = Path(directory)
        for name in (CONFIG_NAME, WEIGHTS_NAME):
            if not (d / name).is_file():
                raise FileNotFoundError(f"tiny autoencoder: missing {d / name}")
        try:
            cfg = TinyAEConfig.from_dict(json.loads((d / CONFIG_NAME).read_text()))
            model = cls(cfg)
            model.load_state_dict(load_file(str(d / WEIGHTS_NAME)), strict=True)
        except (ValueError, TypeError, RuntimeError, OSError, SafetensorError) as exc:
            raise CodecError(f"tiny autoencoder {d}: cannot load ({first_line(exc)})") from None
        return model.to(device).eval()


def _lead_group(frames: Tensor) -> Tensor:
    """Frames [B, T, 3, H, W] with the first repeated 3 times in front: latent frame 0 is made from the
    first frame alone, as a full group of 4."""
    return torch.cat([frames[:, :1].expand(-1, 3, -1, -1, -1), frames], 1)




class TinyStreamEncoder:
    """Streaming encoder: ``push(video [B,3,t,H,W])`` -> the latent frames finished so far.

    The first frame alone gives latent frame 0; later frames are buffered into groups of 4."""

    def __init__(self, model: TinyAutoencoder) -> None:
        self.model = model
        self.state: State = {}
        self.started = False
        self.buffer: Tensor | None = None  # [B, t<4, 3, H, W]

    @torch.no_grad()
    def push(self, video: Tensor) -> Tensor:
        _check_video(video)
        frames = video.to(self.model.latents_mean.device, self.model.latents_mean.dtype).transpose(1, 2)
        if not self.started and frames.shape[1] > 0:
            frames = _lead_group(frames)
            self.started = True
        if self.buffer is not None:
            frames = torch.cat([self.buffer, frames], 1)
        n = frames.shape[1] // 4 * 4
        self.buffer = frames[:, n:] if n < frames.shape[1] else None
        b, _, _, h, w = frames.shape
        if n == 0:
            return frames.new_zeros(b, self.model.latent_channels, 0, h // 8, w // 8)
        return self.model.encode_groups(frames[:, :n], self.state).transpose(1, 2)


class TinyStreamDecoder:
    """Streaming decoder: ``push(latent [B,16,f,h,w])`` -> video frames (1 for latent 0, then 4 each).

    A guided decoder also takes ``guide``, the source frames of those output frames [B,3,t,H,W]."""

    def __init__(self, model: TinyAutoencoder) -> None:
        self.model = model
        self.state: State = {}
        self.started = False

    @torch.no_grad()
    def push(self, latent: Tensor, guide: Tensor | None = None) -> Tensor:
        _check_latent(latent, self.model.latent_channels)
        b, _, f, h, w = latent.shape
        if f == 0:
            return latent.new_zeros(b, 3, 0, h * 8, w * 8)
        ref = self.model.latents_mean
        groups = None
        if guide is not None and self.model.guided:
            _check_guide(guide, latent, first=not self.started)
            groups = guide.to(ref.device, ref.dtype).transpose(1, 2)
            if not self.started:
                groups = _lead_group(groups)
        frames = self.model.decode_groups(latent.to(ref.device, ref.dtype).transpose(1, 2), self.state, groups)
        if not self.started:
            frames = frames[:, 3:]
            self.started = True
        return frames.transpose(1, 2).clamp_(-1, 1)


def load_tiny_ae(path: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> TinyAutoencoder:
    """Load a tiny autoencoder directory; ``None`` loads the shipped demo codec."""
    return TinyAutoencoder.from_pretrained(DEMO_WEIGHTS if path is None else path, device=device)
