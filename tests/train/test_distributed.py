"""Two processes under torchrun (gloo) end with the weights of one process with the same global
batch, for each stage (teacher -> student -> distill chained, one torchrun start-up per kind of
data parallelism: replicated "ddp" and FSDP2 "fsdp")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from train_helpers import load_weights, tiny_dict, write_config

from rtrdit.train.config import config_from_dict
from rtrdit.train.distill import train_distill
from rtrdit.train.engine import Engine
from rtrdit.train.student import train_student
from rtrdit.train.teacher import train_teacher


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], what: str) -> None:
    assert a.keys() == b.keys()
    for k, value in a.items():
        # Adam turns float-rounding differences of tiny gradients into ~1e-5 weight differences;
        # a real mismatch (a missing sync, another batch) moves weights by ~lr = 1e-3 per step
        torch.testing.assert_close(value, b[k], rtol=1e-4, atol=1e-4, msg=f"{what}: {k}")


@pytest.mark.slow
def test_two_processes_equal_one_for_every_stage(tmp_path: Path) -> None:
    # global batch 4: one process takes it in one micro-batch, two processes in two micro-batches of 1 each
    sections = {"run": {"steps": 3, "ckpt_every": 2, "batch_size": 4}, "data": {"synthetic": 8},
                "distill": {"critic_updates_per_generator": 2}}
    one = tmp_path / "one"
    for stage in ("teacher", "student", "distill"):
        train = {"teacher": train_teacher, "student": train_student, "distill": train_distill}[stage]
        train(Engine(config_from_dict(tiny_dict(one, stage, **sections)), stage, one / stage))  # micro-batch 2

    for parallel in ("ddp", "fsdp"):  # two processes accumulating 2 x 1 sample: replicated, then FSDP2-sharded
        two = tmp_path / parallel
        paths = []
        for stage in ("teacher", "student", "distill"):
            d2 = tiny_dict(two, stage, **{**sections, "run": {**sections["run"], "parallel": parallel,
                                                              "micro_batch_size": 1}})
            paths.append(str(write_config(tmp_path / f"{parallel}-{stage}.yaml", d2)))
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               str(Path(__file__).with_name("dist_driver.py")), *paths]
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        assert "returned a view tensor" not in r.stderr  # FSDP2's alarm, answered by the checks below
        for stage in ("teacher", "student", "distill"):
            _assert_same(load_weights(one / stage / "model"), load_weights(two / stage / "model"), f"{parallel} {stage}")
        ck = "distill/checkpoints/step_00000003/model_critic.safetensors"
        _assert_same(load_file(str(one / ck)), load_file(str(two / ck)), f"{parallel} critic")
        # resumed from the step-2 checkpoint by two (sharded) processes: bitwise the uninterrupted run
        resumed = load_weights(two / "distill-resumed" / "model")
        assert all(torch.equal(v, resumed[k]) for k, v in load_weights(two / "distill" / "model").items())
    # the later stages really trained on something (not a zero-flow fresh teacher)
    assert any(not torch.equal(v, load_weights(one / "teacher" / "model")[k])
               for k, v in load_weights(one / "distill" / "model").items())
