"""Stage 2 (paper sec. 3.3): the causal few-step student, initialised from the teacher and
regressed onto the teacher's ODE trajectories at its K fixed times, under the block-causal mask.

Each chunk of latent frames gets its own step index k (as in CausVid's ODE initialisation): the
chunk's input is the teacher state at time s_k, and the student's clean estimate from it is
regressed onto the ODE's end point.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from rtrdit.train import launch

log = logging.getLogger("rtrdit.train")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    launch.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    with launch.session(args, "student") as engine:
        train_student(engine)
    return 0


def student_loss(model: Any, batch: dict[str, Any], keys: list[int], parts: tuple[Any, ...],
                 times: list[float], chunk_frames: int) -> Any:
    """Regression of the clean estimate from per-chunk ODE states onto the ODE end point."""
    import torch

    from rtrdit.train.flow_matching import x0_from_flow
    from rtrdit.train.randomness import per_sample_rand

    traj = batch["trajectory"]  # [B, K+1, 16, F, h, w]
    b, k1, _, f = traj.shape[:4]
    n_chunks = -(-f // chunk_frames)
    u = per_sample_rand(keys, "student-k", *parts, shape=(n_chunks,), device=traj.device)
    k_chunk = (u * (k1 - 1)).long().clamp_max(k1 - 2)  # [B, chunks]
    k_frame = k_chunk.repeat_interleave(chunk_frames, dim=1)[:, :f]  # [B, F]
    idx = k_frame[:, None, None, :, None, None].expand(b, 1, *traj.shape[2:])
    x_in = torch.gather(traj, 1, idx).squeeze(1)
    t = torch.tensor(times, device=traj.device)[k_frame]  # [B, F]
    flow = model(x_in, batch["source"], t * 1000, batch["text"], batch["reference"])
    x0 = x0_from_flow(x_in, flow, t)
    return (x0.float() - traj[:, -1].float()).pow(2).mean()


def train_student(engine: Any) -> None:
    """The stage-2 loop; makes the ODE pairs first when they are absent; exports OUT/model."""
    from rtrdit.train.batches import BatchPlan, load_micro_batch
    from rtrdit.train.config import ConfigError
    from rtrdit.train.ema import EMA
    from rtrdit.train.ode_pairs import ODEPairDataset, generate_ode_pairs
    from rtrdit.train.rollout import generator_times
    from rtrdit.train.weights import dit_from, export_dit

    cfg, d, sc = engine.cfg, engine.dist, engine.cfg.student
    times = generator_times(sc.timesteps, sc.shift)
    if not (Path(sc.ode_dir) / "index.json").is_file():
        log.warning("ODE pairs %s are absent: sampling them from the teacher now", sc.ode_dir)
        generate_ode_pairs(engine)
    ds = ODEPairDataset(sc.ode_dir)
    if any(abs(a - b) > 1e-5 for a, b in zip(ds.times, times, strict=False)) or len(ds.times) != len(times):
        raise ConfigError(f"ODE pairs in {sc.ode_dir} were made for times {ds.times}, the config asks {times}")
    model = dit_from(sc.teacher, cfg.model, cfg.run.seed, "student (from the teacher)",
                     attention="block_causal", chunk_frames=sc.chunk_frames)
    plan = BatchPlan(tuple(ds.modes), cfg.run.batch_size, d.world, engine.micro, cfg.run.seed)
    model = engine.prepare(model)
    opt = engine.make_optimizer([p for p in model.parameters() if p.requires_grad], cfg.optim.lr)
    ema = EMA(model, cfg.run.ema_decay, cfg.run.ema_start) if cfg.run.ema_decay > 0 else None
    engine.register("student", model, opt, ema)
    start = engine.maybe_resume()
    forward = engine.compiled(model)

    def step_fn(step: int) -> dict[str, float]:
        return engine.supervised_step(
            model, ema, ds, plan, step, "student", engine.lr_at(cfg.optim.lr, step),
            lambda batch, keys: student_loss(forward, batch, keys, (cfg.run.seed, step), times, sc.chunk_frames))

    def sample_fn(step: int) -> None:
        from rtrdit.train.distill import sample_generator
        from rtrdit.train.samples import write_sample_videos

        batch, keys = load_micro_batch(ds, plan, 0, 0, d.rank, engine.device)
        lat = sample_generator(model, batch, keys, cfg.run.seed, times)
        if d.is_main:
            write_sample_videos(lat, cfg.run.codec, engine.out / "samples", step)

    engine.run_loop(start, step_fn, sample_fn)
    export_dit(engine, model, ema, engine.out / "model")


__all__ = ["add_arguments", "run", "student_loss", "train_student"]
