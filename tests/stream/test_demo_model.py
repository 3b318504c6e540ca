"""The shipped demo model and `rtrdit demo` (the README's main command)."""

from __future__ import annotations

import numpy as np

from rtrdit import Stylizer
from rtrdit.cli import main
from rtrdit.codecs.video import probe
from rtrdit.data.stylizers import get_style


def test_demo_command_writes_videos_and_sheet(tmp_path, capsys) -> None:
    assert main(["demo", "--out", str(tmp_path), "--seconds", "1", "--size", "128"]) == 0
    out = capsys.readouterr().out
    assert "SMOKE RUN" not in out  # the trained model ships with the package
    for name in ("sample.mp4", "stylized.mp4", "stylized_compare.mp4", "stylized_sheet.png", "reference.png"):
        assert (tmp_path / name).is_file(), name
    assert probe(tmp_path / "stylized.mp4").frames == probe(tmp_path / "sample.mp4").frames == 25


def test_demo_model_follows_styles_at_256() -> None:
    """The shipped model loads with no network and different built-in styles' prompts give
    clearly different outputs at 256x256."""
    st = Stylizer.from_pretrained("demo")
    rng = np.random.default_rng(0)
    frames = np.repeat(rng.integers(0, 256, (1, 256, 256, 3), dtype=np.uint8), 9, axis=0)
    frames = np.stack([np.roll(frames[0], 4 * i, axis=1) for i in range(9)])

    def run(**style) -> np.ndarray:  # type: ignore[no-untyped-def]
        sess = st.session(seed=0, **style)
        return np.concatenate([sess.push(frames), sess.flush()])

    a = run(prompt=get_style("thermal").prompts[0])
    b = run(prompt=get_style("pencil_sketch").prompts[0])
    assert a.shape == frames.shape
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 3.0
