"""The scheduler without a network: the latest-frame slot, style flushes, round-robin,
placement on the least loaded device, session limits, rotation and idle detection."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from rtrdit.serve.scheduler import Output, Scheduler, ServeError

pytestmark = pytest.mark.xdist_group("serve")  # one worker builds the model once


def frames(n: int, w: int = 96, h: int = 72) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (n, h, w, 3), dtype=np.uint8)


def test_a_newer_frame_replaces_the_one_not_yet_taken(tiny_stylizer: Any) -> None:
    sched = Scheduler({"cpu": tiny_stylizer})  # workers not started: we drive the steps
    out: list[Any] = []
    s = sched.open(out.append)
    for f in frames(5):
        s.submit(f)
    assert s.stats.received == 5 and s.stats.dropped == 4
    s._step()  # takes only the newest frame (index 4); the first frame of a stream comes out alone
    assert [o.index for o in out if isinstance(o, Output)] == [4]
    assert not s.has_work()


def test_a_style_switch_flushes_the_frame_in_flight(tiny_stylizer: Any) -> None:
    sched = Scheduler({"cpu": tiny_stylizer})
    out: list[Any] = []
    s = sched.open(out.append)
    s.submit(frames(1)[0])
    s.set_style(prompt="pencil sketch")
    assert s.stats.dropped == 1
    s._step()
    assert not any(isinstance(o, Output) for o in out)
    assert s.prompt == "pencil sketch" and out[-1]["style"]["prompt"] == "pencil sketch"
    with pytest.raises(ServeError, match="prompt or a reference"):
        s.set_style()


def test_a_session_starts_in_the_models_first_preset(tiny_stylizer: Any) -> None:
    """Without a prompt a session takes the model's first preset (a style it knows), else the general default;
    the scheduler hands the presets on for the page (`GET /presets`)."""
    import copy
    import dataclasses

    from rtrdit.serve.scheduler import DEFAULT_PROMPT

    plain = Scheduler({"cpu": tiny_stylizer})
    assert plain.presets == () and plain.open(lambda _: None).prompt == DEFAULT_PROMPT
    knows = copy.copy(tiny_stylizer)
    knows.config = dataclasses.replace(tiny_stylizer.config, presets=(("Sketch", "a pencil sketch"), ("Ink", "ink")))
    sched = Scheduler({"cpu": knows})
    assert sched.presets == knows.config.presets
    assert sched.open(lambda _: None).prompt == "a pencil sketch"
    assert sched.open(lambda _: None, prompt="thermal").prompt == "thermal"


def test_round_robin_serves_sessions_in_turn(tiny_stylizer: Any) -> None:
    sched = Scheduler({"cpu": tiny_stylizer}, max_sessions=3)
    a, b, c = (sched.open(lambda _: None) for _ in range(3))
    worker = sched.workers[0]
    order = []
    for f in frames(6):
        for s in (a, b):  # c never sends anything
            s.submit(f)
        for _ in range(2):
            nxt = worker._next()
            assert nxt is not None
            order.append(nxt.id)
            nxt._step()
    assert order == [a.id, b.id] * 6
    assert worker._next() is None and c.stats.received == 0


def test_sessions_go_to_the_least_loaded_device_and_are_limited(tiny_stylizer: Any) -> None:
    sched = Scheduler({"dev0": tiny_stylizer, "dev1": tiny_stylizer}, max_sessions=3)
    s1, s2, s3 = (sched.open(lambda _: None) for _ in range(3))
    assert [len(w.sessions) for w in sched.workers] == [2, 1]
    with pytest.raises(ServeError, match="full"):
        sched.open(lambda _: None)
    sched.close(s1)
    s4 = sched.open(lambda _: None)
    assert s4.worker is s1.worker and len(sched.sessions) == 3
    assert {s.worker.device for s in (s2, s3)} == {"dev0", "dev1"}


def test_a_rotated_camera_starts_a_new_stream_at_the_new_size(tiny_stylizer: Any) -> None:
    sched = Scheduler({"cpu": tiny_stylizer})
    out: list[Any] = []
    s = sched.open(out.append)
    for f in frames(5):
        s.submit(f)
        s._step()
    s.submit(frames(1, w=72, h=96)[0])  # portrait now
    s._step()
    outs = [o for o in out if isinstance(o, Output)]
    assert not [o for o in out if isinstance(o, dict) and o.get("type") == "error"]
    assert [o.index for o in outs] == [0, 1, 2, 3, 4, 5]
    assert outs[-1].frame.shape == (96, 72, 3) and outs[0].frame.shape == (72, 96, 3)


def test_steps_control_changes_the_sampler_and_idle_sessions_are_found(tiny_stylizer: Any) -> None:
    sched = Scheduler({"cpu": tiny_stylizer}, idle_timeout=5.0)
    s = sched.open(lambda _: None)
    s.submit(frames(1)[0])
    s._step()
    s.control({"type": "control", "steps": 1})
    s._step()
    assert s._stream.timesteps == tiny_stylizer.timesteps(1) and len(s._stream.timesteps) == 1
    assert sched.idle() == []
    assert sched.idle(now=time.monotonic() + 6.0) == [s]
