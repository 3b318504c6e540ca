"""The WHIP publisher's sound for its WHEP viewers, held back by the stylizer's latency so that it stays
in step with the stylized video: a browser plays a stream's tracks as they are sent, so sound sent at
once would run ahead of the picture by the time each frame spends being stylized. Imported only when a
publisher sends audio (aiortc is heavy)."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

SMOOTHING = 0.05  # the weight of each audio frame's latency reading in the delay: it moves over ~20 frames
HELD = 250  # audio frames (5 s at WebRTC's 20 ms) a viewer's track holds before its oldest are dropped


@dataclass(frozen=True)
class _Sound:
    """One received audio frame's samples and when it is due to be sent on (the event loop's clock)."""

    due: float
    samples: np.ndarray
    format: str
    layout: str
    rate: int


class DelayedAudioTrack(MediaStreamTrack):
    """One viewer's copy of the publisher's sound, each frame sent at its due time; its own frames
    (an encoder may convert a frame in place, so viewers never share one), timed by their samples."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._held: deque[_Sound] = deque(maxlen=HELD)
        self._ready = asyncio.Event()
        self._ended = False
        self._samples = 0  # sent so far: the next frame's time

    def put(self, sound: _Sound | None) -> None:
        """Queue a frame (None: the publisher's sound has ended)."""
        if sound is None:
            self._ended = True
        else:
            self._held.append(sound)
        self._ready.set()

    async def recv(self) -> av.AudioFrame:
        while not self._held:
            if self._ended or self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        sound = self._held.popleft()
        await asyncio.sleep(max(0.0, sound.due - asyncio.get_running_loop().time()))
        frame = av.AudioFrame.from_ndarray(sound.samples, format=sound.format, layout=sound.layout)
        frame.sample_rate = sound.rate
        frame.pts, frame.time_base = self._samples, fractions.Fraction(1, sound.rate)
        self._samples += frame.samples
        return frame


class AudioRelay:
    """Reads the publisher's audio track and hands every frame to each viewer's `DelayedAudioTrack`,
    due ``latency()`` seconds (the stylized video's lag behind its camera, smoothed) after it came."""

    def __init__(self, latency: Callable[[], float]) -> None:
        self.latency = latency
        self.delay = 0.0  # seconds each frame is held now
        self.frames = 0  # received from the publisher
        self._tracks: dict[str, DelayedAudioTrack] = {}

    def subscribe(self, key: str) -> DelayedAudioTrack:
        """A new viewer's track (under ``key``, for `unsubscribe`)."""
        track = self._tracks[key] = DelayedAudioTrack()
        return track

    def unsubscribe(self, key: str) -> None:
        track = self._tracks.pop(key, None)
        if track is not None:
            track.put(None)

    async def run(self, track: Any) -> None:
        """Relay ``track`` until it ends; then every viewer's track ends after what it holds."""
        loop = asyncio.get_running_loop()
        try:
            with contextlib.suppress(MediaStreamError):
                while True:
                    frame = await track.recv()
                    self.frames += 1
                    self.delay += SMOOTHING * (max(0.0, self.latency()) - self.delay)
                    samples = frame.to_ndarray()
                    for viewer in self._tracks.values():
                        viewer.put(_Sound(loop.time() + self.delay, samples, frame.format.name,
                                          frame.layout.name, frame.sample_rate))
        finally:
            for viewer in self._tracks.values():
                viewer.put(None)


__all__ = ["AudioRelay", "DelayedAudioTrack"]
