"""The Wan2.1-architecture DiT of RTR-DiT: blocks, timestep modulation, head.

Inputs (paper, sec. 3.2): the noisy target latent concatenated on channels with the
source-video latent, patchified (1, 2, 2); in RV2V the reference latent goes through
the adapter and its tokens are prepended as one extra "frame" at a fixed RoPE slot,
always at timestep 0; text enters through cross-attention. Attention is bidirectional
(the teacher) or block-causal over chunks of latent frames (the student), and the same
blocks run chunk by chunk through a `KVCache` for streaming (`forward_chunk`).

Parameter names follow the original Wan release, so its checkpoints load as they are.
Internally tokens are laid out as [B, G, L, dim]: G groups (the reference, then frames),
L tokens per latent frame, so that per-frame timesteps modulate their own frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from rtrdit.model.adapter import ReferenceAdapter
from rtrdit.model.attention import BlockCausalAttention, chunk_ids, sdpa
from rtrdit.model.config import DiTConfig
from rtrdit.model.rope import REFERENCE_T, apply_rope, rope_cos_sin

if TYPE_CHECKING:
    from rtrdit.model.cache import KVCache

# attend(q, k, v) -> out, all [B, N, heads, head_dim]; q/k are given before RoPE.
SelfAttend = Callable[[Tensor, Tensor, Tensor], Tensor]


class RMSNorm(nn.Module):
    """Wan's RMSNorm (used for q/k across all heads), computed in float32."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).type_as(x) * self.weight


class LayerNorm32(nn.LayerNorm):
    """LayerNorm computed in float32 and cast back, whatever the dtype of its input and of its
    affine weights (bf16 weights on a GPU: a float32 input with bf16 weights is no kernel's case)."""

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight.float() if self.weight is not None else None
        b = self.bias.float() if self.bias is not None else None
        return F.layer_norm(x.float(), self.normalized_shape, w, b, self.eps).type_as(x)


class Attention(nn.Module):
    """Multi-head attention projections with Wan's RMS q/k norm (self- or cross-)."""

    def __init__(self, dim: int, num_heads: int, qk_norm: bool, eps: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.o = nn.Linear(dim, dim)
        self.norm_q = RMSNorm(dim, eps) if qk_norm else nn.Identity()
        self.norm_k = RMSNorm(dim, eps) if qk_norm else nn.Identity()

    def _heads(self, x: Tensor) -> Tensor:
        return x.unflatten(-1, (self.num_heads, -1))

    def query(self, x: Tensor) -> Tensor:
        return self._heads(self.norm_q(self.q(x)))

    def key_value(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self._heads(self.norm_k(self.k(x))), self._heads(self.v(x))

    def out(self, x: Tensor) -> Tensor:
        return self.o(x.flatten(-2))


class DiTBlock(nn.Module):
    """One Wan block: modulated self-attention, cross-attention to text, modulated FFN."""

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        d = cfg.dim
        self.norm1 = LayerNorm32(d, eps=cfg.eps, elementwise_affine=False)
        self.self_attn = Attention(d, cfg.num_heads, cfg.qk_norm, cfg.eps)
        self.norm3 = LayerNorm32(d, eps=cfg.eps, elementwise_affine=True) if cfg.cross_attn_norm else nn.Identity()
        self.cross_attn = Attention(d, cfg.num_heads, cfg.qk_norm, cfg.eps)
        self.norm2 = LayerNorm32(d, eps=cfg.eps, elementwise_affine=False)
        self.ffn = nn.Sequential(nn.Linear(d, cfg.ffn_dim), nn.GELU(approximate="tanh"), nn.Linear(cfg.ffn_dim, d))
        self.modulation = nn.Parameter(torch.randn(1, 6, d) / d**0.5)

    def forward(self, x: Tensor, e: Tensor, text_kv: tuple[Tensor, Tensor], attend: SelfAttend) -> Tensor:
        """x [B, G, L, D]; e [B, G, 6, D] float32 per-group modulation; text_kv the
        cross-attention keys/values [B, T, heads, hd]; attend runs the self-attention."""
        mod = (self.modulation.float().unsqueeze(0) + e).unsqueeze(3)  # [B, G, 6, 1, D]
        shift, scale, gate, c_shift, c_scale, c_gate = mod.unbind(2)
        b, g, n, d = x.shape

        y = (self.norm1(x).float() * (1 + scale) + shift).type_as(x).reshape(b, g * n, d)
        q = self.self_attn.query(y)
        k, v = self.self_attn.key_value(y)
        y = self.self_attn.out(attend(q, k, v)).reshape(b, g, n, d)
        x = (x.float() + y.float() * gate).type_as(x)

        y = self.norm3(x).reshape(b, g * n, d)
        y = self.cross_attn.out(sdpa(self.cross_attn.query(y), *text_kv)).reshape(b, g, n, d)
        x = x + y

        y = (self.norm2(x).float() * (1 + c_scale) + c_shift).type_as(x)
        x = (x.float() + self.ffn(y).float() * c_gate).type_as(x)
        return x


class Head(nn.Module):
    """Output head: modulated LayerNorm then a linear map to patch pixels."""

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        out = cfg.latent_channels * math.prod(cfg.patch_size)
        self.norm = LayerNorm32(cfg.dim, eps=cfg.eps, elementwise_affine=False)
        self.head = nn.Linear(cfg.dim, out)
        self.modulation = nn.Parameter(torch.randn(1, 2, cfg.dim) / cfg.dim**0.5)

    def forward(self, x: Tensor, e: Tensor) -> Tensor:
        """x [B, G, L, D]; e [B, G, D] float32 (the time embedding, not projected)."""
        shift, scale = (self.modulation.float().unsqueeze(0) + e.unsqueeze(2)).unsqueeze(3).unbind(2)
        return self.head((self.norm(x).float() * (1 + scale) + shift).type_as(x))


def timestep_sinusoid(t: Tensor, dim: int) -> Tensor:
    """Wan's sinusoidal timestep embedding (cos first), computed in float64."""
    half = dim // 2
    freqs = torch.pow(10000.0, -torch.arange(half, dtype=torch.float64, device=t.device) / half)
    args = torch.outer(t.to(torch.float64).flatten(), freqs)
    return torch.cat([args.cos(), args.sin()], dim=1).float()


class DiT(nn.Module):
    """Wan2.1-architecture DiT with source-channel conditioning and a reference adapter.

    Call as ``model(noisy, source_or_None, timestep, text, reference_latent=None)`` with
    latents [B, 16, F, H, W], timestep [B] or [B, F] in 0..1000, text [B, T, text_dim];
    returns the flow prediction [B, 16, F, H, W].
    """

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        self.config = cfg
        d = cfg.dim
        self.patch_embedding = nn.Conv3d(cfg.in_channels, d, kernel_size=cfg.patch_size, stride=cfg.patch_size)
        self.text_embedding = nn.Sequential(nn.Linear(cfg.text_dim, d), nn.GELU(approximate="tanh"), nn.Linear(d, d))
        self.time_embedding = nn.Sequential(nn.Linear(cfg.freq_dim, d), nn.SiLU(), nn.Linear(d, d))
        self.time_projection = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))
        self.blocks = nn.ModuleList([DiTBlock(cfg) for _ in range(cfg.num_layers)])
        self.head = Head(cfg)
        self.ref_adapter = (
            ReferenceAdapter(cfg.latent_channels, d, cfg.patch_size) if cfg.reference_adapter else None
        )
        self.gradient_checkpointing = False
        self.attention_backend = "auto"  # "auto" | "sdpa" | "flex"
        if not any(p.is_meta for p in self.parameters()):
            self.init_weights()

    # ----------------------------------------------------------------- init
    def init_weights(self) -> None:
        """Wan's initialisation (zero head, so an untrained model predicts zero flow)."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        nn.init.xavier_uniform_(self.patch_embedding.weight.flatten(1))
        nn.init.zeros_(self.patch_embedding.bias)
        for seq in (self.text_embedding, self.time_embedding):
            for m in seq.modules():
                if isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, std=0.02)
        nn.init.zeros_(self.head.head.weight)
        if self.ref_adapter is not None:
            self.ref_adapter.reset_parameters()
            self.ref_adapter.init_from_patch_embedding(self.patch_embedding, self.config.latent_channels)

    # ------------------------------------------------------------ embeddings
    def embed_text(self, text: Tensor) -> Tensor:
        """Project text embeddings [B, T, text_dim], zero-padded to text_len like Wan."""
        cfg = self.config
        if text.ndim != 3 or text.shape[-1] != cfg.text_dim:
            raise ValueError(f"text embeddings must be [B, T, {cfg.text_dim}], got {list(text.shape)}")
        if text.shape[1] > cfg.text_len:
            raise ValueError(f"text has {text.shape[1]} tokens, more than text_len={cfg.text_len}")
        if text.shape[1] < cfg.text_len:
            text = F.pad(text, (0, 0, 0, cfg.text_len - text.shape[1]))
        return self.text_embedding(text.to(self.dtype))

    def text_kv(self, text: Tensor) -> list[tuple[Tensor, Tensor]]:
        """Cross-attention keys/values of every block for a prompt (the cross-attention cache)."""
        ctx = self.embed_text(text)
        return [blk.cross_attn.key_value(ctx) for blk in self.blocks]

    def embed_time(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """Per-group timesteps [B, G] -> (head embedding [B, G, D], block modulation [B, G, 6, D])."""
        b, g = t.shape
        e = self.time_embedding(timestep_sinusoid(t, self.config.freq_dim).to(self.dtype)).float()
        e0 = self.time_projection(e.to(self.dtype)).float()
        return e.view(b, g, -1), e0.view(b, g, 6, -1)

    def patchify(self, noisy: Tensor, source: Tensor | None) -> Tensor:
        """[B, 16, F, H, W] (+ source) -> tokens [B, F, L, D]."""
        cfg = self.config
        if cfg.source_conditioning:
            x = torch.cat([noisy, torch.zeros_like(noisy) if source is None else source], dim=1)
        elif source is not None:
            raise ValueError("this DiT has no source conditioning but a source latent was given")
        else:
            x = noisy
        x = self.patch_embedding(x.to(self.dtype))  # [B, D, F, h, w]
        return x.flatten(3).permute(0, 2, 3, 1)

    def unpatchify(self, x: Tensor, grid: tuple[int, int, int]) -> Tensor:
        """Head output [B, F, L, pt*ph*pw*C] -> latent [B, C, F*pt, h*ph, w*pw]."""
        f, h, w = grid
        pt, ph, pw = self.config.patch_size
        c = self.config.latent_channels
        x = x.reshape(x.shape[0], f, h, w, pt, ph, pw, c)
        x = torch.einsum("bfhwpqrc->bcfphqwr", x)
        return x.reshape(x.shape[0], c, f * pt, h * ph, w * pw)

    def embed_reference(self, reference_latent: Tensor, grid_hw: tuple[int, int]) -> Tensor:
        """Reference latent ``[B,16,1,h,w]`` -> one frame of adapter tokens ``[B, 1, L, dim]`` (L = the video's
        tokens per frame), prepended to the video tokens at a fixed position."""
        if self.ref_adapter is None:
            raise ValueError("this DiT has no reference adapter (reference_adapter=False)")
        r = self.ref_adapter(reference_latent)
        if r.shape[2] != grid_hw[0] * grid_hw[1]:
            raise ValueError(
                f"reference latent spatial size {list(reference_latent.shape[-2:])} must match the video latent"
            )
        return r.to(self.dtype)

    @property
    def dtype(self) -> torch.dtype:
        return self.patch_embedding.weight.dtype

    # ------------------------------------------------------------------- I/O
    def save_pretrained(self, path: str) -> None:
        """Write config.json + model.safetensors (see `rtrdit.model.loading`)."""
        from rtrdit.model.loading import save_pretrained

        save_pretrained(self, path)

    @classmethod
    def from_pretrained(cls, path: str, **kwargs: object) -> DiT:
        """Load from a directory in the original Wan, diffusers or rtrdit layout."""
        from rtrdit.model.loading import load_dit

        return load_dit(path, **kwargs)  # type: ignore[arg-type]

    # --------------------------------------------------------------- checks
    def _check_latent(self, name: str, x: Tensor) -> None:
        cfg = self.config
        _, ph, pw = cfg.patch_size
        if x.ndim != 5 or x.shape[1] != cfg.latent_channels:
            raise ValueError(f"{name} must be [B, {cfg.latent_channels}, F, H, W], got {list(x.shape)}")
        if x.shape[3] % ph or x.shape[4] % pw:
            raise ValueError(f"{name} height/width {list(x.shape[3:])} must be divisible by the patch size {ph}x{pw}")

    def _timesteps(self, timestep: Tensor | float, b: int, f: int, device: torch.device) -> Tensor:
        t = torch.as_tensor(timestep, device=device, dtype=torch.float32)
        if t.ndim == 0:
            t = t.expand(b)
        if t.ndim == 1:
            if t.shape[0] != b:
                raise ValueError(f"timestep [B] must have B={b} entries, got {t.shape[0]}")
            t = t[:, None].expand(b, f)
        if t.shape != (b, f):
            raise ValueError(f"timestep must be [B] or [B, F]=[{b}, {f}], got {list(t.shape)}")
        return t

    def _run_blocks(self, x: Tensor, e0: Tensor, kvs: list[tuple[Tensor, Tensor]],
                    attends: Callable[[int], SelfAttend]) -> Tensor:
        for i, blk in enumerate(self.blocks):
            if self.gradient_checkpointing and torch.is_grad_enabled():
                x = checkpoint(blk, x, e0, kvs[i], attends(i), use_reentrant=False)
            else:
                x = blk(x, e0, kvs[i], attends(i))
        return x

    # -------------------------------------------------------------- forward
    def forward(
        self,
        noisy_latent: Tensor,
        source_latent: Tensor | None,
        timestep: Tensor | float,
        text_embeddings: Tensor,
        reference_latent: Tensor | None = None,
    ) -> Tensor:
        """One pass over a whole clip, bidirectional or block-causal per the config."""
        self._check_latent("noisy latent", noisy_latent)
        if source_latent is not None and source_latent.shape != noisy_latent.shape:
            raise ValueError(
                f"source latent {list(source_latent.shape)} must match the noisy latent {list(noisy_latent.shape)}"
            )
        cfg = self.config
        b, _, f, hh, ww = noisy_latent.shape
        pt, ph, pw = cfg.patch_size
        grid = (f // pt, hh // ph, ww // pw)
        device = noisy_latent.device

        x = self.patchify(noisy_latent, source_latent)  # [B, F, L, D]
        t = self._timesteps(timestep, b, f, device)[:, ::pt]
        t_pos = torch.arange(grid[0], device=device)
        n_ref = 0
        if reference_latent is not None:
            x = torch.cat([self.embed_reference(reference_latent, grid[1:]), x], dim=1)
            t = torch.cat([torch.zeros_like(t[:, :1]), t], dim=1)
            t_pos = torch.cat([torch.tensor([REFERENCE_T], device=device), t_pos])
            n_ref = 1
        e, e0 = self.embed_time(t)
        kvs = self.text_kv(text_embeddings)
        cos, sin = rope_cos_sin(cfg, t_pos, grid[1:])

        if cfg.attention == "block_causal":
            ids = chunk_ids(n_ref, grid[0], grid[1] * grid[2], cfg.chunk_frames, device)
            kernel: SelfAttend = BlockCausalAttention(ids, self.attention_backend)
        else:
            kernel = sdpa

        def attend(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
            return kernel(apply_rope(q, cos, sin), apply_rope(k, cos, sin), v)

        x = self._run_blocks(x, e0, kvs, lambda i: attend)
        out = self.head(x[:, n_ref:], e[:, n_ref:])
        return self.unpatchify(out, grid).float()

    # ------------------------------------------------------------ streaming
    @torch.no_grad()
    def prefill_reference(self, reference_latent: Tensor, cache: KVCache) -> None:
        """Run the reference tokens alone through the blocks (they only see themselves and
        the text) and anchor their keys/values in the cache."""
        grid_hw = cache.grid_hw
        r = self.embed_reference(reference_latent.to(cache.device), grid_hw)
        _, e0 = self.embed_time(torch.zeros(r.shape[0], 1, device=r.device))
        cos, sin = rope_cos_sin(self.config, torch.tensor([REFERENCE_T], device=r.device), grid_hw)
        refs: list[tuple[Tensor, Tensor]] = []

        def attends(i: int) -> SelfAttend:
            def attend(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
                refs.append((k, v))
                return sdpa(apply_rope(q, cos, sin), apply_rope(k, cos, sin), v)

            return attend

        self._run_blocks(r, e0, cache.text, attends)
        cache.anchor_reference(refs)

    def forward_chunk(
        self,
        noisy_chunk: Tensor,
        source_chunk: Tensor | None,
        timestep: Tensor | float,
        cache: KVCache,
        start_frame: int,
    ) -> Tensor:
        """Denoise one chunk of latent frames [B, 16, c, H, W] starting at absolute latent
        frame `start_frame`, attending to the cache (reference + earlier frames) and
        writing this chunk's keys/values into it. Calling again with the same start
        overwrites the chunk's slots (next denoising step, or the clean pass at t=0)."""
        self._check_latent("noisy chunk", noisy_chunk)
        cfg = self.config
        b, _, f, hh, ww = noisy_chunk.shape
        pt, ph, pw = cfg.patch_size
        grid = (f // pt, hh // ph, ww // pw)
        if grid[1:] != cache.grid_hw:
            raise ValueError(f"chunk latent grid {grid[1:]} does not match the cache's {cache.grid_hw}")
        if cache.text is None:
            raise RuntimeError("set the prompt on the cache first (KVCache.set_text)")

        x = self.patchify(noisy_chunk, source_chunk)
        t = self._timesteps(timestep, b, f, noisy_chunk.device)[:, ::pt]
        e, e0 = self.embed_time(t)
        cache.begin_chunk(start_frame // pt, grid[0])
        k_pos, n_q = cache.key_positions(), grid[0] * grid[1] * grid[2]
        cos, sin = rope_cos_sin(cfg, k_pos, cache.grid_hw)
        q_cos, q_sin = cos[-n_q:], sin[-n_q:]

        def attends(i: int) -> SelfAttend:
            def attend(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
                keys, values = cache.attend_keys(i, k, v)
                return sdpa(apply_rope(q, q_cos, q_sin), apply_rope(keys, cos, sin), values)

            return attend

        x = self._run_blocks(x, e0, cache.text, attends)
        return self.unpatchify(self.head(x, e), grid).float()
