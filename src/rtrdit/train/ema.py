"""Exponential moving average of the trained generator's weights (float32 shadow copies).

Under FSDP2 the shadows are sharded like the parameters; `state_dict` gathers full tensors.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _full(t: Tensor) -> Tensor:
    return t.full_tensor() if hasattr(t, "full_tensor") else t


class EMA:
    """shadow <- decay * shadow + (1 - decay) * param from `start` on; before it, a plain copy."""

    def __init__(self, model: nn.Module, decay: float, start: int = 0) -> None:
        self.decay, self.start = decay, start
        self.shadow: dict[str, Tensor] = {
            n: p.detach().float().clone() for n, p in model.named_parameters() if p.requires_grad
        }

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Call after the optimiser step `step` (0-based)."""
        for n, p in model.named_parameters():
            if n in self.shadow:
                if step < self.start:
                    self.shadow[n].copy_(p.detach().float())
                else:
                    self.shadow[n].lerp_(p.detach().float(), 1.0 - self.decay)

    def state_dict(self) -> dict[str, Tensor]:
        """Full (unsharded) CPU tensors; a collective under FSDP (call on every rank)."""
        return {n: _full(t).detach().cpu().contiguous() for n, t in self.shadow.items()}

    @torch.no_grad()
    def load_state_dict(self, sd: dict[str, Tensor]) -> None:
        missing = set(self.shadow) - set(sd)
        if missing:
            raise KeyError(f"EMA state lacks {sorted(missing)[:4]}")
        for n, t in self.shadow.items():
            full = sd[n].to(torch.float32)
            if hasattr(t, "device_mesh"):
                from torch.distributed.tensor import distribute_tensor

                t.copy_(distribute_tensor(full.to(t.device), t.device_mesh, t.placements))
            else:
                t.copy_(full.to(t.device))


__all__ = ["EMA"]
