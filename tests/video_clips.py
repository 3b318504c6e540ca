"""Small real video files made with PyAV in a test's tmp_path (shared by codec and data tests)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

SHARED_VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "videos"


def frame_value(i: int) -> int:
    """Grey level of frame ``i`` in generated clips, so tests can tell frames apart after lossy coding."""
    return 20 + (12 * i) % 216


def pattern(i: int, width: int, height: int) -> np.ndarray:
    """Frame ``i``: a flat grey of :func:`frame_value` with a white square in the top-left corner."""
    img = np.full((height, width, 3), frame_value(i), dtype=np.uint8)
    img[: max(1, height // 4), : max(1, width // 4)] = 255
    return img


def make_clip(
    path: Path,
    frames: int = 9,
    size: tuple[int, int] = (64, 48),
    fps: float | Fraction = 24,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    audio: str | None = None,
    fmt: str | None = None,
    times: list[float] | None = None,
    audio_seconds: float | None = None,
) -> Path:
    """Encode ``frames`` pattern frames (see :func:`pattern`) into ``path`` with PyAV; ``audio`` names an
    audio codec for a 440 Hz tone as long as the video; ``times`` (seconds, on a millisecond clock) gives
    each frame its own time instead of 1/fps steps: a variable frame rate, as phones record;
    ``audio_seconds`` makes the tone longer (a last frame held over the rest of the audio, as in a slideshow)."""
    import av

    width, height = size
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w", format=fmt) as out:
        vs = out.add_stream(codec, rate=rate)
        vs.width, vs.height, vs.pix_fmt = width, height, pix_fmt
        if times is not None:
            vs.codec_context.time_base = vs.time_base = Fraction(1, 1000)
        if codec in ("libx264", "libvpx-vp9"):
            vs.options = {"crf": "10"} if codec == "libx264" else {"crf": "10", "b": "0", "deadline": "realtime"}
        astream = None
        if audio is not None:
            astream = out.add_stream(audio, rate=48000)
            astream.layout = "stereo"
        src_fmt = {"gray": "gray", "rgba": "rgba", "yuva420p": "rgba"}.get(pix_fmt, "rgb24")
        for i in range(frames):
            img = pattern(i, width, height)
            if src_fmt == "gray":
                img = img[..., 0]
            elif src_fmt == "rgba":
                img = np.concatenate([img, np.full((height, width, 1), 128, np.uint8)], axis=2)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format=src_fmt)
            if times is not None:
                frame.pts, frame.time_base = round(times[i] * 1000), Fraction(1, 1000)
            else:
                frame.pts, frame.time_base = i, 1 / rate
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)
        if astream is not None:
            seconds = frames / float(rate) if times is None else times[-1] + 1 / float(rate)
            seconds = audio_seconds if audio_seconds is not None else seconds
            n, chunk = int(seconds * 48000), 960
            t = np.arange(n) / 48000
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for k in range(0, n, chunk):
                part = np.ascontiguousarray(np.stack([tone[k:k + chunk]] * 2))
                af = av.AudioFrame.from_ndarray(part, format="fltp", layout="stereo")
                af.sample_rate = 48000
                af.pts = k
                af.time_base = Fraction(1, 48000)
                for packet in astream.encode(af):
                    out.mux(packet)
            for packet in astream.encode(None):
                out.mux(packet)
    return path


def write_dpx_still(path: Path, rgb: np.ndarray) -> Path:
    """Write uint8 ``rgb`` (H, W, 3) as a DPX still: like a phone's HEIC, a format FFmpeg reads (and
    writes, so a test can make one) and Pillow does not."""
    import av

    with av.open(str(path), "w", format="image2") as c:
        s = c.add_stream("dpx", rate=1)
        s.width, s.height, s.pix_fmt = rgb.shape[1], rgb.shape[0], "rgb24"
        f = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        f.pts = 0
        for packet in [*s.encode(f), *s.encode()]:
            c.mux(packet)
    return path


def audio_duration(path: Path) -> float:
    """Seconds of audio in ``path`` (0 when it has none), from its packets."""
    import av

    with av.open(str(path)) as c:
        if not c.streams.audio:
            return 0.0
        s = c.streams.audio[0]
        end = 0.0
        for p in c.demux(s):
            if p.pts is None:
                continue
            seconds = float(p.duration * s.time_base) if p.duration else None
            if seconds is None:  # Matroska leaves some packets' durations out (ALAC): count the samples
                seconds = sum(f.samples for f in p.decode()) / s.codec_context.sample_rate
            end = max(end, float(p.pts * s.time_base) + seconds)
        return end


def tone(frames: np.ndarray) -> np.ndarray:
    """Frames blurred (Gaussian, sigma 3 px): a style's colours and tones, its fine texture set aside."""
    import cv2

    return np.stack([cv2.GaussianBlur(f, (0, 0), 3) for f in frames])
