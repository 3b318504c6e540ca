"""`rtrdit stylize -` (a video piped in) and `rtrdit stylize http(s)://...`: copied beside the output,
stylized as the file itself is, the copy gone afterwards whatever happened; bad input in one line."""

from __future__ import annotations

import functools
import http.server
import os
import pty
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from video_clips import audio_duration
from web_server import Quiet, serving

from rtrdit.cli import main
from rtrdit.codecs.video import probe, read_frames


def stylize(*args: str, stdin: object = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rtrdit.cli", "stylize", *args], stdin=stdin, check=False,
                          capture_output=True, text=True, timeout=300)


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_a_piped_video_is_stylized_as_the_file_is(tiny_stylizer_dir, clip_file, tmp_path) -> None:
    """`cat clip.mp4 | rtrdit stylize - -o out.mp4`: its frames, fps and audio, the same video as the file gives."""
    piped, direct = tmp_path / "piped.mp4", tmp_path / "direct.mp4"
    style = ["--prompt", "ink wash painting", "--model", tiny_stylizer_dir]
    with open(clip_file, "rb") as f:
        proc = stylize("-", "-o", str(piped), *style, stdin=f)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "read stdin" in proc.stderr and f"wrote {piped}" in proc.stdout
    assert main(["stylize", clip_file, "-o", str(direct), *style]) == 0
    got, src = probe(piped), probe(clip_file)
    assert (got.frames, got.width, got.height, got.fps) == (src.frames, src.width, src.height, src.fps)
    assert audio_duration(piped) == pytest.approx(audio_duration(direct), abs=1e-3)
    diff = np.abs(read_frames(piped).astype(int) - read_frames(direct).astype(int)).mean(axis=(1, 2, 3))
    assert diff.max() < 4, diff  # x264's own noise on the tiny random model's frames (test_stylize_cli)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("case", ["empty", "not-a-video", "terminal"])
def test_bad_standard_input_is_one_line(case, tiny_stylizer_dir, tmp_path) -> None:
    out = tmp_path / "out.mp4"
    args = ["-", "-o", str(out), "--prompt", "x", "--model", tiny_stylizer_dir]
    if case == "terminal":  # someone forgot the pipe: stdin is the terminal
        leader, follower = pty.openpty()
        try:
            proc = stylize(*args, stdin=follower)
        finally:
            os.close(leader)
            os.close(follower)
        expect = "standard input is a terminal, not a video"
    else:
        (tmp_path / "in").write_bytes(b"" if case == "empty" else b"hello, not a video\n")
        with open(tmp_path / "in", "rb") as f:
            proc = stylize(*args, stdin=f)
        expect = "standard input: empty file" if case == "empty" else "standard input: not a readable video"
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert err[-1].startswith("rtrdit stylize: error: ") and expect in err[-1], err
    assert not out.exists() and leftovers(tmp_path) == []


def test_a_video_at_a_url_is_downloaded_and_stylized(tiny_stylizer, tiny_stylizer_dir, clip_file, tmp_path,
                                                      capsys) -> None:
    site, out = tmp_path / "site", tmp_path / "out"
    site.mkdir()
    out.mkdir()
    (site / "clip.mp4").write_bytes(Path(clip_file).read_bytes())
    style = ["--prompt", "ink wash painting", "--model", tiny_stylizer_dir]
    with serving(site) as url:
        assert main(["stylize", f"{url}/clip.mp4", "-o", str(out / "a.mp4"), *style]) == 0
        assert "download" in capsys.readouterr().err
        rc = main(["stylize", f"{url}/missing.mp4", "-o", str(out / "b.mp4"), *style])
        assert rc == 2
        assert capsys.readouterr().err.strip() == (f"rtrdit stylize: error: {url}/missing.mp4: cannot download it "
                                                   "(HTTP 404 File not found)")
        (site / "watch.html").write_text("<html>a video site's page</html>")
        assert main(["stylize", f"{url}/watch.html", "-o", str(out / "b.mp4"), *style]) == 2
        assert "a web page (text/html), not the file itself" in capsys.readouterr().err
        rc = main(["stylize", f"{url}/clip.mp4", "-o", str(out / "c.avi"), *style])  # said before the download
        assert rc == 2 and "output must end in" in capsys.readouterr().err
        tiny_stylizer.stylize_file(f"{url}/clip.mp4", out / "d.mp4", prompt="ink wash painting")  # from Python too
    for name in ("a.mp4", "d.mp4"):
        assert probe(out / name).frames == probe(clip_file).frames and probe(out / name).has_audio
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "d.mp4"]


def test_a_download_cut_short_is_one_line(tiny_stylizer_dir, tmp_path, capsys) -> None:
    """A server that promises more bytes than it sends (a dropped connection) leaves nothing behind."""

    class Short(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"\0" * 1000)

        def log_message(self, *args: object) -> None:
            pass

    with serving(tmp_path, Short) as url:
        rc = main(["stylize", f"{url}/clip.mp4", "-o", str(tmp_path / "a.mp4"), "--prompt", "x",
                   "--model", tiny_stylizer_dir])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1].startswith(f"rtrdit stylize: error: {url}/clip.mp4: "), err
    assert "download" in err[-1] and list(tmp_path.iterdir()) == []


def test_a_reference_at_a_url_is_downloaded(tiny_stylizer, tiny_stylizer_dir, clip_file, tmp_path, capsys) -> None:
    """--ref https://.../style.png (and stylize_file(reference=URL)) styles as the same image on disk does;
    a missing one or a page is one line naming the URL, nothing left behind."""
    from PIL import Image

    site, out = tmp_path / "site", tmp_path / "out"
    site.mkdir()
    out.mkdir()
    Image.fromarray(np.full((20, 30, 3), (200, 30, 90), np.uint8)).save(site / "style.png")
    (site / "page.html").write_text("<html>an artwork's page</html>")
    args = ["--model", tiny_stylizer_dir]
    with serving(site) as url:
        assert main(["stylize", clip_file, "-o", str(out / "url.mp4"), "--ref", f"{url}/style.png", *args]) == 0
        tiny_stylizer.stylize_file(clip_file, out / "api.mp4", reference=f"{url}/style.png")
        for name, expect in (("missing.png", "cannot download it (HTTP 404"), ("page.html", "a web page")):
            assert main(["stylize", clip_file, "-o", str(out / "x.mp4"), "--ref", f"{url}/{name}", *args]) == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert err[-1].startswith(f"rtrdit stylize: error: {url}/{name}: ") and expect in err[-1], err
    assert main(["stylize", clip_file, "-o", str(out / "disk.mp4"), "--ref", str(site / "style.png"), *args]) == 0
    disk = read_frames(out / "disk.mp4").astype(int)
    for name in ("url.mp4", "api.mp4"):
        assert np.abs(read_frames(out / name).astype(int) - disk).mean(axis=(1, 2, 3)).max() < 4
    assert sorted(p.name for p in out.iterdir()) == ["api.mp4", "disk.mp4", "url.mp4"]


def test_a_url_behind_a_login_and_a_schedule_of_urls(tiny_stylizer_dir, clip_file, tmp_path, capsys) -> None:
    """A video at ``https://user:password@host/...`` is fetched with that login (HTTP Basic), the password never
    printed; a schedule's references may be URLs too, downloaded once: the same video as from files on disk."""
    import base64
    import json

    from PIL import Image

    site, out = tmp_path / "site", tmp_path / "out"
    site.mkdir()
    out.mkdir()
    (site / "clip.mp4").write_bytes(Path(clip_file).read_bytes())
    Image.fromarray(np.full((20, 30, 3), (200, 30, 90), np.uint8)).save(site / "style.png")
    asked: list[str] = []

    class Login(Quiet):
        def do_GET(self) -> None:
            asked.append(self.headers.get("Authorization", ""))
            if self.headers.get("Authorization") != "Basic " + base64.b64encode(b"ann:p@ss word").decode():
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="clips"')
                self.end_headers()
                return
            super().do_GET()

    args = ["--model", tiny_stylizer_dir]
    with serving(site, functools.partial(Login, directory=str(site))) as url:
        login = url.replace("http://", "http://ann:p%40ss%20word@")
        plan = [{"time": 0, "prompt": "ink wash painting"}, {"time": 0.2, "reference": f"{login}/style.png"}]
        (tmp_path / "urls.json").write_text(json.dumps(plan))
        assert main(["stylize", f"{login}/clip.mp4", "-o", str(out / "url.mp4"), "--schedule",
                     str(tmp_path / "urls.json"), *args]) == 0
        assert main(["stylize", f"{url.replace('http://', 'http://ann:wrong@')}/clip.mp4", "-o",
                     str(out / "x.mp4"), "--prompt", "x", *args]) == 2
        err = capsys.readouterr().err
        assert "ann:***@127.0.0.1" in err and "cannot download it (HTTP 401" in err and "wrong" not in err
    assert len(asked) == 3 and all(asked)  # the video, the schedule's reference and the refused video
    plan[1]["reference"] = str(site / "style.png")
    (tmp_path / "files.json").write_text(json.dumps(plan))
    assert main(["stylize", clip_file, "-o", str(out / "disk.mp4"), "--schedule", str(tmp_path / "files.json"),
                 *args]) == 0
    assert np.abs(read_frames(out / "url.mp4").astype(int) - read_frames(out / "disk.mp4").astype(int)).max() <= 2
    assert sorted(p.name for p in out.iterdir()) == ["disk.mp4", "url.mp4"]


def test_the_output_streams_to_standard_output(tiny_stylizer_dir, clip_file, tmp_path) -> None:
    """`-o -` sends Matroska to standard output as it is made (`| mpv -` plays it while it renders): the same
    frames and audio as a file, the messages on stderr; a video piped in too; --compare needs a file."""
    style = ["--prompt", "ink wash painting", "--model", tiny_stylizer_dir]
    proc = subprocess.run([sys.executable, "-m", "rtrdit.cli", "stylize", clip_file, "-o", "-", *style],
                          check=False, capture_output=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "sent 23 frames to standard output (" in proc.stderr.decode()
    (tmp_path / "piped.mkv").write_bytes(proc.stdout)
    assert main(["stylize", clip_file, "-o", str(tmp_path / "file.mkv"), *style]) == 0
    piped, file = probe(tmp_path / "piped.mkv"), probe(tmp_path / "file.mkv")
    assert (piped.frames, piped.width, piped.height, piped.has_audio) == (23, file.width, file.height, True)
    diff = np.abs(read_frames(tmp_path / "piped.mkv").astype(int) - read_frames(tmp_path / "file.mkv").astype(int))
    assert diff.mean(axis=(1, 2, 3)).max() < 4
    with open(clip_file, "rb") as f:  # in and out through pipes; the copy of the input goes in the current folder
        both = subprocess.run([sys.executable, "-m", "rtrdit.cli", "stylize", "-", "-o", "-", *style], stdin=f,
                              check=False, capture_output=True, timeout=300, cwd=tmp_path)
    assert both.returncode == 0 and len(both.stdout) > 1000, both.stderr[-2000:]
    assert leftovers(tmp_path) == []
    bad = stylize(clip_file, "-o", "-", "--compare", *style)
    assert bad.returncode == 2 and "--compare writes files beside the output" in bad.stderr


def test_a_player_that_quits_ends_the_render_quietly(tiny_stylizer_dir, tmp_path) -> None:
    """The reader of `-o -` going away (a player closed) ends the render with status 141, as `| head` does
    to any Unix tool, and no error or traceback."""
    from video_clips import make_clip

    src = make_clip(tmp_path / "long.mp4", frames=240, size=(96, 80), fps=24)
    proc = subprocess.Popen([sys.executable, "-m", "rtrdit.cli", "stylize", str(src), "-o", "-", "--prompt", "x",
                             "--model", tiny_stylizer_dir], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert len(proc.stdout.read(4096)) == 4096  # the player saw the start, then quits
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141, err[-2000:]
    assert "Error" not in err and "error:" not in err and "Traceback" not in err, err[-2000:]
