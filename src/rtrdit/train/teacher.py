"""Stage 1 (paper sec. 3.2): fine-tune the bidirectional DiT with flow matching on mixed TV2V and
RV2V pairs, dropping the prompt and the reference at random so classifier-free guidance works."""

from __future__ import annotations

import argparse
from typing import Any

from rtrdit.train import launch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    launch.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    with launch.session(args, "teacher") as engine:
        train_teacher(engine)
    return 0


def drop_conditions(batch: dict[str, Any], keys: list[int], parts: tuple[Any, ...], p_text: float,
                    p_ref: float) -> tuple[Any, Any]:
    """Per-sample condition dropout: an empty (zero) prompt with probability p_text, a null
    (zero) reference latent with probability p_ref. Returns (text, reference)."""
    from rtrdit.train.randomness import per_sample_rand

    text, ref = batch["text"], batch["reference"]
    dev = text.device
    if p_text > 0:
        keep = (per_sample_rand(keys, "drop-text", *parts, device=dev) >= p_text).to(text.dtype)
        text = text * keep[:, None, None]
    if ref is not None and p_ref > 0:
        keep = (per_sample_rand(keys, "drop-ref", *parts, device=dev) >= p_ref).to(ref.dtype)
        ref = ref * keep[:, None, None, None, None]
    return text, ref


def teacher_loss(model: Any, batch: dict[str, Any], keys: list[int], parts: tuple[Any, ...],
                 shift: float, p_text: float, p_ref: float) -> Any:
    """Flow-matching loss of one micro-batch; all noise drawn from (parts, sample key)."""
    from rtrdit.train.flow_matching import add_noise, flow_matching_loss, shift_time
    from rtrdit.train.randomness import per_sample_rand, per_sample_randn

    z0 = batch["target"]
    noise = per_sample_randn(tuple(z0.shape[1:]), keys, "noise", *parts, device=z0.device)
    t = shift_time(per_sample_rand(keys, "t", *parts), shift).to(z0.device)
    text, ref = drop_conditions(batch, keys, parts, p_text, p_ref)
    pred = model(add_noise(z0, noise, t), batch["source"], t * 1000, text, ref)
    return flow_matching_loss(pred, z0, noise)


def train_teacher(engine: Any) -> None:
    """The stage-1 loop on an engine; exports OUT/model at the end."""
    from rtrdit.train.batches import BatchPlan, epoch_modes, load_micro_batch, open_dataset
    from rtrdit.train.ema import EMA
    from rtrdit.train.weights import dit_from, export_dit

    cfg, d = engine.cfg, engine.dist
    model = dit_from(cfg.model.init, cfg.model, cfg.run.seed, "teacher", attention="bidirectional")
    ds = open_dataset(cfg.data, model.config.text_dim, d.rank, engine.barrier)
    plan = BatchPlan(epoch_modes(ds), cfg.run.batch_size, d.world, engine.micro, cfg.run.seed)
    model = engine.prepare(model)
    opt = engine.make_optimizer([p for p in model.parameters() if p.requires_grad], cfg.optim.lr)
    ema = EMA(model, cfg.run.ema_decay, cfg.run.ema_start) if cfg.run.ema_decay > 0 else None
    engine.register("teacher", model, opt, ema)
    start = engine.maybe_resume()
    tc = cfg.teacher
    forward = engine.compiled(model)

    def step_fn(step: int) -> dict[str, float]:
        return engine.supervised_step(
            model, ema, ds, plan, step, "teacher", engine.lr_at(cfg.optim.lr, step),
            lambda batch, keys: teacher_loss(forward, batch, keys, (cfg.run.seed, step), tc.shift,
                                             tc.text_dropout, tc.reference_dropout))

    def sample_fn(step: int) -> None:
        from rtrdit.train.samples import write_sample_videos
        from rtrdit.train.sampling import sample_teacher

        batch, keys = load_micro_batch(ds, plan, 0, 0, d.rank, engine.device)
        lat = sample_teacher(model, batch, keys, cfg.run.seed, steps=20, shift=tc.shift, guidance=3.0)
        if d.is_main:
            write_sample_videos(lat, cfg.run.codec, engine.out / "samples", step)

    engine.run_loop(start, step_fn, sample_fn)
    export_dit(engine, model, ema, engine.out / "model")


__all__ = ["add_arguments", "drop_conditions", "run", "teacher_loss", "train_teacher"]
