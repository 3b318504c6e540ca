"""Two processes under torchrun (gloo) end with the weights of one process with the same global batch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from train_helpers import cli, load_weights, tiny_config, tiny_dict, write_config

from rtrdit.train.engine import Engine
from rtrdit.train.teacher import train_teacher


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["teacher", "student", "distill"])
def test_two_processes_equal_one(tmp_path: Path, stage: str) -> None:
    from rtrdit.train.distill import train_distill
    from rtrdit.train.student import train_student

    # a briefly trained teacher, so that the later stages have non-trivial targets
    train_teacher(Engine(tiny_config(tmp_path, "teacher", run={"steps": 2}), "teacher", tmp_path / "teacher"))
    sections = {"run": {"steps": 3, "ckpt_every": 2, "keep_checkpoints": 5}}
    one = tmp_path / "one"
    d1 = tiny_dict(one, stage, **sections)
    d1["student"]["teacher"] = d1["distill"]["teacher"] = str(tmp_path / "teacher" / "model")
    d1["distill"]["student"] = str(tmp_path / "no-student")
    two = tmp_path / "two"
    d2 = tiny_dict(two, stage, **sections)
    d2["student"], d2["distill"] = {**d1["student"], "ode_dir": str(two / "ode")}, d1["distill"]

    from rtrdit.train.config import config_from_dict

    run_fn = {"teacher": train_teacher, "student": train_student, "distill": train_distill}[stage]
    run_fn(Engine(config_from_dict(d1), stage, one / stage))
    r = cli(["train", stage, "--config", str(write_config(tmp_path / "two.yaml", d2))], nproc=2)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    _assert_same(load_weights(one / stage / "model"), load_weights(two / stage / "model"))
    if stage == "distill":
        from safetensors.torch import load_file

        ck = "checkpoints/step_00000003/model_critic.safetensors"
        _assert_same(load_file(str(one / stage / ck)), load_file(str(two / stage / ck)))
