"""A small WebSocket test client for /ws: sends JPEG frames, collects stylized frames with the
index of the camera frame each came from (from the stats message sent just before it)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Received:
    frames: list[tuple[int, bytes, float]] = field(default_factory=list)  # (source index, jpeg, time)
    stats: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    closed: Any = None  # the close frame/exception when the server closed the connection


class WSClient:
    """Connects to /ws; a reader thread collects everything the server sends."""

    def __init__(self, url: str, **connect_kw: Any) -> None:
        from websockets.sync.client import connect

        self._cm = connect(url, open_timeout=10, close_timeout=2, max_size=None, **connect_kw)
        self.ws = self._cm.__enter__()  # websockets wants the context-manager form
        self.got = Received()
        self.sent_at: dict[int, float] = {}
        self._next = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        pending: int | None = None
        try:
            for msg in self.ws:
                now = time.monotonic()
                with self._lock:
                    if isinstance(msg, str):
                        m = json.loads(msg)
                        if m["type"] == "stats":
                            self.got.stats.append(m)
                            pending = m.get("frame")
                        elif m["type"] == "error":
                            self.got.errors.append(m["message"])
                    else:
                        assert pending is not None, "a stylized frame came without its stats message"
                        self.got.frames.append((pending, msg, now))
                        pending = None
        except ConnectionClosed as exc:
            self.got.closed = exc
        else:
            self.got.closed = True

    def send_frame(self, jpeg: bytes) -> int:
        idx = self._next
        self._next += 1
        self.sent_at[idx] = time.monotonic()
        self.ws.send(jpeg)
        return idx

    def send_json(self, obj: dict[str, Any]) -> None:
        self.ws.send(json.dumps(obj))

    def wait(self, cond: Any, timeout: float = 10.0) -> bool:
        """Wait until cond(self.got) is true."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if cond(self.got):
                    return True
            time.sleep(0.02)
        return False

    def wait_quiet(self, quiet: float = 0.8, timeout: float = 10.0) -> None:
        """Wait until nothing arrived for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        last = (-1, -1)
        since = time.monotonic()
        while time.monotonic() < deadline:
            n = (len(self.got.frames), len(self.got.stats))
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since > quiet:
                return
            time.sleep(0.05)

    def close(self) -> None:
        self.ws.close()
        self._thread.join(timeout=5)


def jpeg_frames(count: int, size: tuple[int, int] = (96, 72), clip: str = "dog.mp4") -> tuple[list[bytes], np.ndarray]:
    """`count` frames of a real camera clip as JPEGs, and those JPEGs decoded (what the server sees)."""
    from video_clips import SHARED_VIDEOS

    from rtrdit.codecs.video import read_frames
    from rtrdit.serve.scheduler import decode_jpeg, encode_jpeg

    frames = read_frames(SHARED_VIDEOS / clip, size=size, count=count)
    jpegs = [encode_jpeg(f, quality=90) for f in frames]
    decoded = np.stack([decode_jpeg(j, 10**8) for j in jpegs])
    return jpegs, decoded
