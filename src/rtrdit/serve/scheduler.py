"""Live sessions on the stylizer workers: latest frame wins, round-robin fairness, devices.

One worker thread per device owns a `Stylizer` on that device and serves the sessions placed
on it (a new session goes to the worker with the fewest sessions). Each session holds only
the newest camera frame not yet taken (a newer frame replaces it: stale frames are dropped,
never queued), and a worker takes one frame per session per turn, so a busy client cannot
starve the others and latency cannot grow when the model is slower than the camera.
Controls (style, steps, pause, reset) are applied by the worker before the next frame.
"""

from __future__ import annotations

import collections
import contextlib
import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rtrdit.errors import first_line

# Limits on what a client may send (bytes and pixels); see `Limits`.
JPEG_MAGIC = b"\xff\xd8"
# a session's style until its client sends one, for a model that names no presets (else its first)
DEFAULT_PROMPT = "Turn the video into an oil painting"


class ServeError(ValueError):
    """A client's request cannot be served (bad message, limits, server full): one line."""


class ServerFull(ServeError):
    """Every session slot is taken: the client may try again later (HTTP 503, WebSocket 1013)."""


@dataclass(frozen=True)
class Limits:
    """Bounds on client input: frames, reference uploads, text messages, sessions."""

    max_frame_bytes: int = 2 * 1024 * 1024  # one JPEG camera frame
    max_frame_pixels: int = 1920 * 1920  # decoded camera frame
    max_reference_bytes: int = 8 * 1024 * 1024  # decoded reference image file
    max_reference_pixels: int = 4096 * 4096
    max_text_bytes: int = 12 * 1024 * 1024  # one text message (a base64 reference fits)
    max_prompt_chars: int = 2000
    max_steps: int = 8


@dataclass
class Output:
    """One stylized frame ready to send, with the index of the camera frame it came from."""

    frame: np.ndarray  # uint8 (H, W, 3) RGB
    index: int  # index of the source frame in the client's stream (counting dropped ones)
    received: float  # time.monotonic() when the source frame arrived
    pts: Any = None  # the source frame's presentation timestamp (WebRTC), if any


@dataclass
class Stats:
    """Counters of one session, reported to its client."""

    received: int = 0
    dropped: int = 0
    processed: int = 0
    sent: int = 0
    last_latency_ms: float = 0.0
    out_times: collections.deque = field(default_factory=lambda: collections.deque(maxlen=60))

    def fps(self) -> float:
        t = self.out_times
        if len(t) < 2 or t[-1] <= t[0]:
            return 0.0
        return (len(t) - 1) / (t[-1] - t[0])


def decode_jpeg(data: bytes, max_pixels: int) -> np.ndarray:
    """A JPEG (or PNG) camera frame -> uint8 RGB (H, W, 3); refuses oversized images before decoding."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > max_pixels:
                raise ServeError(f"frame of {im.width}x{im.height} is too large (at most {max_pixels} pixels)")
            im.load()
            return np.asarray(im.convert("RGB"))
    except ServeError:
        raise
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for corrupt data
        raise ServeError(f"cannot decode the frame as an image: {exc}") from None


def encode_jpeg(frame: np.ndarray, quality: int = 80) -> bytes:
    """uint8 RGB (H, W, 3) -> JPEG bytes."""
    import cv2

    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(frame[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - cv2 only fails on invalid arrays
        raise ServeError("cannot encode the stylized frame")
    return buf.tobytes()


def decode_reference(data: bytes, limits: Limits) -> np.ndarray:
    """A reference image file's bytes -> uint8 RGB, upright; size-checked before decoding. A phone's HEIC
    through pillow-heif; formats Pillow lacks are read by FFmpeg."""
    from PIL import Image, UnidentifiedImageError

    from rtrdit.codecs.photo import add_heif_to_pillow

    add_heif_to_pillow()
    if len(data) > limits.max_reference_bytes:
        raise ServeError(f"reference image is too large ({len(data)} bytes, at most {limits.max_reference_bytes})")
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > limits.max_reference_pixels:
                raise ServeError(f"reference image of {im.width}x{im.height} is too large")
            im.load()
            from rtrdit.stream.session import load_reference_image

            return load_reference_image(im)
    except ServeError:
        raise
    except UnidentifiedImageError:
        return _decode_reference_with_ffmpeg(data, limits)
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for corrupt data
        raise ServeError(f"cannot decode the reference image: {exc}") from None


def _decode_reference_with_ffmpeg(data: bytes, limits: Limits) -> np.ndarray:
    """`decode_reference` for what Pillow cannot open: through a temporary file (FFmpeg probes by
    reading), the size checked before the pixels are decoded."""
    import tempfile

    from rtrdit.codecs.photo import read_photo
    from rtrdit.codecs.video import VideoError, probe

    with tempfile.NamedTemporaryFile(prefix="rtrdit-ref-") as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            info = probe(tmp.name)
            if info.width * info.height > limits.max_reference_pixels:
                raise ServeError(f"reference image of {info.width}x{info.height} is too large")
            return read_photo(tmp.name)
        except VideoError as exc:
            why = str(exc).removeprefix(f"{tmp.name}: ")
            raise ServeError(f"cannot decode the reference image: {why}") from None


class LiveSession:
    """One client's stream on a worker: the latest-frame slot, pending controls, counters.

    `submit` and `control` are called from the server's event loop; the worker thread calls
    `_step`. `emit(Output | dict)` delivers stylized frames and messages back (thread-safe)."""

    def __init__(self, sid: int, worker: Worker, emit: Callable[[Any], object], prompt: str | None,
                 reference: np.ndarray | None, seed: int, steps: int | None, limits: Limits) -> None:
        self.id = sid
        self.worker = worker
        self.emit = emit
        self.limits = limits
        self.seed = seed
        self.steps = steps
        self.prompt = prompt
        self.reference = reference
        self.paused = False
        self.closed = False
        self.stats = Stats()
        self.last_activity = time.monotonic()
        self._lock = threading.Lock()
        self._slot: tuple[int, float, Any, Any] | None = None  # (index, received, frame|bytes, pts)
        self._controls: list[tuple[str, Any]] = []
        self._next_index = 0
        self._stream: Any = None  # rtrdit.stream.session.Session
        self._in_flight: collections.deque[tuple[int, float, Any]] = collections.deque()
        self._frame_size: tuple[int, int] | None = None

    # ------------------------------------------------------ event-loop side
    def submit(self, frame: bytes | np.ndarray, pts: Any = None) -> int:
        """Offer a camera frame (JPEG bytes or RGB array); it replaces any frame not yet taken.
        Returns the frame's index in this stream."""
        if isinstance(frame, (bytes, bytearray)):
            if len(frame) > self.limits.max_frame_bytes:
                raise ServeError(f"frame is too large ({len(frame)} bytes, at most {self.limits.max_frame_bytes})")
            if not bytes(frame[:2]) == JPEG_MAGIC:
                raise ServeError("a binary message must be one JPEG camera frame")
        now = time.monotonic()
        with self._lock:
            idx = self._next_index
            self._next_index += 1
            self.stats.received += 1
            if self._slot is not None:
                self.stats.dropped += 1
            self._slot = (idx, now, frame, pts)
            self.last_activity = now
        self.worker.wake()
        return idx

    def set_style(self, prompt: str | None = None, reference: np.ndarray | None = None) -> None:
        """Switch style at the next chunk; frames not yet taken are dropped (they belong to the old style)."""
        if prompt is None and reference is None:
            raise ServeError("a style message needs a prompt or a reference")
        if prompt is not None:
            if not isinstance(prompt, str) or not prompt.strip():
                raise ServeError("the prompt is empty")
            if len(prompt) > self.limits.max_prompt_chars:
                raise ServeError(f"the prompt is too long ({len(prompt)} characters, at most {self.limits.max_prompt_chars})")
        self._queue_control("style", (prompt, reference))

    def control(self, msg: dict[str, Any]) -> None:
        """A control message: {"pause": bool}, {"steps": int}, {"reset": true}, {"seed": int}."""
        known = {"type", "pause", "steps", "reset", "seed", "action"}
        unknown = set(msg) - known
        if unknown:
            raise ServeError(f"unknown control field(s): {', '.join(sorted(unknown))}")
        action = msg.get("action")
        if action is not None and action not in ("pause", "resume", "reset"):
            raise ServeError(f"unknown control action {action!r} (pause, resume, reset)")
        if action in ("pause", "resume"):
            msg = {**msg, "pause": action == "pause"}
        if action == "reset":
            msg = {**msg, "reset": True}
        if "pause" in msg:
            if not isinstance(msg["pause"], bool):
                raise ServeError("pause must be true or false")
            self._queue_control("pause", msg["pause"])
        if "steps" in msg:
            s = msg["steps"]
            if not isinstance(s, int) or isinstance(s, bool) or not 1 <= s <= self.limits.max_steps:
                raise ServeError(f"steps must be an integer from 1 to {self.limits.max_steps}")
            self._queue_control("steps", s)
        if "seed" in msg:
            if not isinstance(msg["seed"], int) or isinstance(msg["seed"], bool):
                raise ServeError("seed must be an integer")
            self._queue_control("seed", msg["seed"])
        if msg.get("reset"):
            self._queue_control("reset", None)
        self.last_activity = time.monotonic()

    def _queue_control(self, kind: str, value: Any) -> None:
        with self._lock:
            self._controls.append((kind, value))
            if kind in ("style", "reset", "pause"):
                if self._slot is not None:
                    self.stats.dropped += 1
                self._slot = None  # flush the frame in flight: it belongs to the old style
        self.last_activity = time.monotonic()
        self.worker.wake()

    def style_info(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "reference": self.reference is not None}

    def stats_message(self, frame_index: int | None = None) -> dict[str, Any]:
        s = self.stats
        msg: dict[str, Any] = {"type": "stats", "fps": round(s.fps(), 2), "latency_ms": round(s.last_latency_ms, 1),
                               "received": s.received, "dropped": s.dropped, "processed": s.processed, "sent": s.sent,
                               "paused": self.paused, "steps": self.steps, "style": self.style_info(),
                               "device": str(self.worker.device)}
        if frame_index is not None:
            msg["frame"] = frame_index
        return msg

    # ---------------------------------------------------------- worker side
    def has_work(self) -> bool:
        with self._lock:
            return bool(self._controls) or (self._slot is not None and not self.paused)

    def _step(self) -> None:
        """Apply pending controls, then push the latest frame (if any) through the stylizer."""
        with self._lock:
            controls, self._controls = self._controls, []
        for kind, value in controls:
            self._apply(kind, value)
        with self._lock:
            if self.paused or self._slot is None:
                return
            idx, received, frame, pts = self._slot
            self._slot = None
        try:
            frame = self._to_rgb(frame)
        except ServeError as exc:
            self.emit({"type": "error", "message": str(exc)})
            return
        h, w = frame.shape[:2]
        if self._frame_size != (w, h):  # first frame, or the phone rotated: a new stream at the new size
            self._frame_size = (w, h)
            self._stream = None
        if self._stream is None:
            self._open()
        self._in_flight.append((idx, received, pts))
        out = self._stream.push(frame[None])
        self.stats.processed += 1
        for f in out:
            src_idx, src_received, src_pts = self._in_flight.popleft()
            self.emit(Output(f, src_idx, src_received, src_pts))

    def _to_rgb(self, frame: Any) -> np.ndarray:
        if isinstance(frame, (bytes, bytearray)):
            return decode_jpeg(bytes(frame), self.limits.max_frame_pixels)
        if hasattr(frame, "to_ndarray"):  # an av.VideoFrame from WebRTC, converted only when taken
            if frame.width * frame.height > self.limits.max_frame_pixels:
                raise ServeError(f"frame of {frame.width}x{frame.height} is too large")
            return frame.to_ndarray(format="rgb24")
        return np.asarray(frame, dtype=np.uint8)

    def _open(self) -> None:
        self._stream = self.worker.stylizer.session(prompt=self.prompt, reference=self.reference, seed=self.seed,
                                                    steps=self.steps)
        self._in_flight.clear()

    def _apply(self, kind: str, value: Any) -> None:
        if kind == "style":
            prompt, reference = value
            self.prompt, self.reference = prompt, reference
            if self._stream is not None:
                self._stream.set_style(prompt=prompt, reference=reference)
        elif kind == "pause":
            self.paused = bool(value)
        elif kind == "steps":
            self.steps = int(value)
            if self._stream is not None:  # takes effect at the next chunk, the cache is kept
                self._stream.set_steps(self.steps)
        elif kind == "seed":
            self.seed = int(value)
            self._stream = None
        elif kind == "reset":
            self._stream = None  # a fresh KV cache at the next frame
        self.emit(self.stats_message())


class Worker:
    """A thread owning one stylizer (one device): round-robin over its sessions, one frame each."""

    def __init__(self, stylizer: Any, device: str) -> None:
        self.stylizer = stylizer
        self.device = device
        self.sessions: list[LiveSession] = []
        self._cond = threading.Condition()
        self._stop = False
        self._rr = 0
        self._thread = threading.Thread(target=self._loop, name=f"rtrdit-worker-{device}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout=10)

    def _next(self) -> LiveSession | None:
        """The next session with work, round-robin from the one after the last served."""
        n = len(self.sessions)
        for k in range(n):
            s = self.sessions[(self._rr + k) % n]
            if not s.closed and s.has_work():
                self._rr = (self._rr + k + 1) % n
                return s
        return None

    def _loop(self) -> None:
        while True:
            with self._cond:
                session = self._next()
                while session is None and not self._stop:
                    self._cond.wait(timeout=0.5)
                    session = self._next()
                if self._stop or session is None:  # (None only when stopped)
                    return
            try:
                session._step()
            except Exception as exc:  # noqa: BLE001 - one bad frame or style must not stop the worker
                msg = first_line(exc)
                session._stream = None
                with contextlib.suppress(Exception):  # e.g. the server's event loop is already closed
                    session.emit({"type": "error", "message": msg})


class Scheduler:
    """All live sessions across the device workers; placement, limits and idle timeout."""

    def __init__(self, stylizers: dict[str, Any], max_sessions: int = 4, idle_timeout: float = 30.0,
                 limits: Limits | None = None) -> None:
        if not stylizers:
            raise ValueError("the scheduler needs at least one stylizer")
        self.workers = [Worker(st, dev) for dev, st in stylizers.items()]
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout
        self.limits = limits or Limits()
        self._lock = threading.Lock()
        self._next_id = 0
        self._started = False

    def start(self) -> None:
        if not self._started:
            for w in self.workers:
                w.start()
            self._started = True

    def stop(self) -> None:
        for w in self.workers:
            w.stop()

    @property
    def sessions(self) -> list[LiveSession]:
        return [s for w in self.workers for s in w.sessions]

    @property
    def presets(self) -> tuple[tuple[str, str], ...]:
        """The model's one-tap styles (`StylizerConfig.presets`: the styles it knows), () where it names none."""
        return self.workers[0].stylizer.config.presets

    def open(self, emit: Callable[[Any], object], prompt: str | None = None, reference: np.ndarray | None = None,
             seed: int = 0, steps: int | None = None) -> LiveSession:
        """A new session on the least loaded worker; ServeError when the server is full."""
        with self._lock:
            if len(self.sessions) >= self.max_sessions:
                raise ServerFull(f"the server is full ({self.max_sessions} sessions); try again later")
            worker = min(self.workers, key=lambda w: len(w.sessions))
            self._next_id += 1
            presets = self.presets
            default = presets[0][1] if presets else DEFAULT_PROMPT  # a style the model knows
            session = LiveSession(self._next_id, worker, emit, prompt or default,
                                  reference, seed, steps, self.limits)
            with worker._cond:
                worker.sessions = [*worker.sessions, session]
        return session

    def close(self, session: LiveSession) -> None:
        """Free a session (its stylizer stream and cache go with it)."""
        session.closed = True
        with self._lock:
            w = session.worker
            with w._cond:
                w.sessions = [s for s in w.sessions if s is not session]
        # The stream (and its KV cache) goes with the session object once no one holds it; a
        # step in progress on the worker finishes first.

    def idle(self, now: float | None = None) -> list[LiveSession]:
        """Sessions silent for longer than the idle timeout."""
        now = time.monotonic() if now is None else now
        return [s for s in self.sessions if now - s.last_activity > self.idle_timeout]


__all__ = ["Limits", "LiveSession", "Output", "Scheduler", "ServeError", "ServerFull", "Worker", "decode_jpeg",
           "decode_reference", "encode_jpeg"]
