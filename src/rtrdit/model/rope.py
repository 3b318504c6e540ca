"""3D rotary position embedding split over (time, height, width), as in Wan2.1.

Positions are computed on the fly (no 1024-entry table), so any temporal index works:
the streaming cache uses window-relative frame positions and a fixed slot for the
reference image (`REFERENCE_T`), which never depends on how far the stream has run.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rtrdit.model.config import DiTConfig

REFERENCE_T = -1  # temporal RoPE slot of the reference-image tokens (frames count from 0)


def _axis_freqs(dim: int, theta: float, device: torch.device) -> Tensor:
    return 1.0 / torch.pow(theta, torch.arange(0, dim, 2, dtype=torch.float64, device=device) / dim)


def rope_cos_sin(
    cfg: DiTConfig, t_positions: Tensor, grid_hw: tuple[int, int]
) -> tuple[Tensor, Tensor]:
    """cos/sin tables for groups of tokens: one group per temporal position, each a full
    `grid_hw` spatial grid in row-major order. Returns two float32 tensors of shape
    [len(t_positions) * h * w, head_dim // 2]."""
    h, w = grid_hw
    device = t_positions.device
    dt, dh, dw = cfg.rope_dims
    ft = _axis_freqs(dt, cfg.rope_theta, device)
    fh = _axis_freqs(dh, cfg.rope_theta, device)
    fw = _axis_freqs(dw, cfg.rope_theta, device)
    g = t_positions.numel()
    at = torch.outer(t_positions.to(torch.float64), ft)  # [G, dt/2]
    ah = torch.outer(torch.arange(h, dtype=torch.float64, device=device), fh)  # [h, dh/2]
    aw = torch.outer(torch.arange(w, dtype=torch.float64, device=device), fw)  # [w, dw/2]
    angles = torch.cat(
        [
            at[:, None, None, :].expand(g, h, w, -1),
            ah[None, :, None, :].expand(g, h, w, -1),
            aw[None, None, :, :].expand(g, h, w, -1),
        ],
        dim=-1,
    ).reshape(g * h * w, -1)
    return angles.cos().float(), angles.sin().float()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate interleaved pairs (x[2i], x[2i+1]) of x [B, N, heads, head_dim] by the
    angles of `cos`/`sin` [N, head_dim // 2]; computed in float32."""
    xf = x.float().unflatten(-1, (-1, 2))
    x1, x2 = xf[..., 0], xf[..., 1]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    out = torch.stack([x1 * c - x2 * s, x1 * s + x2 * c], dim=-1).flatten(-2)
    return out.type_as(x)
