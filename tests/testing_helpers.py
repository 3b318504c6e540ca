"""Helpers shared by tests: random tensors and random weights for tiny models."""

from __future__ import annotations

import torch


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g)


def randomize_(model: torch.nn.Module, seed: int = 0, scale: float = 0.2) -> torch.nn.Module:
    """Random values for every parameter (norm weights around 1). Wan's init zeroes the
    head, which would make every output zero and every equivalence test vacuous."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g) * scale
            p.copy_(noise + 1.0 if "norm" in name else noise)
    return model
