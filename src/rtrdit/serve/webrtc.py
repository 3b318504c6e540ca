"""WebRTC media of a live session (aiortc), shared by the browser client's /offer and by WHIP/WHEP:
the stylized video track, the loop feeding a received camera track to the session, and the
offer/answer step. Imported only when a peer connects (aiortc is heavy)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import av
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from rtrdit.errors import first_line
from rtrdit.serve.outbox import DropOldest
from rtrdit.serve.scheduler import LiveSession, Output, ServeError


def record_sent(session: LiveSession, output: Output) -> None:
    """Count a stylized frame as sent in the session's stats (fps, latency from camera frame in)."""
    stats = session.stats
    now = time.monotonic()
    stats.sent += 1
    stats.out_times.append(now)
    stats.last_latency_ms = (now - output.received) * 1000


class StylizedTrack(MediaStreamTrack):
    """A session's stylized frames as a video track, stamped with their camera frames' timestamps;
    a slow reader gets the newest frames (drop-oldest queue). Each track makes its own frames (an
    encoder may convert a frame in place, so viewers never share one). With `record`, frames
    count in the session's stats and `on_sent` gets each one's stats message."""

    kind = "video"

    def __init__(self, session: LiveSession, on_sent: Callable[[dict[str, Any]], None] | None = None,
                 record: bool = True) -> None:
        super().__init__()
        self.session = session
        self.queue = DropOldest()
        self.on_sent = on_sent
        self.record = record

    async def recv(self) -> av.VideoFrame:
        output: Output = await self.queue.get()
        frame = av.VideoFrame.from_ndarray(output.frame, format="rgb24")
        frame.pts, frame.time_base = output.pts
        if self.record:
            record_sent(self.session, output)
            if self.on_sent is not None:
                self.on_sent(self.session.stats_message(output.index))
        return frame


async def feed(track: Any, session: LiveSession, on_error: Callable[[str], None]) -> None:
    """Submit every frame of a received video track to the session until the track ends."""
    with contextlib.suppress(MediaStreamError):
        while True:
            frame = await track.recv()
            try:
                session.submit(frame, pts=(frame.pts, frame.time_base))
            except ServeError as exc:
                on_error(str(exc))


async def discard(track: Any) -> None:
    """Read a received track we do not use (a second audio track) so its frames do not pile up."""
    with contextlib.suppress(MediaStreamError):
        while True:
            await track.recv()


async def answer(pc: RTCPeerConnection, sdp: str) -> str:
    """Apply a remote SDP offer and return the local answer (all ICE candidates gathered: no trickle);
    ServeError with the reason if the offer cannot be answered."""
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
    except Exception as exc:  # noqa: BLE001 - aiortc raises many kinds for a bad offer: one line
        raise ServeError(f"cannot answer the WebRTC offer: {first_line(exc)}") from None
    return pc.localDescription.sdp


__all__ = ["StylizedTrack", "answer", "discard", "feed", "record_sent"]
