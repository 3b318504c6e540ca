"""Video reading on real files: containers and codecs, resizing, bad input, photos, the `video info` CLI."""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from video_clips import (
    SHARED_VIDEOS,
    expected,
    grey,
    make_clip,
    make_interlaced_clip,
    write_dpx_still,
)

from rtrdit.cli import main
from rtrdit.codecs import photo, video, video_writer
from rtrdit.codecs.photo import read_image
from rtrdit.codecs.video import VideoError, iter_frames, iter_timed_frames, probe, read_frames, resize_frame
from rtrdit.codecs.video_writer import VideoWriter

# --------------------------------------------------------------------------- reading


def test_probe_and_read_mp4_with_audio(clip: Path) -> None:
    info = probe(clip)
    assert (info.width, info.height, info.frames, info.codec) == (64, 48, 9, "h264")
    assert info.fps == pytest.approx(24.0)
    assert info.duration == pytest.approx(9 / 24, abs=1e-3)
    assert info.has_audio
    frames = read_frames(clip)
    assert frames.shape == (9, 48, 64, 3) and frames.dtype == np.uint8
    np.testing.assert_allclose(grey(frames), expected(range(9)), atol=3)
    assert frames[0, :6, :8].min() > 240  # the white corner stays top-left: no flips


def test_start_and_count_select_frames(clip: Path) -> None:
    part = read_frames(clip, start=3, count=4)
    assert len(part) == 4
    np.testing.assert_allclose(grey(part), expected(range(3, 7)), atol=3)
    assert len(read_frames(clip, start=7, count=100)) == 2  # clipped at the end
    with pytest.raises(VideoError, match="no frames from index 20"):
        read_frames(clip, start=20)


@pytest.mark.parametrize(("name", "codec", "gop"), [("seek.mp4", "libx264", 20), ("seek.webm", "libvpx-vp9", None),
                                                  ("noseek.ts", "libx264", 20), ("seek.gif", "gif", None)])
def test_a_time_span_reads_the_frames_a_full_read_has_there(tmp_path: Path, name: str, codec: str,
                                                             gop: int | None) -> None:
    """A span is read after a seek to the key frame before it (one every 20 frames here, so most spans
    start mid-GOP): the very frames and times a read from the start has there, to half a frame at
    each end, so spans side by side share no frame and miss none. MPEG-TS's seek lands past the time
    asked (it goes by bytes): read from the start instead; a GIF has no index and seeks by reading."""
    src = make_clip(tmp_path / name, frames=60, fps=20, codec=codec, gop=gop,
                    pix_fmt="rgb8" if codec == "gif" else "yuv420p")
    every = list(iter_timed_frames(src))
    times = [t for t, _ in every]
    assert len(every) == 60
    edges = [0.0, 0.52, 1.0, 1.33, 2.9]
    parts = [list(iter_timed_frames(src, start_time=a, end_time=b)) for a, b in itertools.pairwise(edges)]
    parts.append(list(iter_timed_frames(src, start_time=edges[-1])))
    assert [len(p) for p in parts] == [10, 10, 7, 31, 2]  # 0.52 s is 10.4 frames in: frame 10 starts the 2nd
    got = [x for p in parts for x in p]
    assert [t for t, _ in got] == pytest.approx(times)
    for (_, a), (_, b) in zip(got, every, strict=True):
        np.testing.assert_array_equal(a, b)
    within = iter_timed_frames(src, start_time=1.0, end_time=1.5, start=1, count=2)  # frames counted in the span
    assert [t for t, _ in within] == pytest.approx(times[21:23])
    for bad in [(-1.0, None), (2.0, 2.0), (float("nan"), None), (0.0, float("nan"))]:
        with pytest.raises(VideoError, match="start_time"):
            iter_timed_frames(src, start_time=bad[0], end_time=bad[1])


def test_iter_frames_streams_one_frame_at_a_time(clip: Path) -> None:
    it = iter_frames(clip)
    first = next(it)
    assert first.shape == (48, 64, 3)
    it.close()  # closing the generator early closes the file
    assert sum(1 for _ in iter_frames(clip, size=(32, 32))) == 9


@pytest.mark.parametrize(
    ("name", "codec", "pix_fmt", "fmt", "audio", "size"),
    [
        ("clip.webm", "libvpx-vp9", "yuv420p", "webm", "libopus", (64, 48)),
        ("clip.mkv", "ffv1", "yuv444p", "matroska", "pcm_s16le", (33, 17)),  # odd size
        ("clip.mov", "mpeg4", "yuv420p", "mov", None, (64, 48)),
        ("gray.mkv", "ffv1", "gray", "matroska", None, (40, 30)),  # grayscale
        ("alpha.mov", "png", "rgba", "mov", None, (40, 30)),  # alpha channel
        ("alpha.webm", "libvpx-vp9", "yuva420p", "webm", None, (40, 30)),  # VP9 with alpha
    ],
)
def test_other_containers_codecs_and_pixel_formats(
    tmp_path: Path, name: str, codec: str, pix_fmt: str, fmt: str, audio: str | None, size: tuple[int, int]
) -> None:
    path = make_clip(tmp_path / name, frames=6, size=size, fps=25, codec=codec, pix_fmt=pix_fmt,
                     fmt=fmt, audio=audio)
    info = probe(path)
    assert (info.width, info.height, info.frames) == (size[0], size[1], 6)
    assert info.fps == pytest.approx(25.0)
    assert info.duration == pytest.approx(6 / 25, abs=0.02)
    assert info.has_audio == (audio is not None)
    frames = read_frames(path)
    assert frames.shape == (6, size[1], size[0], 3) and frames.dtype == np.uint8
    np.testing.assert_allclose(grey(frames), expected(range(6)), atol=4)
    if pix_fmt == "gray":
        assert np.array_equal(frames[..., 0], frames[..., 1]) and np.array_equal(frames[..., 1], frames[..., 2])


def test_frame_count_without_container_count_is_counted_from_packets(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "c.webm", frames=11, codec="libvpx-vp9", fmt="webm", fps=Fraction(30000, 1001))
    with av.open(str(path)) as c:
        assert c.streams.video[0].frames == 0  # WebM stores no frame count: probe must count
    info = probe(path)
    assert info.frames == 11
    assert info.fps == pytest.approx(29.97, abs=0.01)
    assert info.codec == "vp9"


def test_display_rotation_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "rot.mp4"
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 32, "yuv420p"
        s.set_display_rotation(90)  # phone-style portrait flag
        img = np.zeros((32, 64, 3), np.uint8)
        img[:8, :8] = 255
        for packet in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            out.mux(packet)
        for packet in s.encode(None):
            out.mux(packet)
    info = probe(path)
    assert (info.width, info.height) == (32, 64)
    frame = read_frames(path)[0]
    assert frame.shape == (64, 32, 3)
    # 90 degrees counter-clockwise: the top-left corner goes to the bottom-left.
    assert frame[-6:, :6].min() > 200 and frame[:6, :6].max() < 60
    small = read_frames(path, size=(16, 32))[0]  # resized in display orientation
    assert small.shape == (32, 16, 3) and small[-3:, :3].min() > 200 and small[:3, :3].max() < 60


@pytest.mark.parametrize(("stored", "sar", "shown"), [
    ((720, 576), Fraction(64, 45), (1024, 576)),  # 16:9 PAL DVD / DV
    ((720, 480), Fraction(8, 9), (640, 480)),     # 4:3 NTSC
])
def test_non_square_pixels_are_read_at_the_size_they_are_shown(
        tmp_path: Path, stored: tuple[int, int], sar: Fraction, shown: tuple[int, int]) -> None:
    """Anamorphic frames were read as stored: a 16:9 picture squeezed to 5:4, and written out so."""
    path = make_clip(tmp_path / "dv.mp4", frames=2, size=stored, sar=sar)
    info = probe(path)
    assert (info.width, info.height) == shown
    frame = read_frames(path, count=1)[0]
    assert frame.shape == (shown[1], shown[0], 3)
    square = (frame[stored[1] // 8] > 200).all(axis=-1).sum()  # the white corner square, a quarter of the width
    assert abs(square - shown[0] // 4) <= 2
    quarter = (shown[0] // 4, shown[1] // 4)
    small = read_frames(path, size=quarter, count=1)[0]  # scaled in one pass, to the same picture
    assert np.abs(small.astype(int) - resize_frame(frame, quarter)).mean() < 2


def test_interlaced_video_is_read_deinterlaced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two fields 1/50 s apart read as one picture comb every moving edge (the model would stylize the
    combs); each frame now comes out progressive, one per frame, at its own time."""
    path = make_interlaced_clip(tmp_path / "camcorder.mp4")

    def combs(img: np.ndarray) -> float:  # how far each line is from the mean of its neighbours
        g = img.astype(float).mean(axis=-1)
        return float(np.abs(g[1:-1] - (g[:-2] + g[2:]) / 2).mean())

    with av.open(str(path)) as c:
        raw = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert all(combs(f) > 8 for f in raw)
    timed = list(iter_timed_frames(path))
    assert [round(t, 3) for t, _ in timed] == [0.0, 0.04, 0.08, 0.12, 0.16, 0.2]
    for _, frame in timed:
        assert combs(frame) < 1
        bar = frame[8:-8, :, 0] > 135  # the bar's columns on each line: where it starts lines up, a straight edge
        starts = bar.argmax(axis=1)
        assert np.ptp(starts) <= 1 and all(10 <= n <= 14 for n in bar.sum(axis=1))
    info = probe(path)
    assert info.interlaced and not probe(make_clip(tmp_path / "p.mp4")).interlaced
    assert main(["video", "info", str(path)]) == 0
    assert "interlaced, read deinterlaced" in capsys.readouterr().out


def test_stretch_reads_the_whole_frame_at_any_shape(clip: Path) -> None:
    """``mode="stretch"`` scales the whole frame to the size asked (no crop, no bars), as a session does."""
    full = read_frames(clip)
    small = read_frames(clip, size=(32, 32), mode="stretch")
    assert small.shape == (9, 32, 32, 3)
    assert small[:, :8, :8].min() > 200 and small[:, 20:, 20:].max() < 200  # the white corner: a quarter, as in the source
    cv = np.stack([resize_frame(f, (32, 32), mode="stretch") for f in full])
    assert np.abs(small.astype(int) - cv).mean() < 3
    with pytest.raises(VideoError, match="'crop', 'pad' or 'stretch'"):
        read_frames(clip, size=(32, 32), mode="squash")


def test_single_frame_video_is_readable(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "one.mp4", frames=1)
    info = probe(path)
    assert info.frames == 1 and info.fps == pytest.approx(24.0)
    assert read_frames(path).shape == (1, 48, 64, 3)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_still_images_read_as_one_frame(tmp_path: Path, suffix: str) -> None:
    from PIL import Image

    img = np.zeros((30, 40, 3), np.uint8)
    img[20:, 30:] = (255, 0, 0)
    path = tmp_path / f"ref{suffix}"
    Image.fromarray(img).save(path, quality=95)
    info = probe(path)
    assert (info.width, info.height, info.frames) == (40, 30, 1)
    got = read_image(path)
    assert got.shape == (30, 40, 3)
    np.testing.assert_allclose(got.astype(float), img.astype(float), atol=40)  # lossy formats: colours kept
    assert read_image(path, size=(20, 20), mode="pad").shape == (20, 20, 3)
    grey = tmp_path / "grey_alpha.png"
    Image.fromarray(img).convert("LA").save(grey)
    g = read_image(grey)
    assert g.shape == (30, 40, 3) and np.array_equal(g[..., 0], g[..., 2])


@pytest.mark.skipif(not SHARED_VIDEOS.is_dir(), reason="shared videos folder not present")
def test_real_camera_clip() -> None:
    path = SHARED_VIDEOS / "boxer-punching-towards-camera.mp4"
    info = probe(path)
    assert (info.width, info.height, info.frames, info.codec) == (480, 480, 32, "h264")
    assert info.fps == pytest.approx(10.0) and info.duration == pytest.approx(3.2, abs=0.01)
    frames = read_frames(path, size=(128, 96), start=5, count=8)
    assert frames.shape == (8, 96, 128, 3)
    assert frames.std() > 10  # real content, not a blank
    portrait = probe(SHARED_VIDEOS / "pexels-antoni-shkraba-8048492-540x960-25fps.mp4")
    assert (portrait.width, portrait.height, portrait.frames) == (540, 960, 353)


# --------------------------------------------------------------------------- resize


@pytest.mark.parametrize("src", [(64, 48), (48, 64), (33, 17), (256, 256), (7, 300)])
@pytest.mark.parametrize("dst", [(32, 32), (100, 40), (17, 9), (512, 288)])
@pytest.mark.parametrize("mode", ["crop", "pad"])
def test_resize_always_hits_the_target_size(src: tuple[int, int], dst: tuple[int, int], mode: str) -> None:
    frame = np.random.default_rng(0).integers(0, 256, (src[1], src[0], 3), dtype=np.uint8)
    out = resize_frame(frame, dst, mode)
    assert out.shape == (dst[1], dst[0], 3) and out.dtype == np.uint8


@pytest.mark.skipif(not SHARED_VIDEOS.is_dir(), reason="shared videos folder not present")
@pytest.mark.parametrize(("size", "mode"), [((96, 96), "crop"), ((128, 72), "pad"), ((72, 128), "crop")])
def test_resizing_while_decoding_matches_resize_frame(size: tuple[int, int], mode: str) -> None:
    """The reader scales inside FFmpeg's colour conversion; it must agree with resize_frame."""
    path = SHARED_VIDEOS / "pexels-antoni-shkraba-8048492-540x960-25fps.mp4"  # portrait
    fast = read_frames(path, size=size, mode=mode, count=3)
    slow = np.stack([resize_frame(f, size, mode) for f in read_frames(path, count=3)])
    assert fast.shape == slow.shape == (3, size[1], size[0], 3)
    diff = np.abs(fast.astype(int) - slow.astype(int))
    assert diff.mean() < 2.0 and np.percentile(diff, 99) < 16  # interpolation noise only, same framing


def test_resize_crop_keeps_centre_and_pad_adds_bars() -> None:
    wide = np.zeros((100, 200, 3), np.uint8)
    wide[:, 50:150] = 200  # the centre square
    wide[:, :50] = 50
    cropped = resize_frame(wide, (50, 50), "crop")
    assert cropped.min() >= 190  # only the centre square is left, no aspect distortion
    padded = resize_frame(wide, (100, 100), "pad")
    assert padded[:25].max() == 0 and padded[75:].max() == 0  # black bars top and bottom
    assert padded[30:70, :20].mean() == pytest.approx(50, abs=2)  # left part of the image kept
    assert padded[30:70, 30:70].mean() == pytest.approx(200, abs=2)
    with pytest.raises(VideoError, match="'crop', 'pad' or 'stretch'"):
        resize_frame(wide, (10, 10), "fit")
    with pytest.raises(VideoError, match="positive"):
        resize_frame(wide, (0, 10))


# --------------------------------------------------------------------------- bad input


def _bad_files(tmp_path: Path, clip: Path) -> dict[str, tuple[Path, str]]:
    data = clip.read_bytes()
    files = {
        "missing": (tmp_path / "missing.mp4", "no such file"),
        "zero-byte": (tmp_path / "empty.mp4", "empty file"),
        "truncated": (tmp_path / "trunc.mp4", "not a readable video"),
        "not a video": (tmp_path / "notes.mp4", "not a readable video"),
        "audio only": (tmp_path / "tone.wav", "no video stream"),
        "a folder": (tmp_path, "not a regular file"),
        "music with cover art": (tmp_path / "song.m4a", "no video stream"),
        "unknown codec": (tmp_path / "raw.mkv", "the video is in a codec FFmpeg cannot decode"),
        "damaged animated WebP": (tmp_path / "sticker.webp", "not a readable animated WebP"),
    }
    from PIL import Image

    stickers = [Image.new("RGB", (32, 24), (40 * i, 90, 30)) for i in range(3)]
    stickers[0].save(files["damaged animated WebP"][0], save_all=True, append_images=stickers[1:], duration=100)
    sticker = files["damaged animated WebP"][0].read_bytes()
    files["damaged animated WebP"][0].write_bytes(sticker[: len(sticker) - 40])  # its last frame cut short
    mkv = make_clip(tmp_path / "h264.mkv", frames=2, fmt="matroska").read_bytes()
    files["unknown codec"][0].write_bytes(mkv.replace(b"V_MPEG4/ISO/AVC", b"V_QQQQQ/ISO/AVC"))  # an id FFmpeg lacks
    files["zero-byte"][0].write_bytes(b"")
    files["truncated"][0].write_bytes(data[: len(data) // 2])  # index (moov) at the end: lost
    files["not a video"][0].write_text("this is a shopping list, not a video\n" * 50)
    with av.open(str(files["audio only"][0]), "w") as out:
        s = out.add_stream("pcm_s16le", rate=8000)
        f = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        f.sample_rate = 8000
        for p in s.encode(f):
            out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    with av.open(str(files["music with cover art"][0]), "w", format="mp4") as out:
        s = out.add_stream("aac", rate=48000)
        s.layout = "stereo"
        cover = out.add_stream("mjpeg")  # album art: a one-picture "video" stream
        cover.width, cover.height, cover.pix_fmt = 32, 32, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        for p in cover.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")):
            out.mux(p)
        for p in cover.encode(None):
            out.mux(p)
        f = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp", layout="stereo")
        f.sample_rate, f.pts = 48000, 0
        for p in s.encode(f):
            out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    return files


def test_bad_files_raise_one_line_video_error(clip: Path, tmp_path: Path) -> None:
    for label, (path, message) in _bad_files(tmp_path, clip).items():
        for reader in (probe, read_frames):
            with pytest.raises(VideoError) as err:
                reader(path)
            text = str(err.value)
            assert message in text, (label, text)
            assert str(path) in text and "\n" not in text, label


def test_truncated_fast_start_mp4_is_detected(clip: Path, tmp_path: Path) -> None:
    fast = tmp_path / "fast.mp4"  # index (moov) before the data, like web-optimised files
    with av.open(str(clip)) as src, av.open(str(fast), "w", options={"movflags": "faststart"}) as out:
        s = out.add_stream_from_template(src.streams.video[0])
        for p in src.demux(src.streams.video[0]):
            if p.dts is not None:
                p.stream = s
                out.mux(p)
    assert probe(fast).frames == 9
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(fast.read_bytes()[: fast.stat().st_size * 2 // 3])
    with pytest.raises(VideoError, match="truncated"):
        probe(cut)
    with pytest.raises(VideoError, match="truncated"):
        read_frames(cut)


def test_corrupt_data_in_the_middle_does_not_hang_or_crash(clip: Path, tmp_path: Path) -> None:
    data = bytearray(clip.read_bytes())
    rng = np.random.default_rng(1)
    mid = len(data) // 2
    data[mid : mid + 400] = rng.integers(0, 256, 400, dtype=np.uint8).tobytes()
    bad = tmp_path / "garbled.mp4"
    bad.write_bytes(bytes(data))
    try:
        frames = read_frames(bad)
    except VideoError as exc:  # either a clean error ...
        assert "\n" not in str(exc) and str(bad) in str(exc)
    else:  # ... or the frames FFmpeg could conceal
        assert frames.ndim == 4 and frames.shape[1:] == (48, 64, 3)


def test_huge_frames_are_refused_before_decoding(tmp_path: Path) -> None:
    huge = tmp_path / "huge.y4m"  # a raw YUV4MPEG2 stream whose header declares 9000x9000 frames
    huge.write_bytes(b"YUV4MPEG2 W9000 H9000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(1000))
    for reader in (probe, read_frames):
        with pytest.raises(VideoError, match="9000x9000 are too large"):
            reader(huge)
    assert main(["video", "info", str(huge)]) == 2


def test_size_limit_applies_to_writing_and_resizing(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in (video, video_writer):  # the reader's limit, which the writer imports
        monkeypatch.setattr(module, "MAX_PIXELS", 40 * 40)  # the clip's 64x48 now counts as huge
    with pytest.raises(VideoError, match="too large"):
        probe(clip)
    with pytest.raises(VideoError, match="too large"), VideoWriter(tmp_path / "big.mp4", 24) as w:
        w.write(np.zeros((48, 64, 3), np.uint8))
    with pytest.raises(VideoError, match="too large"):
        resize_frame(np.zeros((8, 8, 3), np.uint8), (64, 48))
    assert not (tmp_path / "big.mp4").exists()


# --------------------------------------------------------------------------- CLI


def test_the_audio_kept_is_the_default_track(tmp_path: Path) -> None:
    """Of two readable tracks the one marked default is copied (FFmpeg's choice too), not simply the first."""
    path = tmp_path / "two.mkv"
    with av.open(str(path), "w", format="matroska") as out:
        vs = out.add_stream("libx264", rate=24)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        tracks = [out.add_stream("aac", rate=48000), out.add_stream("libopus", rate=48000)]
        tracks[0].disposition, tracks[1].disposition = 0, av.stream.Disposition.default
        frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
        for packet in [*vs.encode(frame), *vs.encode(None)]:
            out.mux(packet)
        for stream in tracks:
            af = av.AudioFrame.from_ndarray(np.zeros((2, 960), np.float32), format="fltp", layout="stereo")
            af.sample_rate, af.pts = 48000, 0
            for packet in [*stream.encode(af), *stream.encode(None)]:
                out.mux(packet)
    with av.open(str(path)) as c:
        assert video.audio_stream(c).codec_context.name == "opus"
    dst = tmp_path / "out.mkv"
    with VideoWriter(dst, 24, audio_from=path) as w:
        w.write(np.zeros((48, 64, 3), np.uint8))
    with av.open(str(dst)) as c:
        assert [s.codec_context.name for s in c.streams.audio] == ["opus"]


def test_cli_video_info(clip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["video", "info", str(clip), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {k: data[k] for k in ("width", "height", "frames", "codec")} == {
        "width": 64, "height": 48, "frames": 9, "codec": "h264"}
    assert data["fps"] == pytest.approx(24) and data["duration"] == pytest.approx(0.375, abs=1e-3)
    assert data["colour"] == "unspecified (read as bt601)"  # an untagged SD clip
    assert main(["video", "info", str(clip)]) == 0
    text = capsys.readouterr().out
    assert "width" in text and "64" in text and "h264" in text


def test_cli_video_info_bad_files_exit_2_with_one_line(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for label, (path, message) in _bad_files(tmp_path, clip).items():
        assert main(["video", "info", str(path)]) == 2, label
        captured = capsys.readouterr()
        assert captured.out == ""
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in captured.err, (label, lines)


@pytest.mark.parametrize(
    ("name", "kwargs", "size", "frames"),
    [
        ("gray.mkv", {"codec": "ffv1", "pix_fmt": "gray", "fmt": "matroska"}, (40, 30), 4),
        ("alpha.mov", {"codec": "png", "pix_fmt": "rgba", "fmt": "mov"}, (40, 30), 4),
        ("odd.mkv", {"codec": "ffv1", "pix_fmt": "yuv444p", "fmt": "matroska"}, (33, 17), 4),
        ("one.mp4", {}, (64, 48), 1),
    ],
)
def test_cli_video_info_unusual_but_valid_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, kwargs: dict, size: tuple[int, int], frames: int
) -> None:
    path = make_clip(tmp_path / name, frames=frames, size=size, fps=25, **kwargs)
    assert main(["video", "info", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["width"], data["height"], data["frames"]) == (size[0], size[1], frames)
    assert data["fps"] == pytest.approx(25)


@pytest.mark.parametrize(("size", "suffix", "tag", "luma"), [
    ((256, 256), ".mp4", 6, 93),     # SD: BT.601 (smpte170m), what a player assumes below 577 lines
    ((1280, 720), ".mp4", 1, 81),    # HD: BT.709; untagged BT.601 was shown shifted by size-guessing players
    ((540, 960), ".webm", 1, 81),    # portrait HD (a phone), VP9
])
def test_outputs_say_their_colour_matrix_and_use_the_one_players_assume(
        tmp_path: Path, size: tuple[int, int], suffix: str, tag: int, luma: int) -> None:
    w, h = size
    red = np.zeros((3, h, w, 3), np.uint8)
    red[...] = (200, 40, 60)  # BT.601 luma 93.4, BT.709 luma 80.8 (limited range)
    path = tmp_path / f"c{suffix}"
    video_writer.write_video(path, red, 24)
    with av.open(str(path)) as c:
        cc = c.streams.video[0].codec_context
        assert (cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range) == (tag, tag, tag, 1)
        y = next(c.decode(video=0)).to_ndarray(format="yuv420p")[:h]
    assert abs(float(y.mean()) - luma) < 1.5
    assert np.abs(read_frames(path).astype(int) - red).max() <= 4  # read back through the tag
    assert probe(path).colour == {1: "bt709", 6: "smpte170m"}[tag]


@pytest.mark.parametrize(("size", "matrix"), [((1280, 720), "ITU709"), ((720, 1280), "ITU709"), ((640, 480), "ITU601")])
def test_a_file_that_does_not_say_its_colour_matrix_is_read_in_the_one_players_assume(
        tmp_path: Path, size: tuple[int, int], matrix: str) -> None:
    """Untagged HD is BT.709 to a player (FFmpeg's conversion would read it as BT.601: red 200,40,60 came
    back as 185,20,60), untagged SD is BT.601; full size and resized while decoding alike."""
    w, h = size
    red = np.full((h, w, 3), (200, 40, 60), np.uint8)
    path = tmp_path / "untagged.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for i in range(2):
            f = av.VideoFrame.from_ndarray(red, format="rgb24").reformat(
                format="yuv420p", dst_colorspace=matrix, dst_color_range="MPEG")
            f.pts = i
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    with av.open(str(path)) as c:
        assert c.streams.video[0].codec_context.colorspace == video.UNSPECIFIED
    assert probe(path).colour == f"unspecified (read as {'bt709' if matrix == 'ITU709' else 'bt601'})"
    assert np.abs(read_frames(path, count=1)[0].astype(int) - (200, 40, 60)).max() <= 4
    assert np.abs(read_frames(path, count=1, size=(64, 48))[0].astype(int) - (200, 40, 60)).max() <= 4


def test_read_photo_takes_what_pillow_cannot_and_refuses_a_video(clip: Path, tmp_path: Path) -> None:
    from PIL import Image, UnidentifiedImageError

    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[:10] = (200, 40, 60)
    still = write_dpx_still(tmp_path / "scan.dpx", rgb)
    with pytest.raises(UnidentifiedImageError):
        Image.open(still)
    np.testing.assert_array_equal(photo.read_photo(still), rgb)
    with pytest.raises(VideoError, match=r"not a photo \(\d+ frames of h264: a video\?\)"):
        photo.read_photo(clip)
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(VideoError, match="not a readable image \\(a format neither Pillow nor FFmpeg reads\\)"):
        photo.read_photo(tmp_path / "notes.txt")
    with pytest.raises(VideoError, match="no such file"):
        photo.read_photo(tmp_path / "missing.png")
