"""`scripts/train_demo.sh --smoke`: the documented reproduction of the demo model runs every stage end to end
(data, encode, teacher, student, distillation, export, decoder, card) in its own work folder, and the model
it makes streams; the shipped model is never written."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from video_clips import SHARED_VIDEOS

from rtrdit import Stylizer
from rtrdit.stream.stylizer import demo_dir

ROOT = Path(__file__).resolve().parents[2]


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + p.read_bytes())
    return h.hexdigest()


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_VIDEOS.is_dir(), reason="needs ../shared/videos (present in CI)")
def test_smoke_reproduction_runs_every_stage_in_its_own_folder(tmp_path: Path) -> None:
    shipped = _digest(demo_dir())
    runs = tmp_path / "runs"
    env = {**os.environ, "RUNS": str(runs), "VIDEOS": str(SHARED_VIDEOS), "SIZE": "128"}
    proc = subprocess.run(["bash", "scripts/train_demo.sh", "--smoke"], cwd=ROOT, env=env, capture_output=True, check=False,
                          text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for stage in ("teacher_lowres", "teacher", "student", "distill"):
        assert (runs / stage / "model" / "config.json").is_file(), stage
    export = runs / "export"
    card = json.loads((export / "model_card.json").read_text())
    assert card["table2"] and (export / "README.md").read_text().startswith("# RTR-DiT demo model")
    assert _digest(demo_dir()) == shipped  # the shipped model and card are untouched

    st = Stylizer.from_pretrained(export)
    sess = st.session(prompt="a pencil sketch", seed=0)
    frames = np.random.default_rng(0).integers(0, 256, (9, 64, 64, 3), dtype=np.uint8)
    out = np.concatenate([sess.push(frames), sess.flush()])
    assert out.shape == frames.shape and out.dtype == np.uint8
