"""`rtrdit stylize FOLDER -o OUTFOLDER`: every file of a folder with one model load; a file that fails is
said in one line and the others go on."""

from __future__ import annotations

import shutil

import numpy as np
from PIL import Image
from video_clips import make_clip

from rtrdit.cli import main
from rtrdit.codecs.video import probe
from rtrdit.stream.stylizer import Stylizer


def test_a_folder_is_stylized_file_by_file(tiny_stylizer_dir, clip_file, tmp_path, capsys, monkeypatch) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    shutil.copy(clip_file, src / "a.mp4")
    make_clip(src / "b.mkv", frames=9, size=(48, 40), fps=12)
    make_clip(src / "c.avi", frames=5, size=(48, 40), fps=12, codec="mjpeg", pix_fmt="yuvj420p")
    Image.fromarray(np.full((30, 40, 3), 90, np.uint8)).save(src / "d.png")
    Image.fromarray(np.full((30, 40, 3), 90, np.uint8)).save(src / "e.tiff")
    (src / "notes.txt").write_text("not a video\n")
    (src / ".hidden.mp4").write_bytes(b"")
    loads = []
    load = Stylizer.from_pretrained.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(Stylizer, "from_pretrained", classmethod(lambda cls, *a, **k: loads.append(1) or load(cls, *a, **k)))
    rc = main(["stylize", str(src), "-o", str(out), "--prompt", "ink wash painting", "--model", tiny_stylizer_dir])
    captured = capsys.readouterr()
    assert rc == 2 and len(loads) == 1  # notes.txt failed; the model loaded once
    errors = [line for line in captured.err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "notes.txt" in errors[0] and "not a readable video" in errors[0], errors
    assert f"stylized 5 of 6 files into {out}; 1 could not be (said above)" in captured.out
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "b.mkv", "c.avi.mp4", "d.png", "e.tiff.png"]
    assert [probe(out / n).frames for n in ("a.mp4", "b.mkv", "c.avi.mp4")] == [23, 9, 5]
    assert probe(out / "a.mp4").has_audio and Image.open(out / "e.tiff.png").size == (40, 30)


def test_folder_mistakes_are_one_line(tiny_stylizer_dir, clip_file, tmp_path, capsys) -> None:
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(clip_file, src / "a.mp4")
    (tmp_path / "file.mp4").write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    cases = {
        (str(src), str(tmp_path / "file.mp4"), "x"): "so -o names a folder for the outputs",
        (str(src), str(src), "x"): "the outputs would replace the inputs",
        (str(src), str(tmp_path / "no" / "out"), "x"): "output folder does not exist",
        (str(tmp_path / "empty"), str(tmp_path / "o1"), "x"): "no files to stylize in it",
        (str(src), str(tmp_path / "o2"), None): "reference image not found",
    }
    for (given, out, prompt), expect in cases.items():
        style = ["--prompt", prompt] if prompt else ["--ref", str(tmp_path / "missing.png")]
        assert main(["stylize", given, "-o", out, *style, "--model", tiny_stylizer_dir]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expect in err[0], (expect, err)
    assert sorted(p.name for p in src.iterdir()) == ["a.mp4"]
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()  # all checked before it is made


def test_a_stopped_folder_run_goes_on_with_skip_existing(tiny_stylizer_dir, clip_file, tmp_path, capsys) -> None:
    """Outputs are written whole or not at all, so one that exists is finished: --skip-existing leaves it
    and stylizes the rest (a run stopped by Ctrl-C, a reboot), for a folder or a single file."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    for name in ("a.mp4", "b.mp4"):
        shutil.copy(clip_file, src / name)
    (out / "a.mp4").write_bytes(b"done before")
    args = ["--prompt", "x", "--model", tiny_stylizer_dir, "--skip-existing"]
    assert main(["stylize", str(src), "-o", str(out), *args]) == 0
    captured = capsys.readouterr()
    assert "out/a.mp4 exists: skipped (--skip-existing)" in captured.err
    assert f"stylized 1 of 2 files into {out}; 1 there already" in captured.out
    assert (out / "a.mp4").read_bytes() == b"done before" and probe(out / "b.mp4").frames == 23
    assert main(["stylize", str(src / "a.mp4"), "-o", str(out / "a.mp4"), *args]) == 0
    assert (out / "a.mp4").read_bytes() == b"done before"
