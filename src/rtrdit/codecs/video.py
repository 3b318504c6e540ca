"""Video files in and out: streaming PyAV reads as uint8 RGB, keep-aspect resizing, atomic writes
(H.264 MP4 / MOV / MKV, VP9 WebM).

Every failure on a user's file (missing, empty, truncated, not a video, bad frame size) raises
:class:`VideoError` with one readable line that names the file, never a raw FFmpeg traceback.
"""

from __future__ import annotations

import itertools
import math
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np

from rtrdit.codecs import hdr
from rtrdit.files import WriteError, atomic_path, publish, temp_beside

# FFmpeg's AVCOL_SPC/PRI/TRC values outputs are tagged with (BT709 = 1, SMPTE170M = 6: BT.601 525-line)
# and AVCOL_RANGE_MPEG (limited range)
BT709, SMPTE170M, LIMITED_RANGE, FULL_RANGE = 1, 6, 1, 2
UNSPECIFIED = 2  # AVCOL_SPC_UNSPECIFIED: a file that does not say


def _hd(width: int, height: int) -> bool:
    """Whether a player takes an untagged video of this size as BT.709 (mpv's rule: 1280 wide or 577
    high and up) rather than BT.601: what untagged files are read as and outputs are written in."""
    return width >= 1280 or height > 576
TIME_BASE = 90_000  # ticks per second of a timed writer's clock (MPEG's)
# A frame larger than this (in pixels) is refused: one RGB frame of 8192x8192 is already 200 MB.
MAX_PIXELS = 8192 * 8192
GAP = 0.1  # seconds missing from a re-encoded sound that are filled with silence (`VideoWriter`)
AUDIO_PREROLL = 0.5  # seconds of audio decoded before a start sought to (`VideoWriter`'s ``audio_start``)
# Audio codecs an MP4 can carry as they are; anything else is re-encoded to AAC.
_MP4_AUDIO_COPY = {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"}


@dataclass(frozen=True)
class _Container:
    """How VideoWriter writes one kind of output file: FFmpeg muxer, video and audio encoders, and the
    audio codecs it copies as they are (any other audio is re-encoded)."""

    muxer: str
    video: str
    audio: str
    audio_copy: frozenset[str]
    audio_rate: int | None = None  # the audio encoder's fixed sample rate (Opus: 48 kHz), else the source's
    clock: int | None = None  # ticks a second of a format that times every frame on a clock of its own


_MP4 = _Container("mp4", "libx264", "aac", frozenset(_MP4_AUDIO_COPY))
GIF_CLOCK = 100  # a GIF times its frames in hundredths of a second
CONTAINERS = {  # by output file suffix; any other suffix is written as MP4
    ".mp4": _MP4,
    ".m4v": _MP4,
    # QuickTime takes PCM as it is, but FFmpeg writes Opus and FLAC into it only as "experimental"
    ".mov": replace(_MP4, muxer="mov", audio_copy=(_MP4.audio_copy - {"opus", "flac"}) | {"pcm_s16le"}),
    ".mkv": replace(_MP4, muxer="matroska", audio_copy=_MP4.audio_copy | {"vorbis", "pcm_s16le"}),
    ".webm": _Container("webm", "libvpx-vp9", "libopus", frozenset({"opus", "vorbis"}), audio_rate=48000),
    # no sound; 256 colours a frame, each frame its own (`_palette`); timed in hundredths of a second
    ".gif": _Container("gif", "gif", "", frozenset(), clock=GIF_CLOCK),
    # animated WebP (a photo to .webp is a still image, `output_format`): no sound, all colours, in milliseconds
    ".webp": _Container("webp", "libwebp_anim", "", frozenset(), clock=1000),
}
# libwebp at quality 90 and its second fastest method: 4.6 ms a 256x256 frame here, 0.1 dB under its slowest (4)
WEBP_OPTIONS = {"quality": "90", "compression_level": "2"}
# a live stream sent to a server or a listener as it is made (`rtrdit stylize LIVE -o URL`), by the URL's scheme;
# its sound comes from a live input, whose audio is always re-encoded (`VideoWriter`), so none is copied
_TS = _Container("mpegts", "libx264", "aac", frozenset())
_FLV = replace(_TS, muxer="flv")
STREAM_OUTPUTS = {"rtmp": _FLV, "rtmps": _FLV, "rtsp": replace(_TS, muxer="rtsp"), "udp": _TS, "tcp": _TS,
                  "srt": _TS, "rtp": replace(_TS, muxer="rtp_mpegts")}
STDOUT = "-"  # a writer's path for standard output


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")  # an output with one of these is a still image
_JPEG = {"quality": 95, "subsampling": 0}  # full-resolution colour: a style's coloured edges stay sharp
IMAGE_OPTIONS: dict[str, dict[str, int]] = {".jpg": _JPEG, ".jpeg": _JPEG, ".webp": {"quality": 95}}


class VideoError(ValueError):
    """A video file (or frames for one) that cannot be used, explained in one line."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds: display size (square pixels, after rotation), frame rate, frame count,
    codec, colour matrix, and how long the whole file plays (``end``: its audio may go on past the last
    frame)."""

    path: str
    width: int
    height: int
    fps: float
    frames: int
    codec: str
    duration: float
    has_audio: bool
    colour: str = ""  # the colour matrix the pixels are read in: its tag, or what an untagged file is taken as
    end: float = 0.0  # seconds the file plays for, its longest stream included (a last frame held over audio)
    hdr: str = ""  # the HDR transfer (HLG, PQ/HDR10) its frames are tone-mapped to SDR from; "" for SDR
    unreadable_audio: int = 0  # audio tracks in a codec FFmpeg cannot decode (not counted in has_audio)
    interlaced: bool = False  # its frames are two fields each, read deinterlaced (`_deinterlaced`)


# --------------------------------------------------------------------------- reading


def _av() -> Any:
    import av  # deferred: PyAV loads FFmpeg

    return av


def _describe(exc: BaseException) -> str:
    """One line from an FFmpeg/OS error, without errno noise or the file name repeated."""
    msg = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(msg).split())


def _open_input(path: str | os.PathLike[str]) -> tuple[Any, Any]:
    """Open ``path`` and return ``(container, first video stream)``, or raise VideoError."""
    p = Path(path)
    if not p.exists():
        raise VideoError(f"{p}: no such file")
    if not p.is_file():
        raise VideoError(f"{p}: not a regular file")
    if p.stat().st_size == 0:
        raise VideoError(f"{p}: empty file (0 bytes)")
    av = _av()
    webp = _animated_webp(p)
    source = _webp_as_video(p) if webp else p  # FFmpeg decodes still WebP only: Pillow decodes an animated one
    try:
        container = av.open(str(source), mode="r")
    except av.FFmpegError as exc:
        raise VideoError(f"{p}: not a readable video ({_describe(exc)})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise VideoError(f"{p}: cannot open ({_describe(exc)})") from None
    finally:
        if webp:  # removed now: the open container reads on until it closes
            with suppress(OSError):
                os.unlink(source)
    # Cover art in music files is a one-picture "video" stream: skip it.
    pic = av.stream.Disposition.attached_pic
    videos = [s for s in container.streams.video if not (s.disposition & pic)]
    if not videos:
        container.close()
        raise VideoError(f"{p}: no video stream (not a video file)")
    readable = [s for s in videos if _decodable(s)]
    if not readable:
        container.close()
        raise VideoError(f"{p}: the video is in a codec FFmpeg cannot decode")
    stream = readable[0]
    ctx = stream.codec_context
    if not ctx.width or not ctx.height:
        container.close()
        raise VideoError(f"{p}: video stream has no frame size (corrupt or unsupported)")
    if ctx.width * ctx.height > MAX_PIXELS:
        container.close()
        raise VideoError(
            f"{p}: frames of {ctx.width}x{ctx.height} are too large (limit {MAX_PIXELS} pixels)"
        )
    end = 0 if webp else _indexed_end(container)
    if end > p.stat().st_size:
        container.close()
        raise VideoError(f"{p}: truncated file (its index points {end - p.stat().st_size} bytes past the end)")
    stream.thread_type = "AUTO"
    return container, stream


def _animated_webp(p: Path) -> bool:
    """Whether ``p`` is an animated WebP: a RIFF WEBP file whose VP8X header has the animation flag."""
    try:
        with open(p, "rb") as f:
            head = f.read(21)
    except OSError:
        return False
    return len(head) == 21 and head[:4] == b"RIFF" and head[8:16] == b"WEBPVP8X" and bool(head[20] & 0x02)


def _webp_as_video(p: Path) -> Path:
    """An animated WebP decoded by Pillow, a frame at a time, into a temporary lossless (FFV1, RGB) Matroska
    file with each frame at its own time (WebP keeps milliseconds a frame); transparency on white, as the
    references are. Its path; the caller removes it. VideoError for a WebP Pillow cannot read."""
    from PIL import Image

    av = _av()
    fd, name = tempfile.mkstemp(prefix="rtrdit-webp-", suffix=".mkv")
    os.close(fd)
    try:
        with Image.open(p) as im, av.open(name, "w", format="matroska") as out:
            if im.width * im.height > MAX_PIXELS:
                raise VideoError(f"{p}: frames of {im.width}x{im.height} are too large (limit {MAX_PIXELS} pixels)")
            first = _webp_duration(im, 0) or 40  # its nominal rate, a whole number where the ms allow it
            whole = max(1, round(1000 / first))
            rate = whole if abs(1000 / whole - first) < 1 else 1000 / first  # 83 ms: 12 fps, not 12.05
            stream = out.add_stream("ffv1", rate=_fps_fraction(rate))
            stream.width, stream.height, stream.pix_fmt = im.width, im.height, "bgr0"
            stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
            at = 0
            for k in range(im.n_frames):
                shown = _webp_duration(im, k)
                rgba = im.convert("RGBA")
                white = Image.new("RGBA", im.size, (255, 255, 255, 255))
                frame = av.VideoFrame.from_image(Image.alpha_composite(white, rgba).convert("RGB")).reformat(format="bgr0")
                frame.pts, frame.time_base = at, Fraction(1, 1000)
                at += max(1, shown)
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
    except (OSError, EOFError, ValueError) as exc:  # Pillow's damaged-file errors; VideoError is a ValueError
        os.unlink(name)
        if isinstance(exc, VideoError):
            raise
        raise VideoError(f"{p}: not a readable animated WebP ({_describe(exc)})") from None
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def _webp_duration(im: Any, k: int) -> int:
    """Milliseconds frame ``k`` of an animated WebP is shown (Pillow says it once the frame is loaded)."""
    im.seek(k)
    im.load()
    return int(im.info.get("duration") or 0)


def _indexed_end(container: Any) -> int:
    """Largest byte offset the container's sample index (MP4/MOV) refers to; 0 without an index."""
    end = 0
    for stream in container.streams:
        try:
            entries = stream.index_entries
            n = len(entries)
            for i in range(max(0, n - 16), n):
                e = entries[i]
                end = max(end, int(e.pos) + int(e.size))
        except (AttributeError, TypeError, IndexError):
            continue
    return end


def _rotation_steps(degrees: float | None) -> int:
    """Quarter turns (counter-clockwise, as ``np.rot90``) for a display-matrix rotation."""
    if not degrees:
        return 0
    return round(float(degrees) / 90.0) % 4


def _decodable(stream: Any) -> bool:
    """Whether FFmpeg has a decoder for a stream's codec."""
    return stream.codec_context is not None and stream.codec_context.codec is not None


def audio_stream(container: Any) -> Any | None:
    """The audio track to keep: the default one among those FFmpeg can decode, else the first of them.
    A track in a codec FFmpeg does not know (a phone's spatial audio beside its stereo) is passed over."""
    av = _av()
    usable = [s for s in container.streams.audio if _decodable(s)]
    default = [s for s in usable if s.disposition & av.stream.Disposition.default]
    return (default or usable or [None])[0]


def _pixel_aspect(stream: Any) -> Fraction:
    """A stream's sample (pixel) aspect ratio: 64:45 for 16:9 PAL DVD/DV at 720x576, 8:9 for 4:3 NTSC at
    720x480; 1 (square) when it does not say or says something implausible."""
    sar = stream.codec_context.sample_aspect_ratio or stream.sample_aspect_ratio
    return Fraction(sar) if sar and 0.1 <= sar <= 10 else Fraction(1)


def _square_width(width: int, aspect: Fraction) -> int:
    """The width a frame of non-square pixels is shown at (its height kept, as FFmpeg's ``scale=iw*sar:ih``)."""
    return max(1, round(width * aspect))


def _rate(stream: Any) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and float(rate) > 0 and math.isfinite(float(rate)):
            return float(rate)
    return 0.0


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Size, fps, frame count, codec and duration of a video; frames are counted from the packets
    when the container does not record them (e.g. WebM/MKV)."""
    p = Path(path)
    av = _av()
    container, stream = _open_input(p)
    try:
        ctx = stream.codec_context
        codec = ctx.codec.canonical_name if ctx.codec is not None else str(ctx.name)
        if _animated_webp(p):
            codec = "webp"  # read through a lossless copy (`_webp_as_video`)
        has_audio = audio_stream(container) is not None
        unreadable_audio = sum(not _decodable(s) for s in container.streams.audio)
        fps = _rate(stream)
        frames = int(stream.frames or 0)
        tb = stream.time_base
        stream_duration = float(stream.duration * tb) if stream.duration and tb else 0.0
        try:  # the first frame proves the video decodes, and tells its rotation and scan
            first = next(iter(container.decode(stream)), None)
        except av.FFmpegError as exc:
            raise VideoError(f"{p}: cannot decode video ({_describe(exc)})") from None
        if first is None:
            raise VideoError(f"{p}: video stream has no frames")
        rotation = _rotation_steps(getattr(first, "rotation", 0))
        interlaced = bool(first.interlaced_frame)
        if frames <= 0:  # the container does not record the count (WebM, MKV)
            frames, span = _count_packets(p)
            if not stream_duration and span and fps > 0:
                stream_duration = span + 1.0 / fps
        if fps <= 0 and stream_duration > 0:
            fps = frames / stream_duration
        if fps <= 0:
            raise VideoError(f"{p}: cannot tell the frame rate")
        duration = stream_duration if stream_duration > 0 else frames / fps
        width, height = _square_width(ctx.width, _pixel_aspect(stream)), ctx.height
        if rotation % 2:
            width, height = height, width
        return VideoInfo(str(p), int(width), int(height), float(fps), int(frames), str(codec),
                         float(duration), has_audio, _colour(ctx),
                         container.duration / 1_000_000 if container.duration else float(duration),  # AV_TIME_BASE
                         hdr.TRANSFERS.get(int(getattr(ctx, "color_trc", 0) or 0), ""), unreadable_audio, interlaced)
    finally:
        container.close()


def _count_packets(p: Path) -> tuple[int, float]:
    """Frames of a video whose container does not record their count, and the seconds from its first
    frame to its last: its packets (one a frame) are counted, not decoded, so an hour of video takes
    seconds, not the minutes a decode would. A damaged tail ends the count."""
    av = _av()
    container, stream = _open_input(p)
    count, first, last = 0, None, None
    try:
        for packet in container.demux(stream):
            if not packet.size:
                continue  # the demuxer's end-of-stream marker
            count += 1
            if packet.pts is not None:
                first = packet.pts if first is None else min(first, packet.pts)
                last = packet.pts if last is None else max(last, packet.pts)
    except av.FFmpegError:
        pass
    finally:
        container.close()
    if first is None or last is None or not stream.time_base:
        return count, 0.0
    return count, float((last - first) * stream.time_base)


_MATRICES = {0: "rgb", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020nc",
             10: "bt2020c"}  # FFmpeg's AVColorSpace names


def _colour(ctx: Any) -> str:
    """The colour matrix a stream's pixels are read in (`_to_rgb`): its tag, or the guess for an untagged one."""
    if not str(ctx.pix_fmt or "yuv").startswith(("yuv", "nv", "p0", "p2")):  # RGB, palette or grey pixels
        return "none (not YUV)"
    tag = int(getattr(ctx, "colorspace", UNSPECIFIED) or UNSPECIFIED)
    transfer = int(getattr(ctx, "color_trc", 0) or 0)
    if tag != UNSPECIFIED:
        return _MATRICES.get(tag, f"colorspace {tag}")
    if hdr.is_hdr(transfer):
        return "unspecified (read as bt2020nc)"
    return "unspecified (read as bt709)" if _hd(ctx.width, ctx.height) else "unspecified (read as bt601)"


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    try:
        w, h = (int(size[0]), int(size[1]))
    except (TypeError, ValueError, IndexError):
        raise VideoError(f"size must be (width, height), got {size!r}") from None
    if w <= 0 or h <= 0:
        raise VideoError(f"size must be positive, got {w}x{h}")
    if w * h > MAX_PIXELS:
        raise VideoError(f"size {w}x{h} is too large (limit {MAX_PIXELS} pixels)")
    return w, h


RESIZE_MODES = ("crop", "pad", "stretch")


def _scaled_size(fw: int, fh: int, size: tuple[int, int], mode: str) -> tuple[int, int]:
    """Size to scale an ``fw x fh`` frame to before cropping/padding to ``size`` with its aspect kept:
    rounded so it covers (crop) or fits in (pad) the target, never off by one pixel; ``size`` itself for
    ``"stretch"`` (the whole frame, its aspect not kept)."""
    w, h = size
    if mode == "stretch":
        return w, h
    if mode == "crop":
        scale = max(w / fw, h / fh)
        return max(w, round(fw * scale)), max(h, round(fh * scale))
    scale = min(w / fw, h / fh)
    return min(max(1, round(fw * scale)), w), min(max(1, round(fh * scale)), h)


def _fit(scaled: np.ndarray, size: tuple[int, int], mode: str) -> np.ndarray:
    """Centre-crop (``"crop"``) or centre on black (``"pad"``) an already scaled frame to ``size``."""
    w, h = size
    sh, sw = scaled.shape[:2]
    if (sw, sh) == (w, h):
        return scaled
    if mode == "crop":
        x0, y0 = (sw - w) // 2, (sh - h) // 2
        return np.ascontiguousarray(scaled[y0:y0 + h, x0:x0 + w])
    out = np.zeros((h, w, 3), dtype=np.uint8)
    x0, y0 = (w - sw) // 2, (h - sh) // 2
    out[y0:y0 + sh, x0:x0 + sw] = scaled
    return out


def resize_frame(frame: np.ndarray, size: tuple[int, int], mode: str = "crop") -> np.ndarray:
    """Resize an (H, W, 3) uint8 frame to ``size=(width, height)`` keeping its aspect ratio:
    ``"crop"`` fills the target and cuts the centre, ``"pad"`` fits inside and adds black bars;
    ``"stretch"`` scales the whole frame to it (as a streaming session does)."""
    import cv2  # deferred: OpenCV is heavy to import

    size = _check_size(size)
    if mode not in RESIZE_MODES:
        raise VideoError(f"resize mode must be 'crop', 'pad' or 'stretch', got {mode!r}")
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise VideoError(f"expected a uint8 (H, W, 3) frame, got {frame.dtype} {tuple(frame.shape)}")
    fh, fw = frame.shape[:2]
    if (fw, fh) == size:
        return frame
    sw, sh = _scaled_size(fw, fh, size, mode)
    interp = cv2.INTER_AREA if sw * sh < fw * fh else cv2.INTER_LINEAR
    return _fit(cv2.resize(np.ascontiguousarray(frame), (sw, sh), interpolation=interp), size, mode)


def _to_rgb(frame: Any, size: tuple[int, int] | None, mode: str, aspect: Fraction = Fraction(1)) -> np.ndarray:
    """A decoded frame as display-oriented RGB of square pixels (``aspect``: its stream's pixel aspect);
    with ``size``, FFmpeg's scaler resizes it during the colour conversion (one pass, about twice as
    fast as converting then resizing)."""
    k = _rotation_steps(getattr(frame, "rotation", 0))
    fw, fh = _square_width(frame.width, aspect), frame.height  # the stored frame, widened to square pixels
    dw, dh = (fh, fw) if k % 2 else (fw, fh)  # display size
    # a file that does not say its colour matrix is read in the one a player assumes for its size (as
    # written, `VideoWriter`); FFmpeg's own default is BT.601 at every size. A tagged file: its tag.
    # An HLG or PQ frame is scaled at 16 bits, then converted and tone-mapped to SDR by `hdr`
    transfer = int(getattr(frame, "color_trc", 0) or 0)
    untagged = int(getattr(frame, "colorspace", 0) or 0) == UNSPECIFIED
    matrix = {"src_colorspace": "ITU709"} if untagged and _hd(frame.width, fh) else {}
    scale: dict[str, Any] = {}
    if size is not None and (dw, dh) != size:
        sw, sh = _scaled_size(dw, dh, size, mode)
        tw, th = (sh, sw) if k % 2 else (sw, sh)  # the same scaling before rotation
        scale = {"width": tw, "height": th, "interpolation": "AREA" if sw * sh < dw * dh else "BILINEAR"}
    elif fw != frame.width:  # non-square pixels at full size: widened (or narrowed) to square ones
        scale = {"width": fw, "height": fh, "interpolation": "AREA" if fw < frame.width else "BILINEAR"}
    if hdr.is_hdr(transfer):
        yuv = frame.reformat(format="yuv444p16le", **scale)
        planes = [np.frombuffer(p, np.uint16).reshape(yuv.height, -1)[:, :yuv.width] for p in yuv.planes]
        signal = hdr.signal_from_yuv16(np.dstack(planes), int(getattr(frame, "colorspace", 0) or 0),
                                       int(frame.color_range or 0) == FULL_RANGE)
        rgb = hdr.tone_map(signal, transfer)
    else:
        rgb = frame.to_ndarray(format="rgb24", **scale, **matrix)
    if k:
        rgb = np.ascontiguousarray(np.rot90(rgb, k))
    return rgb if size is None else _fit(rgb, size, mode)


def iter_frames(
    path: str | os.PathLike[str],
    size: tuple[int, int] | None = None,
    mode: str = "crop",
    start: int = 0,
    count: int | None = None,
) -> Iterator[np.ndarray]:
    """Yield frames ``start .. start+count`` one at a time as uint8 (H, W, 3) RGB, decoding as it
    goes (the file is never held in memory); display rotation is applied, then ``size``/``mode``."""
    return (frame for _, frame in iter_timed_frames(path, size, mode, start, count))


def iter_timed_frames(
    path: str | os.PathLike[str],
    size: tuple[int, int] | None = None,
    mode: str = "crop",
    start: int = 0,
    count: int | None = None,
    *,
    start_time: float = 0.0,
    end_time: float | None = None,
) -> Iterator[tuple[float, np.ndarray]]:
    """Like :func:`iter_frames`, with each frame's presentation time in seconds from the stream's
    start: a variable-frame-rate file (a phone's) keeps its own timing. ``start_time``/``end_time``
    (seconds on that clock) keep only the frames nearest that span, to half a frame: the file is sought
    to the key frame before ``start_time``, so a minute deep into an hour costs about what the minute does;
    ``start``/``count`` then count frames within it."""
    if start < 0 or (count is not None and count < 0):
        raise VideoError(f"start and count must be >= 0, got start={start}, count={count}")
    if not (math.isfinite(start_time) and start_time >= 0) or (
            end_time is not None and not (end_time > start_time)):  # a NaN end is refused too
        raise VideoError(f"need 0 <= start_time < end_time, got {start_time!r} and {end_time!r}")
    if size is not None:
        size = _check_size(size)
        if mode not in RESIZE_MODES:
            raise VideoError(f"resize mode must be 'crop', 'pad' or 'stretch', got {mode!r}")
    return _frames(Path(path), size, mode, start, count, start_time, end_time)


def _frames(p: Path, size: tuple[int, int] | None, mode: str, start: int, count: int | None,
            start_time: float = 0.0, end_time: float | None = None) -> Iterator[tuple[float, np.ndarray]]:
    av = _av()
    container, stream = _open_input(p)
    index = yielded = decoded = 0
    fps = _rate(stream) or 25.0
    half = 0.5 / fps  # a frame belongs to the span when its time is within half a frame of it
    aspect = _pixel_aspect(stream)
    origin = float(stream.start_time * stream.time_base) if stream.start_time is not None and stream.time_base else 0.0
    last = -math.inf
    try:
        if count == 0:
            return
        frames = None
        if start_time > half:
            frames = _sought(container, stream, origin, start_time - half)
            if frames is None:  # no seek that lands before the span: read it from the beginning
                container.close()
                container, stream = _open_input(p)
        if frames is None:
            frames = container.decode(stream)
        try:
            for frame in _deinterlaced(frames, stream):
                t = float(frame.time) - origin if frame.time is not None else decoded / fps
                t = max(t, last + 1e-6)  # never backwards (a damaged timestamp)
                last = t
                decoded += 1
                if t < start_time - half:
                    continue
                if end_time is not None and t >= end_time - half:
                    break
                if index >= start:
                    yield t, _to_rgb(frame, size, mode, aspect)
                    yielded += 1
                    if count is not None and yielded >= count:
                        return
                index += 1
        except av.FFmpegError as exc:
            raise VideoError(f"{p}: corrupt video at frame {index} ({_describe(exc)})") from None
        if decoded == 0:
            raise VideoError(f"{p}: video stream has no frames")
    finally:
        container.close()


def _sought(container: Any, stream: Any, origin: float, seconds: float) -> Iterator[Any] | None:
    """Decoded frames from the key frame at or before ``seconds`` (on the clock that starts at ``origin``),
    or None where the file cannot seek or its seek lands past that time (a poor index)."""
    av = _av()
    try:
        container.seek(int((origin + seconds) / float(stream.time_base)), stream=stream, backward=True)
        frames = container.decode(stream)
        first = next(frames, None)
    except (av.FFmpegError, OverflowError, ValueError):
        return None
    if first is None or first.time is None or float(first.time) - origin > seconds + 1e-6:
        return None
    return itertools.chain([first], frames)


def _deinterlaced(frames: Iterator[Any], stream: Any) -> Iterator[Any]:
    """Decoded frames, deinterlaced from the first interlaced one on (a camcorder's or broadcast 1080i/576i,
    DV): FFmpeg's bwdif makes one progressive frame of each, in place of the combs a moving edge shows
    when two fields 1/50 s apart are read as one picture. Progressive frames pass as they are."""
    av = _av()
    graph = None
    for frame in itertools.chain(frames, [None]):  # None: the end, which flushes bwdif's last frame
        if graph is None:
            if frame is None:
                return
            if not frame.interlaced_frame:
                yield frame
                continue
            graph = av.filter.Graph()
            bwdif = graph.add("bwdif", "mode=send_frame:parity=auto:deint=interlaced")  # a frame out per frame in
            graph.add_buffer(template=stream).link_to(bwdif)
            bwdif.link_to(graph.add("buffersink"))
            graph.configure()
        graph.push(frame)
        while True:
            try:
                yield graph.pull()
            except (av.BlockingIOError, av.EOFError):
                break


def read_frames(
    path: str | os.PathLike[str],
    size: tuple[int, int] | None = None,
    mode: str = "crop",
    start: int = 0,
    count: int | None = None,
) -> np.ndarray:
    """All requested frames as one uint8 (T, H, W, 3) array (use :func:`iter_frames` for long files)."""
    frames = list(iter_frames(path, size, mode, start, count))
    if not frames:
        raise VideoError(f"{Path(path)}: no frames from index {start} (count={count})")
    return np.stack(frames)


def add_heif_to_pillow() -> None:
    """Let Pillow open HEIC/HEIF, an iPhone's photo format, through pillow-heif, so such a photo is read
    upright and in sRGB like a JPEG (FFmpeg, which read them before, drops their colour profile: a Display
    P3 photo came out duller). Idempotent; called where photos are opened, not at import."""
    try:
        import pillow_heif
    except ImportError:  # an install without it (it is a dependency): HEIC goes through FFmpeg, as before
        return
    pillow_heif.register_heif_opener()


@contextmanager
def open_photo(path: str | os.PathLike[str]) -> Iterator[Any]:
    """Pillow's ``Image.open`` for a user's own photo: a phone's 100 MP photo opens without Pillow's
    decompression-bomb warning (meant for untrusted uploads, which `serve` limits before decoding);
    past Pillow's hard limit (about 179 MP) a one-line VideoError instead of its exception."""
    from PIL import Image

    p = Path(path)
    add_heif_to_pillow()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(p)
    except Image.DecompressionBombError:
        most = 2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6
        raise VideoError(f"{p}: an image of more than {most:.0f} megapixels, more than this opens; "
                         "scale it down first") from None
    with im:
        yield im


def to_srgb(image: Any) -> Any:
    """A PIL image with an embedded colour profile (an iPhone's Display P3, Adobe RGB, a print CMYK) in
    sRGB, the colours the model was trained on and screens assume: read as they are, P3 colours came
    out duller. An image without a profile is taken as sRGB; an unusable profile leaves it as it is."""
    import io

    from PIL import ImageCms

    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "L", "LA", "CMYK"):
        return image
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
    base = image.convert(image.mode[:-1]) if alpha is not None else image
    try:
        out = ImageCms.profileToProfile(base, ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                                        ImageCms.createProfile("sRGB"), outputMode="RGB")
    except (OSError, ValueError, ImageCms.PyCMSError):  # a damaged profile, or one not for this mode
        return image
    if alpha is not None:
        out.putalpha(alpha)
    return out


def read_photo(path: str | os.PathLike[str]) -> np.ndarray:
    """A photo as uint8 (H, W, 3) sRGB, upright as a viewer shows it: Pillow for the formats it knows, a
    phone's HEIC too (EXIF orientation and colour profile applied, grey and alpha made RGB), FFmpeg for
    the rest (DPX, ...); ``VideoError`` for what neither reads or for a video."""
    from PIL import ImageOps, UnidentifiedImageError

    p = Path(path)
    try:
        with open_photo(p) as im:
            return np.asarray(to_srgb(ImageOps.exif_transpose(im)).convert("RGB"))
    except UnidentifiedImageError:
        pass  # not a format Pillow knows: FFmpeg's turn
    except FileNotFoundError:
        raise VideoError(f"{p}: no such file") from None
    except OSError as exc:  # a folder, a truncated or damaged image
        raise VideoError(f"{p}: not a readable image ({_describe(exc)})") from None
    try:
        info = probe(p)
    except VideoError:
        raise VideoError(f"{p}: not a readable image (a format neither Pillow nor FFmpeg reads)") from None
    if info.frames != 1:
        raise VideoError(f"{p}: not a photo ({info.frames} frames of {info.codec}: a video?)")
    return read_image(p)


def photo_info(path: str | os.PathLike[str]) -> VideoInfo | None:
    """A still image's facts from Pillow (its size upright, as `read_photo` reads it), for a photo the video
    reader refuses as too large (a phone's 108 or 200 MP mode, past ``MAX_PIXELS``); None when Pillow
    does not read it as one still image."""
    from PIL import UnidentifiedImageError

    p = Path(path)
    try:
        with open_photo(p) as im:
            if getattr(im, "n_frames", 1) != 1:
                return None
            w, h = im.size
            if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # EXIF orientations that turn it a quarter
                w, h = h, w
            return VideoInfo(str(p), w, h, 25.0, 1, (im.format or "image").lower(), 0.04, False, "sRGB")
    except (UnidentifiedImageError, OSError):
        return None


def read_image(path: str | os.PathLike[str], size: tuple[int, int] | None = None, mode: str = "crop") -> np.ndarray:
    """A still image (PNG, JPEG, WebP, ...; or a video's first frame) as uint8 (H, W, 3) RGB, e.g. a
    style reference; grey and alpha images come out as RGB (alpha dropped)."""
    return read_frames(path, size, mode, start=0, count=1)[0]


# --------------------------------------------------------------------------- writing


def _fps_fraction(fps: float) -> Fraction:
    if not (isinstance(fps, (int, float, Fraction)) and math.isfinite(float(fps)) and fps > 0):
        raise VideoError(f"fps must be a positive number, got {fps!r}")
    return Fraction(float(fps)).limit_denominator(1001)


class VideoWriter:
    """Write uint8 RGB frames at ``fps`` to the container that ``path``'s suffix names (``CONTAINERS``:
    H.264 in .mp4/.m4v/.mov/.mkv, VP9 in .webm; MP4 for any other suffix), atomically: frames go to a
    hidden temporary file in the same folder, renamed over ``path`` on success and deleted on any error.
    Odd frame sizes are padded by one edge pixel (4:2:0 needs even sizes). ``audio_from`` copies that
    file's audio track (re-encoded to AAC, or Opus for WebM, if the container cannot carry it), cut to
    the video's length (or to the later ``end`` given to :meth:`close`); ``audio_start`` takes it from that
    many seconds in (the video is a part of that file from there). ``path`` ``-`` streams Matroska to
    standard output as it is written (for a player reading a pipe), with nothing to rename or remove; a URL
    (``STREAM_OUTPUTS``: rtmp://, udp://, ...) sends it to a server as it is written. ``audio_from`` may also be
    a live input's `stream.live.LiveAudio`: decoded frames on the video's clock, re-encoded as they arrive."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float,
        audio_from: str | os.PathLike[str] | None = None,
        *,
        crf: int = 18,
        preset: str = "fast",
        audio_start: float = 0.0,
    ) -> None:
        self.path = Path(path)
        self.name = shown_url(str(path))  # as given (a URL's // kept), for messages
        self.rate = _fps_fraction(fps)
        self.fps = float(self.rate)
        self.crf, self.preset = int(crf), str(preset)
        # a live input's audio (`stream.live.LiveAudio`: its track, and its frames as they arrive), or a file's
        self._live_audio = audio_from if hasattr(audio_from, "frames") else None
        self.audio_from = Path(audio_from) if audio_from is not None and self._live_audio is None else None
        if not (isinstance(audio_start, (int, float)) and math.isfinite(audio_start) and audio_start >= 0):
            raise VideoError(f"audio_start must be seconds >= 0, got {audio_start!r}")
        self.audio_start = float(audio_start)
        self.stdout = self.name == STDOUT  # a stream to a player (`| mpv -`): Matroska, written as it comes
        sent = stream_container(self.name)
        self.url = str(path) if sent is not None else None  # sent to a server as it comes
        self.container = sent or (CONTAINERS[".mkv"] if self.stdout else CONTAINERS.get(self.path.suffix.lower(),
                                                                                           CONTAINERS[".mp4"]))
        folder = self.path.parent if str(self.path.parent) else Path(".")
        if self.url is None and not folder.is_dir():
            raise VideoError(f"{self.name}: folder {folder} does not exist")
        if self.url is None and self.path.is_dir():
            raise VideoError(f"{self.name}: is a folder, not a file name")
        if self.audio_from is not None:
            if not self.audio_from.is_file():
                raise VideoError(f"{self.audio_from}: no such file (audio_from)")
            if self.audio_from.stat().st_size == 0:
                raise VideoError(f"{self.audio_from}: empty file (audio_from)")
        self._tmp: Path | None = None
        if not self.stdout and self.url is None:
            try:
                self._tmp = temp_beside(self.path)
            except WriteError as exc:
                raise VideoError(f"{self.name}: {exc}") from None
        self._container: Any = None
        self._stream: Any = None
        self._audio_in: Any = None
        self._audio_src: Any = None
        self._audio_out: Any = None
        self._transcode_audio = False
        self._audio_items: Iterator[Any] | None = None
        self._audio_held: Any = None
        self._audio_fed = 0  # samples given to the audio encoder
        self._size: tuple[int, int] | None = None  # (width, height) of frames given
        self._palette: Any = None  # a GIF's filter graph that picks each frame's 256 colours
        self._pad: tuple[int, int] = (0, 0)
        self._matrix = "ITU601"  # the RGB -> YUV matrix, chosen by the frame size (_setup)
        self._timed: bool | None = None  # frames come with their own times (decided by the first write)
        self._last_pts = -1
        self._end = 0.0  # seconds of video written: where the audio is cut
        self.frames_written = 0
        self._closed = False
        try:
            av = _av()
            target = str(self._tmp) if self._tmp is not None else self.url or sys.stdout.buffer
            options = {"loop": "0"} if self.container.muxer == "webp" else {}  # plays on in a loop, as a GIF does
            self._container = av.open(target, mode="w", format=self.container.muxer, options=options)
        except Exception as exc:  # noqa: BLE001 - any failure to open the output: remove the temp file, one error
            self._discard()
            raise VideoError(f"{self.name}: cannot create output ({_describe(exc)})") from None

    # context manager --------------------------------------------------------
    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:  # a writer dropped without close() leaves nothing behind
        try:
            if not self._closed:
                self.abort()
        except Exception:  # noqa: BLE001, S110 - cleanup after an earlier error must not hide it
            pass

    # frames -----------------------------------------------------------------
    def _setup(self, width: int, height: int) -> None:
        av = _av()
        self._size = (width, height)
        if self.container.video == "gif":  # RGB in a palette of its own a frame, at any size, no sound
            stream = self._container.add_stream("gif", rate=self.rate)
            stream.width, stream.height, stream.pix_fmt = width, height, "pal8"
            stream.codec_context.time_base = stream.time_base = Fraction(1, GIF_CLOCK)
            self._stream, self._palette = stream, _palette(width, height)
            return
        if self.container.video == "libwebp_anim":  # RGB, which libwebp turns to its YUV itself, at any size
            stream = self._container.add_stream("libwebp_anim", rate=self.rate)
            stream.width, stream.height, stream.pix_fmt = width, height, "bgra"
            stream.codec_context.time_base = stream.time_base = Fraction(1, self.container.clock)
            stream.options = dict(WEBP_OPTIONS)
            self._stream = stream
            return
        self._pad = (width % 2, height % 2)
        stream = self._container.add_stream(self.container.video, rate=self.rate)
        stream.width, stream.height = width + self._pad[0], height + self._pad[1]
        stream.pix_fmt = "yuv420p"
        # the colour matrix a player assumes when a file does not say (`_hd`), and said so in the stream:
        # untagged HD came out in BT.601 (FFmpeg's default) and players that go by the size showed shifted colours
        self._matrix, tag = ("ITU709", BT709) if _hd(width, height) else ("ITU601", SMPTE170M)
        cc = stream.codec_context
        cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = tag, tag, tag, LIMITED_RANGE
        if self._timed:  # a fine clock, so each frame keeps its own time
            stream.codec_context.time_base = stream.time_base = Fraction(1, TIME_BASE)
        if self.container.video == "libx264":
            stream.options = {"crf": str(self.crf), "preset": self.preset}
            if self.url is not None:  # a live stream's viewers wait for no look-ahead (OBS's choice too)
                stream.options["tune"] = "zerolatency"
        else:  # VP9 at constant quality, libvpx's fastest settings (crf 24: 2 dB under H.264's 18, twice as fast to encode)
            stream.options = {"crf": str(self.crf + 6), "b": "0", "deadline": "realtime", "cpu-used": "8",
                              "row-mt": "1"}
        self._stream = stream
        if (self.audio_from is None and self._live_audio is None) or not self.container.audio:
            return
        if self._live_audio is not None:  # decoded frames on the video's clock (`stream.live.LiveAudio`)
            self._transcode_audio = True
            rate = self.container.audio_rate or self._live_audio.rate
            self._audio_out = self._container.add_stream(self.container.audio, rate=rate)
            self._audio_out.layout = "mono" if self._live_audio.channels == 1 else "stereo"
            return
        try:
            src = av.open(str(self.audio_from), mode="r")
        except av.FFmpegError as exc:
            raise VideoError(f"{self.audio_from}: cannot read audio ({_describe(exc)})") from None
        track = audio_stream(src)
        if track is None:
            src.close()
            return
        self._audio_in, self._audio_src = src, track
        if self._audio_in is not None and self.audio_start > AUDIO_PREROLL:
            # to a packet a little before it: a decoder starting cold garbles its first frames (decoded here and
            # dropped with the rest before the start, `_pump_audio`)
            try:
                at = self.audio_start - AUDIO_PREROLL
                src.seek(int((track.start_time or 0) + at / track.time_base), stream=track, backward=True)
            except (av.FFmpegError, OverflowError, ValueError):
                pass  # not seekable: read from the beginning, dropping all before the start
        name = self._audio_src.codec_context.codec.canonical_name  # "mp3", not the decoder "mp3float"
        if name in self.container.audio_copy:
            self._audio_out = self._container.add_stream_from_template(self._audio_src)
        else:
            self._transcode_audio = True
            rate = self.container.audio_rate or self._audio_src.codec_context.sample_rate or 48000
            self._audio_out = self._container.add_stream(self.container.audio, rate=rate)
            channels = self._audio_src.codec_context.channels or 2
            self._audio_out.layout = "mono" if channels == 1 else "stereo"  # more are downmixed

    def write(self, frames: np.ndarray, times: Sequence[float] | None = None) -> None:
        """Append one (H, W, 3) frame or a (T, H, W, 3) batch of uint8 RGB frames. ``times`` (seconds,
        one per frame) keeps a source's own timing, a variable frame rate included (``iter_timed_frames``);
        without them frames are 1/fps apart. Give times with every write or with none."""
        if self._closed:
            raise VideoError(f"{self.name}: writer is already closed")
        arr = np.asarray(frames)
        if arr.ndim == 3:
            arr = arr[None]
        if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
            raise VideoError(
                f"{self.name}: frames must be uint8 (H, W, 3) or (T, H, W, 3), got {arr.dtype} {arr.shape}"
            )
        t, h, w = arr.shape[:3]
        timed = times is not None
        if self._timed is None:
            self._timed = timed
        elif timed != self._timed:
            raise VideoError(f"{self.name}: give frame times with every write or with none")
        if times is not None and (len(times) != t or not all(math.isfinite(float(x)) for x in times)):
            raise VideoError(f"{self.name}: {t} frames need {t} finite times, got {len(times)}")
        if h == 0 or w == 0:
            raise VideoError(f"{self.name}: frames have zero size ({w}x{h})")
        if w * h > MAX_PIXELS:
            raise VideoError(f"{self.name}: frames of {w}x{h} are too large (limit {MAX_PIXELS} pixels)")
        av = _av()
        if self._stream is None:
            self._setup(w, h)
        elif (w, h) != self._size:
            sw, sh = self._size or (0, 0)
            raise VideoError(f"{self.name}: frame size changed from {sw}x{sh} to {w}x{h}")
        px, py = self._pad
        try:
            for i in range(t):
                img = arr[i]
                if px or py:
                    img = np.pad(img, ((0, py), (0, px), (0, 0)), mode="edge")
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
                if self._stream.pix_fmt == "yuv420p":
                    frame = frame.reformat(format="yuv420p", dst_colorspace=self._matrix, dst_color_range="MPEG")
                elif self._stream.pix_fmt == "bgra":
                    frame = frame.reformat(format="bgra")
                if times is not None or self.container.clock:  # on a clock: the source's times, a GIF's, a WebP's
                    clock = self.container.clock or TIME_BASE
                    at = float(times[i]) if times is not None else self.frames_written / self.fps
                    frame.pts = self._last_pts = max(round(at * clock), self._last_pts + 1)
                    frame.time_base = Fraction(1, clock)
                    self._end = self._last_pts / clock + 1 / self.fps
                else:
                    frame.pts = self.frames_written
                    frame.time_base = 1 / self.rate
                    self._end = (self.frames_written + 1) / self.fps
                self._encode(frame)
                self.frames_written += 1
            if self._audio_out is not None:
                self._pump_audio(self._end)
        except av.FFmpegError as exc:
            raise VideoError(f"{self.name}: cannot encode frame ({_describe(exc)})") from None

    def _encode(self, frame: Any) -> None:
        """Encode and mux one frame (None: the end, which flushes the encoder), through a GIF's palette graph."""
        av = _av()
        frames = [frame]
        if self._palette is not None:
            self._palette.push(frame)
            frames = []
            while True:
                try:
                    frames.append(self._palette.pull())
                except (av.BlockingIOError, av.EOFError):
                    break
            if frame is None:
                frames.append(None)
        for f in frames:
            for packet in self._stream.encode(f):
                self._container.mux(packet)

    # finishing ----------------------------------------------------------------
    def _pump_audio(self, until: float) -> None:
        """Mux the source's audio up to ``until`` seconds, interleaved with the video written so far;
        the first item at or past ``until`` is held back for the next call. Audio before ``audio_start``
        is dropped: whole packets when copied, whole or part frames (to the sample) when re-encoded."""
        av = _av()
        src, out = self._audio_src, self._audio_out
        if self._audio_items is None:
            if self._live_audio is not None:  # the frames that have arrived, at each call
                self._audio_items = self._live_audio.frames()
            else:
                self._audio_items = iter(self._audio_in.decode(src) if self._transcode_audio
                                         else self._audio_in.demux(src))
        start = 0 if self._live_audio is not None else src.start_time or 0  # live: audio_start is on its clock
        while True:
            try:
                item = self._audio_held if self._audio_held is not None else next(self._audio_items, None)
            except av.FFmpegError as exc:
                raise VideoError(f"{self.audio_from or self._live_audio}: cannot read audio ({_describe(exc)})") from None
            self._audio_held = None
            if item is None:
                return
            if item.pts is None or (not self._transcode_audio and item.dts is None):
                continue  # demuxer flush packet
            at = float((item.pts - start) * item.time_base) - self.audio_start  # seconds into the output
            if at >= until:
                self._audio_held = item
                return
            # (from a file's start even AAC's priming packet, at -21 ms, is kept; a live stream's sound before its
            # first frame is not)
            if (self.audio_start or self._live_audio is not None) and at < -1e-6:
                item = _audio_tail(item, -at) if self._transcode_audio else None
                if item is None:
                    continue  # all of it before the start
            if self._transcode_audio:
                # numbered by the samples fed, from 0: the encoder then dates its packets back by its own
                # delay (AAC's 1024 priming samples, Opus's pre-skip) and the muxer tells players to skip it;
                # sound that starts after the picture (a live stream's, which came later) or stops for a while
                # (a stream that dropped) is filled with silence, so what follows stays in sync
                gap = round(at * item.sample_rate) - self._audio_fed  # to the sample, in the output's rate...
                if self._audio_fed and gap < GAP * item.sample_rate:
                    gap = 0  # ...but only at the start or past a real gap (a stream that dropped), not jitter
                packets = []
                for frame in ([_silence(item, gap)] if gap > 0 else []) + [item]:
                    frame.pts, frame.time_base = self._audio_fed, Fraction(1, item.sample_rate)
                    self._audio_fed += frame.samples
                    packets += out.encode(frame)
            else:
                shift = round(self.audio_start / item.time_base)
                item.pts, item.dts = item.pts - shift, item.dts - shift
                item.stream = out
                packets = [item]
            for packet in packets:
                try:
                    self._container.mux(packet)
                except av.FFmpegError:
                    continue  # a damaged audio packet is dropped, the video is kept

    def _finish_audio(self) -> None:
        self._pump_audio(self._end)  # cut where the video ends (or at close's later end)
        if self._transcode_audio:
            for packet in self._audio_out.encode(None):
                self._container.mux(packet)

    def close(self, end: float | None = None) -> None:
        """Flush the encoder, copy the audio, and move the finished file to ``path``. The audio is cut
        where the video ends, or at ``end`` seconds when that is later (a source's own end: its last
        frame held over the rest of its audio, as players show it)."""
        if self._closed:
            return
        if end is not None and math.isfinite(end):
            self._end = max(self._end, float(end))
        try:
            if self.frames_written == 0:
                raise VideoError(f"{self.name}: no frames were written")
            av = _av()
            try:
                self._encode(None)
                if self._audio_out is not None:
                    self._finish_audio()
                self._container.close()
                self._container = None
            except av.FFmpegError as exc:
                raise VideoError(f"{self.name}: cannot finish writing ({_describe(exc)})") from None
            self._close_audio()
            if self._tmp is not None:
                publish(self._tmp, self.path)  # mkstemp made it private: normal file permissions, then renamed
            elif self.stdout:
                sys.stdout.buffer.flush()
            self._closed = True
        except BaseException:
            self.abort()
            raise

    def _close_audio(self) -> None:
        if self._audio_in is not None:
            self._audio_in.close()
            self._audio_in = None

    def _discard(self) -> None:
        if self._tmp is None:  # standard output or a server: what was sent is the reader's
            return
        try:
            self._tmp.unlink(missing_ok=True)
        except OSError:
            pass

    def abort(self) -> None:
        """Stop writing and delete the temporary file; ``path`` is left untouched."""
        self._closed = True
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # noqa: BLE001, S110 - best-effort close of a writer being discarded
                pass
            self._container = None
        try:
            self._close_audio()
        except Exception:  # noqa: BLE001, S110 - best-effort close of a writer being discarded
            pass
        self._discard()


def _palette(width: int, height: int) -> Any:
    """FFmpeg filters that give each RGB frame of a GIF its own 256 colours (palettegen per frame, then
    paletteuse): a style's colours survive, where one fixed palette bands. The palette is chosen from every
    k-th pixel of every k-th row (about 16K pixels): a stylized frame scaled up from the DiT's size has 58K
    colours at 512x512, which cost palettegen 50 ms a frame, for the same 41.3 dB. Ordered (Bayer)
    dithering: 26 ms a frame against error diffusion's 83 (sierra2_4a) on the x264-decoded frames, files 6%
    smaller, 41.8 dB from them against 40.3 (44.0 and 44.9 after a 1-px blur, as an eye averages the dots)."""
    av = _av()
    graph = av.filter.Graph()
    source = graph.add_buffer(width=width, height=height, format="rgb24", time_base=Fraction(1, GIF_CLOCK))
    split = graph.add("split")
    palette = graph.add("palettegen", "stats_mode=single")
    use = graph.add("paletteuse", "new=1:dither=bayer:bayer_scale=5")
    source.link_to(split)
    k = max(1, int((width * height / 16384) ** 0.5))
    if k > 1:
        sample = graph.add("scale", f"w={max(1, width // k)}:h={max(1, height // k)}:flags=neighbor")
        split.link_to(sample, 0, 0)
        sample.link_to(palette)
    else:
        split.link_to(palette, 0, 0)
    split.link_to(use, 1, 0)
    palette.link_to(use, 0, 1)
    use.link_to(graph.add("buffersink"))
    graph.configure()
    return graph


def _audio_tail(frame: Any, skip: float) -> Any | None:
    """A decoded audio frame without its first ``skip`` seconds (None when that is all of it)."""
    av = _av()
    drop = round(skip * frame.sample_rate)
    if drop >= frame.samples:
        return None
    data = frame.to_ndarray()
    data = data[:, drop:] if frame.format.is_planar else data[:, drop * len(frame.layout.channels):]
    tail = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=frame.format.name, layout=frame.layout.name)
    tail.sample_rate = frame.sample_rate
    return tail


def _silence(like: Any, samples: int) -> Any:
    """An audio frame of ``samples`` silent samples in the format, layout and rate of the frame ``like``."""
    av = _av()
    data = like.to_ndarray()
    per_row = data.shape[1] // like.samples  # packed formats interleave the channels in one row
    quiet = av.AudioFrame.from_ndarray(np.zeros((data.shape[0], samples * per_row), data.dtype),
                                       format=like.format.name, layout=like.layout.name)
    quiet.sample_rate = like.sample_rate
    return quiet


def write_video(path: str | os.PathLike[str], frames: np.ndarray, fps: float,
                audio_from: str | os.PathLike[str] | None = None) -> None:
    """Write a whole (T, H, W, 3) uint8 clip to ``path`` (see :class:`VideoWriter`)."""
    with VideoWriter(path, fps, audio_from=audio_from) as writer:
        writer.write(frames)


def shown_url(url: str) -> str:
    """``url`` as it may be printed: a password in it (``rtsp://admin:secret@camera/stream``) as ``***``."""
    scheme, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    user, at, host = netloc.rpartition("@")
    if not (sep and at and ":" in user):
        return url
    return f"{scheme}://{user.partition(':')[0]}:***@{host}{slash}{path}"


def stream_container(name: str | os.PathLike[str]) -> _Container | None:
    """How a live stream goes to the URL ``name`` (``STREAM_OUTPUTS``: FLV for RTMP, MPEG-TS for UDP/TCP/SRT,
    ...), or None where ``name`` is not such a URL."""
    scheme, sep, _ = str(name).partition("://")
    return STREAM_OUTPUTS.get(scheme.lower()) if sep else None


def output_format(path: str | os.PathLike[str], frames: int) -> str:
    """"video" or "image": what an output of ``frames`` frames at ``path`` is written as, by its suffix
    (``CONTAINERS``, ``IMAGE_SUFFIXES``: a still image takes one frame); ``VideoError`` otherwise, so a
    name like out.avi or out.flv is refused rather than filled with MP4 data."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES and frames == 1:
        return "image"
    if suffix in CONTAINERS or str(path) == STDOUT or stream_container(path) is not None:
        return "video"
    if suffix in IMAGE_SUFFIXES:
        if frames > 1:
            raise VideoError(f"an image output ({suffix}) takes a photo, and the input has {frames} frames: "
                             f"write a video ({', '.join(CONTAINERS)})")
        return "image"
    *rest, last = CONTAINERS
    raise VideoError(f"output must end in {', '.join(rest)} or {last} (the container), or for a photo in "
                     f"{', '.join(IMAGE_SUFFIXES)}; got {path}")


def write_image(path: str | os.PathLike[str], frame: np.ndarray) -> None:
    """Write one uint8 (H, W, 3) frame as the still image ``path``'s suffix names, atomically."""
    from PIL import Image

    path = Path(path)
    try:
        with atomic_path(path, suffix=path.suffix) as tmp:
            Image.fromarray(frame).save(tmp, **IMAGE_OPTIONS.get(path.suffix.lower(), {}))
    except WriteError as exc:
        raise VideoError(f"{path}: {exc}") from None
