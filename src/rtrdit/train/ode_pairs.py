"""ODE pairs for stage 2: sample the guided teacher ODE for every training sample and keep the
states at the student's K fixed times plus the clean end point, as safetensors shards.

`rtrdit train ode --config student.yaml` writes them into student.ode_dir (built in a `.partial`
folder, renamed when complete; an interrupted run continues where it stopped).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rtrdit.train import launch

log = logging.getLogger("rtrdit.train")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    launch.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    with launch.session(args, "ode") as engine:
        generate_ode_pairs(engine)
    return 0


class ODEPairDataset:
    """Samples of an ODE-pair folder: the usual dict (target = the teacher's clean output) plus
    "trajectory" [K + 1, 16, F, h, w] (states at the K times, then the clean end point)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        index = json.loads((self.root / "index.json").read_text())
        self.files: list[str] = index["files"]
        self.modes: list[str] = index["modes"]
        self.times: list[float] = index["times"]

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> dict[str, Any]:
        from safetensors.torch import load_file

        d = load_file(str(self.root / self.files[i]))
        return {"target": d["trajectory"][-1], "source": d["source"], "text": d["text"],
                "reference": d["reference"], "has_reference": d["has_reference"].bool().reshape(()),
                "mode": self.modes[i], "trajectory": d["trajectory"]}


def trajectory_at(grid: Tensor, states: list[Tensor], times: list[float]) -> Tensor:
    """Stack the states at `times` (exact grid points) and the final state: [K + 1, B, ...]."""
    picks = []
    for t in times:
        j = int(torch.argmin((grid - t).abs()))
        if abs(float(grid[j]) - t) > 1e-5:
            raise ValueError(f"time {t} is not on the ODE grid")
        picks.append(states[j])
    return torch.stack([*picks, states[-1]])


def generate_ode_pairs(engine: Any) -> Path:
    """Write the ODE-pair folder of the config (every rank takes every world-th sample)."""
    from safetensors.torch import save_file

    from rtrdit.files import atomic_path
    from rtrdit.train.batches import collate, open_dataset
    from rtrdit.train.rollout import generator_times
    from rtrdit.train.sampling import teacher_trajectory
    from rtrdit.train.weights import dit_from

    cfg, d, sc = engine.cfg, engine.dist, engine.cfg.student
    out = Path(sc.ode_dir)
    if (out / "index.json").is_file():
        log.info("ODE pairs already at %s", out)
        return out
    part = out.with_name(out.name + ".partial")
    teacher = dit_from(sc.teacher, cfg.model, cfg.run.seed, "ODE teacher", attention="bidirectional")
    ds = open_dataset(cfg.data, teacher.config.text_dim, d.rank, engine.barrier)
    teacher = engine.prepare(teacher, trainable=False)
    times = generator_times(sc.timesteps, sc.shift)
    n = len(ds) if sc.ode_samples <= 0 else min(sc.ode_samples, len(ds))
    if d.is_main:
        part.mkdir(parents=True, exist_ok=True)
    engine.barrier()
    files = [f"pair_{i:07d}.safetensors" for i in range(n)]
    for i in range(d.rank, n, d.world):
        if (part / files[i]).is_file():  # done by an interrupted earlier run
            continue
        s = ds[i]
        batch = collate([s], engine.device)
        with engine.autocast():
            grid, states = teacher_trajectory(teacher, batch, [i], cfg.run.seed, sc.ode_steps, sc.shift,
                                              sc.ode_guidance, include=times)
        traj = trajectory_at(grid, states, times)[:, 0].float().cpu().contiguous()
        tensors = {"trajectory": traj, "source": s["source"].float().contiguous(), "text": s["text"].float().contiguous(),
                   "reference": s["reference"].float().contiguous(),
                   "has_reference": torch.tensor([bool(s["has_reference"])], dtype=torch.uint8)}
        with atomic_path(part / files[i]) as tmp:
            save_file(tensors, str(tmp))
    engine.barrier()
    if d.is_main:
        from rtrdit.train.batches import dataset_modes

        modes = dataset_modes(ds)[:n]
        (part / "index.json").write_text(json.dumps({"files": files, "modes": modes, "times": times,
                                                     "ode_steps": sc.ode_steps, "guidance": sc.ode_guidance}))
        os.replace(part, out)
        log.info("wrote %d ODE pairs to %s", n, out)
    engine.barrier()
    return out


__all__ = ["ODEPairDataset", "add_arguments", "generate_ode_pairs", "run", "trajectory_at"]
