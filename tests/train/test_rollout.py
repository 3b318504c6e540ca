"""Self Forcing rollout: gradients only through the exit step, none through the KV cache."""

from __future__ import annotations

import torch

from rtrdit.model.config import get_config
from rtrdit.model.dit import DiT
from rtrdit.train.rollout import generator_times, self_forcing_rollout

B, F, HW = 2, 3, 8


def _setup(seed: int = 0) -> tuple[DiT, dict[str, torch.Tensor], list[float]]:
    torch.manual_seed(seed)
    model = DiT(get_config("tiny", attention="block_causal", chunk_frames=1))
    with torch.no_grad():  # a non-zero head, so outputs depend on the inputs
        model.head.head.weight.normal_(std=0.2)
    g = torch.Generator().manual_seed(seed)
    inputs = {
        "noise": torch.randn(B, 16, F, HW, HW, generator=g),
        "source": torch.randn(B, 16, F, HW, HW, generator=g),
        "text": torch.randn(B, 8, 16, generator=g),
        "reference": torch.randn(B, 16, 1, HW, HW, generator=g),
        "step_noise": torch.randn(2, B, 16, F, HW, HW, generator=g),
    }
    return model, inputs, generator_times([1000, 750, 500], 5.0)


def _roll(model: DiT, x: dict[str, torch.Tensor], times: list[float], exit_step: int):
    return self_forcing_rollout(model, x["noise"], x["source"], x["text"], x["reference"], times, exit_step,
                                x["step_noise"])


def test_only_the_exit_step_of_each_chunk_keeps_a_graph() -> None:
    model, x, times = _setup()
    calls: list[bool] = []
    model.blocks[0].register_forward_hook(lambda *_: calls.append(torch.is_grad_enabled()))
    x["noise"].requires_grad_(True)
    out, cache = _roll(model, x, times, exit_step=1)
    # the reference prefill, then per chunk: steps 0 and 1 (only the exit step 1 with grad) + the clean pass
    assert calls == [False] + [False, True, False] * F
    out.square().sum().backward()
    assert x["noise"].grad is None  # the steps before the exit ran without a graph
    for blk in model.blocks:
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in blk.self_attn.parameters())
        assert all(p.grad is not None for p in blk.ffn.parameters())
        # prompt keys/values are cached once without grad, as in the public Self Forcing code
        assert blk.cross_attn.k.weight.grad is None
    for t in cache.tensors():
        assert t.grad_fn is None and not t.requires_grad


def test_no_gradient_flows_through_the_cache_between_chunks() -> None:
    model, x, times = _setup(1)
    x["noise"].requires_grad_(True)
    out, _ = _roll(model, x, times, exit_step=0)
    (g,) = torch.autograd.grad(out[:, :, 1].square().sum(), x["noise"])
    assert g[:, :, 1].abs().sum() > 0  # the chunk's own noise matters (exit at step 0) ...
    assert g[:, :, 0].abs().sum() == 0 and g[:, :, 2].abs().sum() == 0  # ... earlier chunks only via the cache


def test_values_do_not_depend_on_grad_mode_and_checkpointing_gives_the_same_gradients() -> None:
    model, x, times = _setup(2)
    with torch.no_grad():
        ref, _ = _roll(model, x, times, exit_step=2)
    out, _ = _roll(model, x, times, exit_step=2)
    torch.testing.assert_close(out, ref)
    out.square().sum().backward()
    plain = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    model.gradient_checkpointing = True  # per-block recompute in backward, after the cache moved on
    out2, _ = _roll(model, x, times, exit_step=2)
    torch.testing.assert_close(out2, ref)
    out2.square().sum().backward()
    ckpt = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert plain.keys() == ckpt.keys() and plain
    for n, value in plain.items():
        torch.testing.assert_close(ckpt[n], value, rtol=1e-4, atol=1e-6)


def test_full_rollout_equals_the_streaming_sampler() -> None:
    """What the generator is trained on is what streaming inference runs: with the exit at the
    last step, the rollout equals rtrdit.stream.sampler chunk by chunk with the same noises."""
    from rtrdit.model.cache import KVCache
    from rtrdit.stream.sampler import default_timesteps, denoise_chunk, write_clean_context

    model, x, times = _setup(3)
    # the configs' K=2 steps are the sampler's default K=2 steps
    k2 = generator_times([1000.0, 500.0], 5.0)
    assert all(abs(a - b) < 1e-6 for a, b in zip(k2, default_timesteps(2, 5.0), strict=True))
    with torch.no_grad():
        out, _ = _roll(model, x, times, exit_step=len(times) - 1)
        cache = KVCache(model, B, (HW, HW), window_frames=F)
        cache.set_text(model, x["text"])
        cache.set_reference(model, x["reference"])
        chunks = []
        for f in range(F):
            sl = slice(f, f + 1)
            noises = [x["noise"][:, :, sl]] + [x["step_noise"][k][:, :, sl] for k in range(len(times) - 1)]
            clean = denoise_chunk(model, cache, x["source"][:, :, sl], noises, times, f)
            write_clean_context(model, cache, clean, x["source"][:, :, sl], f)
            chunks.append(clean)
    torch.testing.assert_close(out, torch.cat(chunks, dim=2))
