"""The streaming KV cache: equivalence with the block-causal pass, rolling with the
anchored reference, the naive ablation, style switches and bounded memory."""

from __future__ import annotations

import pytest
import torch
from testing_helpers import randn, randomize_

from rtrdit.model.cache import KVCache
from rtrdit.model.dit import DiT

STEPS = (1000.0, 750.0, 375.0)  # several denoising steps per chunk, then the clean pass at 0


def _causal(cfg, chunk: int) -> DiT:
    return randomize_(DiT(cfg.replace(attention="block_causal", chunk_frames=chunk)), seed=2).eval()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
@pytest.mark.parametrize("with_reference", [False, True], ids=["tv2v", "rv2v"])
@pytest.mark.parametrize("chunk", [1, 2])
@torch.no_grad()
def test_streaming_equals_block_causal_pass(tiny_cfg, chunk: int, with_reference: bool, dtype: torch.dtype) -> None:
    """Chunk by chunk through the cache = the whole clip at once; in bf16 (a GPU's dtype: the cache holds
    bf16 keys and values) up to bf16's rounding."""
    m = _causal(tiny_cfg, chunk).to(dtype)
    tol = 1e-4 if dtype == torch.float32 else 5e-2
    n_chunks, b, h, w = 3, 2, 4, 4
    f = n_chunks * chunk
    clean, src = randn(b, 16, f, h, w, seed=1).to(dtype), randn(b, 16, f, h, w, seed=2).to(dtype)
    text = randn(b, 6, tiny_cfg.text_dim, seed=3).to(dtype)
    ref = randn(b, 16, 1, h, w, seed=4).to(dtype) if with_reference else None
    cache = KVCache(m, b, (h, w), window_frames=f)
    cache.set_text(m, text)
    cache.set_reference(m, ref)
    for c in range(n_chunks):
        sl = slice(c * chunk, (c + 1) * chunk)
        for k, t in enumerate(STEPS):
            noisy = randn(b, 16, chunk, h, w, seed=10 + 10 * c + k).to(dtype)
            got = m.forward_chunk(noisy, src[:, :, sl], t, cache, start_frame=c * chunk)
            # The whole sequence: clean past, this noisy chunk, anything in the future.
            seq = clean.clone()
            seq[:, :, sl] = noisy
            seq[:, :, sl.stop:] = randn(b, 16, f - sl.stop, h, w, seed=99).to(dtype)
            tt = torch.zeros(b, f)
            tt[:, sl] = t
            want = m(seq, src, tt, text, reference_latent=ref)[:, :, sl]
            torch.testing.assert_close(got, want, rtol=tol, atol=tol)
            assert cache.frames == (c + 1) * chunk  # re-running a chunk overwrites its slots
        m.forward_chunk(clean[:, :, sl], src[:, :, sl], 0.0, cache, start_frame=c * chunk)


@torch.no_grad()
def _stream(m: DiT, cache: KVCache, n_chunks: int, seed: int = 0) -> list[torch.Tensor]:
    outs = []
    h, w = 4, 4
    for c in range(n_chunks):
        noisy = randn(1, 16, 1, h, w, seed=seed + c)
        src = randn(1, 16, 1, h, w, seed=1000 + seed + c)
        out = m.forward_chunk(noisy, src, 800.0, cache, start_frame=c)
        outs.append(out)
        m.forward_chunk(noisy - out * 0.8, src, 0.0, cache, start_frame=c)
    return outs


def _late_outputs(m: DiT, policy: str, ref_seed: int, window: int = 3, n: int = 12) -> list[torch.Tensor]:
    text = randn(1, 4, m.config.text_dim, seed=5)
    cache = KVCache(m, 1, (4, 4), window_frames=window, policy=policy)  # type: ignore[arg-type]
    cache.set_text(m, text)
    cache.set_reference(m, randn(1, 16, 1, 4, 4, seed=ref_seed))
    outs = _stream(m, cache, n)
    return [outs[-1], torch.tensor(float(cache.has_reference))]


def test_anchored_reference_survives_rolling(tiny_cfg) -> None:
    m = _causal(tiny_cfg, 1)
    a, still_there = _late_outputs(m, "anchored", ref_seed=1)
    b, _ = _late_outputs(m, "anchored", ref_seed=2)
    assert still_there.item() == 1.0
    assert (a - b).abs().max() > 1e-3  # frame 12 still depends on the reference


def test_naive_policy_rolls_the_reference_out(tiny_cfg) -> None:
    m = _causal(tiny_cfg, 1)
    a, still_there = _late_outputs(m, "naive", ref_seed=1)
    b, _ = _late_outputs(m, "naive", ref_seed=2)
    assert still_there.item() == 0.0
    torch.testing.assert_close(a, b)  # once rolled out, the reference no longer matters


@torch.no_grad()
def test_switch_reinitialises_text_and_keeps_last_frame(tiny_cfg) -> None:
    m = _causal(tiny_cfg, 1)
    text_a, text_b = randn(1, 4, tiny_cfg.text_dim, seed=1), randn(1, 4, tiny_cfg.text_dim, seed=2)
    cache = KVCache(m, 1, (4, 4), window_frames=4)
    cache.set_text(m, text_a)
    before = _stream(m, cache, 3)
    cache.switch(m, text_b, randn(1, 16, 1, 4, 4, seed=3))
    assert cache.frames == 1 and cache.first_frame == 2 and cache.has_reference
    for (k, v), (k2, v2) in zip(cache.text, m.text_kv(text_b), strict=True):
        torch.testing.assert_close(k, k2)
        torch.testing.assert_close(v, v2)
    after = m.forward_chunk(randn(1, 16, 1, 4, 4, seed=50), randn(1, 16, 1, 4, 4, seed=51), 800.0, cache, 3)

    # The same stream without a switch: identical before, different after.
    cache2 = KVCache(m, 1, (4, 4), window_frames=4)
    cache2.set_text(m, text_a)
    before2 = _stream(m, cache2, 3)
    after2 = m.forward_chunk(randn(1, 16, 1, 4, 4, seed=50), randn(1, 16, 1, 4, 4, seed=51), 800.0, cache2, 3)
    for x, y in zip(before, before2, strict=True):
        torch.testing.assert_close(x, y)
    assert (after - after2).abs().max() > 1e-3


def test_memory_is_bounded_by_the_window(tiny_cfg) -> None:
    m = _causal(tiny_cfg, 1)
    cache = KVCache(m, 1, (4, 4), window_frames=4)
    cache.set_text(m, randn(1, 4, tiny_cfg.text_dim))
    cache.set_reference(m, randn(1, 16, 1, 4, 4))
    _stream(m, cache, 10)
    after_10 = cache.memory_bytes()
    _stream_from(m, cache, 10, 1000)
    assert cache.memory_bytes() == after_10
    assert cache.frames == 4 and cache.first_frame == 996 and cache.has_reference


@torch.no_grad()
@pytest.mark.parametrize("keep", [0, 1])
def test_switch_keep_frames_decides_what_the_old_style_leaves(tiny_cfg, keep: int) -> None:
    """keep_frames=0 empties the self-attention cache: after the switch the output no longer depends on
    what was streamed before; with the paper's 1 kept frame it still does."""
    m = _causal(tiny_cfg, 1)
    text_b, ref = randn(1, 4, tiny_cfg.text_dim, seed=2), randn(1, 16, 1, 4, 4, seed=3)
    after = []
    for history in (0, 7):  # two different streams before the switch
        cache = KVCache(m, 1, (4, 4), window_frames=4)
        cache.set_text(m, randn(1, 4, tiny_cfg.text_dim, seed=1 + history))
        _stream(m, cache, 3, seed=history)
        cache.switch(m, text_b, ref, keep_frames=keep)
        assert cache.frames == keep and cache.first_frame == 3 - keep and cache.has_reference
        after.append(m.forward_chunk(randn(1, 16, 1, 4, 4, seed=50), randn(1, 16, 1, 4, 4, seed=51), 800.0, cache, 3))
    if keep == 0:
        torch.testing.assert_close(after[0], after[1])
    else:
        assert (after[0] - after[1]).abs().max() > 1e-3


@torch.no_grad()
def _stream_from(m: DiT, cache: KVCache, start: int, stop: int) -> None:
    x = randn(1, 16, 1, 4, 4)
    for c in range(start, stop):
        m.forward_chunk(x, x, 0.0, cache, start_frame=c)


def test_cache_holds_no_graph(tiny_cfg) -> None:
    m = _causal(tiny_cfg, 1)
    cache = KVCache(m, 1, (4, 4), window_frames=4)
    cache.set_text(m, randn(1, 4, tiny_cfg.text_dim))
    out = m.forward_chunk(randn(1, 16, 1, 4, 4), None, 500.0, cache, 0)
    assert out.requires_grad
    assert all(not t.requires_grad for t in cache.tensors())


def test_out_of_order_chunks_are_refused(tiny_cfg) -> None:
    m = _causal(tiny_cfg, 1)
    cache = KVCache(m, 1, (4, 4), window_frames=4)
    cache.set_text(m, randn(1, 4, tiny_cfg.text_dim))
    with pytest.raises(ValueError, match="stream is at frame 0"):
        m.forward_chunk(randn(1, 16, 1, 4, 4), None, 500.0, cache, 2)
    with pytest.raises(ValueError, match="grid"):
        m.forward_chunk(randn(1, 16, 1, 8, 8), None, 500.0, cache, 0)
