"""A WHIP publisher and a WHEP viewer made of aiortc peer connections and httpx, as an encoder
(OBS) and a player would use the server: SDP offer in a POST, answer and Location back, DELETE."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

SDP = {"Content-Type": "application/sdp"}


class FramesTrack(MediaStreamTrack):
    """A camera that plays uint8 RGB frames (T, H, W, 3) at `fps`, then ends (or loops)."""

    kind = "video"

    def __init__(self, frames: np.ndarray, fps: float = 12.0, loop: bool = False, clock: dict[str, float] | None = None) -> None:
        super().__init__()
        self.frames, self.fps, self.loop = frames, fps, loop
        self.sent = 0
        self._clock = {} if clock is None else clock  # shared with a ToneTrack: one start for both

    async def recv(self) -> Any:
        import av

        if self.sent >= len(self.frames) and not self.loop:
            self.stop()
            raise MediaStreamError
        now = asyncio.get_running_loop().time()
        start = self._clock.setdefault("start", now)
        await asyncio.sleep(max(0.0, start + self.sent / self.fps - now))
        frame = av.VideoFrame.from_ndarray(self.frames[self.sent % len(self.frames)], format="rgb24")
        frame.pts, frame.time_base = round(self.sent * 90000 / self.fps), fractions.Fraction(1, 90000)
        self.sent += 1
        return frame


class ToneTrack(MediaStreamTrack):
    """A microphone that plays a sine of `hz` (48 kHz mono, 20 ms frames) in real time, for `seconds`
    or (None) until stopped; with `period`, only the first `beep` seconds of each period sound."""

    kind = "audio"
    RATE, SAMPLES = 48000, 960

    def __init__(self, hz: float = 440.0, seconds: float | None = None, period: float | None = None,
                 beep: float = 0.1, clock: dict[str, float] | None = None) -> None:
        super().__init__()
        self.hz, self.seconds, self.period, self.beep = hz, seconds, period, beep
        self.sent = 0
        self._clock = {} if clock is None else clock  # shared with a FramesTrack: one start for both

    async def recv(self) -> Any:
        import av

        if self.seconds is not None and self.sent * self.SAMPLES >= self.seconds * self.RATE:
            self.stop()
            raise MediaStreamError
        now = asyncio.get_running_loop().time()
        start = self._clock.setdefault("start", now)
        await asyncio.sleep(max(0.0, start + self.sent * self.SAMPLES / self.RATE - now))
        t = (self.sent * self.SAMPLES + np.arange(self.SAMPLES)) / self.RATE
        loud = 8000 if self.period is None else 8000 * ((t % self.period) < self.beep)
        wave = (loud * np.sin(2 * np.pi * self.hz * t)).astype(np.int16)[None]
        frame = av.AudioFrame.from_ndarray(wave, format="s16", layout="mono")
        frame.sample_rate = self.RATE
        frame.pts, frame.time_base = self.sent * self.SAMPLES, fractions.Fraction(1, self.RATE)
        self.sent += 1
        return frame


def dominant_hz(samples: np.ndarray, rate: int = 48000) -> float:
    """The strongest frequency of a mono signal."""
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


@dataclass
class Peer:
    """One side's connection and the resource URL the server gave it."""

    pc: RTCPeerConnection
    location: str
    frames: list[np.ndarray] = field(default_factory=list)  # received video (viewers)
    sound: list[np.ndarray] = field(default_factory=list)  # received audio, the first channel's samples
    arrivals: dict[str, list[float]] = field(default_factory=lambda: {"video": [], "audio": []})  # loop times
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    async def close(self, client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> int:
        """DELETE the resource and close the connection; returns the DELETE's status."""
        status = (await client.delete(self.location, headers=headers)).status_code
        for t in self.tasks:
            t.cancel()
        await self.pc.close()
        return status


async def _offer(pc: RTCPeerConnection, client: httpx.AsyncClient, url: str,
                 headers: dict[str, str] | None) -> httpx.Response:
    await pc.setLocalDescription(await pc.createOffer())
    return await client.post(url, content=pc.localDescription.sdp, headers={**SDP, **(headers or {})})


async def publish(client: httpx.AsyncClient, url: str, track: MediaStreamTrack,
                  headers: dict[str, str] | None = None, audio: MediaStreamTrack | None = None,
                  codec: str | None = None) -> Peer:
    """Publish `track` (and `audio`; send-only, as OBS does) to a WHIP endpoint, offering only `codec`
    ("H264": OBS's offer) if given; AssertionError unless 201."""
    from aiortc import RTCRtpSender

    pc = RTCPeerConnection()
    if audio is not None:
        pc.addTransceiver(audio, direction="sendonly")
    video = pc.addTransceiver(track, direction="sendonly")
    if codec is not None:
        video.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs
                                   if c.mimeType == f"video/{codec}"])
    r = await _offer(pc, client, url, headers)
    if r.status_code != 201:
        await pc.close()
        raise AssertionError(f"WHIP POST {url}: {r.status_code} {r.text}")
    assert r.headers["content-type"].startswith("application/sdp")
    await pc.setRemoteDescription(RTCSessionDescription(sdp=r.text, type="answer"))
    return Peer(pc, str(httpx.URL(url).join(r.headers["location"])))


async def view(client: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None,
               audio: bool = False) -> Peer:
    """Watch a WHEP endpoint (receive-only, with `audio` too, as a browser does); the frames it gets
    collect in `Peer.frames` and `Peer.sound`."""
    pc = RTCPeerConnection()
    if audio:
        pc.addTransceiver("audio", direction="recvonly")
    pc.addTransceiver("video", direction="recvonly")
    peer = Peer(pc, "")

    async def collect(track: Any) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                peer.arrivals[track.kind].append(asyncio.get_running_loop().time())
                if track.kind == "audio":  # packed samples: the first channel of each
                    peer.sound.append(frame.to_ndarray()[0, ::len(frame.layout.channels)])
                else:
                    peer.frames.append(frame.to_ndarray(format="rgb24"))

    @pc.on("track")
    def on_track(track: Any) -> None:
        peer.tasks.append(asyncio.ensure_future(collect(track)))

    r = await _offer(pc, client, url, headers)
    if r.status_code != 201:
        await pc.close()
        raise AssertionError(f"WHEP POST {url}: {r.status_code} {r.text}")
    await pc.setRemoteDescription(RTCSessionDescription(sdp=r.text, type="answer"))
    peer.location = str(httpx.URL(url).join(r.headers["location"]))
    return peer


async def wait_for(predicate: Any, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
