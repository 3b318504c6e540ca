"""`rtrdit eval benchmark`: the paper's protocol (5 s, 24 fps, resized, seeded random pairings)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rtrdit.codecs.video import read_frames, write_video
from rtrdit.data.stylizers import builtin_styles
from rtrdit.eval.benchmark import find_clips, make_tasks, prepare_clip, resample_indices
from rtrdit.eval.metrics.base import EvalError


def test_resample_25_to_24_fps_keeps_time_and_drops_one_frame_in_25() -> None:
    idx = resample_indices(src_frames=200, src_fps=25.0, fps=24.0, seconds=5.0)
    assert len(idx) == 120 and idx[0] == 0
    assert all(abs(j / 25.0 - i / 24.0) < 1 / 25.0 for i, j in enumerate(idx))  # never more than a frame off
    assert len(set(idx)) == 120 and idx[-1] == 123  # 5 s of 25 fps source, 4 of 124 frames dropped
    assert resample_indices(src_frames=30, src_fps=24.0, fps=24.0, seconds=5.0) == list(range(30))  # short clip
    assert resample_indices(120, 12.0, 24.0, 1.0) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9,
                                                       10, 10, 11, 11]


def test_prepare_clip_cuts_resamples_and_resizes(tmp_path: Path) -> None:
    frames = np.stack([np.full((48, 80, 3), (10 * i) % 250, np.uint8) for i in range(30)])
    write_video(tmp_path / "c.mp4", frames, 25)
    clip = prepare_clip(tmp_path / "c.mp4", size=(32, 24), fps=24.0, seconds=1.0)
    assert clip.shape == (24, 24, 32, 3)
    src = read_frames(tmp_path / "c.mp4", size=(32, 24))
    idx = resample_indices(len(src), 25.0, 24.0, 1.0)
    assert np.array_equal(clip, src[idx])


def test_pairings_are_random_but_seeded() -> None:
    clips = [Path(f"clip{i}.mp4") for i in range(12)]
    styles = list(builtin_styles().values())
    a, b = make_tasks(clips, styles, "tv2v", seed=0), make_tasks(clips, styles, "tv2v", seed=0)
    assert a == b
    assert a != make_tasks(clips, styles, "tv2v", seed=1)
    assert len({t.style for t in a}) > 1  # not one style for all
    assert all(t.prompt in builtin_styles()[t.style].prompts for t in a)
    both = make_tasks(clips, styles, "both", seed=0)
    assert [t.mode for t in both] == ["tv2v"] * 12 + ["rv2v"] * 12
    assert all(t.prompt is None for t in both if t.mode == "rv2v")


def test_find_clips_errors(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="does not exist"):
        find_clips(tmp_path / "nope", None)
    with pytest.raises(EvalError, match="no videos"):
        find_clips(tmp_path, None)
