"""A 2-D Gaussian-mixture world for checking the distillation math where the answer is known."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from rtrdit.train.gan import GANHead

CENTERS = torch.tensor([[math.cos(a), math.sin(a)] for a in torch.arange(4) * math.pi / 2]) * 1.5
STD = 0.15


def sample_data(n: int, g: torch.Generator) -> Tensor:
    idx = torch.randint(len(CENTERS), (n,), generator=g)
    return CENTERS[idx] + STD * torch.randn(n, 2, generator=g)


def mode_counts(x: Tensor) -> Tensor:
    """Samples within 4 std of each centre."""
    d = torch.cdist(x, CENTERS)
    near = d.min(1).values < 4 * STD
    return torch.bincount(d.argmin(1)[near], minlength=len(CENTERS))


def energy_distance(x: Tensor, y: Tensor) -> float:
    """Two-sample energy distance (0 iff the distributions match)."""
    return float(2 * torch.cdist(x, y).mean() - torch.cdist(x, x).mean() - torch.cdist(y, y).mean())


class ToyFlow(nn.Module):
    """Velocity MLP v(x_t, t); `features` exposes its last hidden layer as 8 tokens of 16."""

    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        self.inp = nn.Linear(2 + 16, hidden)
        self.body = nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU())
        self.out = nn.Linear(hidden, 2)

    def embed_t(self, t: Tensor) -> Tensor:
        f = torch.arange(8, dtype=torch.float32) * 0.7
        a = t[:, None] * 10 * torch.exp(f)[None] / 10
        return torch.cat([a.sin(), a.cos()], dim=1)

    def features(self, x: Tensor, t: Tensor) -> Tensor:
        return self.body(self.inp(torch.cat([x, self.embed_t(t)], dim=1)))

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        return self.out(self.features(x, t))


class ToyCritic(nn.Module):
    """Fake score + GAN head on its hidden features, one call -> (flow, logit)."""

    def __init__(self, flow: ToyFlow, gan: bool = True) -> None:
        super().__init__()
        self.flow = flow
        self.gan_head = GANHead(16, 1, registers=4) if gan else None

    def forward(self, x: Tensor, t: Tensor) -> tuple[Tensor, Tensor | None]:
        h = self.flow.features(x, t)
        logits = None if self.gan_head is None else self.gan_head([h.view(h.shape[0], -1, 16)])
        return self.flow.out(h), logits
