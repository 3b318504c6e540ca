"""Distribution Matching Distillation (paper sec. 3.3.2) with the adversarial term (sec. 3.3.3),
written over score-model callables so a 2-D toy and the video DiT run the very same math.

- real_x0(x_t, t): the frozen teacher's clean estimate (with CFG) at noise level t in [0, 1];
- critic(x_t, t) -> (flow, logits | None): the trainable fake score and its GAN head, one call.

Generator: grad = (fake_x0 - real_x0) / mean|x - real_x0| (per sample, nan-safe);
loss = 0.5 mse(x, stopgrad(x - grad)) in float64, plus gan_weight * softplus(-D(x_t)).
Critic: flow matching on detached generator samples, plus softplus(-D(real_t)) + softplus(D(fake_t)).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from rtrdit.train.flow_matching import add_noise, flow_matching_loss, shift_time, x0_from_flow

RealFn = Callable[[Tensor, Tensor], Tensor]
CriticFn = Callable[[Tensor, Tensor], tuple[Tensor, Tensor | None]]


def critic_times(u: Tensor, shift: float, t_min: float, t_max: float) -> Tensor:
    """Critic noise levels from uniforms u: shifted, clamped to [t_min, t_max]."""
    return shift_time(u, shift).clamp(t_min, t_max).to(u.device)


def dmd_gradient(x: Tensor, x_t: Tensor, t: Tensor, real_x0: RealFn, critic: CriticFn) -> Tensor:
    """The normalised DMD direction (fake - real) / mean|x - real|, computed without grad."""
    with torch.no_grad():
        real = real_x0(x_t, t).to(torch.float64)
        fake_flow, _ = critic(x_t, t)
        fake = x0_from_flow(x_t, fake_flow, t).to(torch.float64)
        xd = x.detach().to(torch.float64)
        dims = tuple(range(1, x.ndim))
        norm = (xd - real).abs().mean(dim=dims, keepdim=True).clamp_min(1e-12)
        return torch.nan_to_num((fake - real) / norm)


def generator_loss(x: Tensor, noise: Tensor, t: Tensor, real_x0: RealFn, critic: CriticFn,
                   gan_weight: float = 0.0) -> tuple[Tensor, dict[str, float]]:
    """DMD loss of generator samples x (with graph) at noise levels t, plus the GAN generator term."""
    x_t = add_noise(x.detach(), noise, t)
    grad = dmd_gradient(x, x_t, t, real_x0, critic)
    xd = x.to(torch.float64)
    dmd = 0.5 * F.mse_loss(xd, (xd - grad).detach(), reduction="mean")
    metrics = {"dmd": float(dmd.detach()), "dmd_grad_norm": float(grad.pow(2).mean().sqrt())}
    loss = dmd
    if gan_weight > 0:
        _, logits = critic(add_noise(x, noise, t), t)
        if logits is None:
            raise ValueError("gan_weight > 0 needs a critic with a GAN head")
        g = F.softplus(-logits.float()).mean()
        loss = loss + gan_weight * g.to(torch.float64)
        metrics["gan_g"] = float(g.detach())
    return loss, metrics


def critic_loss(fake: Tensor, real: Tensor | None, noise: Tensor, t: Tensor, critic: CriticFn,
                disc_weight: float = 1.0) -> tuple[Tensor, dict[str, float]]:
    """Fake-score flow matching on detached generator samples; with `real` also the discriminator
    loss, real and fake noised at the same levels and classified in one critic call."""
    fake = fake.detach()
    x_t = add_noise(fake, noise, t)
    if real is None or disc_weight == 0:
        flow, _ = critic(x_t, t)
        fm = flow_matching_loss(flow, fake, noise)
        return fm, {"fake_score": float(fm.detach())}
    b = fake.shape[0]
    flow, logits = critic(torch.cat([x_t, add_noise(real, noise, t)]), torch.cat([t, t]))
    if logits is None:
        raise ValueError("a discriminator loss needs a critic with a GAN head")
    fm = flow_matching_loss(flow[:b], fake, noise)
    d = F.softplus(-logits[b:].float()).mean() + F.softplus(logits[:b].float()).mean()
    loss = fm + disc_weight * d
    return loss, {"fake_score": float(fm.detach()), "gan_d": float(d.detach())}


__all__ = ["CriticFn", "RealFn", "critic_loss", "critic_times", "dmd_gradient", "generator_loss"]
