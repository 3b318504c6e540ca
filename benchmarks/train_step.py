"""Step time of each training stage on the tiny configs (CPU or GPU), printed and recorded.

    python benchmarks/train_step.py [--steps 40] [--out benchmarks/train_step.json]

Runs configs/tiny/{teacher,student,distill}.yaml with random latents of the same shapes as the
built tiny dataset ([16, 3, 8, 8] latents, 32 x 384 text), in a temporary folder, and reports the
mean seconds per optimiser step after the first logging window (warm-up).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "train_step.json"))
    args = p.parse_args()

    from rtrdit.train.config import load_config
    from rtrdit.train.distill import train_distill
    from rtrdit.train.engine import Engine
    from rtrdit.train.student import train_student
    from rtrdit.train.teacher import train_teacher

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        for stage, fn in (("teacher", train_teacher), ("student", train_student), ("distill", train_distill)):
            cfg = load_config(REPO / "configs" / "tiny" / f"{stage}.yaml")
            cfg.data.synthetic, cfg.data.synthetic_text_tokens = 8, 32
            cfg.run.steps, cfg.run.log_every, cfg.run.ckpt_every = args.steps, 10, 10**9
            cfg.run.progress, cfg.run.tensorboard = False, False
            t0 = time.perf_counter()
            fn(Engine(cfg, stage, Path(cfg.run.out)))
            wall = time.perf_counter() - t0
            rows = [json.loads(line) for line in (Path(cfg.run.out) / "log.jsonl").read_text().splitlines()]
            times = [r["step_time_s"] for r in rows[1:]] or [rows[0]["step_time_s"]]
            results[stage] = {"step_s": statistics.mean(times), "samples_per_s": cfg.run.batch_size / statistics.mean(times),
                              "batch_size": cfg.run.batch_size, "wall_s_incl_setup": wall}
            if stage == "distill":
                results[stage]["critic_updates_per_generator"] = cfg.distill.critic_updates_per_generator
            print(f"{stage:8s} {results[stage]['step_s'] * 1000:8.1f} ms/step  "
                  f"({results[stage]['samples_per_s']:.1f} samples/s, batch {cfg.run.batch_size})")
    record = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.platform(),
              "cpu_threads": torch.get_num_threads(), "device": "cuda" if torch.cuda.is_available() else "cpu",
              "torch": torch.__version__, "steps": args.steps, "stages": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
