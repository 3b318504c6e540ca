"""Pairing predictions with sources/targets, eval lists, and aligned chunk reading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rtrdit.codecs.video_writer import write_video
from rtrdit.eval.inputs import EvalItem, collect_items, iter_chunks, read_list
from rtrdit.eval.metrics.base import EvalError


def _clip(path: Path, frames: int, size: tuple[int, int] = (48, 32), value: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, np.full((frames, size[1], size[0], 3), value, np.uint8), 24)
    return path


def test_folders_pair_by_file_stem(tmp_path: Path) -> None:
    for name in ("a", "b"):
        _clip(tmp_path / "pred" / f"{name}.mp4", 3)
        _clip(tmp_path / "src" / f"{name}.mov", 3)
    items = collect_items(tmp_path / "pred", tmp_path / "src", prompt="p")
    assert [(i.name, i.source.name if i.source else None, i.prompt) for i in items] == [
        ("a", "a.mov", "p"), ("b", "b.mov", "p")]
    (tmp_path / "src" / "b.mov").unlink()
    with pytest.raises(EvalError, match="no source video named b"):
        collect_items(tmp_path / "pred", tmp_path / "src")
    with pytest.raises(EvalError, match="give a folder"):
        collect_items(tmp_path / "pred", tmp_path / "src" / "a.mov")


def test_list_paths_are_relative_to_the_list(tmp_path: Path) -> None:
    _clip(tmp_path / "v" / "x.mp4", 2)
    (tmp_path / "l.jsonl").write_text(json.dumps({"pred": "v/x.mp4", "seconds": 3, "mode": "rv2v"}) + "\n\n")
    (item,) = read_list(tmp_path / "l.jsonl")
    assert item.pred == tmp_path / "v" / "x.mp4" and item.seconds == 3.0 and item.task == "rv2v"
    (tmp_path / "bad.jsonl").write_text('{"pred": "v/x.mp4"}\n{"oops"\n')
    with pytest.raises(EvalError, match="bad.jsonl:2"):
        read_list(tmp_path / "bad.jsonl")
    (tmp_path / "missing.jsonl").write_text('{"pred": "v/none.mp4"}\n')
    with pytest.raises(EvalError, match="none.mp4 does not exist"):
        read_list(tmp_path / "missing.jsonl")


def test_chunks_are_aligned_resized_to_the_prediction_and_cut_to_the_shortest(tmp_path: Path) -> None:
    pred = _clip(tmp_path / "p.mp4", 7, (48, 32), 200)
    src = _clip(tmp_path / "s.mp4", 5, (96, 64), 100)
    chunks = list(iter_chunks(EvalItem("p", pred, source=src), source=True, target=False, chunk_frames=2))
    assert [len(c.pred) for c in chunks] == [2, 2, 1]
    assert all(c.source is not None and c.source.shape == c.pred.shape for c in chunks)
    assert all(c.target is None for c in chunks)
    assert abs(int(chunks[0].source.mean()) - 100) <= 2 and abs(int(chunks[0].pred.mean()) - 200) <= 2
    with pytest.raises(EvalError, match="needs --target"):
        list(iter_chunks(EvalItem("p", pred), source=False, target=True))
