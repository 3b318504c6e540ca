"""A run killed with SIGKILL and resumed with --resume ends bitwise equal to an uninterrupted run."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from train_helpers import cli, load_weights, tiny_dict, write_config


def _wait_for(path: Path, proc, timeout: float = 120.0) -> None:
    t0 = time.time()
    while not path.exists():
        assert proc.poll() is None, "the run ended before it could be killed:\n" + proc.stdout.read()[-2000:]
        assert time.time() - t0 < timeout
        time.sleep(0.01)


@pytest.mark.slow
def test_kill_and_resume_equals_uninterrupted(tmp_path: Path) -> None:
    # distillation holds the most state: generator, critic + GAN head, two optimisers, the EMA
    stage, steps, every = "distill", 40, 4
    sections = {"run": {"steps": steps, "ckpt_every": every, "keep_checkpoints": 2, "ema_decay": 0.9},
                "distill": {"critic_updates_per_generator": 3},
                "optim": {"lr": 1e-3, "decay_steps": 12}}  # the generator lr decays across the kill
    full = write_config(tmp_path / "full.yaml", tiny_dict(tmp_path / "full", stage, **sections))
    killed = write_config(tmp_path / "killed.yaml", tiny_dict(tmp_path / "killed", stage, **sections))

    r = cli(["train", stage, "--config", str(full)])
    assert r.returncode == 0, r.stderr[-3000:]

    proc = cli(["train", stage, "--config", str(killed)], background=True)
    ckpts = tmp_path / "killed" / stage / "checkpoints"
    try:
        _wait_for(ckpts / f"step_{2 * every:08d}", proc)
        proc.kill()  # SIGKILL: no handler runs, whatever was being written stays half-written
    finally:
        proc.wait()
    assert proc.returncode == -9
    assert not (tmp_path / "killed" / stage / "model").exists()
    r = cli(["train", stage, "--config", str(killed), "--resume"])
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resumed from" in r.stderr

    a, b = load_weights(tmp_path / "full" / stage / "model"), load_weights(tmp_path / "killed" / stage / "model")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    last = f"checkpoints/step_{steps:08d}"
    for name in [p.name for p in (tmp_path / "full" / stage / last).glob("*.safetensors")]:
        fa = load_file(str(tmp_path / "full" / stage / last / name))
        fb = load_file(str(tmp_path / "killed" / stage / last / name))
        assert all(torch.equal(fa[k], fb[k]) for k in fa), name


@pytest.mark.slow
@pytest.mark.parametrize(("nproc", "signum"), [(1, signal.SIGTERM), (2, signal.SIGTERM), (1, signal.SIGINT)])
def test_a_stop_signal_saves_the_step_in_progress_and_resume_equals_uninterrupted(tmp_path: Path, nproc: int,
                                                                                 signum: int) -> None:
    """SIGTERM (a scheduler's preemption; under torchrun, sent to torchrun, which passes it on) or a
    Ctrl-C stops the run after the step in progress with a checkpoint of that step, though none was
    due, and --resume from it ends bitwise equal to an uninterrupted run."""
    import json

    stage, steps = "teacher", 400
    sections = {"run": {"steps": steps, "ckpt_every": 1000, "batch_size": 2 * nproc}, "data": {"synthetic": 8},
                "optim": {"lr": 1e-3, "decay_steps": 100}}
    full = write_config(tmp_path / "full.yaml", tiny_dict(tmp_path / "full", stage, **sections))
    stopped = write_config(tmp_path / "stopped.yaml", tiny_dict(tmp_path / "stopped", stage, **sections))
    r = cli(["train", stage, "--config", str(full)], nproc=nproc)
    assert r.returncode == 0, r.stderr[-3000:]

    proc = cli(["train", stage, "--config", str(stopped)], nproc=nproc, background=True,  # Ctrl-C's default even
               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # where this shell ignores it
    log = tmp_path / "stopped" / stage / "log.jsonl"
    try:
        _wait_for(log, proc)
        while len(log.read_text().splitlines()) < 5:
            assert proc.poll() is None, "the run ended before it could be stopped"
            time.sleep(0.01)
        proc.send_signal(signum)
        out = proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if nproc == 1 and signum == signal.SIGTERM:
        assert proc.returncode == 143 and "rtrdit train: terminated" in out, out[-3000:]
    if nproc == 1 and signum == signal.SIGINT:
        assert proc.returncode == 130 and "rtrdit train: interrupted" in out, out[-3000:]
    name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
    assert f"{name}: stopped after step" in out, out[-3000:]
    ckpts = tmp_path / "stopped" / stage / "checkpoints"
    step = json.loads((ckpts / (ckpts / "latest").read_text() / "state.json").read_text())["step"]
    assert 5 <= step < steps
    assert not (tmp_path / "stopped" / stage / "model").exists()
    r = cli(["train", stage, "--config", str(stopped), "--resume"], nproc=nproc)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resumed from" in r.stderr
    a, b = load_weights(tmp_path / "full" / stage / "model"), load_weights(tmp_path / "stopped" / stage / "model")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
