"""Self Forcing rollout (paper sec. 3.3.1): the causal generator denoises chunk after chunk on its
own outputs through the KV cache, as at inference.

Per chunk: the K fixed steps from noise; only the exit step (one random index, the same for all
chunks) runs with a graph, the steps before it run without; its clean estimate is the chunk's
output. A no-grad pass at t = 0 on that output then rewrites the chunk's cache slots, so the
cache holds only detached tensors and gradients never flow through it.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor

from rtrdit.model.cache import KVCache
from rtrdit.train.flow_matching import add_noise, shift_time, x0_from_flow


def generator_times(timesteps: list[float], shift: float) -> list[float]:
    """The generator's K fixed steps (0..1000 before the shift) as shifted times in (0, 1]."""
    return [float(t) for t in shift_time(torch.tensor(timesteps, dtype=torch.float64) / 1000.0, shift)]


def _pinned(cache: KVCache, model: Any, chunk: Tensor, start: int) -> KVCache:
    """A view of the cache pinned to this chunk: it shares the buffers, but its own chunk
    marker never moves. The model's per-block activation checkpointing recomputes a block in
    backward, after later chunks have moved the real cache on; through the view the
    recomputation attends to exactly what the forward attended to (earlier slots are never
    rewritten during a rollout, the window holds the whole clip)."""
    pt = model.config.patch_size[0]
    cache.begin_chunk(start // pt, chunk.shape[2] // pt)
    return copy.copy(cache)


def self_forcing_rollout(model: Any, noise: Tensor, source: Tensor, text: Tensor, reference: Tensor | None,
                         times: list[float], exit_step: int, step_noise: Tensor) -> tuple[Tensor, KVCache]:
    """Roll out a whole clip [B, 16, F, h, w] chunk by chunk; returns (output, the cache).

    `step_noise` [K, B, 16, F, h, w] re-noises the clean estimate between steps. The output keeps
    a graph (to the generator's parameters only) when grad is enabled; the model's own
    `gradient_checkpointing` applies to the exit steps."""
    if not 0 <= exit_step < len(times):
        raise ValueError(f"exit_step {exit_step} is outside the {len(times)} steps")
    grad_on = torch.is_grad_enabled()
    b, _, f, h, w = noise.shape
    chunk = model.config.chunk_frames
    cache = KVCache(model, b, (h, w), window_frames=f)
    cache.set_text(model, text)
    if reference is not None:
        cache.set_reference(model, reference)
    outs = []
    for start in range(0, f, chunk):
        sl = slice(start, min(start + chunk, f))
        x, src = noise[:, :, sl], source[:, :, sl]
        out = x
        for k, t in enumerate(times):
            keep = k == exit_step
            tt = torch.full((b,), t * 1000.0, device=x.device)
            with torch.set_grad_enabled(keep and grad_on):
                view = _pinned(cache, model, x, start) if keep and grad_on else cache
                flow = model.forward_chunk(x, src, tt, view, start)
                out = x0_from_flow(x, flow, torch.full((b,), t, device=x.device))
            if keep:
                break
            x = add_noise(out, step_noise[k][:, :, sl], torch.full((b,), times[k + 1], device=x.device))
        with torch.no_grad():  # the clean pass: the cache now holds the chunk's output at t = 0
            model.forward_chunk(out.detach(), src, torch.zeros(b, device=x.device), cache, start)
        outs.append(out)
    return torch.cat(outs, dim=2), cache


__all__ = ["generator_times", "self_forcing_rollout"]
