"""Small real video files made with PyAV in a test's tmp_path (shared by codec and data tests)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

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
    sar: Fraction | None = None,
    first: int = 0,
    audio_onset: float = 0.0,
    gop: int | None = None,
    audio_rate: int = 48000,
    audio_layout: str = "stereo",
) -> Path:
    """Encode ``frames`` pattern frames (see :func:`pattern`) into ``path`` with PyAV; ``audio`` names an
    audio codec for a 440 Hz tone as long as the video; ``times`` (seconds, on a millisecond clock) gives
    each frame its own time instead of 1/fps steps: a variable frame rate, as phones record;
    ``audio_seconds`` makes the tone longer (a last frame held over the rest of the audio, as in a slideshow);
    ``sar`` stores non-square pixels (a DVD's or DV camera's 720x576 at 64:45 is shown 1024x576); ``first``
    numbers the pattern frames from there (a part of a longer clip); ``audio_onset`` starts the tone after
    that many seconds of silence; ``gop`` sets x264's key frame interval; ``audio_rate`` and ``audio_layout``
    ("mono" or "stereo") the sound's."""
    import av

    width, height = size
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w", format=fmt) as out:
        vs = out.add_stream(codec, rate=rate)
        vs.width, vs.height, vs.pix_fmt = width, height, pix_fmt
        if sar is not None:
            vs.codec_context.sample_aspect_ratio = sar
        if times is not None:
            vs.codec_context.time_base = vs.time_base = Fraction(1, 1000)
        if codec in ("libx264", "libvpx-vp9"):
            vs.options = {"crf": "10"} if codec == "libx264" else {"crf": "10", "b": "0", "deadline": "realtime"}
            if gop is not None:
                vs.options |= {"g": str(gop), "keyint_min": str(gop)}
        astream = None
        if audio is not None:
            astream = out.add_stream(audio, rate=audio_rate)
            astream.layout = audio_layout
        src_fmt = {"gray": "gray", "rgba": "rgba", "yuva420p": "rgba"}.get(pix_fmt, "rgb24")
        for i in range(frames):
            img = pattern(first + i, width, height)
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
            n, chunk = int(seconds * audio_rate), 960
            t = np.arange(n) / audio_rate
            tone = (0.3 * np.sin(2 * np.pi * 440 * t) * (t >= audio_onset)).astype(np.float32)
            for k in range(0, n, chunk):
                part = np.ascontiguousarray(np.stack([tone[k:k + chunk]] * (1 if audio_layout == "mono" else 2)))
                af = av.AudioFrame.from_ndarray(part, format="fltp", layout=audio_layout)
                af.sample_rate = audio_rate
                af.pts = k
                af.time_base = Fraction(1, audio_rate)
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


LOSSLESS_H264 = "High 4:4:4 Predictive"  # the profile x264 codes crf 0 (lossless) in, 4:2:0 frames too


def video_profile(path: Path) -> str | None:
    """The profile of ``path``'s video codec, as FFmpeg names it ("High", `LOSSLESS_H264`, ...)."""
    import av

    with av.open(str(path)) as c:
        return c.streams.video[0].codec_context.profile


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


def audio_onset(path: Path, level: float = 0.05) -> float:
    """Seconds from a file's start to its first audio sample louder than ``level`` (each decoded frame
    placed at its own time)."""
    import av

    with av.open(str(path)) as c:
        for frame in c.decode(audio=0):
            loud = np.flatnonzero(np.abs(frame.to_ndarray()).max(axis=0) > level)
            if len(loud):
                first = loud[0] if frame.format.is_planar else loud[0] // len(frame.layout.channels)
                return float(frame.time) + first / frame.sample_rate
    raise AssertionError(f"{path}: no audio above {level}")


def tone(frames: np.ndarray) -> np.ndarray:
    """Frames blurred (Gaussian, sigma 3 px): a style's colours and tones, its fine texture set aside."""
    import cv2

    return np.stack([cv2.GaussianBlur(f, (0, 0), 3) for f in frames])


# BT.709 -> BT.2020 primaries on linear light (ITU-R BT.2087)
_BT709_TO_BT2020 = np.array([[0.6274, 0.3293, 0.0433], [0.0691, 0.9195, 0.0114], [0.0164, 0.0880, 0.8956]])


def sdr_nits(rgb: np.ndarray) -> np.ndarray:
    """SDR BT.709 uint8 pixels as the display light (nits) they are shown at with SDR white at 203 nits
    (BT.2408) on a BT.1886 display: what an HDR version of the same picture carries."""
    return (rgb.astype(np.float64) / 255.0) ** 2.4 * 203.0


def _hdr_signal(nits: np.ndarray, transfer: str) -> np.ndarray:
    """BT.709 display light in nits to a BT.2020 HLG or PQ signal 0..1, by BT.2100's forward formulas."""
    light = nits @ _BT709_TO_BT2020.T
    if transfer == "pq":
        m1, m2, c1, c2, c3 = 2610 / 16384, 2523 / 4096 * 128, 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
        y = np.clip(light / 10000.0, 0, 1) ** m1
        return ((c1 + c2 * y) / (1 + c3 * y)) ** m2
    peak, gamma = 1000.0, 1.2  # HLG: undo the OOTF of a 1000-nit display, then the OETF
    scene_luma = (np.maximum(light @ np.array([0.2627, 0.6780, 0.0593]), 1e-12) / peak) ** (1 / gamma)
    scene = light / peak / scene_luma[..., None] ** (gamma - 1)
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    return np.where(scene <= 1 / 12, np.sqrt(3 * np.maximum(scene, 0)), a * np.log(np.maximum(12 * scene - b, 1e-12)) + c)


def make_hdr_clip(path: Path, nits: list[np.ndarray], transfer: str, fps: int = 25) -> Path:
    """An HEVC 10-bit 4:2:0 BT.2020 clip tagged HLG or PQ (``transfer``), as phones record HDR, of
    frames given as (H, W, 3) BT.709 display light in nits (:func:`sdr_nits`, or brighter highlights)."""
    import av

    tags = {"primaries": 9, "trc": {"hlg": 18, "pq": 16}[transfer], "matrix": 9, "range": 1}
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx265", rate=fps)
        h, w = nits[0].shape[:2]
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p10le"
        cc = vs.codec_context
        cc.color_primaries, cc.color_trc, cc.colorspace, cc.color_range = (
            tags["primaries"], tags["trc"], tags["matrix"], tags["range"])
        vs.options = {"crf": "4", "x265-params": "log-level=error"}
        for i, light in enumerate(nits):
            rgb = _hdr_signal(light.astype(np.float64), transfer)
            y = rgb @ np.array([0.2627, 0.6780, 0.0593])  # BT.2020 non-constant luminance, limited range
            half = (lambda p: p.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)))
            planes = (64 + 876 * y, 512 + 896 * half((rgb[..., 2] - y) / 1.8814), 512 + 896 * half((rgb[..., 0] - y) / 1.4746))
            frame = av.VideoFrame(w, h, "yuv420p10le")
            for plane, values in zip(frame.planes, planes, strict=True):
                rows = np.zeros((values.shape[0], plane.line_size // 2), np.uint16)
                rows[:, :values.shape[1]] = np.rint(values)
                plane.update(rows.tobytes())
            frame.color_primaries, frame.color_trc, frame.colorspace, frame.color_range = (
                tags["primaries"], tags["trc"], tags["matrix"], tags["range"])
            frame.pts, frame.time_base = i, Fraction(1, fps)
            _mux(out, vs, frame)
        _mux(out, vs, None)
    return path


def _mux(out: Any, stream: Any, frame: Any) -> None:
    """Encode one frame (None: flush the encoder) into ``stream`` and mux what comes out."""
    for packet in stream.encode(frame):
        out.mux(packet)


def make_unknown_audio_clip(path: Path, also_aac: bool) -> Path:
    """A Matroska clip (24 frames at 24 fps) whose first audio track is in a codec FFmpeg does not know (as a
    phone's spatial audio beside its stereo track), followed by a readable 1 s AAC track when ``also_aac``:
    written as PCM, then its CodecID renamed in place (same length, so the file stays valid)."""
    import av

    with av.open(str(path), "w", format="matroska") as out:
        vs = out.add_stream("libx264", rate=24)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        tracks = [(out.add_stream("pcm_s16le", rate=48000), "s16")]
        if also_aac:
            tracks.append((out.add_stream("aac", rate=48000), "fltp"))
        for stream, _ in tracks:
            stream.layout = "stereo"
        for i in range(24):
            frame = av.VideoFrame.from_ndarray(pattern(i, 64, 48), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 24)
            _mux(out, vs, frame)
        _mux(out, vs, None)
        tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(48000) / 48000)
        for stream, fmt in tracks:
            for k in range(0, 48000, 1024):
                part = np.stack([tone[k:k + 1024]] * 2)
                samples = part.astype(np.float32) if fmt == "fltp" else (part.T.reshape(1, -1) * 32767).astype(np.int16)
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format=fmt, layout="stereo")
                af.sample_rate, af.pts, af.time_base = 48000, k, Fraction(1, 48000)
                _mux(out, stream, af)
            _mux(out, stream, None)
    data = path.read_bytes()
    assert data.count(b"A_PCM/INT/LIT") == 1
    path.write_bytes(data.replace(b"A_PCM/INT/LIT", b"A_QQQ/INT/LIT"))
    return path


def make_interlaced_clip(path: Path, frames: int = 6, size: tuple[int, int] = (128, 96), fps: int = 25) -> Path:
    """An interlaced H.264 clip, as camcorders and broadcasts record: each frame holds two fields half a frame
    apart, with a white bar that moves 4 px from field to field, so a frame read as it is shows combs."""
    import av

    w, h = size
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"crf": "10", "x264-params": "interlaced=1:tff=1"}
        for i in range(frames):
            img = np.full((h, w, 3), 40, np.uint8)
            for parity in (0, 1):  # the even lines' field, then the odd lines'
                x = 8 + 4 * (2 * i + parity)
                img[parity::2, x:x + 12] = 230
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            _mux(out, vs, frame)
        _mux(out, vs, None)
    return path


def display_p3_icc() -> bytes:
    """A Display P3 ICC profile (v2, matrix and gamma 2.2 curves; the colour space of an iPhone's photos),
    built byte by byte: none ships with Pillow or this machine."""
    import struct

    def s15(*values: float) -> bytes:
        return b"".join(struct.pack(">i", round(v * 65536)) for v in values)

    def xyz(*values: float) -> bytes:
        return b"XYZ \0\0\0\0" + s15(*values)

    text = b"Display P3 (test)\0"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + b"\0" * 4 + b"\0" * 4 + b"\0" * 3 + b"\0" * 67
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(2.2 * 256)) + b"\0\0"
    tags = [(b"desc", desc), (b"wtpt", xyz(0.9642, 1.0, 0.8249)), (b"cprt", b"text\0\0\0\0none\0\0\0\0"),
            (b"rXYZ", xyz(0.5151, 0.2412, -0.0011)), (b"gXYZ", xyz(0.2919, 0.6922, 0.0419)),
            (b"bXYZ", xyz(0.1571, 0.0666, 0.7841)), (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for sig, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (struct.pack(">I", size) + b"\0" * 4 + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ " + b"\0" * 12
              + b"acsp" + b"\0" * 24 + struct.pack(">I", 0) + s15(0.9642, 1.0, 0.8249) + b"\0" * 48)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def save_heic(path: Path, image: Any, icc_profile: bytes | None = None) -> Path:
    """Write a PIL image as HEIC (an iPhone's photo format) with pillow-heif's own API, so the test process
    does not register pillow-heif with Pillow: reading it must (``codecs.photo.add_heif_to_pillow``)."""
    import pillow_heif

    if icc_profile is not None:
        image.info["icc_profile"] = icc_profile
    pillow_heif.from_pillow(image).save(str(path), quality=98)
    return path


def grey(frames: np.ndarray) -> np.ndarray:
    """Mean grey level of each frame's bottom-right quarter (away from the white corner)."""
    h, w = frames.shape[1:3]
    return frames[:, h // 2 :, w // 2 :].reshape(len(frames), -1).mean(axis=1)


def expected(indices: range | list[int]) -> np.ndarray:
    return np.array([frame_value(i) for i in indices], dtype=float)
