"""`--schedule` files: timed style changes, checked before any frame is processed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rtrdit.stream.schedule import StyleChange, load_schedule
from rtrdit.stream.session import StylizerError


def test_changes_are_sorted_and_references_resolved_next_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "refs").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "refs" / "r.png")
    sched = tmp_path / "s.json"
    sched.write_text(json.dumps([{"time": 4, "prompt": "ink wash"}, {"time": 0, "reference": "refs/r.png"},
                                 {"time": 2.5, "prompt": "pencil", "reference": "refs/r.png"}]))
    ref = str(tmp_path / "refs" / "r.png")
    assert load_schedule(sched) == [StyleChange(0.0, None, ref), StyleChange(2.5, "pencil", ref),
                                    StyleChange(4.0, "ink wash", None)]


@pytest.mark.parametrize("time", ["NaN", "Infinity", "-1", "true", '"3"'])
def test_a_time_that_is_not_finite_seconds_is_refused(time: str, tmp_path: Path) -> None:
    sched = tmp_path / "s.json"
    sched.write_text(f'[{{"time": 0, "prompt": "x"}}, {{"time": {time}, "prompt": "y"}}]')
    with pytest.raises(StylizerError, match="entry 1: time must be a number of seconds >= 0"):
        load_schedule(sched)


@pytest.mark.parametrize(("content", "message"), [
    ('[{"time": 0, "reference": 5}]', "entry 0: reference must be an image path"),  # once a TypeError traceback
    ('[{"time": 0, "reference": ""}]', "entry 0: reference must be an image path"),
    (None, "cannot read schedule"),  # a folder: once an IsADirectoryError traceback
])
def test_a_bad_reference_entry_or_a_folder_is_one_line(content: str | None, message: str, tmp_path: Path) -> None:
    sched = tmp_path / "s.json"
    if content is None:
        sched.mkdir()
    else:
        sched.write_text(content)
    with pytest.raises(StylizerError, match=message):
        load_schedule(sched)
