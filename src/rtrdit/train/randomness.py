"""Counter-based randomness: every random draw is a pure function of (seed, step, sample, stream).

Noise for a sample depends on its position in the global batch, never on the rank or on what ran
before, so a resumed run replays the same numbers and N processes draw what one process would.
"""

from __future__ import annotations

import hashlib

import torch
from torch import Tensor


def derive_seed(*parts: object) -> int:
    """A 63-bit seed hashed from the parts."""
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


def generator(*parts: object) -> torch.Generator:
    """A CPU torch.Generator seeded from the parts."""
    return torch.Generator().manual_seed(derive_seed(*parts))


def per_sample_randn(shape: tuple[int, ...], keys: list[int], *parts: object,
                     device: torch.device | str = "cpu") -> Tensor:
    """[len(keys), *shape] standard normals, sample i drawn from (parts..., keys[i])."""
    out = [torch.randn(shape, generator=generator(*parts, k)) for k in keys]
    return torch.stack(out).to(device)


def per_sample_rand(keys: list[int], *parts: object, shape: tuple[int, ...] = (),
                    device: torch.device | str = "cpu") -> Tensor:
    """[len(keys), *shape] uniforms in [0, 1), sample i drawn from (parts..., keys[i])."""
    return torch.stack([torch.rand(shape, generator=generator(*parts, k)) for k in keys]).to(device)


def shared_randint(high: int, *parts: object) -> int:
    """An integer in [0, high) equal on every rank (no collective needed)."""
    return int(torch.randint(high, (), generator=generator(*parts)).item())


__all__ = ["derive_seed", "generator", "per_sample_rand", "per_sample_randn", "shared_randint"]
