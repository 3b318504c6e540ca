"""The DiT's forward: shapes, per-frame timesteps, causality, conditioning, refusals."""

from __future__ import annotations

import pytest
import torch
from testing_helpers import randn, randomize_

from rtrdit.model.dit import DiT


def _model(cfg, **kw) -> DiT:
    return randomize_(DiT(cfg.replace(**kw)), seed=1).eval()


def _inputs(cfg, b=2, f=4, h=4, w=6):
    return randn(b, 16, f, h, w, seed=1), randn(b, 16, f, h, w, seed=2), randn(b, 5, cfg.text_dim, seed=3)


@torch.no_grad()
def test_shapes_and_none_source_means_zero(tiny_cfg) -> None:
    m = _model(tiny_cfg)
    x, src, text = _inputs(tiny_cfg)
    out = m(x, None, torch.tensor([500.0, 10.0]), text)
    assert out.shape == x.shape and out.dtype == torch.float32
    torch.testing.assert_close(out, m(x, torch.zeros_like(x), torch.tensor([500.0, 10.0]), text))
    assert not torch.allclose(out, m(x, src, torch.tensor([500.0, 10.0]), text))


@torch.no_grad()
def test_per_frame_timesteps(tiny_cfg) -> None:
    m = _model(tiny_cfg)
    x, src, text = _inputs(tiny_cfg)
    scalar = m(x, src, torch.tensor([300.0, 300.0]), text)
    per_frame = m(x, src, torch.full((2, 4), 300.0), text)
    torch.testing.assert_close(scalar, per_frame)
    mixed = m(x, src, torch.tensor([[300.0, 300.0, 900.0, 900.0]] * 2), text)
    assert not torch.allclose(mixed[:, :, 2:], scalar[:, :, 2:])


@torch.no_grad()
def test_block_causal_ignores_the_future_bidirectional_does_not(tiny_cfg) -> None:
    x, src, text = _inputs(tiny_cfg)
    x2 = x.clone()
    x2[:, :, 2:] = randn(2, 16, 2, 4, 6, seed=7)
    causal = _model(tiny_cfg, attention="block_causal", chunk_frames=2)
    a, b = causal(x, src, 400.0, text), causal(x2, src, 400.0, text)
    torch.testing.assert_close(a[:, :, :2], b[:, :, :2])
    assert not torch.allclose(a[:, :, 2:], b[:, :, 2:])
    bidi = _model(tiny_cfg)
    assert not torch.allclose(bidi(x, src, 400.0, text)[:, :, :2], bidi(x2, src, 400.0, text)[:, :, :2])


@torch.no_grad()
def test_reference_conditions_every_frame(tiny_cfg) -> None:
    m = _model(tiny_cfg, attention="block_causal", chunk_frames=1)
    x, src, text = _inputs(tiny_cfg)
    r1, r2 = randn(2, 16, 1, 4, 6, seed=4), randn(2, 16, 1, 4, 6, seed=5)
    a, b = m(x, src, 500.0, text, reference_latent=r1), m(x, src, 500.0, text, reference_latent=r2)
    assert a.shape == x.shape
    for f in range(4):
        assert not torch.allclose(a[:, :, f], b[:, :, f])
    assert not torch.allclose(a, m(x, src, 500.0, text))


@torch.no_grad()
def test_text_conditions(tiny_cfg) -> None:
    m = _model(tiny_cfg)
    x, src, text = _inputs(tiny_cfg)
    assert not torch.allclose(m(x, src, 500.0, text), m(x, src, 500.0, text.flip(1)))


def test_bad_shapes_are_refused_with_their_shapes(tiny_cfg) -> None:
    m = _model(tiny_cfg)
    x, src, text = _inputs(tiny_cfg)
    with pytest.raises(ValueError, match=r"\[2, 8, 4, 4, 6\]"):
        m(x[:, :8], None, 1.0, text)
    with pytest.raises(ValueError, match="divisible"):
        m(x[..., :5], None, 1.0, text)
    with pytest.raises(ValueError, match="source latent"):
        m(x, src[:, :, :2], 1.0, text)
    with pytest.raises(ValueError, match="text embeddings"):
        m(x, src, 1.0, text[..., :3])
    with pytest.raises(ValueError, match="timestep"):
        m(x, src, torch.ones(2, 3), text)
    with pytest.raises(ValueError, match="reference latent spatial size"):
        m(x, src, 1.0, text, reference_latent=randn(2, 16, 1, 2, 2))


def test_gradients_flow_with_checkpointing(tiny_cfg) -> None:
    m = _model(tiny_cfg, attention="block_causal")
    x, src, text = _inputs(tiny_cfg)
    m.gradient_checkpointing = True
    m(x, src, 500.0, text, reference_latent=randn(2, 16, 1, 4, 6)).square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())


@torch.no_grad()
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
def test_half_precision_weights_stay_near_float32(tiny_cfg, dtype: torch.dtype) -> None:
    """A GPU runs the DiT with bf16 (or, on an older GPU, fp16) weights: every layer takes them, the
    float32 LayerNorms with affine weights (cross_attn_norm) included, and the flow stays near float32's."""
    assert tiny_cfg.cross_attn_norm
    m = _model(tiny_cfg, attention="block_causal", chunk_frames=2)
    x, src, text = _inputs(tiny_cfg)
    ref = randn(2, 16, 1, 4, 6, seed=4)
    want = m(x, src, 400.0, text, reference_latent=ref)
    half = _model(tiny_cfg, attention="block_causal", chunk_frames=2).to(dtype)
    assert half.dtype == dtype and half.blocks[0].norm3.weight.dtype == dtype
    got = half(x.to(dtype), src.to(dtype), 400.0, text.to(dtype), reference_latent=ref.to(dtype))
    assert got.dtype == torch.float32
    assert ((got - want).norm() / want.norm()).item() < 0.03


@torch.no_grad()
@pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")  # the CPU build is unfused
@pytest.mark.parametrize("with_reference", [False, True], ids=["tv2v", "rv2v"])
def test_flex_attention_backend_equals_sdpa(tiny_cfg, with_reference: bool) -> None:
    """On a GPU the block-causal rule runs as a FlexAttention block mask ("auto"); its CPU build (eager,
    forward only) must give the dense SDPA mask's flow, also for token counts that are no multiple of
    FlexAttention's 128-token blocks (here 6 a frame: 36, or 42 with the reference group)."""
    m = _model(tiny_cfg, attention="block_causal", chunk_frames=2)
    x, src, text = _inputs(tiny_cfg, f=6)
    ref = randn(2, 16, 1, 4, 6, seed=4) if with_reference else None
    t = torch.tensor([[900.0] * 2 + [500.0] * 2 + [100.0] * 2] * 2)
    m.attention_backend = "sdpa"
    want = m(x, src, t, text, reference_latent=ref)
    m.attention_backend = "flex"
    torch.testing.assert_close(m(x, src, t, text, reference_latent=ref), want, rtol=1e-4, atol=1e-4)
