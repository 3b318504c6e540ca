"""The adversarial branch (paper sec. 3.3.3): a classification head on the fake score network.

Learned register tokens cross-attend to token features taken from some of the fake score's
blocks, an MLP maps them to one real/fake logit. `FakeScore` bundles the DiT and the head so one
call returns both the flow prediction and the logit (one forward, one backward per update).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


class GANHead(nn.Module):
    """Register tokens x cross-attention over features [B, N, dim] per tapped block -> logit [B]."""

    def __init__(self, dim: int, num_features: int, registers: int = 4, heads: int = 1) -> None:
        super().__init__()
        self.registers = nn.Parameter(torch.randn(num_features, registers, dim) / dim**0.5)
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(num_features)])
        self.attn = nn.ModuleList([nn.MultiheadAttention(dim, heads, batch_first=True) for _ in range(num_features)])
        self.mlp = nn.Sequential(nn.Linear(num_features * registers * dim, dim), nn.SiLU(), nn.Linear(dim, 1))

    def forward(self, features: list[Tensor]) -> Tensor:
        outs = []
        for i, f in enumerate(features):
            f = self.norms[i](f.float())
            q = self.registers[i].unsqueeze(0).expand(f.shape[0], -1, -1)
            outs.append(self.attn[i](q, f, f, need_weights=False)[0])
        return self.mlp(torch.cat(outs, dim=1).flatten(1)).squeeze(-1)


class FakeScore(nn.Module):
    """The trainable fake score DiT plus the GAN head on features of `blocks` (indices into the
    DiT's blocks; negative counts from the end)."""

    def __init__(self, dit: nn.Module, blocks: list[int], registers: int = 4) -> None:
        super().__init__()
        self.dit = dit
        n = len(dit.blocks)  # type: ignore[arg-type]
        self.tap = sorted({b % n for b in blocks})
        self.gan_head = GANHead(dit.config.dim, len(self.tap), registers) if self.tap else None  # type: ignore[union-attr]

    def forward(self, noisy: Tensor, source: Tensor | None, timestep: Tensor, text: Tensor,
                reference: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        feats: dict[int, Tensor] = {}
        hooks = []
        if self.gan_head is not None:
            for i in self.tap:
                def grab(_m: Any, _inp: Any, out: Tensor, i: int = i) -> None:
                    feats[i] = out
                hooks.append(self.dit.blocks[i].register_forward_hook(grab))  # type: ignore[index]
        try:
            flow = self.dit(noisy, source, timestep, text, reference)
        finally:
            for h in hooks:
                h.remove()
        if self.gan_head is None:
            return flow, None
        # block outputs are [B, G, L, D]; the reference group (if any) is first: keep the frames
        f = reference is not None
        tokens = [feats[i][:, int(f):].flatten(1, 2) for i in self.tap]
        return flow, self.gan_head(tokens)


__all__ = ["FakeScore", "GANHead"]
