"""Tiny training configs for the tests: synthetic random latents, a few steps, outputs in tmp dirs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from rtrdit.train.config import TrainConfig, config_from_dict

REPO = Path(__file__).resolve().parents[2]


def tiny_dict(tmp: Path, stage: str, **sections: dict[str, Any]) -> dict[str, Any]:
    """Config dict of a tiny run of `stage` whose stage inputs/outputs live under tmp."""
    d: dict[str, Any] = {
        "model": {"preset": "tiny"},
        "data": {"synthetic": 4, "synthetic_frames": 3, "synthetic_hw": [8, 8], "synthetic_text_tokens": 8},
        "optim": {"lr": 1e-3},
        "run": {"out": str(tmp / stage), "steps": 3, "batch_size": 2, "ckpt_every": 100, "log_every": 1,
                "ema_decay": 0.9, "progress": False, "tensorboard": False},
        "student": {"teacher": str(tmp / "teacher" / "model"), "ode_dir": str(tmp / "ode"), "ode_steps": 4},
        "distill": {"teacher": str(tmp / "teacher" / "model"), "student": str(tmp / "student" / "model"),
                    "critic_updates_per_generator": 2, "gan_weight": 0.01},
    }
    for name, values in sections.items():
        d[name] = {**d.get(name, {}), **values}
    return d


def tiny_config(tmp: Path, stage: str, **sections: dict[str, Any]) -> TrainConfig:
    return config_from_dict(tiny_dict(tmp, stage, **sections))


def write_config(path: Path, d: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(d))
    return path


def cli(args: list[str], nproc: int = 1, **kw: Any) -> subprocess.CompletedProcess[str] | subprocess.Popen[str]:
    """Run `rtrdit ARGS` in a subprocess (under torchrun with nproc > 1)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "rtrdit.cli", *args]
    else:
        cmd = [sys.executable, "-m", "rtrdit.cli", *args]
    if kw.pop("background", False):
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False, **kw)


def load_weights(model_dir: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(model_dir / "model.safetensors"))
