"""Training configuration as dataclasses, read from YAML: one file per stage, every value defaulted.

A YAML file holds the common sections (`model`, `data`, `optim`, `run`) and the section of its
stage (`teacher`, `student`, `distill`); unknown keys and values of the wrong type are refused with their
dotted name (`1e-4`, which YAML reads as text, is taken as a number).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rtrdit.errors import first_line


class ConfigError(ValueError):
    """A config file that cannot be used (one readable line)."""


@dataclass
class ModelSection:
    preset: str = "tiny"  # rtrdit.model.config preset the fresh initialisation uses
    overrides: dict[str, Any] = field(default_factory=dict)  # DiTConfig fields replaced on the preset
    init: str | None = None  # directory of a DiT to start from (rtrdit/Wan/diffusers layout); None = fresh
    gradient_checkpointing: bool = False  # recompute each block in backward (activation checkpointing)


@dataclass
class DataSection:
    shards: str = "data/tiny/shards"  # ShardDataset directory (rtrdit data encode output)
    build_if_missing: bool = False  # build the small built-in dataset there when it is absent (tiny configs)
    build_clips_per_image: int = 2  # clips per shipped photo the built-in builder animates
    build_size: list[int] = field(default_factory=lambda: [64, 64])  # (width, height) of built clips
    build_frames: int = 9  # video frames per built clip (1 + 4k)
    seed: int = 0  # ShardDataset's seed (which mode, row, window each index draws)
    split: str | None = None  # manifest split to train on (e.g. "train" keeps "val" clips held out); None = all rows
    reference_swap: float = 0.0  # RV2V: probability of a reference from another clip of the same style
    paraphrases: bool = True  # TV2V: draw among the stored prompts of the row's style (built-in prompter rows)
    synthetic: int = 0  # > 0: use this many random-latent samples instead of shards (no data needed)
    synthetic_frames: int = 3  # latent frames of a synthetic sample
    synthetic_hw: list[int] = field(default_factory=lambda: [8, 8])  # latent (h, w) of a synthetic sample
    synthetic_text_tokens: int = 8  # text tokens of a synthetic sample
    synthetic_rv2v_fraction: float = 0.5  # fraction of synthetic samples in RV2V mode


@dataclass
class OptimSection:
    lr: float = 1e-4  # AdamW learning rate of the trained network (generator in distill)
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])  # AdamW betas
    weight_decay: float = 0.0  # AdamW weight decay
    eps: float = 1e-8  # AdamW epsilon
    grad_clip: float = 1.0  # clip the global gradient norm to this (0 = off)
    warmup_steps: int = 0  # linear learning-rate warm-up
    decay_steps: int = 0  # linear decay to 0 over the run's last N steps (warm-up, stable, decay); 0 = constant


@dataclass
class RunSection:
    out: str = "runs/tiny/teacher"  # output directory (checkpoints, logs, exported model)
    steps: int = 100  # optimiser steps to train
    seed: int = 0  # all randomness derives from (seed, step, sample), so runs are reproducible
    batch_size: int = 2  # global batch: world_size x micro_batch_size x grad_accum
    micro_batch_size: int = 0  # per process and forward; 0 = batch_size / world_size (no accumulation)
    parallel: str = "ddp"  # "ddp" (replicated, gradients all-reduced) or "fsdp" (FSDP2 fully_shard per block)
    mixed_precision: str = "auto"  # "auto" (bf16 autocast on GPU, fp32 on CPU), "bf16" (autocast on any device) or "fp32"
    device: str = "auto"  # "auto" (cuda:LOCAL_RANK if available else cpu), "cpu" or "cuda"
    compile: bool = False  # torch.compile the DiT's training forward (teacher, student; on CPU needs a C++ compiler)
    ema_decay: float = 0.999  # EMA of the trained generator (0 = no EMA)
    ema_start: int = 0  # step from which the EMA tracks (before it copies the weights)
    log_every: int = 1  # JSONL/TensorBoard logging interval in steps
    ckpt_every: int = 50  # checkpoint interval in steps (and always at the end)
    keep_checkpoints: int = 2  # newest checkpoints kept on disk
    sample_every: int = 0  # write sample videos every N steps (0 = never; needs `codec`)
    codec: str | None = None  # latent codec spec for sample videos ("tiny", a directory, or None)
    tensorboard: bool = True  # also write TensorBoard event files (needs the [train] extra)
    progress: bool = True  # tqdm progress bar on rank 0


@dataclass
class TeacherSection:
    shift: float = 5.0  # flow-schedule shift of the training timesteps (Wan: 5)
    text_dropout: float = 0.1  # probability of an empty prompt (classifier-free guidance)
    reference_dropout: float = 0.1  # probability of a null (zero) reference in RV2V samples


@dataclass
class StudentSection:
    teacher: str = "runs/tiny/teacher/model"  # teacher DiT directory (stage 1 output)
    timesteps: list[float] = field(default_factory=lambda: [1000.0, 500.0])  # K fixed steps before the shift
    shift: float = 5.0  # flow-schedule shift applied to `timesteps` and the ODE grid
    chunk_frames: int = 1  # latent frames per causal chunk
    ode_dir: str = "runs/tiny/ode"  # ODE-pair shards (made by `rtrdit train ode` if absent)
    ode_steps: int = 20  # Euler steps of the teacher ODE
    ode_guidance: float = 3.0  # classifier-free guidance scale of the teacher ODE
    ode_samples: int = 0  # dataset samples turned into ODE pairs (0 = all)


@dataclass
class DistillSection:
    teacher: str = "runs/tiny/teacher/model"  # real score (frozen) and fake-score init (stage 1 output)
    student: str = "runs/tiny/student/model"  # generator init (stage 2 output)
    timesteps: list[float] = field(default_factory=lambda: [1000.0, 500.0])  # generator's K steps before shift
    shift: float = 5.0  # flow-schedule shift of the generator steps and critic timesteps
    chunk_frames: int = 1  # latent frames per causal chunk
    guidance: float = 3.0  # CFG scale of the real score: cond + g * (cond - uncond)
    critic_lr: float = 2e-5  # AdamW lr of the fake score and GAN head
    critic_updates_per_generator: int = 5  # fake-score updates per generator update
    t_min: float = 0.02  # critic timesteps are clamped to [t_min, t_max]
    t_max: float = 0.98  # upper clamp of the critic times
    gan_weight: float = 1e-2  # weight of the GAN generator term added to the DMD loss (0 = DMD only)
    gan_disc_weight: float = 1.0  # weight of the discriminator loss in the critic update
    gan_blocks: list[int] = field(default_factory=lambda: [-1])  # fake-score blocks whose features feed the head
    gan_registers: int = 4  # learned register tokens of the GAN head


@dataclass
class TrainConfig:
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    optim: OptimSection = field(default_factory=OptimSection)
    run: RunSection = field(default_factory=RunSection)
    teacher: TeacherSection = field(default_factory=TeacherSection)
    student: StudentSection = field(default_factory=StudentSection)
    distill: DistillSection = field(default_factory=DistillSection)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _fill(cls: type, values: Any, where: str) -> Any:
    if values is None:
        return cls()
    if not isinstance(values, dict):
        raise ConfigError(f"{where or 'config'} must be a mapping, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(f"unknown config key {where + '.' if where else ''}{key}")
        ftype = fields[key].type
        sub = _SECTIONS.get(ftype) if isinstance(ftype, str) else None
        name = f"{where + '.' if where else ''}{key}"
        kwargs[key] = _fill(sub, value, name) if sub else _typed(value, str(ftype), name)
    return cls(**kwargs)


def _number(value: Any, kind: str, name: str) -> int | float:
    """`value` as an int or float; YAML reads `1e-4` (no dot) as a string, so numeric strings are taken."""
    if isinstance(value, str) and kind == "float":
        try:
            return float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind == "int" and isinstance(value, float)
                                                                            and not value.is_integer()):
        raise ConfigError(f"{name} must be {'an integer' if kind == 'int' else 'a number'}, got {value!r}")
    return int(value) if kind == "int" else float(value)


def _typed(value: Any, ftype: str, name: str) -> Any:
    """Check a leaf value against its field's annotation (a string here), so a wrong type is one line
    naming the key instead of a TypeError deep in training."""
    if ftype.endswith(" | None"):
        return None if value is None else _typed(value, ftype.removesuffix(" | None"), name)
    if ftype in ("int", "float"):
        return _number(value, ftype, name)
    if ftype == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r}")
        return value
    if ftype == "str":
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be a string, got {value!r}")
        return value
    if ftype in ("list[int]", "list[float]"):
        if not isinstance(value, list):
            raise ConfigError(f"{name} must be a list, got {value!r}")
        return [_number(v, ftype[5:-1], f"{name}[{i}]") for i, v in enumerate(value)]
    if ftype.startswith("dict[") and not isinstance(value, dict):
        raise ConfigError(f"{name} must be a mapping, got {value!r}")
    return value


_SECTIONS: dict[str, type] = {
    "ModelSection": ModelSection, "DataSection": DataSection, "OptimSection": OptimSection,
    "RunSection": RunSection, "TeacherSection": TeacherSection, "StudentSection": StudentSection,
    "DistillSection": DistillSection,
}


def config_from_dict(d: dict[str, Any]) -> TrainConfig:
    """Build a TrainConfig from nested dicts, refusing unknown keys and impossible values."""
    cfg = _fill(TrainConfig, d, "")
    validate(cfg)
    return cfg


def validate(cfg: TrainConfig) -> None:
    """Refuse values no run can use, naming the key."""
    checks = [
        (cfg.run.steps >= 0, "run.steps must be >= 0"),
        (cfg.run.batch_size >= 1, "run.batch_size must be >= 1"),
        (cfg.run.micro_batch_size >= 0, "run.micro_batch_size must be >= 0"),
        (0.0 <= cfg.run.ema_decay < 1.0, "run.ema_decay must be in [0, 1)"),
        (cfg.optim.lr > 0 and cfg.distill.critic_lr > 0, "learning rates must be > 0"),
        (cfg.optim.warmup_steps >= 0 and cfg.optim.decay_steps >= 0, "optim warm-up/decay steps must be >= 0"),
        (len(cfg.optim.betas) == 2, "optim.betas must be two numbers"),
        (0.0 <= cfg.teacher.text_dropout <= 1.0 and 0.0 <= cfg.teacher.reference_dropout <= 1.0,
         "teacher dropouts must be in [0, 1]"),
        (all(len(ts) >= 1 and all(0 < t <= 1000 for t in ts)
             for ts in (cfg.student.timesteps, cfg.distill.timesteps)),
         "student/distill timesteps must be a non-empty list in (0, 1000]"),
        (cfg.student.chunk_frames >= 1 and cfg.distill.chunk_frames >= 1, "chunk_frames must be >= 1"),
        (cfg.student.ode_steps >= 1, "student.ode_steps must be >= 1"),
        (0.0 <= cfg.distill.t_min < cfg.distill.t_max <= 1.0, "distill needs 0 <= t_min < t_max <= 1"),
        (cfg.distill.critic_updates_per_generator >= 1, "distill.critic_updates_per_generator must be >= 1"),
        (cfg.distill.gan_weight >= 0 and cfg.distill.gan_disc_weight >= 0, "GAN weights must be >= 0"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


def load_config(path: str | Path) -> TrainConfig:
    """Read a YAML training config."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        d = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({first_line(exc)})") from None
    return config_from_dict(d)


__all__ = [
    "ConfigError",
    "DataSection",
    "DistillSection",
    "ModelSection",
    "OptimSection",
    "RunSection",
    "StudentSection",
    "TeacherSection",
    "TrainConfig",
    "config_from_dict",
    "load_config",
    "validate",
]
