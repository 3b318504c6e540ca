"""Attention kernels and the block-causal rule over frame chunks.

Rule: every token belongs to a chunk id (reference tokens to chunk -1, frame f to
chunk f // chunk_frames); a query may attend a key iff chunk(key) <= chunk(query).
So frames see the reference and all earlier chunks, the reference sees only itself.
On CUDA the rule runs as a FlexAttention block mask; elsewhere (the CPU build of
FlexAttention has no backward) as a dense boolean mask through SDPA.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor


def sdpa(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> Tensor:
    """Scaled dot-product attention on [B, N, heads, head_dim] tensors."""
    out = F.scaled_dot_product_attention(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask
    )
    return out.transpose(1, 2)


def chunk_ids(num_ref_groups: int, num_frames: int, tokens_per_group: int, chunk_frames: int,
              device: torch.device) -> Tensor:
    """Chunk id of every token: -1 for reference groups, frame // chunk_frames for frames."""
    frame_chunks = torch.arange(num_frames, device=device) // chunk_frames
    groups = torch.cat([torch.full((num_ref_groups,), -1, device=device), frame_chunks])
    return groups.repeat_interleave(tokens_per_group)


def block_causal_dense_mask(ids: Tensor) -> Tensor:
    """Boolean [N, N] mask (True = may attend) from per-token chunk ids."""
    return ids[None, :] <= ids[:, None]


class BlockCausalAttention:
    """Callable attention under the block-causal rule for one token layout.

    Built once per forward (the layout is an argument, never cached across calls with
    other shapes), used by every block.
    """

    def __init__(self, ids: Tensor, backend: str = "auto") -> None:
        self.ids = ids
        use_flex = backend == "flex" or (backend == "auto" and ids.is_cuda)
        self._fn: Callable[[Tensor, Tensor, Tensor], Tensor]
        if use_flex:
            self._fn = _make_flex(ids)
        else:
            mask = block_causal_dense_mask(ids)
            self._fn = lambda q, k, v: sdpa(q, k, v, mask)

    def __call__(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        return self._fn(q, k, v)


def _make_flex(ids: Tensor) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    def mask_mod(b: Tensor, h: Tensor, q_idx: Tensor, kv_idx: Tensor) -> Tensor:
        return ids[kv_idx] <= ids[q_idx]

    n = ids.numel()
    block_mask = create_block_mask(mask_mod, B=None, H=None, Q_LEN=n, KV_LEN=n, device=ids.device)
    kernel = torch.compile(flex_attention, dynamic=False) if ids.is_cuda else flex_attention

    def run(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        out = kernel(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), block_mask=block_mask)
        return out.transpose(1, 2)

    return run
