"""Streaming KV cache of the causal DiT: rolling window, anchored reference, style switch.

Per block it holds (paper, sec. 3.4):
- the self-attention keys/values of the last `window_frames` latent frames, in a
  preallocated buffer, so memory is bounded whatever the stream length;
- the reference image's keys/values, anchored at the front and never evicted
  (`policy="anchored"`, the paper's reference-preserving update), or rolled out like
  the oldest frame once the window is full (`policy="naive"`, the ablation);
- the cross-attention keys/values of the prompt, computed once per prompt.

Keys are stored before RoPE and rotated at attention time with window-relative frame
positions (the reference has a fixed slot), as StreamingLLM does with its sinks: the
positions the model sees stay in the range it was trained on however long the stream
runs. Until the first eviction the positions equal the absolute frame indices, so
streaming equals one block-causal pass over the whole sequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch
from torch import Tensor

from rtrdit.model.rope import REFERENCE_T

if TYPE_CHECKING:
    from rtrdit.model.dit import DiT

CachePolicy = Literal["anchored", "naive"]


@dataclass
class _Chunk:
    start: int  # absolute latent frame index of the chunk's first frame
    frames: int
    slot: int  # buffer frame slot of its first frame


class KVCache:
    """Self- and cross-attention caches of one stream (all blocks of one DiT)."""

    def __init__(
        self,
        model: DiT,
        batch_size: int,
        latent_hw: tuple[int, int],
        window_frames: int,
        policy: CachePolicy = "anchored",
    ) -> None:
        cfg = model.config
        if policy not in ("anchored", "naive"):
            raise ValueError(f"policy must be 'anchored' or 'naive', got {policy!r}")
        _, ph, pw = cfg.patch_size
        if latent_hw[0] % ph or latent_hw[1] % pw:
            raise ValueError(f"latent size {latent_hw} is not divisible by the patch size")
        if window_frames < cfg.chunk_frames + (1 if policy == "naive" else 0):
            raise ValueError(f"window_frames={window_frames} is smaller than one chunk ({cfg.chunk_frames})")
        self.policy: CachePolicy = policy
        self.window_frames = window_frames
        self.grid_hw = (latent_hw[0] // ph, latent_hw[1] // pw)
        self.tokens_per_frame = self.grid_hw[0] * self.grid_hw[1]
        self.device = model.patch_embedding.weight.device
        shape = (batch_size, window_frames * self.tokens_per_frame, cfg.num_heads, cfg.head_dim)
        self._k = [torch.zeros(shape, device=self.device, dtype=model.dtype) for _ in range(cfg.num_layers)]
        self._v = [torch.zeros(shape, device=self.device, dtype=model.dtype) for _ in range(cfg.num_layers)]
        self.reference: list[tuple[Tensor, Tensor]] | None = None
        self.text: list[tuple[Tensor, Tensor]] | None = None
        self.frames = 0  # frames held in the buffer
        self.first_frame = 0  # absolute index of the frame in slot 0
        self._chunk: _Chunk | None = None

    # ------------------------------------------------------------ conditions
    @torch.no_grad()
    def set_text(self, model: DiT, text: Tensor) -> None:
        """(Re)initialise the cross-attention cache for a prompt's embeddings."""
        self.text = [(k.detach(), v.detach()) for k, v in model.text_kv(text.to(self.device))]

    def set_reference(self, model: DiT, reference_latent: Tensor | None) -> None:
        """Anchor a new reference (replacing any previous one), or drop it with None."""
        self.reference = None
        if reference_latent is not None:
            if self.text is None:
                raise RuntimeError("set the prompt before the reference (its tokens attend to the text)")
            model.prefill_reference(reference_latent, self)

    def anchor_reference(self, kvs: list[tuple[Tensor, Tensor]]) -> None:
        """Store the reference tokens' keys/values per block: the cache's fixed front, never evicted."""
        self.reference = [(k.detach(), v.detach()) for k, v in kvs]

    def switch(self, model: DiT, text: Tensor, reference_latent: Tensor | None, keep_frames: int = 1) -> None:
        """Style switch (paper, sec. 3.4): new cross-attention cache, keep only the most recent
        ``keep_frames`` frames of the self-attention cache (the paper keeps 1; 0 starts the new
        style from a clean context), anchor the new reference (or none)."""
        self.keep_last_frames(keep_frames)
        self.set_text(model, text)
        self.set_reference(model, reference_latent)

    def keep_last_frames(self, n: int) -> None:
        """Drop all but the `n` most recent frames of the self-attention cache."""
        drop = max(self.frames - n, 0)
        if drop:
            self._evict(drop)
        self._chunk = None

    # ------------------------------------------------------------- streaming
    def begin_chunk(self, start: int, frames: int) -> None:
        """Reserve slots for the chunk starting at absolute frame `start`: the same chunk
        again reuses its slots; the next chunk is appended, evicting the oldest frames
        (and, under the naive policy, the reference first) when the window is full."""
        c = self._chunk
        if c is not None and c.start == start and c.frames == frames:
            return
        end = self.first_frame + self.frames
        if start != end:
            raise ValueError(f"chunk starts at frame {start}, but the stream is at frame {end}")
        if frames > self.window_frames:
            raise ValueError(f"a chunk of {frames} frames does not fit a window of {self.window_frames}")
        if self.policy == "naive" and self.reference is not None and self.frames + frames > self.window_frames - 1:
            self.reference = None  # the reference rolls out first, like the oldest frame
        overflow = self.frames + frames - self.window_frames
        if overflow > 0:
            self._evict(overflow)
        self._chunk = _Chunk(start, frames, self.frames)
        self.frames += frames

    def _evict(self, n: int) -> None:
        keep = (self.frames - n) * self.tokens_per_frame
        off = n * self.tokens_per_frame
        for buf in (*self._k, *self._v):
            buf[:, :keep] = buf[:, off : off + keep].clone()
        self.frames -= n
        self.first_frame += n

    def key_positions(self) -> Tensor:
        """Temporal RoPE positions of the keys of the current chunk's attention, one per
        group: the reference's fixed slot, then window-relative frame slots."""
        assert self._chunk is not None
        frames = torch.arange(self._chunk.slot + self._chunk.frames, device=self.device)
        if self.reference is None:
            return frames
        return torch.cat([torch.tensor([REFERENCE_T], device=self.device), frames])

    def attend_keys(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Store the chunk's keys/values (detached: the cache never holds a graph) and
        return the keys/values it attends to: reference, earlier frames, itself."""
        assert self._chunk is not None
        lo = self._chunk.slot * self.tokens_per_frame
        hi = lo + k.shape[1]
        self._k[layer][:, lo:hi] = k.detach()
        self._v[layer][:, lo:hi] = v.detach()
        keys = [self._k[layer][:, :lo], k]
        values = [self._v[layer][:, :lo], v]
        if self.reference is not None:
            rk, rv = self.reference[layer]
            keys.insert(0, rk)
            values.insert(0, rv)
        return torch.cat(keys, dim=1), torch.cat(values, dim=1)

    # ----------------------------------------------------------- inspection
    @property
    def has_reference(self) -> bool:
        return self.reference is not None

    def tensors(self) -> list[Tensor]:
        """Every tensor the cache holds (for memory accounting and graph checks)."""
        out = [*self._k, *self._v]
        for group in (self.reference, self.text):
            for k, v in group or []:
                out += [k, v]
        return out

    def memory_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.tensors())
