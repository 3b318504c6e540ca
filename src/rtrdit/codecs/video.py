"""Video files in: streaming PyAV reads as uint8 RGB frames, upright and in SDR as a player shows them,
with the keep-aspect resize policy. Writing lives in :mod:`rtrdit.codecs.video_writer`, photos in
:mod:`rtrdit.codecs.photo`.

Every failure on a user's file (missing, empty, truncated, not a video, bad frame size) raises
:class:`VideoError` with one readable line that names the file, never a raw FFmpeg traceback.
"""

from __future__ import annotations

import itertools
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from rtrdit.codecs import hdr

# FFmpeg's AVCOL_SPC/PRI/TRC values outputs are tagged with (BT709 = 1, SMPTE170M = 6: BT.601 525-line)
# and AVCOL_RANGE_MPEG (limited range)
BT709, SMPTE170M, LIMITED_RANGE, FULL_RANGE = 1, 6, 1, 2
UNSPECIFIED = 2  # AVCOL_SPC_UNSPECIFIED: a file that does not say


def _hd(width: int, height: int) -> bool:
    """Whether a player takes an untagged video of this size as BT.709 (mpv's rule: 1280 wide or 577
    high and up) rather than BT.601: what untagged files are read as and outputs are written in."""
    return width >= 1280 or height > 576


# A frame larger than this (in pixels) is refused: one RGB frame of 8192x8192 is already 200 MB.
MAX_PIXELS = 8192 * 8192


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


def _fps_fraction(fps: float) -> Fraction:
    """A frame rate as an exact fraction (29.97 as 30000/1001), or VideoError for one that is not a positive number."""
    if not (isinstance(fps, (int, float, Fraction)) and math.isfinite(float(fps)) and fps > 0):
        raise VideoError(f"fps must be a positive number, got {fps!r}")
    return Fraction(float(fps)).limit_denominator(1001)
