"""The teacher as a velocity field: classifier-free guidance over (prompt, reference) and the
multi-step Euler sampler used for ODE pairs and sample videos."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from rtrdit.train.flow_matching import VelocityFn, euler_sample, time_grid
from rtrdit.train.randomness import per_sample_randn


def guided_velocity(model: Any, source: Tensor, text: Tensor, reference: Tensor | None,
                    guidance: float) -> VelocityFn:
    """v = cond + g (cond - uncond); uncond has an empty prompt and a null reference, as the
    teacher's condition dropout trained it. One forward of 2B samples when g != 0."""

    def velocity(z: Tensor, t: Tensor) -> Tensor:
        if guidance == 0:
            return model(z, source, t * 1000, text, reference)
        ref2 = None if reference is None else torch.cat([reference, torch.zeros_like(reference)])
        out = model(torch.cat([z, z]), torch.cat([source, source]), torch.cat([t, t]) * 1000,
                    torch.cat([text, torch.zeros_like(text)]), ref2)
        cond, uncond = out.chunk(2)
        return cond + guidance * (cond - uncond)

    return velocity


@torch.no_grad()
def sample_teacher(model: Any, batch: dict[str, Any], keys: list[int], seed: int, steps: int = 20,
                   shift: float = 5.0, guidance: float = 3.0, include: list[float] | None = None,
                   ) -> Tensor:
    """Clean latents from the teacher's ODE, noise drawn per sample from (seed, key)."""
    return teacher_trajectory(model, batch, keys, seed, steps, shift, guidance, include)[1][-1]


@torch.no_grad()
def teacher_trajectory(model: Any, batch: dict[str, Any], keys: list[int], seed: int, steps: int,
                       shift: float, guidance: float, include: list[float] | None = None,
                       ) -> tuple[Tensor, list[Tensor]]:
    """(time grid, states at every grid time) of the guided teacher ODE from noise to data."""
    z = batch["target"]
    noise = per_sample_randn(tuple(z.shape[1:]), keys, "ode-noise", seed, device=z.device)
    grid = time_grid(steps, shift, include)
    v = guided_velocity(model, batch["source"], batch["text"], batch["reference"], guidance)
    return grid, euler_sample(v, noise, grid)


__all__ = ["guided_velocity", "sample_teacher", "teacher_trajectory"]
