"""Atomic writes: all or nothing, with a new file's normal permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rtrdit.files import atomic_path, atomic_write_text, current_umask


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


def test_written_files_get_the_umask_permissions_not_mkstemps_0600(tmp_path: Path, umask_027) -> None:
    assert current_umask() == 0o027
    atomic_write_text(tmp_path / "report.json", "{}")
    with atomic_path(tmp_path / "sheet.png", suffix=".png") as tmp:
        assert tmp.suffix == ".png" and tmp.parent == tmp_path
        tmp.write_bytes(b"png")
    for name in ("report.json", "sheet.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "sheet.png"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "manifest.jsonl"
    target.write_text("old\n")
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["manifest.jsonl"]
    atomic_write_text(target, "new\n")
    assert target.read_text() == "new\n" and [p.name for p in tmp_path.iterdir()] == ["manifest.jsonl"]


# A folder no file can be made in, for root too (tests run as root here, and chmod does not stop root)
UNWRITABLE = Path("/proc")


def test_a_folder_that_cannot_be_written_in_is_one_named_error() -> None:
    from rtrdit.codecs.photo import write_image
    from rtrdit.codecs.video import VideoError
    from rtrdit.codecs.video_writer import VideoWriter
    from rtrdit.files import WriteError

    with pytest.raises(WriteError, match=r"^cannot write in /proc \("):
        atomic_write_text(UNWRITABLE / "report.json", "{}")
    with pytest.raises(VideoError, match=r"^/proc/out.mp4: cannot write in /proc"):
        VideoWriter(UNWRITABLE / "out.mp4", 24)
    import numpy as np

    with pytest.raises(VideoError, match=r"^/proc/out.png: cannot write in /proc"):
        write_image(UNWRITABLE / "out.png", np.zeros((8, 8, 3), np.uint8))


@pytest.mark.parametrize(("argv", "said"), [
    (["stylize", "IN", "-o", "/proc/out.mp4", "--prompt", "x", "--model", "/no/such/model"], "/proc/out.mp4:"),
    (["data", "stylize", "IN", "-o", "/proc/out.mp4", "--style", "thermal"], "/proc/out.mp4:"),
    (["eval", "--pred", "IN", "--source", "IN", "--metrics", "warp", "--json", "/proc/r.json"], "--json /proc/r.json:"),
    (["data", "build", "IN", "-o", "/proc/dataset"], "--out /proc/dataset:"),
    (["demo", "--out", "/proc/demo"], "--out /proc/demo:"),
])
def test_commands_say_which_folder_they_cannot_write_in(argv: list[str], said: str, tmp_path: Path, capsys) -> None:
    """It was a FileNotFoundError/PermissionError traceback from mkstemp (or, for eval, one line after all
    its work); each says so before the work (stylize before loading a model, here one that does not exist)."""
    from video_clips import make_clip

    from rtrdit.cli import main

    clip = str(make_clip(tmp_path / "in.mp4"))
    assert main([clip if a == "IN" else a for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{said} cannot write in /proc" in err, err
