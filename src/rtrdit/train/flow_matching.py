"""Flow matching (paper eq. 1-2): z_t = (1 - t) z0 + t z1, target z1 - z0; the shifted schedule.

Times here are in [0, 1] (1 = pure noise); the DiT takes them x 1000.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

# velocity_fn(z_t, t [B] in 0..1) -> predicted flow z1 - z0
VelocityFn = Callable[[Tensor, Tensor], Tensor]


def shift_time(t: Tensor | float, shift: float) -> Tensor:
    """Wan / SD3 timestep shift: t' = s t / (1 + (s - 1) t); s > 1 spends more steps at high noise."""
    t = torch.as_tensor(t, dtype=torch.float64)
    return (shift * t / (1 + (shift - 1) * t)).float()


def _bcast(t: Tensor, like: Tensor) -> Tensor:
    return t.to(like.dtype).reshape(t.shape + (1,) * (like.ndim - t.ndim))


def add_noise(z0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
    """Forward process z_t = (1 - t) z0 + t noise, with t [B] (or [B, F] on dim 2) in [0, 1]."""
    if t.ndim == 2 and z0.ndim == 5:  # per-frame times [B, F] on latents [B, C, F, H, W]
        t = t[:, None, :, None, None]
    return (1 - _bcast(t, z0)) * z0 + _bcast(t, z0) * noise


def x0_from_flow(z_t: Tensor, flow: Tensor, t: Tensor) -> Tensor:
    """Clean estimate z0 = z_t - t * flow."""
    if t.ndim == 2 and z_t.ndim == 5:
        t = t[:, None, :, None, None]
    return z_t - _bcast(t, z_t) * flow


def flow_matching_loss(pred_flow: Tensor, z0: Tensor, noise: Tensor) -> Tensor:
    """Mean squared error to the flow target noise - z0 (float32)."""
    return (pred_flow.float() - (noise.float() - z0.float())).pow(2).mean()


def time_grid(steps: int, shift: float, include: list[float] | None = None) -> Tensor:
    """Descending times 1 -> 0 for an Euler sampler: `steps` uniform shifted steps, plus the
    (already shifted) times in `include` so a trajectory visits them exactly."""
    grid = shift_time(torch.linspace(1.0, 0.0, steps + 1), shift).tolist()
    for t in include or []:
        if all(abs(t - g) > 1e-6 for g in grid):
            grid.append(float(t))
    return torch.tensor(sorted(grid, reverse=True), dtype=torch.float32)


@torch.no_grad()
def euler_sample(velocity_fn: VelocityFn, noise: Tensor, grid: Tensor) -> list[Tensor]:
    """Integrate dz/dt = v from t = grid[0] down to grid[-1]; returns the states at every grid time."""
    z = noise
    states = [z]
    for t, t_next in zip(grid[:-1].tolist(), grid[1:].tolist(), strict=True):
        tt = torch.full((z.shape[0],), t, device=z.device)
        z = z + (t_next - t) * velocity_fn(z, tt).to(z.dtype)
        states.append(z)
    return states


__all__ = ["VelocityFn", "add_noise", "euler_sample", "flow_matching_loss", "shift_time", "time_grid", "x0_from_flow"]
