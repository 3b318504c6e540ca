"""Video files out: uint8 RGB frames to H.264 MP4 / MOV / MKV, VP9 WebM, GIF or animated WebP, written
atomically (a hidden temporary file renamed when complete), with the source's sound; or streamed as they
are made to standard output or a server URL.

Every failure raises :class:`~rtrdit.codecs.video.VideoError` with one readable line that names the output.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from rtrdit.codecs.photo import IMAGE_SUFFIXES
from rtrdit.codecs.video import (
    BT709,
    LIMITED_RANGE,
    MAX_PIXELS,
    SMPTE170M,
    VideoError,
    _av,
    _describe,
    _fps_fraction,
    _hd,
    audio_stream,
)
from rtrdit.files import WriteError, publish, temp_beside

if TYPE_CHECKING:  # pragma: no cover
    from rtrdit.stream.live import LiveAudio

CRF = 18  # H.264 quality by default: 0 (lossless) to 51 (`VideoWriter`'s ``crf``)
CRF_MAX = 51
TIME_BASE = 90_000  # ticks per second of a timed writer's clock (MPEG's)
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
    a live input's `stream.live.LiveAudio`: decoded frames on the video's clock, re-encoded as they arrive.
    ``crf``: H.264's constant quality, 0 (lossless: nothing lost beyond 4:2:0's half-resolution colour; large,
    for editing rather than browsers) to 51; VP9 takes ``crf + 6``; a GIF or WebP has its own. x264's lookahead
    (mbtree) may code a few frames differently from one run to the next (a file some 30-45 dB from the other,
    the same frames in); a lossless output decodes to the same frames every time."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float,
        audio_from: str | os.PathLike[str] | LiveAudio | None = None,
        *,
        crf: int = CRF,
        preset: str = "fast",
        audio_start: float = 0.0,
    ) -> None:
        self.path = Path(path)
        self.name = shown_url(str(path))  # as given (a URL's // kept), for messages
        self.rate = _fps_fraction(fps)
        self.fps = float(self.rate)
        self.crf, self.preset = check_crf(crf), str(preset)
        # a live input's audio (`stream.live.LiveAudio`: its track, and its frames as they arrive), or a file's
        self._live_audio = None if isinstance(audio_from, (str, os.PathLike)) else audio_from
        self.audio_from = Path(audio_from) if isinstance(audio_from, (str, os.PathLike)) else None
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


def check_crf(crf: object) -> int:
    """``crf`` if it is a whole number from 0 (lossless) to `CRF_MAX`; else a VideoError saying so."""
    if isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= CRF_MAX:
        raise VideoError(f"crf must be a whole number from 0 (lossless) to {CRF_MAX}, got {crf!r}")
    return crf


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
