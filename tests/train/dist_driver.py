"""Run the three stages one after the other in one torchrun job (one start-up for the whole chain),
then resume the distillation from its step-2 checkpoint into OUT-resumed (sharded resume check).

Usage: python -m torch.distributed.run --standalone --nproc_per_node 2 dist_driver.py TEACHER.yaml STUDENT.yaml DISTILL.yaml
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch.distributed as dist

from rtrdit.train.config import load_config
from rtrdit.train.distill import train_distill
from rtrdit.train.engine import Engine, setup_logging, shutdown
from rtrdit.train.student import train_student
from rtrdit.train.teacher import train_teacher


def main(paths: list[str]) -> None:
    setup_logging(0)
    for stage, fn, path in zip(("teacher", "student", "distill"), (train_teacher, train_student, train_distill),
                               paths, strict=True):
        cfg = load_config(path)
        fn(Engine(cfg, stage, Path(cfg.run.out)))
    cfg = load_config(paths[2])
    src, dst = Path(cfg.run.out), Path(cfg.run.out + "-resumed")
    if dist.get_rank() == 0:
        shutil.copytree(src / "checkpoints" / "step_00000002", dst / "checkpoints" / "step_00000002")
    dist.barrier()
    cfg.run.out = str(dst)
    train_distill(Engine(cfg, "distill", dst, resume=True))
    shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
