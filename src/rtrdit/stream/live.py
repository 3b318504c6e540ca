"""Live inputs: a network stream (an IP camera's RTSP, OBS's or a phone app's RTMP, MPEG-TS over UDP or TCP,
an HLS playlist) or standard input (``pipe:``: ``ffmpeg ... -f mpegts - | rtrdit stylize pipe:``) stylized as it
arrives, to a file, to standard output or on to a server. It is read on a
thread of its own, so the stream never waits for the stylizer; when the stylizer falls more than ``lag`` (`LAG`)
seconds behind, the oldest frames are dropped (and counted), so the output stays live; the stream's audio
goes along with its own times. It ends when the stream does, when nothing arrives for ``timeout`` seconds,
or at Ctrl-C or SIGTERM, and the output is finished either way."""

from __future__ import annotations

import contextlib
import math
import os
import select
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from rtrdit.codecs.video_writer import CRF
from rtrdit.stream.render import (
    BATCH,
    PRESET,
    RenderResult,
    SheetPicks,
    StyledFeed,
    _EncodeThread,
    compare_paths,
    contact_sheet,
    split_schedule,
)
from rtrdit.stream.schedule import StyleChange
from rtrdit.stream.session import processing_size, resize_frames
from rtrdit.stream.stylizer import Stylizer

LIVE_SCHEMES = ("rtmp", "rtmps", "rtsp", "rtsps", "udp", "tcp", "rtp", "srt")
LISTEN_SCHEMES = ("rtmp", "rtmps", "tcp", "udp")  # where a sender can connect to us (UDP: sent to our port)
LAG = 1.0  # seconds of frames that may wait for the stylizer before the oldest are dropped
TIMEOUT = 10.0  # seconds: a pulled stream must answer within it, and any stream that sends nothing for it has ended
AUDIO_LAG = 10.0  # seconds of audio kept for the video to catch up with; older audio is dropped
RETRY = 2.0  # seconds between attempts to connect again to a pulled stream that dropped (``reconnect``)
PIPE = "pipe:"  # standard input read as a live stream (FFmpeg's name for it); ``-`` is a whole file copied first
SELECT_ON_PIPES = os.name != "nt"  # `PipeReader` waits with select(), which takes pipes on POSIX, sockets alone on Windows
PIPE_HINT = ("; pipe: reads a streaming format (MPEG-TS, Matroska, NUT, Y4M: ffmpeg ... -f mpegts -); "
             "a whole file such as an MP4 goes in as - instead")


def is_pipe(source: object) -> bool:
    """Whether ``source`` names standard input as a live stream: ``pipe:`` (or ``pipe:0``)."""
    return isinstance(source, str) and source.lower() in (PIPE, PIPE + "0")


def is_live(source: object) -> bool:
    """Whether ``source`` is a live stream's URL (``LIVE_SCHEMES``, or an http(s) HLS playlist ``.m3u8``), or
    standard input read as one (``pipe:``)."""
    if is_pipe(source):
        return True
    if not isinstance(source, str) or "://" not in source:
        return False
    scheme, _, rest = source.partition("://")
    scheme = scheme.lower()
    if scheme in ("http", "https"):
        return rest.split("?", 1)[0].lower().endswith(".m3u8")
    return scheme in LIVE_SCHEMES


def _options(url: str, listen: bool) -> dict[str, str]:
    """FFmpeg options that open ``url`` with little delay (a short probe; RTSP over TCP); ``listen`` waits for
    the sender to connect (RTMP, TCP) instead of connecting to a server."""
    scheme = url.partition("://")[0].lower()
    opts = {"probesize": "500000", "analyzeduration": "1000000"}
    if scheme in ("rtsp", "rtsps"):
        opts["rtsp_transport"] = "tcp"  # a camera's RTP over UDP loses frames through NAT and Wi-Fi
    elif listen and scheme in LISTEN_SCHEMES:
        opts["listen"] = "1"
    return opts


class LiveError(ValueError):
    """A live stream that cannot be opened or read: one line naming it."""


class PipeReader:
    """Standard input as FFmpeg reads it (a file object for ``av.open``), for a stream that may never end: a
    read returns what has come, waits at most ``timeout`` s for it once the stream has begun (then the sender
    has gone silent and the stream has ended, as for a network stream), and ends at once when ``stop`` is set,
    so no thread is ever left blocked inside FFmpeg."""

    def __init__(self, fd: int, stop: threading.Event, timeout: float) -> None:
        self.fd, self.stop, self.timeout = fd, stop, timeout
        self.began = False  # the first byte waits for the sender as long as it takes (an ffmpeg starting a camera)

    def read(self, n: int) -> bytes:
        deadline = time.monotonic() + self.timeout
        while not self.stop.is_set() and (not self.began or time.monotonic() < deadline):
            if select.select([self.fd], [], [], 0.2)[0]:
                data = os.read(self.fd, n)
                self.began = True
                return data
        return b""


def plan_live(source: str, output: str | os.PathLike[str], prompt: str | None = None, reference: Any = None,
              schedule: str | os.PathLike[str] | list[StyleChange] | None = None,
              duration: float | None = None, listen: bool = False, compare: bool = False,
              lag: float = LAG, start: float = 0.0, reconnect: bool = False) -> list[StyleChange]:
    """Check a live render before the model loads or the stream is opened: the URL (``pipe:``: standard input,
    which must be piped in), the output (a video file in a folder that exists, ``-``, or a stream URL; a file
    for ``compare``), the start, duration and lag, and the styles (one in force at ``start``), which it returns
    sorted. Raises VideoError or StylizerError in one line."""
    from rtrdit.codecs.photo import IMAGE_SUFFIXES
    from rtrdit.codecs.video import VideoError
    from rtrdit.codecs.video_writer import CONTAINERS, STDOUT, output_format, shown_url, stream_container
    from rtrdit.stream.render import check_span, check_writable, compare_paths, refuse_overwriting_styles, style_changes

    shown = shown_url(source)
    if not (is_live(source) or source.lower().startswith(("http://", "https://"))):  # http(s): read as it comes
        raise VideoError(f"{shown}: not a live stream's URL ({', '.join(s + '://' for s in LIVE_SCHEMES)}, "
                         "or an http(s) .m3u8 playlist)")
    if is_pipe(source):
        if not SELECT_ON_PIPES:
            raise VideoError(f"{source} is not available on Windows (no select() on a pipe there): send the stream "
                             "over TCP instead, rtrdit stylize tcp://127.0.0.1:9000 --listen ... with "
                             "ffmpeg ... -f mpegts tcp://127.0.0.1:9000")
        if listen or reconnect:
            raise VideoError(f"{'--listen' if listen else '--reconnect'} is for a network stream; {source} reads "
                             "standard input as it comes, until it ends")
        if os.isatty(0):  # the descriptor `PipeReader` reads
            raise VideoError("standard input is a terminal, not a stream: pipe one in "
                             "(ffmpeg -i CAMERA -f mpegts - | rtrdit stylize pipe: -o out.mkv)")
    scheme = source.partition("://")[0].lower()
    if scheme == "srt":
        raise VideoError(f"{shown}: this FFmpeg build has no SRT; send the stream as RTMP or MPEG-TS over UDP")
    if listen and scheme not in LISTEN_SCHEMES:
        raise VideoError(f"{shown}: a sender can connect to rtrdit over {', '.join(LISTEN_SCHEMES)}; "
                         f"{scheme} is pulled from its server or camera (leave out --listen)")
    name = str(output)
    if compare and (name == STDOUT or stream_container(name) is not None):
        raise VideoError(f"--compare writes files beside the output: give an output file, not {shown_url(name)}")
    if name != STDOUT and stream_container(name) is None:
        out = Path(name)
        if out.suffix.lower() in set(IMAGE_SUFFIXES) - set(CONTAINERS):  # (.webp: an animated one)
            raise VideoError(f"{name}: a live stream is written as a video, not an image")
        output_format(out, 2)
        if not out.parent.is_dir():
            raise VideoError(f"output folder does not exist: {out.parent}")
        check_writable(out)
    check_span(start, duration)
    if not (isinstance(lag, (int, float)) and not isinstance(lag, bool) and math.isfinite(lag) and lag > 0):
        raise VideoError(f"the lag must be a number of seconds > 0, got {lag!r}")
    changes = style_changes(prompt, reference, schedule, start)
    if compare:
        refuse_overwriting_styles([Path(name), *compare_paths(name)], schedule, changes)
    return changes


class LiveAudio:
    """A live input's sound for `codecs.video_writer.VideoWriter`, which re-encodes it: decoded frames on the output's
    clock (the reader's thread puts them), and ``frames()`` gives what has arrived by each call; ``rate`` and
    ``channels`` are the stream's, from its first connection, and ``form`` its decoded frames' (sample format,
    layout), from the first one put: a later connection's sound is resampled to them."""

    def __init__(self, rate: int, channels: int, url: str) -> None:
        self.rate, self.channels, self.url = rate, channels, url
        self.form: tuple[str, str] | None = None
        self._frames: deque[Any] = deque()
        self._lock = threading.Lock()

    def __str__(self) -> str:
        return self.url

    def put(self, frame: Any) -> None:
        """Keep one decoded frame, its pts on the output's clock; at most ``AUDIO_LAG`` seconds of them wait."""
        with self._lock:
            self.form = self.form or (frame.format.name, frame.layout.name)
            self._frames.append(frame)
            while len(self._frames) > 1 and self._frames[-1].time - self._frames[0].time > AUDIO_LAG:
                self._frames.popleft()

    def frames(self) -> Iterator[Any]:
        """An iterator over the audio frames that have arrived by each call: it stops when there are none
        yet, and a later next() looks again (so the writer muxes what has come, a video frame at a time)."""
        return _Arrived(self)

    def take(self) -> list[Any]:
        """The frames kept so far, and no longer kept."""
        with self._lock:
            frames = list(self._frames)
            self._frames.clear()
        return frames


class _Arrived:
    """`LiveAudio.frames`."""

    def __init__(self, audio: LiveAudio) -> None:
        self._audio = audio
        self._ready: deque[Any] = deque()

    def __iter__(self) -> _Arrived:
        return self

    def __next__(self) -> Any:
        if not self._ready:
            self._ready.extend(self._audio.take())
            if not self._ready:
                raise StopIteration
        return self._ready.popleft()


class _Clock:
    """Times for a live stream's frames, increasing, on the stream's own clock where it gives one. Frames that
    come without a time (an RTSP stream's, until its first RTCP sender report) wait, up to ``hold`` of them,
    and are timed back from the first frame that has one; a stream that gives none for so long is timed by its
    frame rate from 0, and its later times are moved (``offset``) to go on from there."""

    def __init__(self, fps: float, hold: int) -> None:
        self.fps, self.hold = fps, max(1, hold)
        self.offset: float | None = None  # seconds added to the stream's times; None until it has given one
        self._waiting: list[Any] = []
        self._last: float | None = None

    @property
    def counting(self) -> bool:
        """Whether frames are being timed by the frame rate, the stream having given no time yet."""
        return self._last is not None and self.offset is None

    def add(self, t: float | None, item: Any) -> list[tuple[float, Any]]:
        """``item`` with the stream's time ``t`` (None: none) -> the items now timed, in order."""
        step = 1 / self.fps
        if self.offset is None and t is not None:
            if self._last is None:  # the first time: the frames before it are counted back from it
                self.offset = 0.0
                timed = [(t - step * (len(self._waiting) - i), w) for i, w in enumerate(self._waiting)]
                self._waiting.clear()
                self._last = t
                return [*timed, (t, item)]
            self.offset = self._last + step - t  # counted so far: go on from the last count
        if t is None:
            if self._last is None:
                self._waiting.append(item)
                if len(self._waiting) < self.hold:
                    return []
                timed = [(step * i, w) for i, w in enumerate(self._waiting)]  # no clock: count from 0
                self._waiting.clear()
                self._last = timed[-1][0]
                return timed
            t = self._last + step
        else:
            t += self.offset or 0.0
        if self._last is not None and t <= self._last:
            t = self._last + 1e-3  # a stream's clock that stalls or steps back: kept in order
        self._last = t
        return [(t, item)]

    def flush(self) -> list[tuple[float, Any]]:
        """The frames still waiting for a time at the end of a stream that never gave one: counted from 0."""
        timed = [(i / self.fps, w) for i, w in enumerate(self._waiting)]
        self._waiting.clear()
        return timed


@dataclass
class LiveFacts:
    """What a live stream turned out to be, once open."""

    width: int
    height: int
    fps: float  # its frame rate, or 30 where it does not say
    audio: LiveAudio | None
    size: tuple[int, int]  # (width, height) its frames are read at: ``LiveInput``'s ``size(width, height)``
    duration: float | None = None  # a finished (VOD) HLS playlist's seconds from the start on: all stylized, none dropped


class LiveInput:
    """A live stream read on a thread: video frames decoded to RGB (at ``size(width, height)``) into a short
    queue that drops its oldest frames past ``lag`` seconds (`LAG`), audio packets into `LiveAudio`."""

    def __init__(self, url: str, size: Callable[[int, int], tuple[int, int]], *, listen: bool = False,
                 timeout: float = TIMEOUT, reconnect: bool = False, lag: float = LAG, start: float = 0.0,
                 on_drop: Callable[[], None] | None = None) -> None:
        from rtrdit.codecs.video_writer import shown_url

        self.url, self.listen, self.timeout, self.reconnect = url, listen, float(timeout), reconnect
        self.lag = float(lag)
        self.start = float(start)  # seconds into a finished playlist to begin at (its frame there is time 0)
        self.reconnects = 0  # connections after the first that brought frames
        self._on_drop = on_drop  # called (on the reading thread) when a connection that brought frames drops
        self._wall0 = 0.0  # our clock's time at the first frame: the output's time 0
        self._last_out = -math.inf  # the output time of the last frame queued
        self.shown = "standard input" if is_pipe(url) else shown_url(url)  # for messages: without a password
        self._size = size
        self._frames: deque[tuple[float, np.ndarray]] = deque()
        self._cond = threading.Condition()
        self._facts: LiveFacts | None = None
        self._error: str | None = None
        self._ended = False
        self._stop = threading.Event()
        self._warm = False  # frames are dropped only once the stylizer has stylized its first (`warm`)
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="rtrdit-live", daemon=True)

    def open(self) -> LiveFacts:
        """Start reading; wait (for a sender, when listening) until the stream's first frame is decoded."""
        self._thread.start()
        with self._cond:
            while self._facts is None and self._error is None and not self._ended:
                self._cond.wait(0.2)
        if self._facts is None:
            raise LiveError(self._error or f"{self.shown}: the stream ended before its first frame")
        return self._facts

    def take(self, most: int, wait: float = 0.25) -> list[tuple[float, np.ndarray]] | None:
        """Up to ``most`` frames (time from the first frame, RGB), waiting at most ``wait`` s for one; [] when
        none has come yet, None once the stream has ended and every frame was taken."""
        with self._cond:
            if not self._frames and not self._ended and self._error is None:
                self._cond.wait(wait)
            if not self._frames:
                if self._error is not None:
                    raise LiveError(self._error)
                return None if self._ended else []
            got = [self._frames.popleft() for _ in range(min(most, len(self._frames)))]
            self._cond.notify_all()  # room for a reader waiting on a burst
            return got

    def warm(self) -> None:
        """Say that the stylizer is past its first, slow, chunk: from now on frames it is late for are dropped."""
        with self._cond:
            self._warm = True

    def close(self) -> None:
        """Stop reading and let the stream go (the thread ends at its next packet, or at its read timeout)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._facts is not None and self._thread.is_alive() and self._thread is not threading.current_thread():
            # FFmpeg must be done with the stream before the process may exit (a thread killed inside it aborts);
            # one still waiting for its sender to connect holds nothing yet and is left to go with the process
            self._thread.join(self.timeout + 1)

    # the reading thread ---------------------------------------------------------
    def _run(self) -> None:
        """Read the stream, and with ``reconnect`` connect again (or, listening, wait for the sender again)
        each time it drops, until it ends for good (a finished playlist) or ``close()``."""
        try:
            while not self._stop.is_set():
                before = self._last_out
                final = self._connection()
                if final or not self.reconnect or self._error is not None:
                    break
                if self._last_out != before and self._on_drop is not None and not self._stop.is_set():
                    self._on_drop()  # this connection brought frames and dropped: said once, not per retry
                self._stop.wait(0 if self.listen else RETRY)
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify_all()

    def _connection(self) -> bool:
        """One connection, read to its end: whether that end is final (a finished playlist, or ``close()``).
        A first connection that fails is the stream's error; a later one is tried again."""
        import av

        from rtrdit.codecs.video import _describe, audio_stream

        first = self._facts is None
        hint = PIPE_HINT if is_pipe(self.url) else ""
        try:
            if is_pipe(self.url):
                container = av.open(PipeReader(0, self._stop, self.timeout), options=_options(self.url, False))
            else:  # a listener waits for its sender as long as it takes; a pulled stream answers within the timeout
                container = av.open(self.url, options=_options(self.url, self.listen),
                                    timeout=(None if self.listen else self.timeout, self.timeout))
        except Exception as exc:  # noqa: BLE001 - any failure to open is the user's one line
            if first:
                self._fail(f"{self.shown}: cannot open the stream ({_describe(exc)}){hint}")
            return False
        try:
            videos = [s for s in container.streams.video if s.codec_context.width]
            if not videos:
                if first:
                    self._fail(f"{self.shown}: the stream has no video")
                return False
            if first and self.start:
                if not _finished(container):
                    self._fail(f"{self.shown}: a start is for a finished playlist (video on demand); a live stream "
                               "runs from when it is opened")
                    return False
                end = container.duration / 1_000_000  # AV_TIME_BASE
                if self.start >= end:
                    self._fail(f"{self.shown}: the start ({self.start:g} s) is not before the playlist's end ({end:.2f} s)")
                    return False
                container.seek(int((container.start_time or 0) + self.start * 1_000_000))  # to the key frame before
            return self._read(container, videos[0], audio_stream(container))
        except Exception as exc:  # noqa: BLE001 - a stream cut off mid-way has ended (a sender that vanished)
            if self._facts is None:
                self._fail(f"{self.shown}: cannot read the stream ({_describe(exc)}){hint}")
            return False
        finally:
            container.close()

    def _read(self, container: Any, video: Any, track: Any) -> bool:
        """`_connection`'s reading: frames on the output's clock into the queue, sound into `LiveAudio`.
        The first connection's first frame is the output's time 0; a later connection's first frame comes
        at our clock's time since then (the last frame before it is held over the gap, in silence)."""
        import av

        from rtrdit.codecs.video import _pixel_aspect, _rate, _to_rgb

        video.thread_type = "AUTO"
        arrival = container.format.name == "mpjpeg"  # an IP camera's or phone app's http motion JPEG:
        fps = 30.0 if arrival else _rate(video) or 30.0  # its frames come as they are taken, its rate nominal
        aspect = _pixel_aspect(video)
        keep = max(BATCH, round(self.lag * fps))
        # a playlist that has ended (#EXT-X-ENDLIST: FFmpeg knows its length) is a video on demand: nothing
        # to stay live with, so every frame waits for the stylizer rather than being dropped
        vod = _finished(container)
        # a start into a finished playlist: the frames before it (from the key frame sought to) are skipped
        skip = -math.inf
        if self._facts is None and self.start:
            skip = (container.start_time or 0) / 1_000_000 + self.start - 0.5 / fps
        facts = self._facts
        audio = facts.audio if facts is not None else None
        if facts is None and track is not None:
            ctx = track.codec_context
            audio = LiveAudio(ctx.sample_rate or 48000, ctx.channels or 2, self.shown)
        resampler = None
        if track is not None and audio is not None and facts is not None:
            ctx = track.codec_context  # a later connection's sound is made the first's, to be encoded with it
            if (ctx.sample_rate, ctx.channels) != (audio.rate, audio.channels):
                sample, layout = audio.form or ("fltp", "mono" if audio.channels == 1 else "stereo")
                resampler = av.AudioResampler(format=sample, layout=layout, rate=audio.rate)
        clock = _Clock(fps, keep)
        shift: float | None = None  # seconds from this connection's clock to the output's
        sound: list[Any] = []  # decoded audio waiting for this connection's clock
        ended = False
        packets = container.demux([video] if track is None else [video, track])
        while not ended and not self._stop.is_set():
            try:
                packet = next(packets)
            except StopIteration:
                packet = None
            except Exception:  # a sender that vanished, a read timeout: the stream has ended
                if self._facts is None:
                    raise
                packet = None
            if packet is not None and packet.stream is not video:
                if packet.pts is not None and audio is not None:
                    with contextlib.suppress(Exception):  # a damaged packet of a live stream is skipped
                        got = packet.decode()
                        got = [r for f in got for r in resampler.resample(f)] if resampler is not None else got
                        sound += [f for f in got if f.pts is not None]
                    sound = self._sounded(sound, audio, clock, shift)
                continue
            ended = packet is None or packet.size == 0
            decoded = [(_time(frame, video), frame) for frame in video.decode(None if ended else packet)]
            if arrival:  # motion JPEG has no clock (FFmpeg counts 25 fps): a frame's time is when it came
                decoded = [(time.monotonic(), frame) for _, frame in decoded]
            timed = [item for t, frame in decoded for item in clock.add(t, frame)]  # at the end: all it holds
            for t, frame in timed + (clock.flush() if ended else []):
                if t < skip:
                    continue
                if facts is None:  # the first frame: the stream's facts, for the caller waiting in open()
                    rgb = _to_rgb(frame, None, "stretch", aspect)
                    shown = (rgb.shape[1], rgb.shape[0])
                    facts = LiveFacts(*shown, fps, audio, self._size(*shown),
                                      container.duration / 1_000_000 - self.start if vod else None)  # AV_TIME_BASE
                    self._wall0 = time.monotonic()
                if shift is None:
                    at = 0.0 if self._facts is None else max(self._last_out + 1 / facts.fps, time.monotonic() - self._wall0)
                    shift = at - t
                    self.reconnects += self._facts is not None
                out = t + shift
                self._last_out = out
                self._queue(out, _to_rgb(frame, facts.size, "stretch", aspect), keep, self._wall0 + out, facts)
            sound = self._sounded(sound, audio, clock, shift)
        return vod or self._stop.is_set()

    @staticmethod
    def _sounded(sound: list[Any], audio: LiveAudio | None, clock: _Clock, shift: float | None) -> list[Any]:
        """Put the decoded ``sound`` on the output's clock into ``audio`` once the connection's clock is known
        (its video's first time, and where its first frame went); until then it waits, ``AUDIO_LAG`` at most.
        Returns what still waits."""
        if audio is None or not sound:
            return []
        if shift is None or clock.offset is None:
            while len(sound) > 1 and sound[-1].time - sound[0].time > AUDIO_LAG:
                sound.pop(0)
            return sound
        for frame in sound:
            frame.pts = round((frame.time + clock.offset + shift) * frame.sample_rate)
            frame.time_base = Fraction(1, frame.sample_rate)
            audio.put(frame)
        return []

    def _queue(self, t: float, rgb: np.ndarray, keep: int, due: float, facts: LiveFacts) -> None:
        """Queue one frame (at ``t`` s on the output's clock, ``due`` on ours), holding at most ``keep``."""
        with self._cond:
            # a burst ahead of the stream's own clock (a playlist's first segments, a server's cached start)
            # waits for room rather than being dropped: only lateness is dropped (and nothing of a finished playlist)
            vod = facts.duration is not None
            while len(self._frames) >= keep and not self._stop.is_set() and (vod or time.monotonic() < due):
                self._cond.wait(0.05)
            self._frames.append((t, rgb))
            while self._warm and len(self._frames) > keep:  # the stylizer is behind: stay live
                self._frames.popleft()
                self.dropped += 1
            self._facts = facts
            self._cond.notify_all()

    def _fail(self, message: str) -> None:
        with self._cond:
            self._error = message
            self._cond.notify_all()


def _finished(container: Any) -> bool:
    """Whether an open stream is a finished HLS playlist (#EXT-X-ENDLIST: FFmpeg knows its length), a video on
    demand rather than a live stream."""
    return container.format.name == "hls" and bool(container.duration)


def _time(frame: Any, stream: Any) -> float | None:
    """A decoded frame's time in seconds: its own, its pts on the stream's clock (frames the decoder gives back
    at the end come without a time base), or None."""
    t = frame.time
    if t is not None and math.isfinite(t):
        return float(t)
    return float(frame.pts * stream.time_base) if frame.pts is not None and stream.time_base else None


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Within the block, the first Ctrl-C or SIGTERM sets ``stop`` (the render finishes its output and ends);
    a second one interrupts as usual. Off the main thread, signals are left alone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def first(signum: int, frame: object) -> None:
        stop.set()
        for s, handler in before.items():
            signal.signal(s, handler)

    for s in before:
        signal.signal(s, first)
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


def render_live(stylizer: Stylizer, source: str, output: str | os.PathLike[str], schedule: list[StyleChange], *,
                listen: bool = False, timeout: float = TIMEOUT, reconnect: bool = False, duration: float | None = None,
                seed: int = 0, steps: int | None = None, size: tuple[int, int] | None = None, compare: bool = False,
                lag: float = LAG, start: float = 0.0, crf: int = CRF,
                progress: Callable[[int, int], None] | None = None, on_open: Callable[[LiveFacts], None] | None = None,
                on_drop: Callable[[], None] | None = None, stop: threading.Event | None = None) -> RenderResult:
    """Stylize the live stream at ``source`` into ``output`` (a file written when the stream ends, ``-``, or a
    URL: `codecs.video_writer.STREAM_OUTPUTS`) until it ends, ``stop`` is set, or Ctrl-C/SIGTERM (once). Every
    frame keeps its time from the stream's first frame, the schedule runs on that clock, and the stream's
    audio is kept; ``duration`` (seconds of the stream) ends it too. With ``reconnect`` a stream that drops
    is connected to again (a listener waits for its sender again) and the output goes on, the gap kept as
    time (the last frame held, silence), until ``stop``, a signal or ``duration``. ``compare`` (an output
    file) also writes OUTPUT_compare (source | stylized) and OUTPUT_sheet.png (`render.compare_paths`),
    the sheet's frames spread over however long the stream ran. ``lag``: seconds of frames that may wait for
    the stylizer before the oldest are dropped (more: fewer drops, more delay and memory). ``start``: seconds
    into a finished playlist (video on demand) to begin at, the schedule on the playlist's clock as for a
    file's part (a live stream: LiveError). ``crf``: the output's quality (`VideoWriter`). ``progress(done,
    dropped)`` follows the frames written and dropped; ``on_open`` is called with the stream's facts when its
    first frame has come; ``on_drop`` (with ``reconnect``) each time the stream drops after its first frame
    and is waited for again (called on the reading thread, every frame it brought already queued).
    ``extra`` holds ``dropped``, ``reconnects`` and ``stopped`` (1.0 when a signal or ``stop`` ended it: the
    frames already received are stylized first). Raises LiveError when the stream cannot be opened or read."""
    stop = stop if stop is not None else threading.Event()

    def work_size(w: int, h: int) -> tuple[int, int]:
        return size if size is not None else processing_size(w, h, stylizer.config.area)

    # frames are read at the DiT's size, or for --compare (which shows the source as it is) at their own
    live = LiveInput(source, (lambda w, h: (w, h)) if compare else work_size, listen=listen, timeout=timeout,
                     reconnect=reconnect, lag=lag, start=start, on_drop=on_drop)
    with _stop_on_signals(stop):
        try:
            facts = _opened(live, stop)
            if facts is None:  # stopped while waiting for the stream: nothing to write
                return RenderResult(str(output), 0, 0.0, 0.0, extra={"dropped": 0.0, "reconnects": 0.0, "stopped": 1.0})
            if on_open is not None:
                on_open(facts)
            work = work_size(facts.width, facts.height)
            return _stream(stylizer, live, facts, work, output, schedule, seed, steps, progress, stop, duration,
                           compare, start, crf)
        finally:
            live.close()


def _opened(live: LiveInput, stop: threading.Event) -> LiveFacts | None:
    """``live.open()`` on a helper thread, so that a signal that sets ``stop`` while it waits is noticed."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["facts"] = live.open()
        except LiveError as exc:
            box["error"] = exc

    opener = threading.Thread(target=run, name="rtrdit-live-open", daemon=True)
    opener.start()
    while opener.is_alive() and not stop.is_set():
        opener.join(0.2)
    if "error" in box:
        raise box["error"]
    return box.get("facts")


def _stream(stylizer: Stylizer, live: LiveInput, facts: LiveFacts, work: tuple[int, int],
            output: str | os.PathLike[str], changes: list[StyleChange], seed: int, steps: int | None,
            progress: Callable[[int, int], None] | None, stop: threading.Event,
            duration: float | None, compare: bool, start: float, crf: int) -> RenderResult:
    """The stylizing loop of `render_live`, once the stream is open: frames stylized at ``work`` (w, h)."""
    from rtrdit.codecs.video_writer import VideoWriter

    half = 0.5 / facts.fps
    first, pending = split_schedule(changes, start + half)  # the schedule runs on the playlist's clock
    sess = stylizer.session(prompt=first.prompt, reference=first.reference, seed=seed, steps=steps, size=work)
    # the stream's audio on its own clock, from the first frame's time on
    writers = [VideoWriter(output, facts.fps, audio_from=facts.audio, crf=crf, preset=PRESET)]  # its sound on the output's clock
    compare_path, sheet_path = compare_paths(output) if compare else (None, None)
    if compare_path is not None:
        writers.append(VideoWriter(compare_path, facts.fps, crf=crf, preset=PRESET))
    sheet = SheetPicks()
    encoder = _EncodeThread(writers, (facts.width, facts.height))
    waiting: deque[tuple[float, np.ndarray | None]] = deque()  # (time, source frame for --compare)
    done = 0
    ended = False  # the stream ended, or the duration did
    t0 = time.perf_counter()

    def emit(stylized: np.ndarray) -> None:
        nonlocal done
        for frame in stylized:
            t, src = waiting.popleft()
            encoder.put(frame, t, src)
            if src is not None:
                sheet.add(src, frame)
            done += 1
        if progress is not None:
            progress(done, live.dropped)

    try:
        feed = StyledFeed(sess, pending, half, emit)

        def add(got: list[tuple[float, np.ndarray]]) -> bool:
            """Give ``got`` to the stylizer (what has come, without waiting for a whole batch): whether
            the duration asked for ended within it."""
            over = False
            for t, frame in got:
                if duration is not None and t >= duration - half:
                    over = True
                    break
                waiting.append((t, frame if compare else None))
                feed.add(start + t, resize_frames(frame[None], work)[0] if compare else frame)
            feed.push()
            return over

        while not stop.is_set() and not ended:
            got = live.take(BATCH)
            ended = got is None or add(got)
            if done:
                live.warm()
        stopped = not ended
        if stopped:  # the frames already received are stylized too (``lag`` s of them at most)
            live.close()
            while (got := live.take(BATCH, wait=0)) and not add(got):
                pass
        emit(sess.flush())
        encoder.finish()
        if done:
            for w in writers:
                w.close()
            if sheet_path is not None:
                contact_sheet(sheet.rows(), sheet_path)
        else:  # stopped before a frame was stylized: nothing to keep
            for w in writers:
                w.abort()
            compare_path = sheet_path = None
    except BaseException:
        encoder.stop()
        for w in writers:
            w.abort()
        raise
    secs = time.perf_counter() - t0
    return RenderResult(str(output), done, done / secs if secs > 0 else 0.0, secs,
                        str(compare_path) if compare_path else None, str(sheet_path) if sheet_path else None,
                        extra={"dropped": float(live.dropped), "reconnects": float(live.reconnects),
                               "stopped": float(stopped)})


__all__ = ["LAG", "LIVE_SCHEMES", "TIMEOUT", "LiveError", "LiveFacts", "LiveInput", "is_live", "plan_live", "render_live"]
