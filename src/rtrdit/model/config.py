"""DiT sizes and switches as data: one dataclass, named presets (`tiny`, `wan2.1-t2v-1.3b`, ...)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Literal

AttentionKind = Literal["bidirectional", "block_causal"]


@dataclass(frozen=True)
class DiTConfig:
    """Hyper-parameters of the Wan2.1-architecture DiT used by RTR-DiT.

    `latent_channels` is the VAE latent width (16 for Wan); with `source_conditioning`
    the patch embedding sees the noisy target and the source latent concatenated on
    channels (2 x 16 = 32 inputs).
    """

    dim: int = 1536
    ffn_dim: int = 8960
    num_heads: int = 12
    num_layers: int = 30
    latent_channels: int = 16
    text_dim: int = 4096
    text_len: int = 512  # text is zero-padded to this many tokens, like Wan
    freq_dim: int = 256
    eps: float = 1e-6
    patch_size: tuple[int, int, int] = (1, 2, 2)
    qk_norm: bool = True
    cross_attn_norm: bool = True
    rope_theta: float = 10000.0
    source_conditioning: bool = True  # concatenate the source latent on channels
    reference_adapter: bool = True  # RV2V: reference-image tokens prepended
    attention: AttentionKind = "bidirectional"
    chunk_frames: int = 1  # latent frames per causal chunk (block-causal mask and streaming)

    def __post_init__(self) -> None:
        if self.dim % self.num_heads:
            raise ValueError(f"dim {self.dim} is not divisible by num_heads {self.num_heads}")
        if self.head_dim % 2:
            raise ValueError(f"head dim {self.head_dim} must be even for RoPE")
        if self.attention not in ("bidirectional", "block_causal"):
            raise ValueError(f"attention must be 'bidirectional' or 'block_causal', got {self.attention!r}")
        if self.chunk_frames < 1:
            raise ValueError("chunk_frames must be >= 1")
        object.__setattr__(self, "patch_size", tuple(int(p) for p in self.patch_size))

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    @property
    def in_channels(self) -> int:
        return self.latent_channels * (2 if self.source_conditioning else 1)

    @property
    def rope_dims(self) -> tuple[int, int, int]:
        """Head-dim split of 3D RoPE over (time, height, width), as Wan: 44/42/42 for 128."""
        d = self.head_dim
        hw = 2 * (d // 6)
        return d - 2 * hw, hw, hw

    def replace(self, **overrides: Any) -> DiTConfig:
        unknown = set(overrides) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"unknown DiTConfig field(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["patch_size"] = list(self.patch_size)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DiTConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown DiTConfig field(s): {', '.join(sorted(unknown))}")
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


PRESETS: dict[str, DiTConfig] = {
    # Milliseconds on a CPU: used by the tests.
    "tiny": DiTConfig(
        dim=32, ffn_dim=64, num_heads=2, num_layers=2, text_dim=16, text_len=8, freq_dim=16
    ),
    # A mid-size model for CPU benchmarks and the demo model's scale.
    "small": DiTConfig(
        dim=256, ffn_dim=1024, num_heads=4, num_layers=6, text_dim=384, text_len=32, freq_dim=128
    ),
    # The shipped CPU demo model: MiniLM text (384-d, 32 tokens), real time at 256x256 on a laptop CPU.
    "demo": DiTConfig(
        dim=160, ffn_dim=640, num_heads=2, num_layers=4, text_dim=384, text_len=32, freq_dim=64,
        attention="block_causal", chunk_frames=1,
    ),
    # The real Wan2.1-T2V-1.3B sizes.
    "wan2.1-t2v-1.3b": DiTConfig(),
}


def get_config(name: str, **overrides: Any) -> DiTConfig:
    """A named preset, optionally with fields replaced."""
    try:
        cfg = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown DiT config {name!r}; known: {', '.join(PRESETS)}") from None
    return cfg.replace(**overrides) if overrides else cfg


__all__ = ["PRESETS", "AttentionKind", "DiTConfig", "get_config"]
