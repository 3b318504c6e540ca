"""Stage 3 (paper sec. 3.3): Self Forcing rollouts of the causal generator, trained with DMD against
the frozen teacher (real score, with CFG) and a fake score that learns the generator's
distribution, plus the adversarial term of a GAN head on the fake score.

Every step updates the fake score (and GAN head) on fresh no-grad rollouts; every
`critic_updates_per_generator`-th step first updates the generator, so the fake score gets that
many updates per generator update.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rtrdit.train import launch

log = logging.getLogger("rtrdit.train")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    launch.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    with launch.session(args, "distill") as engine:
        train_distill(engine)
    return 0


def rollout_inputs(shape: tuple[int, ...], keys: list[int], parts: tuple[Any, ...], k: int,
                   device: torch.device) -> tuple[Tensor, Tensor, int]:
    """(initial noise, re-noising noise [K, B, ...], exit step): the exit step is drawn from
    (parts) alone, so it is the same for every chunk, sample and rank."""
    from rtrdit.train.randomness import per_sample_randn, shared_randint

    noise = per_sample_randn(shape, keys, "rollout", *parts, device=device)
    step_noise = torch.stack([per_sample_randn(shape, keys, "renoise", j, *parts, device=device)
                              for j in range(max(k - 1, 1))])
    return noise, step_noise, shared_randint(k, "exit", *parts)


@torch.no_grad()
def sample_generator(model: Any, batch: dict[str, Any], keys: list[int], seed: int, times: list[float]) -> Tensor:
    """A full K-step causal rollout (for sample videos and evaluation)."""
    from rtrdit.train.rollout import self_forcing_rollout

    shape = tuple(batch["target"].shape[1:])
    noise, step_noise, _ = rollout_inputs(shape, keys, ("sample", seed), len(times), batch["target"].device)
    out, _ = self_forcing_rollout(model, noise, batch["source"], batch["text"], batch["reference"], times,
                                  len(times) - 1, step_noise)
    return out


def _repeat(x: Tensor | None, r: int) -> Tensor | None:
    return None if x is None else x.repeat(r, *([1] * (x.ndim - 1)))


def score_functions(real: Any, critic: Any, batch: dict[str, Any], guidance: float) -> tuple[Any, Any]:
    """The DiT-backed (real_x0, critic) callables of `rtrdit.train.dmd` for one batch."""
    from rtrdit.train.flow_matching import x0_from_flow
    from rtrdit.train.sampling import guided_velocity

    src, text, ref = batch["source"], batch["text"], batch["reference"]
    b = src.shape[0]
    v_real = guided_velocity(real, src, text, ref, guidance)

    def real_x0(x_t: Tensor, t: Tensor) -> Tensor:
        return x0_from_flow(x_t, v_real(x_t, t), t)

    def critic_fn(x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor | None]:
        r = x_t.shape[0] // b
        return critic(x_t, _repeat(src, r), t * 1000, _repeat(text, r), _repeat(ref, r))

    return real_x0, critic_fn


def train_distill(engine: Any) -> None:
    """The stage-3 loop; exports the generator (EMA) as OUT/model."""
    from rtrdit.train.batches import BatchPlan, epoch_modes, load_micro_batch, open_dataset
    from rtrdit.train.dmd import critic_loss, critic_times, generator_loss
    from rtrdit.train.ema import EMA
    from rtrdit.train.gan import FakeScore
    from rtrdit.train.randomness import per_sample_rand, per_sample_randn
    from rtrdit.train.rollout import generator_times, self_forcing_rollout
    from rtrdit.train.weights import dit_from, export_dit

    cfg, d, dc = engine.cfg, engine.dist, engine.cfg.distill
    seed = cfg.run.seed
    real = dit_from(dc.teacher, cfg.model, seed, "real score (teacher)", attention="bidirectional")
    fake = dit_from(dc.teacher, cfg.model, seed, "fake score (teacher)", attention="bidirectional")
    gen_from = dc.student
    if not Path(dc.student).is_dir():
        log.warning("generator: student %s is absent, initialising from the teacher", dc.student)
        gen_from = dc.teacher
    gen = dit_from(gen_from, cfg.model, seed, "generator", attention="block_causal", chunk_frames=dc.chunk_frames)
    use_gan = dc.gan_weight > 0 or dc.gan_disc_weight > 0
    with torch.random.fork_rng(devices=[]):  # the GAN head's initialisation, equal on every rank and run
        torch.manual_seed(seed + 1)
        critic = FakeScore(fake, dc.gan_blocks if use_gan else [], dc.gan_registers)
    ds = open_dataset(cfg.data, gen.config.text_dim, d.rank, engine.barrier)
    plan = BatchPlan(epoch_modes(ds), cfg.run.batch_size, d.world, engine.micro, seed)
    real = engine.prepare(real, trainable=False)
    gen = engine.prepare(gen)
    critic = engine.prepare(critic)
    gen_opt = engine.make_optimizer([p for p in gen.parameters() if p.requires_grad], cfg.optim.lr)
    critic_opt = engine.make_optimizer([p for p in critic.parameters() if p.requires_grad], dc.critic_lr)
    ema = EMA(gen, cfg.run.ema_decay, cfg.run.ema_start) if cfg.run.ema_decay > 0 else None
    engine.register("generator", gen, gen_opt, ema)
    engine.register("critic", critic, critic_opt)
    start = engine.maybe_resume()
    times = generator_times(dc.timesteps, dc.shift)
    ratio = max(1, dc.critic_updates_per_generator)

    def rollout(batch: dict[str, Any], keys: list[int], parts: tuple[Any, ...], grad: bool) -> Tensor:
        shape = tuple(batch["target"].shape[1:])
        noise, step_noise, exit_step = rollout_inputs(shape, keys, parts, len(times), engine.device)
        with torch.set_grad_enabled(grad):
            out, _ = self_forcing_rollout(gen, noise, batch["source"], batch["text"], batch["reference"], times,
                                          exit_step, step_noise)
        return out

    def critic_draws(keys: list[int], parts: tuple[Any, ...], shape: tuple[int, ...]) -> tuple[Tensor, Tensor]:
        u = per_sample_rand(keys, "critic-t", *parts)
        t = critic_times(u, dc.shift, dc.t_min, dc.t_max).to(engine.device)
        return t, per_sample_randn(shape, keys, "critic-noise", *parts, device=engine.device)

    def step_fn(step: int) -> dict[str, float]:
        metrics: dict[str, float] = {}
        gen.train()
        critic.train()
        if step % ratio == 0:  # generator update
            g_total: dict[str, float] = {}
            for a in range(plan.accum):
                batch, keys = load_micro_batch(ds, plan, step, a, d.rank, engine.device)
                parts = ("gen", seed, step)
                with engine.autocast():
                    x = rollout(batch, keys, parts, grad=True)
                    t, noise = critic_draws(keys, parts, tuple(x.shape[1:]))
                    real_x0, critic_fn = score_functions(real, critic, batch, dc.guidance)
                    loss, m = generator_loss(x, noise, t, real_x0, critic_fn, dc.gan_weight)
                engine.backward(loss, gen, a, plan.accum)
                for k, v in {"gen_loss": float(loss.detach()), **m}.items():
                    g_total[k] = g_total.get(k, 0.0) + v / plan.accum
            critic_opt.zero_grad(set_to_none=True)  # the GAN term's gradients on the critic are not a critic update
            g_total["gen_lr"] = engine.lr_at(cfg.optim.lr, step // ratio, -(-cfg.run.steps // ratio))  # of ceil updates
            g_total["gen_grad_norm"] = engine.step_optimizer("generator", cfg.optim.grad_clip, g_total["gen_lr"])
            if ema is not None:
                ema.update(gen, step)
            metrics.update(g_total)
        c_total: dict[str, float] = {}
        for a in range(plan.accum):
            batch, keys = load_micro_batch(ds, plan, step, a, d.rank, engine.device)
            parts = ("critic", seed, step)
            with engine.autocast():
                x = rollout(batch, keys, parts, grad=False)
                t, noise = critic_draws(keys, parts, tuple(x.shape[1:]))
                _, critic_fn = score_functions(real, critic, batch, dc.guidance)
                loss, m = critic_loss(x, batch["target"] if use_gan else None, noise, t, critic_fn,
                                      dc.gan_disc_weight)
            engine.backward(loss, critic, a, plan.accum)
            for k, v in {"critic_loss": float(loss.detach()), **m}.items():
                c_total[k] = c_total.get(k, 0.0) + v / plan.accum
        c_total["critic_grad_norm"] = engine.step_optimizer("critic", cfg.optim.grad_clip, dc.critic_lr)
        metrics.update(c_total)
        return metrics

    def sample_fn(step: int) -> None:
        from rtrdit.train.samples import write_sample_videos

        batch, keys = load_micro_batch(ds, plan, 0, 0, d.rank, engine.device)
        lat = sample_generator(gen, batch, keys, seed, times)
        if d.is_main:
            write_sample_videos(lat, cfg.run.codec, engine.out / "samples", step)

    engine.run_loop(start, step_fn, sample_fn)
    export_dit(engine, gen, ema, engine.out / "model")


__all__ = ["add_arguments", "rollout_inputs", "run", "sample_generator", "score_functions", "train_distill"]
