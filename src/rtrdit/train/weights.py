"""Where each stage's networks come from and where they go: load the previous stage's DiT (or
start fresh with a warning when it is absent) and export the trained one in our layout."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rtrdit.model.config import get_config
from rtrdit.model.dit import DiT
from rtrdit.train.config import ModelSection
from rtrdit.train.ema import EMA
from rtrdit.train.engine import Engine

log = logging.getLogger("rtrdit.train")


def dit_from(path: str | None, section: ModelSection, seed: int, what: str, **overrides: Any) -> DiT:
    """The DiT saved at `path`, or (absent) a fresh one from the preset, seeded by `seed`."""
    if path and Path(path).is_dir():
        from rtrdit.model.loading import load_dit

        log.info("%s: loading %s", what, path)
        model = load_dit(path, **overrides)
        return model.float()
    if path:
        log.warning("%s: %s is absent, starting from a fresh initialisation", what, path)
    cfg = get_config(section.preset, **{**section.overrides, **overrides})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return DiT(cfg)


def export_dit(engine: Engine, model: nn.Module, ema: EMA | None, out: Path) -> None:
    """Write the (EMA, when kept) weights as an rtrdit DiT directory; every rank calls it (the
    full state of a sharded model is gathered), rank 0 writes."""
    from rtrdit.model.loading import save_pretrained

    sd = engine.full_state(model)
    ema_sd = ema.state_dict() if ema is not None else {}
    if engine.dist.is_main:
        sd.update({k: v.to(sd[k].dtype) for k, v in ema_sd.items()})
        plain = DiT(model.config)  # type: ignore[arg-type]
        plain.load_state_dict(sd)
        save_pretrained(plain, out)
        log.info("exported %s", out)
    engine.barrier()


__all__ = ["dit_from", "export_dit"]
