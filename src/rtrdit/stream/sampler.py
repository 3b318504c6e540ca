"""Few-step causal sampling of one chunk (paper, sec. 3.3): K denoising steps along a
fixed timestep sequence through the KV cache, then the clean-context pass at t = 0.

Flow matching convention (eq. 1-2): z_t = (1 - t) z_0 + t z_1, the model predicts
v = z_1 - z_0, so z_0 = z_t - t v. Between steps the clean estimate is re-noised with
fresh noise to the next timestep, as Self Forcing's generator does. The functions are
pure in the model, cache and noise, so streaming, training rollouts and tests share them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from rtrdit.model.cache import KVCache
from rtrdit.model.dit import DiT


def shift_timesteps(ts: Sequence[float], shift: float) -> list[float]:
    """Map timesteps in [0, 1] through the shifted flow schedule s * t / (1 + (s - 1) t)."""
    return [shift * t / (1 + (shift - 1) * t) for t in ts]


def default_timesteps(steps: int, shift: float = 5.0) -> list[float]:
    """K evenly spaced timesteps from 1 (exclusive of 0), shifted: K=2 -> [1.0, 0.833]."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    return shift_timesteps([1 - k / steps for k in range(steps)], shift)


def denoise_chunk(
    model: DiT,
    cache: KVCache,
    source: Tensor | None,
    noises: Sequence[Tensor],
    timesteps: Sequence[float],
    start_frame: int,
) -> Tensor:
    """Run the K steps for the chunk starting at latent frame `start_frame` and return the
    clean latent. `noises[0]` is the initial noise, `noises[k]` re-noises before step k."""
    if len(noises) != len(timesteps):
        raise ValueError("need one noise tensor per timestep")
    x = noises[0]
    x0 = x
    for k, t in enumerate(timesteps):
        if k:
            x = (1 - t) * x0 + t * noises[k]
        v = model.forward_chunk(x, source, t * 1000.0, cache, start_frame)
        x0 = x - t * v
    return x0


@torch.no_grad()
def write_clean_context(model: DiT, cache: KVCache, clean: Tensor, source: Tensor | None, start_frame: int) -> None:
    """The clean-context pass: rewrite the chunk's cache slots from its clean latent at t = 0."""
    model.forward_chunk(clean, source, 0.0, cache, start_frame)


@torch.no_grad()
def sample_chunk(
    model: DiT,
    cache: KVCache,
    source: Tensor | None,
    timesteps: Sequence[float],
    start_frame: int,
    generator: torch.Generator,
) -> Tensor:
    """Denoise one chunk from fresh noise drawn from `generator`, then write its clean
    context into the cache. Returns the clean latent of the chunk."""
    shape = source.shape if source is not None else None
    if shape is None:
        raise ValueError("sample_chunk needs the source chunk to know the latent shape")
    noises = [
        torch.randn(shape, generator=generator, device="cpu").to(device=source.device, dtype=source.dtype)
        for _ in timesteps
    ]
    clean = denoise_chunk(model, cache, source, noises, timesteps, start_frame)
    write_clean_context(model, cache, clean, source, start_frame)
    return clean
