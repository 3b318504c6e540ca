"""Video writing to real files: containers and codecs by suffix, atomic output, sound in sync, GIF and WebP."""

from __future__ import annotations

import json
import os
from pathlib import Path

import av
import numpy as np
import pytest
from video_clips import (
    audio_duration,
    audio_onset,
    expected,
    frame_value,
    grey,
    make_clip,
    pattern,
)

from rtrdit.cli import main
from rtrdit.codecs import video_writer
from rtrdit.codecs.video import VideoError, iter_timed_frames, probe, read_frames
from rtrdit.codecs.video_writer import CONTAINERS, VideoWriter
from rtrdit.eval.metrics.psnr import psnr


def test_writer_round_trip_at_source_fps_with_audio(clip: Path, tmp_path: Path) -> None:
    src = probe(clip)
    frames = read_frames(clip)
    out = tmp_path / "out.mp4"
    with VideoWriter(out, src.fps, audio_from=clip) as w:
        for f in frames:  # single frames
            w.write(f)
    info = probe(out)
    assert (info.width, info.height, info.frames, info.codec) == (64, 48, 9, "h264")
    assert info.fps == pytest.approx(src.fps) and info.has_audio
    assert audio_duration(out) == pytest.approx(9 / 24, abs=0.05)
    with av.open(str(out)) as c:
        order = "".join(p.stream.type[0] for p in c.demux() if p.size)
    assert order.index("a") < order.rindex("v")  # audio interleaved with the video, not appended at the end
    np.testing.assert_allclose(grey(read_frames(out)), expected(range(9)), atol=3)
    assert sorted(os.listdir(tmp_path)) == ["clip.mp4", "out.mp4"]  # no temporary left
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # an ordinary file, not mkstemp's private 0600


VFR_TIMES = [i / 30 for i in range(12)] + [11 / 30 + 0.1 * (i + 1) for i in range(12)]  # 30 fps, then 10


def test_writer_keeps_a_variable_frame_rate(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "vfr.mp4", frames=24, times=VFR_TIMES, audio="aac")
    assert [t for t, _ in iter_timed_frames(src)] == pytest.approx(VFR_TIMES, abs=1e-3)
    out = tmp_path / "out.mp4"
    with VideoWriter(out, probe(src).fps, audio_from=src) as w:
        for t, frame in iter_timed_frames(src):
            w.write(frame, [t])
    assert [t for t, _ in iter_timed_frames(out)] == pytest.approx(VFR_TIMES, abs=1e-3)  # not 1/fps apart
    np.testing.assert_allclose(grey(read_frames(out)), expected(range(24)), atol=3)
    assert audio_duration(out) == pytest.approx(VFR_TIMES[-1] + 1 / probe(src).fps, abs=0.06)
    w = VideoWriter(tmp_path / "mixed.mp4", 24)
    w.write(read_frames(src, count=1), [0.0])
    with pytest.raises(VideoError, match="with every write or with none"):
        w.write(read_frames(src, count=1))
    with pytest.raises(VideoError, match="2 frames need 2 finite times"):
        w.write(read_frames(src, count=2), [0.1])
    w.abort()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4", "vfr.mp4"]


@pytest.mark.parametrize(
    ("name", "codec", "fmt", "audio", "carried"),
    [
        ("pcm.mkv", "ffv1", "matroska", "pcm_s16le", "aac"),  # MP4 cannot carry PCM: re-encoded to AAC
        ("opus.webm", "libvpx-vp9", "webm", "libopus", "opus"),  # copied as is
        ("mp3.mkv", "libx264", "matroska", "mp3", "mp3"),
    ],
)
def test_writer_carries_audio_cut_to_video_length(
    tmp_path: Path, name: str, codec: str, fmt: str, audio: str, carried: str
) -> None:
    src = make_clip(tmp_path / name, frames=24, fps=24, codec=codec, fmt=fmt, audio=audio)
    out = tmp_path / "short.mp4"
    with VideoWriter(out, 24, audio_from=src) as w:
        w.write(read_frames(src, count=12))  # half the source
    assert probe(out).has_audio and probe(out).frames == 12
    with av.open(str(out)) as c:
        assert c.streams.audio[0].codec_context.codec.canonical_name == carried
    assert audio_duration(out) == pytest.approx(0.5, abs=0.06)


@pytest.mark.parametrize(("name", "audio"), [("part.mp4", "aac"), ("part.mkv", "pcm_s16le"), ("part.webm", "aac"),
                                             ("part.mp4", "pcm_s16le")])
@pytest.mark.parametrize("start", [0.0, 1.0])
def test_writer_keeps_the_audio_in_sync_from_its_start(tmp_path: Path, name: str, audio: str, start: float) -> None:
    """The source's audio in sync with its video, whether copied (AAC or MP2 into MP4, PCM into MKV) or
    re-encoded (AAC to Opus for WebM, PCM to AAC for MP4: the encoder's own delay, 1024 samples of AAC, is
    dated back, not added: it made re-encoded audio 21 ms late), and from ``audio_start`` on: the audio of
    a part of the source, copied in whole packets at their own times or re-encoded from the very sample
    (the decoder warmed up on the half second before: started cold after the seek it was 2-8 ms early)."""
    src = make_clip(tmp_path / "src.mkv", frames=48, fps=24, codec="ffv1", audio=audio, audio_onset=1.25)
    onset = audio_onset(src)
    assert onset == pytest.approx(1.25, abs=0.001)
    out = tmp_path / name
    with VideoWriter(out, 24, audio_from=src, audio_start=start) as w:
        w.write(read_frames(src, start=round(24 * start)))
    assert audio_duration(out) == pytest.approx(2 - start, abs=0.03)
    assert audio_onset(out) == pytest.approx(onset - start, abs=0.003)
    if start == 0 and name == "part.mp4" and audio == "aac":  # copied from the start: every packet, priming too
        with av.open(str(src)) as a, av.open(str(out)) as b:
            first = [next(p for p in c.demux(audio=0) if p.size) for c in (a, b)]
        at = [float(p.pts * p.time_base) for p in first]
        assert at[0] == pytest.approx(at[1], abs=1e-3) and at[0] < 0 and bytes(first[0]) == bytes(first[1])
    with pytest.raises(VideoError, match="audio_start"):
        VideoWriter(tmp_path / "x.mp4", 24, audio_from=src, audio_start=-1)


@pytest.mark.parametrize(
    ("name", "muxer", "codec", "audio"),
    [
        ("o.mov", "mov", "h264", "aac"),  # the source's AAC copied
        ("o.mkv", "matroska", "h264", "aac"),
        ("o.m4v", "mp4", "h264", "aac"),
        ("o.webm", "webm", "vp9", "opus"),  # WebM cannot carry AAC: re-encoded to Opus (48 kHz)
    ],
)
def test_writer_container_follows_the_suffix(clip: Path, tmp_path: Path, name: str, muxer: str, codec: str,
                                             audio: str) -> None:
    src = probe(clip)
    out = tmp_path / name
    with VideoWriter(out, src.fps, audio_from=clip) as w:
        w.write(read_frames(clip))
    info = probe(out)
    assert (info.width, info.height, info.frames, info.codec) == (64, 48, 9, codec)
    assert info.fps == pytest.approx(src.fps) and info.has_audio
    with av.open(str(out)) as c:
        assert muxer in c.format.name.split(",")
        assert c.streams.audio[0].codec_context.codec.canonical_name == audio
    assert audio_duration(out) == pytest.approx(9 / 24, abs=0.05)
    np.testing.assert_allclose(grey(read_frames(out)), expected(range(9)), atol=3)
    assert sorted(os.listdir(tmp_path)) == ["clip.mp4", name]  # no temporary left


@pytest.mark.parametrize("audio", ["aac", "mp3", "ac3", "eac3", "alac", "opus", "flac", "pcm_s16le"])
def test_every_container_takes_every_common_audio_codec(tmp_path: Path, audio: str) -> None:
    """Copied where the muxer takes it, re-encoded where not: a .mov of an Opus or FLAC source used to
    fail at the very end of a render (FFmpeg writes those into QuickTime only as 'experimental')."""
    src = make_clip(tmp_path / "src.mkv", frames=12, size=(32, 32), fps=12, audio=audio)
    for suffix in [s for s, c in CONTAINERS.items() if c.audio]:  # all but GIF, which has no sound
        out = tmp_path / f"o{suffix}"
        with VideoWriter(out, 12, audio_from=src) as w:
            w.write(read_frames(src))
        assert probe(out).has_audio and probe(out).frames == 12, suffix
        assert audio_duration(out) == pytest.approx(1.0, abs=0.1), suffix  # copies cut at a packet: ALAC's are 93 ms


def test_writer_without_audio_source_audio(clip: Path, tmp_path: Path) -> None:
    silent = make_clip(tmp_path / "silent.mp4", frames=3)
    out = tmp_path / "o.mp4"
    with VideoWriter(out, 24, audio_from=silent) as w:
        w.write(read_frames(clip, count=3))
    assert not probe(out).has_audio


def test_writer_ntsc_fps_and_odd_size(tmp_path: Path) -> None:
    frames = np.stack([np.full((17, 33, 3), frame_value(i), np.uint8) for i in range(5)])
    out = tmp_path / "odd.mp4"
    with VideoWriter(out, 30000 / 1001) as w:
        w.write(frames)
    info = probe(out)
    assert (info.width, info.height) == (34, 18)  # padded by one edge pixel to even sizes
    assert info.fps == pytest.approx(29.97, abs=1e-3) and info.frames == 5
    back = read_frames(out)
    np.testing.assert_allclose(back[:, :17, :33].reshape(5, -1).mean(1), expected(range(5)), atol=3)


@pytest.mark.parametrize("timed", [False, True])
def test_a_gif_keeps_colours_timing_and_size(clip: Path, tmp_path: Path, timed: bool) -> None:
    """.gif: each frame in 256 colours of its own (frames of 1,900 colours come back at 32 dB, against 21 dB
    through one fixed 3-3-2 palette, FFmpeg's rgb8), frames on GIF's 1/100 s clock without drift (24 fps is 4 and 5 hundredths), any size
    (no padding), no sound (the source's audio is left out, not an error)."""
    yy, xx = np.mgrid[0:37, 0:51]
    frames = np.stack([np.stack([(xx * 5 + 9 * i) % 256, (yy * 7) % 256, (xx + yy + 20 * i) % 256], -1)
                       for i in range(30)]).astype(np.uint8)
    if timed:  # a source's own times: a variable rate
        times = [i / 24 if i < 15 else 14 / 24 + (i - 14) * 0.1 for i in range(30)]
    out = tmp_path / "out.gif"
    with VideoWriter(out, 24, audio_from=clip) as w:
        w.write(frames, times if timed else None)
    info = probe(out)
    assert (info.width, info.height, info.frames, info.codec, info.has_audio) == (51, 37, 30, "gif", False)
    got = list(iter_timed_frames(out))
    expect = times if timed else [i / 24 for i in range(30)]
    assert [t for t, _ in got] == pytest.approx(expect, abs=0.006)
    assert psnr(np.stack([f for _, f in got]), frames) > 30


def test_writer_is_atomic_on_error(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "keep.mp4"
    out.write_bytes(b"previous result")
    with pytest.raises(RuntimeError), VideoWriter(out, 24) as w:
        w.write(read_frames(clip, count=4))
        raise RuntimeError("stylizer crashed")
    assert out.read_bytes() == b"previous result"  # untouched
    assert sorted(os.listdir(tmp_path)) == ["clip.mp4", "keep.mp4"]  # temporary removed

    with pytest.raises(VideoError, match="frame size changed"), VideoWriter(tmp_path / "x.mp4", 24) as w:
        w.write(np.zeros((16, 16, 3), np.uint8))
        w.write(np.zeros((16, 18, 3), np.uint8))
    with pytest.raises(VideoError, match="no frames were written"), VideoWriter(tmp_path / "y.mp4", 24):
        pass
    with pytest.raises(VideoError, match="uint8"), VideoWriter(tmp_path / "z.mp4", 24) as w:
        w.write(np.zeros((16, 16, 3), np.float32))
    assert sorted(os.listdir(tmp_path)) == ["clip.mp4", "keep.mp4"]


def test_writer_rejects_bad_arguments(clip: Path, tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="does not exist"):
        VideoWriter(tmp_path / "missing" / "o.mp4", 24)
    with pytest.raises(VideoError, match="fps"):
        VideoWriter(tmp_path / "o.mp4", 0)
    with pytest.raises(VideoError, match="no such file"):
        VideoWriter(tmp_path / "o.mp4", 24, audio_from=tmp_path / "nope.mp4")
    for crf in (-1, 52, 18.0, True):
        with pytest.raises(VideoError, match="crf must be a whole number from 0"):
            VideoWriter(tmp_path / "o.mp4", 24, crf=crf)  # type: ignore[arg-type]
    assert sorted(os.listdir(tmp_path)) == ["clip.mp4"]


def test_crf_sets_the_quality_and_0_is_lossless(tmp_path: Path) -> None:
    """``crf``: a lower value is a larger file nearer the frames; 0 is lossless, so the frames come back the
    same whatever x264 decides, on another clock (FLV's milliseconds) too."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:48]
    smooth = np.stack([np.stack([xx * 5 + 7 * i, yy * 6 + 3 * i, (xx + yy) * 4 + 11 * i], -1) % 256 for i in range(36)])
    frames = np.clip(smooth + rng.integers(-20, 20, smooth.shape[:-1])[..., None], 0, 255).astype(np.uint8)  # grain

    def write(name: str, crf: int, times: list[float]) -> Path:
        with VideoWriter(tmp_path / name, 12, crf=crf) as w:
            w.write(frames, times)
        return tmp_path / name

    exact = [i / 12 for i in range(36)]
    lossless, flv = write("a.mp4", 0, exact), write("b.mp4", 0, [round(t, 3) for t in exact])
    default, small = write("c.mp4", 18, exact), write("d.mp4", 40, exact)
    coded = read_frames(lossless)  # what x264 was given: the frames in 4:2:0
    assert np.array_equal(coded, read_frames(flv))
    near = [psnr(read_frames(p), coded) for p in (default, small)]
    sizes = [p.stat().st_size for p in (lossless, default, small)]
    assert 99 > near[0] > near[1] + 6 and sizes[0] > 1.5 * sizes[1] > 3 * sizes[2], (near, sizes)
    assert psnr(coded, frames) >= psnr(read_frames(default), frames)


def test_animated_webp_is_written_and_read_with_each_frames_time(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A video to .webp is an animated WebP (libwebp through FFmpeg) that loops as a GIF does, each frame at its
    own time; read back (Pillow decodes it: FFmpeg cannot) with those frames and times, its nominal rate 12 fps,
    transparency on white, and no temporary copy left behind."""
    import tempfile

    from PIL import Image

    private = tmp_path / "tmp"  # a temporary folder of its own: another test worker's copies are not this test's
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))

    times = [i / 12 + (0.25 if i >= 6 else 0.0) for i in range(10)]  # a pause after the sixth frame
    frames = np.stack([pattern(i, 50, 30) for i in range(10)])  # odd sizes too
    with VideoWriter(tmp_path / "a.webp", 12) as w:
        w.write(frames, times)
    with Image.open(tmp_path / "a.webp") as im:
        assert (im.format, im.n_frames, im.info["loop"]) == ("WEBP", 10, 0)
    got = list(iter_timed_frames(tmp_path / "a.webp"))
    info = probe(tmp_path / "a.webp")
    assert (info.codec, info.fps, info.frames, info.width, info.height) == ("webp", 12.0, 10, 50, 30)
    assert np.allclose([t for t, _ in got], times, atol=1e-3)
    assert min(psnr(f, g) for (_, f), g in zip(got, frames, strict=True)) > 30
    clear = [Image.new("RGBA", (8, 6), (0, 0, 255, 255 * (i % 2))) for i in range(4)]  # every other frame clear
    clear[0].save(tmp_path / "clear.webp", save_all=True, append_images=clear[1:], duration=50, lossless=True)
    see = read_frames(tmp_path / "clear.webp")
    assert see.shape == (4, 6, 8, 3) and (see[0] == 255).all() and (see[1] == (0, 0, 255)).all()
    assert os.listdir(private) == []


def test_cli_video_info_reads_an_animated_webp(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`rtrdit video info` on an animated WebP; an output .webp of one frame stays a photo (`output_format`)."""
    from PIL import Image

    frames = [Image.new("RGB", (16, 12), (20 * i, 60, 90)) for i in range(5)]
    frames[0].save(tmp_path / "s.webp", save_all=True, append_images=frames[1:], duration=40)
    assert main(["video", "info", str(tmp_path / "s.webp"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["codec"], info["frames"], info["fps"], info["duration"]) == ("webp", 5, 25.0, 0.2)
    assert video_writer.output_format(tmp_path / "x.webp", 1) == "image" and video_writer.output_format(tmp_path / "x.webp", 5) == "video"
