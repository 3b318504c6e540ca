"""The lightweight reference-image adapter (RV2V): reference latent -> DiT tokens.

A patch projection with the DiT's patch size plus a residual MLP. The projection can
be initialised from the target half of the DiT's patch embedding, so that before any
training the reference looks to the DiT like a clean frame of the target video.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ReferenceAdapter(nn.Module):
    """Maps a reference latent [B, C, 1, H, W] (or [B, C, H, W]) to tokens [B, 1, L, dim]."""

    def __init__(self, latent_channels: int, dim: int, patch_size: tuple[int, int, int]) -> None:
        super().__init__()
        self.proj = nn.Conv3d(latent_channels, dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.fc1 = nn.Linear(dim, dim)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(dim, dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.proj.weight.flatten(1))
        nn.init.zeros_(self.proj.bias)
        nn.init.xavier_uniform_(self.fc1.weight)
        nn.init.zeros_(self.fc1.bias)
        nn.init.zeros_(self.fc2.weight)  # the residual branch starts as identity
        nn.init.zeros_(self.fc2.bias)

    @torch.no_grad()
    def init_from_patch_embedding(self, patch_embedding: nn.Conv3d, latent_channels: int) -> None:
        """Copy the target-latent half of the DiT's patch embedding into the projection."""
        self.proj.weight.copy_(patch_embedding.weight[:, :latent_channels])
        if patch_embedding.bias is not None:
            self.proj.bias.copy_(patch_embedding.bias)

    def forward(self, ref: Tensor) -> Tensor:
        if ref.ndim == 4:
            ref = ref.unsqueeze(2)
        if ref.shape[2] != 1:
            raise ValueError(f"reference latent must hold one frame, got {ref.shape[2]}")
        x = self.proj(ref.to(self.proj.weight.dtype))  # [B, dim, 1, h, w]
        x = x.flatten(2).transpose(1, 2)  # [B, L, dim]
        x = x + self.fc2(self.act(self.fc1(self.norm(x))))
        return x.unsqueeze(1)
