"""Live inputs (`stream/live.py`, `rtrdit stylize URL`): real RTMP, MPEG-TS over TCP and HLS streams made with
PyAV and sent in real time, stylized as they arrive: the same frames and sound a file render gives, frames
dropped only when the stylizer falls behind, the output finished when the stream ends, its sender vanishes
or Ctrl-C comes; bad URLs in one line."""

from __future__ import annotations

import contextlib
import http.server
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pytest
from rtsp_relay import RtspRelay, publisher
from video_clips import LOSSLESS_H264, audio_onset, make_clip, video_profile
from web_server import serving

from rtrdit.codecs.video import VideoError, probe, read_frames
from rtrdit.codecs.video_writer import shown_url
from rtrdit.stream.live import LAG, LiveError, LiveInput, is_live
from rtrdit.stream.render import BATCH

PROMPT = "ink wash painting"
SURE = 60.0  # `lag` for tests that compare every frame: a loaded machine's slow stylizer must not drop any
# outputs compared frame for frame are lossless (``crf=0``): x264's lookahead codes a few frames differently
# from one run to the next (measured: 1 run in ~75 of these 48x40 clips, 31-42 dB apart), whatever the input
EXACT = 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def send(clip: Path, url: str | BinaryIO, fmt: str, *, packets: int | None = None, hold: list[Any] | None = None,
         connect_for: float = 60.0) -> None:
    """Send ``clip``'s packets as they are (no re-encoding, so a receiver decodes the file's very frames) to
    ``url`` (or a pipe) as ``fmt``, in real time, retrying until a listener is there; ``packets`` stops
    after that many video packets and puts the open output in ``hold``: a sender that goes silent (a phone
    that lost its network) without ending the stream."""
    import av

    deadline = time.monotonic() + connect_for
    with av.open(str(clip)) as src:
        streams = [src.streams.video[0], *src.streams.audio[:1]]
        while True:
            out = av.open(url, "w", format=fmt)
            mapping = {s: out.add_stream_from_template(s) for s in streams}
            t0, sent = time.monotonic(), 0
            try:
                for packet in src.demux(streams):
                    if packet.dts is None:
                        continue
                    wait = t0 + float(packet.dts * packet.time_base) - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    packet.stream = mapping[packet.stream]
                    out.mux(packet)  # the first one connects
                    sent += packet.stream.type == "video"
                    if packets is not None and sent >= packets:
                        if hold is not None:  # kept open by the caller: silent, not ended
                            hold.append(out)
                        return
                break
            except (ConnectionResetError, BrokenPipeError):
                return  # the receiver ended the stream (Ctrl-C at it)
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
                src.seek(0)
                with contextlib.suppress(Exception):
                    out.close()
        out.close()


def sender(clip: Path, url: str, fmt: str, **kw: Any) -> threading.Thread:
    thread = threading.Thread(target=send, args=(clip, url, fmt), kwargs=kw, daemon=True)
    thread.start()
    return thread


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255**2 / mse)


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s at 12 fps with AAC whose tone starts at 1 s (a key frame each second, as a streamer sends)."""
    return make_clip(tmp_path_factory.mktemp("live") / "talk.mp4", frames=36, size=(48, 40), fps=12,
                     audio="aac", audio_onset=1.0, gop=12)


def test_is_live() -> None:
    assert is_live("rtmp://0.0.0.0:1935/live/key") and is_live("RTSP://cam.local/stream1")
    assert is_live("udp://239.0.0.1:1234") and is_live("https://example.com/live/index.m3u8?token=1")
    assert not is_live("https://example.com/clip.mp4") and not is_live("clip.mp4") and not is_live("-")
    assert is_live("pipe:") and is_live("PIPE:0") and not is_live("pipe:3")  # standard input, read as it comes


def test_the_clock_times_frames_that_come_without_a_time() -> None:
    """`_Clock`: frames before the stream's first time are timed back from it; more than ``hold`` of them are
    timed by the frame rate and the stream's later times go on from the last; times never step back."""
    from rtrdit.stream.live import _Clock

    clock = _Clock(fps=10, hold=5)
    assert clock.add(None, "a") == [] and clock.add(None, "b") == [] and not clock.counting
    assert clock.add(2.0, "c") == [(pytest.approx(1.8), "a"), (pytest.approx(1.9), "b"), (2.0, "c")]
    assert clock.offset == 0.0 and clock.add(None, "d") == [(pytest.approx(2.1), "d")]  # a gap: one frame on
    assert clock.add(2.15, "e") == [(pytest.approx(2.15), "e")] and clock.add(2.1, "f")[0][0] > 2.15

    clock = _Clock(fps=10, hold=3)
    assert clock.add(None, 0) == [] and clock.add(None, 1) == []
    assert [t for t, _ in clock.add(None, 2)] == pytest.approx([0.0, 0.1, 0.2]) and clock.counting
    assert clock.add(None, 3) == [(pytest.approx(0.3), 3)]
    assert clock.add(50.0, 4) == [(pytest.approx(0.4), 4)] and clock.offset == pytest.approx(-49.6)
    assert clock.add(50.1, 5) == [(pytest.approx(0.5), 5)] and not clock.counting

    clock = _Clock(fps=10, hold=30)  # a stream that ends before it gives a time
    assert clock.add(None, 0) == [] and [t for t, _ in clock.flush()] == [0.0]


def test_rtmp_sender_is_stylized_as_the_file_is(tiny_stylizer: Any, talk: Path, tmp_path: Path) -> None:
    """An RTMP sender (OBS, a phone app) to a listening stylizer: every frame, stylized as a render of the same
    file, at its times, with its sound in sync; the render ends when the sender closes the stream."""
    url = f"rtmp://127.0.0.1:{free_port()}/live/stream"
    pushing = sender(talk, url, "flv")
    live = tiny_stylizer.stylize_stream(url, tmp_path / "live.mp4", PROMPT, listen=True, timeout=5, lag=SURE,
                                        crf=EXACT)
    pushing.join()
    tiny_stylizer.stylize_file(talk, tmp_path / "file.mp4", PROMPT, crf=EXACT)
    assert (live.frames, live.extra["dropped"], live.extra["stopped"]) == (36, 0.0, 0.0)
    a, b = read_frames(tmp_path / "live.mp4"), read_frames(tmp_path / "file.mp4")
    assert a.shape == b.shape == (36, 40, 48, 3)
    assert min(psnr(x, y) for x, y in zip(a, b, strict=True)) == 99.0  # the same frames, on FLV's millisecond clock too
    info = probe(tmp_path / "live.mp4")
    assert info.has_audio and abs(info.duration - 3.0) < 0.1
    assert abs(audio_onset(tmp_path / "live.mp4") - 1.0) < 0.03  # the tone starts with its picture, at 1 s


def test_an_ip_camera_is_pulled_over_rtsp_and_stylized_as_the_file_is(tiny_stylizer: Any, talk: Path,
                                                                      tmp_path: Path) -> None:
    """An IP camera (an RTSP server asking for a password) pulled over TCP: every frame of the file a render
    gives, the sound in sync, the render ended when the camera's stream does; the password never printed."""
    with RtspRelay(credentials=("admin", "s3cret")) as camera:
        url = camera.url(user="admin", password="s3cret")
        sending = publisher(str(talk), url)
        result = tiny_stylizer.stylize_stream(url, tmp_path / "cam.mp4", PROMPT, timeout=5, lag=SURE, crf=EXACT)
        assert sending.wait(30) == 0
    assert camera.refused >= 1 and any(r.startswith("PLAY ") for r in camera.requests)  # it logged in to play
    tiny_stylizer.stylize_file(talk, tmp_path / "file.mp4", PROMPT, crf=EXACT)
    assert (result.frames, result.extra["dropped"]) == (36, 0.0)
    a, b = read_frames(tmp_path / "cam.mp4"), read_frames(tmp_path / "file.mp4")
    assert min(psnr(x, y) for x, y in zip(a, b, strict=True)) == 99.0  # the same frames
    assert abs(audio_onset(tmp_path / "cam.mp4") - 1.0) < 0.03
    assert shown_url(url) == f"rtsp://admin:***@127.0.0.1:{camera.port}/live/cam"


def test_compare_of_a_live_stream_is_the_file_renders(tiny_stylizer: Any, talk: Path, tmp_path: Path) -> None:
    """``compare``: a live stream's side-by-side video (source | stylized) is the one a render of the same file
    makes, frame for frame, and its contact sheet shows the source above the output, spread over the stream."""
    from PIL import Image

    with RtspRelay() as camera:
        sending = publisher(str(talk), camera.url())
        live = tiny_stylizer.stylize_stream(camera.url(), tmp_path / "cam.mp4", PROMPT, timeout=5, lag=SURE, compare=True,
                                            crf=EXACT)
        assert sending.wait(30) == 0
    whole = tiny_stylizer.stylize_file(talk, tmp_path / "file.mp4", PROMPT, compare=True, crf=EXACT)
    assert (live.compare, live.contact_sheet) == (str(tmp_path / "cam_compare.mp4"), str(tmp_path / "cam_sheet.png"))
    a, b = read_frames(tmp_path / "cam_compare.mp4"), read_frames(whole.compare)
    assert a.shape == b.shape == (36, 40, 96, 3)
    assert min(psnr(x, y) for x, y in zip(a, b, strict=True)) == 99.0
    assert min(psnr(x, y) for x, y in zip(a[:, :, :48], read_frames(talk), strict=True)) > 35  # the source on the left
    sheet = np.asarray(Image.open(live.contact_sheet).convert("RGB")).astype(int)
    top, bottom = sheet[: sheet.shape[0] // 2], sheet[sheet.shape[0] // 2:]
    cols = np.array_split(np.arange(sheet.shape[1]), 6)
    greys = [top[20:, c].mean() for c in cols]  # each pattern frame a flatter grey, its white corner aside
    assert len(set(np.round(greys))) == 6 and np.abs(top - bottom).mean() > 5  # six moments; styled below


def test_sheet_picks_spread_over_a_stream_of_any_length() -> None:
    """`SheetPicks` holds at most 2n+1 frame pairs however long the stream, and picks n spread from its start
    to near its end."""
    from rtrdit.stream.render import SheetPicks

    for length in (3, 36, 1000, 12345):
        picks = SheetPicks(6)
        for i in range(length):
            picks.add(np.full((1,), i), np.full((1,), -i))
            assert len(picks._kept) <= 13
        sources, styled = picks.rows()
        seen = [int(f[0]) for f in sources]
        assert seen == [-int(f[0]) for f in styled] and seen == sorted(set(seen)) and seen[0] == 0
        assert len(seen) == min(6, length) and seen[-1] >= length - 1 - picks.stride


def test_a_camera_that_gives_no_clock_at_first_is_timed_by_its_frame_rate(tiny_stylizer: Any, tmp_path: Path) -> None:
    """A camera whose first RTCP sender report comes 1.5 s late: FFmpeg gives its first frames no time, so
    they are timed by the frame rate and the stream's times, once they come, go on from there: evenly spaced
    frames, and the sound (which waited for the clock) at its place, after silence."""
    import av

    clip = make_clip(tmp_path / "late.mp4", frames=48, size=(48, 40), fps=12, audio="aac", audio_onset=2.0, gop=12)
    with RtspRelay(rtcp_after=1.5) as camera:
        sending = publisher(str(clip), camera.url())
        result = tiny_stylizer.stylize_stream(camera.url(), tmp_path / "cam.mp4", PROMPT, timeout=5, lag=SURE)
        assert sending.wait(30) == 0
    assert (result.frames, result.extra["dropped"]) == (48, 0.0)
    with av.open(str(tmp_path / "cam.mp4")) as c:
        times = [float(f.time) for f in c.decode(video=0)]
    assert np.allclose(np.diff(times), 1 / 12, atol=3e-3)  # no frames bunched where the clock came
    assert abs(audio_onset(tmp_path / "cam.mp4") - 2.0) < 0.05


@pytest.mark.parametrize("sound", [(48000, "stereo"), (22050, "mono")])
def test_a_camera_that_drops_is_connected_to_again_and_the_output_goes_on(sound: tuple[int, str], tiny_stylizer: Any,
                                                                         tmp_path: Path) -> None:
    """``reconnect``: a camera whose stream drops (a reboot, a Wi-Fi blip) and comes back is connected to again;
    one output holds both streams' frames, the gap kept as time, the sound of the second in sync with it, also
    when it comes back with another sample rate and channel count (an app's settings changed)."""
    quiet = make_clip(tmp_path / "a.mp4", frames=24, size=(48, 40), fps=12, audio="aac", audio_onset=9.0, gop=12)
    tone = make_clip(tmp_path / "b.mp4", frames=24, size=(48, 40), fps=12, audio="aac", audio_onset=1.0, gop=12,
                     audio_rate=sound[0], audio_layout=sound[1])
    stop = threading.Event()
    box: dict[str, Any] = {}

    def render(url: str) -> None:
        box["result"] = tiny_stylizer.stylize_stream(url, tmp_path / "cam.mp4", PROMPT, timeout=5, reconnect=True, lag=SURE,
                                                     stop=stop)

    with RtspRelay() as camera:
        rendering = threading.Thread(target=render, args=(camera.url(),), daemon=True)
        rendering.start()
        assert publisher(str(quiet), camera.url()).wait(30) == 0
        time.sleep(1.5)  # the camera is away
        assert publisher(str(tone), camera.url()).wait(30) == 0
        time.sleep(1.0)
        stop.set()
        rendering.join(60)
    result = box["result"]
    assert (result.frames, result.extra["reconnects"], camera.publishers) == (48, 1.0, 2)
    import av

    with av.open(str(tmp_path / "cam.mp4")) as c:
        times = [float(f.time) for f in c.decode(video=0)]
    steps = np.diff(times)
    assert np.allclose(np.delete(steps, 23), 1 / 12, atol=3e-3) and steps[23] > 1.5  # the gap between them
    assert abs(audio_onset(tmp_path / "cam.mp4") - (times[24] + 1.0)) < 0.05  # the second one's tone, in sync


@contextlib.contextmanager
def hls_site(clip: Path, folder: Path, live: bool = False) -> Iterator[str]:
    """``clip`` as an HLS playlist of 1 s segments (its packets as they are), served over HTTP: its URL. A
    finished playlist (video on demand) unless ``live``: then it has no end mark, as a broadcast's has not."""
    import av

    folder.mkdir()
    options = {"hls_time": "1", "hls_list_size": "0", **({"hls_flags": "omit_endlist"} if live else {})}
    with av.open(str(clip)) as src, av.open(str(folder / "index.m3u8"), "w", format="hls", options=options) as out:
        streams = [src.streams.video[0], *src.streams.audio[:1]]
        mapping = {s: out.add_stream_from_template(s) for s in streams}
        for packet in src.demux(streams):
            if packet.dts is not None:
                packet.stream = mapping[packet.stream]
                out.mux(packet)
    with serving(folder) as url:
        yield url + "/index.m3u8"


@contextlib.contextmanager
def mjpeg_camera(frames: int, fps: float) -> Iterator[str]:
    """An IP camera's (or a phone camera app's) motion JPEG over HTTP (``multipart/x-mixed-replace``): each
    request gets ``frames`` pattern frames, in real time, then the connection ends. Its URL."""
    import io

    from PIL import Image
    from video_clips import pattern

    class Camera(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            t0 = time.monotonic()
            for i in range(frames):
                jpeg = io.BytesIO()
                Image.fromarray(pattern(i, 48, 40)).save(jpeg, "JPEG", quality=95)
                head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {jpeg.tell()}\r\n\r\n"
                with contextlib.suppress(OSError):  # the viewer went
                    self.wfile.write(head.encode() + jpeg.getvalue() + b"\r\n")
                    self.wfile.flush()
                time.sleep(max(0.0, t0 + (i + 1) / fps - time.monotonic()))

    with serving(None, Camera) as url:
        yield url + "/video"


def test_a_motion_jpeg_camera_at_an_http_url_is_stylized_as_it_comes(tiny_stylizer: Any, tiny_stylizer_dir: str,
                                                                     tmp_path: Path) -> None:
    """`rtrdit stylize http://phone:8080/video`: a URL that answers with a camera's never-ending motion JPEG is
    not downloaded (it would never end) but stylized as a live stream, each frame at the time it came; from
    Python, stylize_file says to use stylize_stream, which takes it."""

    with mjpeg_camera(36, 12) as url:
        proc = subprocess.run([sys.executable, "-m", "rtrdit.cli", "stylize", url, "-o", str(tmp_path / "cam.mp4"),
                               "--prompt", PROMPT, "--model", tiny_stylizer_dir, "--lag", "60", "--timeout", "5"],
                              capture_output=True, text=True, timeout=120, check=False)
        with pytest.raises(VideoError, match="a live stream \\(motion JPEG\\), not a file"):
            tiny_stylizer.stylize_file(url, tmp_path / "file.mp4", PROMPT)
        result = tiny_stylizer.stylize_stream(url, tmp_path / "api.mp4", PROMPT, timeout=5, lag=SURE)
    assert proc.returncode == 0, proc.stderr
    assert "receiving 48x40" in proc.stderr and "wrote" in proc.stdout
    import av

    for name in ("cam.mp4", "api.mp4"):
        with av.open(str(tmp_path / name)) as c:
            times = [float(f.time) for f in c.decode(video=0)]
        # as they came: 1/12 s apart (the first few, read together while FFmpeg probes the stream, at once)
        assert len(times) == 36 and abs(np.median(np.diff(times)) - 1 / 12) < 0.01 and 2.5 < times[-1] < 3.1, times
    assert result.frames == 36 and sorted(os.listdir(tmp_path)) == ["api.mp4", "cam.mp4"]  # no copy left


def test_hls_playlist_is_pulled_and_stylized_as_the_file_is(tiny_stylizer: Any, talk: Path, tmp_path: Path) -> None:
    with hls_site(talk, tmp_path / "site") as url:
        result = tiny_stylizer.stylize_stream(url, tmp_path / "hls.mp4", PROMPT, timeout=5, lag=SURE, crf=EXACT)
    tiny_stylizer.stylize_file(talk, tmp_path / "file.mp4", PROMPT, crf=EXACT)
    assert (result.frames, result.extra["dropped"]) == (36, 0.0)
    a, b = read_frames(tmp_path / "hls.mp4"), read_frames(tmp_path / "file.mp4")
    same = [psnr(x, y) for x, y in zip(a, b, strict=True)]
    assert min(same) == 99.0, [(i, p) for i, p in enumerate(same) if p < 99]  # the same frames
    assert video_profile(tmp_path / "hls.mp4") == LOSSLESS_H264  # crf reached the live output's writer
    assert abs(audio_onset(tmp_path / "hls.mp4") - 1.0) < 0.03


def test_a_finished_playlist_starts_where_asked_as_a_file_part_does(tiny_stylizer: Any, talk: Path,
                                                                  tmp_path: Path) -> None:
    """``start`` into a finished playlist (video on demand): the frames and sound a file render of the same
    part gives, a schedule on the playlist's clock; a playlist still live, or a start past the end, is refused."""
    from rtrdit.stream.schedule import StyleChange

    plan = [StyleChange(0.0, PROMPT), StyleChange(2.0, "neon glow edges")]
    with hls_site(talk, tmp_path / "site") as url:
        part = tiny_stylizer.stylize_stream(url, tmp_path / "hls.mp4", schedule=plan, timeout=5, lag=SURE, start=0.5,
                                            crf=EXACT)
        with pytest.raises(LiveError, match=r"the start \(9 s\) is not before the playlist's end \(3.00 s\)"):
            tiny_stylizer.stylize_stream(url, tmp_path / "late.mp4", PROMPT, timeout=5, start=9)
    tiny_stylizer.stylize_file(talk, tmp_path / "file.mp4", schedule=plan, start=0.5, crf=EXACT)
    assert (part.frames, part.extra["dropped"]) == (30, 0.0)
    a, b = read_frames(tmp_path / "hls.mp4"), read_frames(tmp_path / "file.mp4")
    same = [psnr(x, y) for x, y in zip(a, b, strict=True)]
    assert len(a) == 30 and min(same) == 99.0, [(i, p) for i, p in enumerate(same) if p < 99]
    assert abs(audio_onset(tmp_path / "hls.mp4") - 0.5) < 0.03  # the tone at 1 s of the playlist
    with hls_site(talk, tmp_path / "live", live=True) as url, pytest.raises(LiveError, match="a finished playlist"):
        tiny_stylizer.stylize_stream(url, tmp_path / "o.mp4", PROMPT, timeout=5, start=1)
    assert not [p for p in os.listdir(tmp_path) if p.startswith((".", "late", "o."))]


@pytest.mark.parametrize("lag", [LAG, 2.0])
def test_a_burst_waits_for_the_stylizer_instead_of_filling_memory(lag: float, talk: Path, tmp_path: Path) -> None:
    """A playlist's segments arrive all at once, ahead of the stream's clock: the reader holds at most ``lag``
    seconds of frames and waits for room (rather than queueing all, or dropping frames it is not late for)."""
    with hls_site(talk, tmp_path / "site") as url:
        live = LiveInput(url, lambda w, h: (w, h), timeout=5, lag=lag)
        facts = live.open()
        live.warm()  # a stylizer past its first chunk: late frames would now be dropped
        time.sleep(0.6)  # nothing taken meanwhile: all 3 s of it could have come in, 0.6 s of it is due
        held = len(live._frames)
        frames: list[float] = []
        while (got := live.take(BATCH)) is not None:
            frames += [t for t, _ in got]
        live.close()
    assert facts.fps == 12 and held == round(lag * 12)
    assert live.dropped == 0 and len(frames) == 36
    assert np.allclose(np.diff(frames), 1 / 12, atol=2e-3)


def test_a_finished_playlist_is_stylized_whole_however_slow(tmp_path: Path) -> None:
    """A video-on-demand playlist (it has its end mark) is not live: 120 frames a second into the demo model,
    which cannot keep that pace, and still every frame is stylized, none dropped; a playlist without the mark
    is live (its length unknown)."""
    from rtrdit.stream.stylizer import Stylizer

    fast = make_clip(tmp_path / "fast.mp4", frames=240, size=(256, 256), fps=120, gop=60)
    with hls_site(fast, tmp_path / "vod") as url:
        result = Stylizer.from_pretrained("demo").stylize_stream(url, tmp_path / "vod.mp4", PROMPT, timeout=5)
    assert (result.frames, result.extra["dropped"]) == (240, 0.0)
    assert probe(tmp_path / "vod.mp4").frames == 240
    with hls_site(fast, tmp_path / "live", live=True) as url:
        live = LiveInput(url, lambda w, h: (w, h), timeout=5)
        facts = live.open()
        live.close()
    assert facts.duration is None


def test_a_stream_faster_than_the_stylizer_drops_frames_and_stays_live(talk: Path, tmp_path: Path) -> None:
    """The demo model at 256x256 against 120 frames a second: it cannot keep up, so frames are dropped (and
    counted) rather than queued, and the output still spans the stream's time."""
    from rtrdit.stream.stylizer import Stylizer

    fast = make_clip(tmp_path / "fast.mp4", frames=240, size=(256, 256), fps=120, gop=60)
    url = f"tcp://127.0.0.1:{free_port()}"
    pushing = sender(fast, url, "mpegts")
    demo = Stylizer.from_pretrained("demo")
    result = demo.stylize_stream(url + "?listen", tmp_path / "fast_out.mp4", PROMPT, listen=True, timeout=3)
    pushing.join()
    assert result.extra["dropped"] > 0
    assert result.frames + result.extra["dropped"] == 240
    info = probe(tmp_path / "fast_out.mp4")
    assert info.frames == result.frames and info.duration > 1.8  # the frames kept span the 2 s stream


def test_a_sender_that_goes_silent_ends_the_stream_and_keeps_the_output(tiny_stylizer: Any, talk: Path,
                                                                       tmp_path: Path) -> None:
    """A sender that stops sending without ending its stream (a phone out of its network): after ``timeout``
    seconds of nothing the stream has ended, and the frames so far are written."""
    url = f"tcp://127.0.0.1:{free_port()}"
    hold: list[Any] = []
    pushing = sender(talk, url, "mpegts", packets=18, hold=hold)
    t0 = time.monotonic()
    result = tiny_stylizer.stylize_stream(url + "?listen", tmp_path / "cut.mp4", PROMPT, listen=True, timeout=2)
    pushing.join()
    assert hold and time.monotonic() - t0 > 2.5  # the sender was still connected when the render gave up on it
    assert 12 <= result.frames <= 18 and result.extra["stopped"] == 0.0
    assert probe(tmp_path / "cut.mp4").frames == result.frames


def stylize(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "rtrdit.cli", "stylize", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def lines_until(stream: Any, word: str, timeout: float = 120) -> list[str]:
    """Lines of the pipe ``stream`` up to the one containing ``word`` (tqdm's carriage returns split lines
    too), read a byte at a time so that nothing after it is taken; AssertionError after ``timeout`` s
    (a command that goes quiet fails the test then, not at pytest's timeout)."""
    import select

    fd = stream.fileno()
    got: list[str] = []
    deadline = time.monotonic() + timeout
    buf = b""
    while (left := deadline - time.monotonic()) > 0 and select.select([fd], [], [], left)[0]:
        ch = os.read(fd, 1)
        if not ch:
            break
        buf += ch
        if ch in b"\r\n":
            got.append(buf.decode(errors="replace").strip())
            buf = b""
            if word in got[-1]:
                return got
    raise AssertionError(f"no {word!r} in {got}")


def test_cli_listens_sends_on_and_stops_at_ctrl_c(tiny_stylizer_dir: str, tmp_path: Path) -> None:
    """`rtrdit stylize rtmp://... --listen -o rtmp://...`: a relay from a sender to a server; Ctrl-C ends it
    with the stream sent so far whole (exit 0), said on stderr."""
    import av

    long = make_clip(tmp_path / "long.mp4", frames=240, size=(48, 40), fps=12, audio="aac", gop=12)
    inlet, outlet = f"rtmp://127.0.0.1:{free_port()}/live/in", f"rtmp://127.0.0.1:{free_port()}/live/out"
    got: dict[str, Any] = {"frames": 0, "audio": 0}

    def receive() -> None:  # the server the stylized stream is sent on to
        with contextlib.suppress(av.FFmpegError), av.open(outlet, options={"listen": "1"}, timeout=(60, 10)) as c:
            for packet in c.demux():
                kind = packet.stream.type
                if kind == "video":
                    got["frames"] += len(packet.decode())
                elif kind == "audio" and packet.size:
                    got["audio"] += 1

    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    time.sleep(0.5)
    proc = stylize(inlet, "--listen", "-o", outlet, "--prompt", PROMPT, "--model", tiny_stylizer_dir)
    try:
        assert proc.stderr is not None
        lines_until(proc.stderr, "waiting for a sender")
        sender(long, inlet, "flv")
        lines_until(proc.stderr, "receiving 48x40 at 12 fps, with sound")
        time.sleep(3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    receiver.join(timeout=30)
    assert proc.returncode == 0, err
    assert f"stopped; sent {outlet}" in out
    sent = int(out.split("(")[1].split()[0])
    assert 12 <= sent < 240 and got["frames"] == sent and got["audio"] > 0


def test_cli_writes_a_file_until_the_stream_ends(talk: Path, tiny_stylizer_dir: str, tmp_path: Path) -> None:
    url = f"tcp://127.0.0.1:{free_port()}"
    sender(talk, url, "mpegts")
    proc = subprocess.run([sys.executable, "-m", "rtrdit.cli", "stylize", url + "?listen", "--listen",
                           "-o", str(tmp_path / "rec.mkv"), "--prompt", PROMPT, "--model", tiny_stylizer_dir,
                           "--lag", "60", "--timeout", "5", "--duration", "2", "--compare"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout and "(24 frames" in proc.stdout  # 2 s of 12 fps: --duration
    assert f"wrote {tmp_path / 'rec_compare.mkv'}" in proc.stdout and f"wrote {tmp_path / 'rec_sheet.png'}" in proc.stdout
    assert probe(tmp_path / "rec.mkv").frames == 24 and not [p for p in os.listdir(tmp_path) if p.startswith(".")]
    side = probe(tmp_path / "rec_compare.mkv")
    assert (side.frames, side.width, side.height) == (24, 96, 40)


def test_cli_listens_again_for_a_sender_that_comes_back(talk: Path, tiny_stylizer_dir: str, tmp_path: Path) -> None:
    """`--listen --reconnect`: a phone app that loses its network and sends again finds rtrdit waiting, and
    one output holds both; each drop is said, and Ctrl-C ends it (exit 0) with every frame received, the
    comeback said."""
    url = f"tcp://127.0.0.1:{free_port()}"
    proc = stylize(url + "?listen", "--listen", "--reconnect", "-o", str(tmp_path / "rec.mkv"), "--prompt", PROMPT,
                   "--model", tiny_stylizer_dir, "--lag", "60", "--timeout", "2")
    try:
        assert proc.stderr is not None
        lines_until(proc.stderr, "waiting for a sender")
        send(talk, url, "mpegts")
        lines_until(proc.stderr, f"the stream dropped; waiting for the sender again at {url}")
        time.sleep(1.0)
        send(talk, url, "mpegts")  # connects once rtrdit listens again
        lines_until(proc.stderr, "the stream dropped")  # every frame received: Ctrl-C stylizes them all
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "stopped; wrote" in out and "(72 frames" in out and "the stream came back 1 time" in out, out
    info = probe(tmp_path / "rec.mkv")
    assert info.frames == 72 and info.duration > 6.5 and info.has_audio  # 3 s, the second away, 3 s


def feed(proc: subprocess.Popen[Any], clip: Path, *, packets: int | None = None,
         keep_open: bool = False) -> tuple[threading.Thread, list[Any]]:
    """`send` ``clip`` to ``proc``'s (unbuffered) standard input as MPEG-TS in real time, a camera piped through
    ffmpeg, on a thread, then close the pipe: the end of the stream. It stays open with ``keep_open``, or after
    ``packets`` video packets, whose open output the returned list then holds (a sender gone silent)."""
    hold: list[Any] = []

    def run() -> None:
        assert proc.stdin is not None
        send(clip, proc.stdin, "mpegts", packets=packets, hold=hold)
        if not keep_open and not hold:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, hold


def stylize_pipe(*args: str) -> subprocess.Popen[Any]:
    return subprocess.Popen([sys.executable, "-m", "rtrdit.cli", "stylize", "pipe:", *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)  # each packet sent as muxed


def outputs(proc: subprocess.Popen[Any], timeout: float = 120) -> tuple[bytes, bytes]:
    """``proc``'s stdout and stderr once it ends, its standard input left to the feeder (`communicate`
    would close it: the end of the stream)."""
    got: dict[str, bytes] = {}
    readers = [threading.Thread(target=lambda k=k, f=f: got.__setitem__(k, f.read()), daemon=True)
               for k, f in (("out", proc.stdout), ("err", proc.stderr))]
    for r in readers:
        r.start()
    try:
        proc.wait(timeout)
    finally:
        proc.kill()
    for r in readers:
        r.join(10)
    return got.get("out", b""), got.get("err", b"")


def test_cli_reads_standard_input_as_a_live_stream_as_the_file_is(tiny_stylizer: Any, tiny_stylizer_dir: str,
                                                                  talk: Path, tmp_path: Path) -> None:
    """`ffmpeg ... -f mpegts - | rtrdit stylize pipe: -o OUT`: standard input read as it comes, every frame
    stylized as a render of the same file, the sound kept; the output finished when the pipe closes."""
    proc = stylize_pipe("-o", str(tmp_path / "piped.mkv"), "--prompt", PROMPT, "--model", tiny_stylizer_dir,
                        "--lag", "60", "--crf", str(EXACT))
    feeding, _ = feed(proc, talk)
    out, err = outputs(proc)
    feeding.join(10)
    assert proc.returncode == 0, err.decode()
    assert b"reading standard input (pipe:)" in err and b"(36 frames" in out
    tiny_stylizer.stylize_file(talk, tmp_path / "file.mkv", PROMPT, crf=EXACT)
    a, b = read_frames(tmp_path / "piped.mkv"), read_frames(tmp_path / "file.mkv")
    assert a.shape == b.shape == (36, 40, 48, 3)
    # the same stylized frames, but for the rounding of the model loaded from disk (a few levels off)
    assert min(psnr(x, y) for x, y in zip(a, b, strict=True)) > 55
    assert video_profile(tmp_path / "piped.mkv") == LOSSLESS_H264  # --crf 0 reached it
    assert probe(tmp_path / "piped.mkv").has_audio and abs(audio_onset(tmp_path / "piped.mkv") - 1.0) < 0.03


def test_a_silent_pipe_ends_the_stream_and_ctrl_c_is_heard_at_once(tiny_stylizer_dir: str, talk: Path,
                                                                     tmp_path: Path) -> None:
    """A sender that keeps standard input open but sends nothing for ``--timeout`` s has ended, as a silent
    network stream has: the frames so far are written while it still holds the pipe. Ctrl-C ends a pipe that
    is still sending at once (no read left waiting), with the frames received."""
    proc = stylize_pipe("-o", str(tmp_path / "silent.mkv"), "--prompt", PROMPT, "--model", tiny_stylizer_dir,
                        "--timeout", "2", "--lag", "60")
    feeding, hold = feed(proc, talk, packets=18)
    out, err = outputs(proc)
    feeding.join(10)
    assert proc.returncode == 0, err.decode()
    assert hold and proc.stdin is not None and not proc.stdin.closed  # the pipe is still open: silence ended it
    frames = probe(tmp_path / "silent.mkv").frames
    assert 12 <= frames <= 18 and f"({frames} frames".encode() in out

    proc = stylize_pipe("-o", str(tmp_path / "stopped.mkv"), "--prompt", PROMPT, "--model", tiny_stylizer_dir)
    feed(proc, talk, keep_open=True)
    assert proc.stderr is not None
    lines_until(proc.stderr, "receiving 48x40 at 12 fps")
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    out, err = outputs(proc, 60)
    assert proc.returncode == 0, err.decode()
    assert time.monotonic() - t0 < 8  # not a read timeout's wait (10 s)
    assert b"stopped; wrote" in out and probe(tmp_path / "stopped.mkv").frames >= 1


def test_pipe_from_a_terminal_is_one_line(tiny_stylizer_dir: str, tmp_path: Path) -> None:
    """`rtrdit stylize pipe:` typed with nothing piped in: one line saying how to pipe a stream in."""
    import pty

    main, side = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "rtrdit.cli", "stylize", "pipe:", "-o", str(tmp_path / "o.mkv"),
                               "--prompt", PROMPT, "--model", tiny_stylizer_dir], stdin=side, capture_output=True,
                              text=True, timeout=120, check=False)
    finally:
        os.close(main)
        os.close(side)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "error: standard input is a terminal, not a stream: pipe one in" in proc.stderr.strip().splitlines()[-1]
    assert os.listdir(tmp_path) == []


def test_pipe_where_select_takes_no_pipe_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """On Windows (select() waits on sockets alone) pipe: is refused before anything opens, naming TCP instead."""
    from rtrdit.stream import live

    monkeypatch.setattr(live, "SELECT_ON_PIPES", False)
    with pytest.raises(VideoError, match=r"pipe: is not available on Windows .* tcp://127.0.0.1:9000 --listen"):
        live.plan_live("pipe:", tmp_path / "o.mkv", prompt=PROMPT)
    monkeypatch.setattr(live, "SELECT_ON_PIPES", True)
    with pytest.raises(VideoError, match="standard input is a terminal") if os.isatty(0) else contextlib.nullcontext():
        live.plan_live("pipe:", tmp_path / "o.mkv", prompt=PROMPT)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(("args", "message"), [
    (["rtmp://127.0.0.1:9/live/none", "-o", "{tmp}/o.mp4"], "rtmp://127.0.0.1:9/live/none: cannot open the stream"),
    (["pipe:", "--listen", "-o", "{tmp}/o.mp4"], "--listen is for a network stream; pipe: reads standard input"),
    (["pipe:", "--reconnect", "-o", "{tmp}/o.mp4"], "--reconnect is for a network stream"),
    (["-", "--lag", "5", "-o", "{tmp}/o.mp4"], "standard input read as a live stream is pipe:, not -"),
    (["pipe:", "-o", "{tmp}/o.mp4", "--timeout", "1"], "a whole file such as an MP4 goes in as - instead"),
    (["{clip}", "--listen", "-o", "{tmp}/o.mp4"], "--listen takes a live stream's URL"),
    (["srt://127.0.0.1:9000", "-o", "{tmp}/o.mp4"], "this FFmpeg build has no SRT"),
    (["rtsp://127.0.0.1:9/cam", "--listen", "-o", "{tmp}/o.mp4"], "rtsp is pulled from its server or camera"),
    (["rtsp://admin:s3cret@127.0.0.1:9/cam", "-o", "{tmp}/o.mp4"], "rtsp://admin:***@127.0.0.1:9/cam: cannot open"),
    (["rtmp://127.0.0.1:9/live/x", "-o", "{tmp}/o.png"], "a live stream is written as a video"),
    (["rtmp://127.0.0.1:9/live/x", "-o", "{tmp}/nowhere/o.mp4"], "output folder does not exist"),
    (["rtmp://127.0.0.1:9/live/x", "--skip-existing", "-o", "{tmp}/o.mp4"], "--skip-existing is for files"),
    (["rtmp://127.0.0.1:9/live/x", "--compare", "-o", "udp://127.0.0.1:9"], "--compare writes files beside"),
    (["{clip}", "--reconnect", "-o", "{tmp}/o.mp4"], "--reconnect is for a live input"),
    (["{clip}", "--lag", "5", "-o", "{tmp}/o.mp4"], "--lag is for a live input"),
    (["{clip}", "-o", "rtmp://127.0.0.1:9/live/x"], "a stream is sent to a server from a live input"),
])
def test_cli_bad_live_input(args: list[str], message: str, talk: Path, tiny_stylizer_dir: str,
                            tmp_path: Path) -> None:
    argv = [a.format(tmp=tmp_path, clip=talk) for a in args]
    with talk.open("rb") as mp4:  # standard input: a whole MP4 file (read only by pipe:)
        proc = subprocess.run([sys.executable, "-m", "rtrdit.cli", "stylize", *argv, "--prompt", PROMPT,
                               "--model", tiny_stylizer_dir], stdin=mp4, capture_output=True, text=True, timeout=120,
                              check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert message in lines[-1] and "Traceback" not in proc.stderr and "s3cret" not in proc.stderr + proc.stdout
    assert sorted(os.listdir(tmp_path)) == []


def test_a_pulled_stream_that_never_answers_is_one_error(tiny_stylizer: Any, tmp_path: Path) -> None:
    with socket.socket() as s:  # a port that takes the connection and never says anything
        s.bind(("127.0.0.1", 0))
        s.listen()
        url = f"tcp://127.0.0.1:{s.getsockname()[1]}"
        t0 = time.monotonic()
        with pytest.raises(LiveError, match="cannot open the stream"):
            tiny_stylizer.stylize_stream(url, tmp_path / "o.mp4", PROMPT, timeout=1)
    assert time.monotonic() - t0 < 30 and os.listdir(tmp_path) == []



def test_cli_live_to_standard_output(talk: Path, tiny_stylizer_dir: str, tmp_path: Path) -> None:
    """`rtrdit stylize URL --listen -o - | player`: Matroska on standard output as it is made, notes on stderr."""
    url = f"tcp://127.0.0.1:{free_port()}"
    sender(talk, url, "mpegts")
    proc = subprocess.run([sys.executable, "-m", "rtrdit.cli", "stylize", url + "?listen", "--listen", "-o", "-",
                           "--prompt", PROMPT, "--model", tiny_stylizer_dir, "--timeout", "5"],
                          capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    (tmp_path / "piped.mkv").write_bytes(proc.stdout)
    info = probe(tmp_path / "piped.mkv")
    # frames the stylizer was more than LAG late for are dropped (a loaded machine); every other one is on stdout
    said = re.search(rb"sent - \((\d+) frames.*?(?:; (\d+) dropped|\))", proc.stderr)
    assert said, proc.stderr.decode()
    sent, dropped = int(said[1]), int(said[2] or 0)
    assert (info.frames, info.has_audio) == (sent, True)
    assert sent + dropped == 36 and sent >= BATCH


def test_a_lag_that_is_no_positive_number_of_seconds_is_refused(tmp_path: Path) -> None:
    from rtrdit.stream.live import plan_live

    for lag in (0, -1.0, float("nan"), "1"):
        with pytest.raises(VideoError, match="the lag must be a number of seconds > 0"):
            plan_live("rtmp://127.0.0.1:9/live/x", tmp_path / "o.mp4", PROMPT, lag=lag)  # type: ignore[arg-type]
