"""WHIP ingest and WHEP playback: an encoder (OBS Studio, a WHIP client library) publishes a camera
to ``POST /whip/NAME`` (RFC 9725), the server stylizes it, and any number of viewers watch the
stylized video at ``POST /whep/NAME`` (the WHEP draft; the ``/watch/NAME`` page is one such viewer).
``POST /streams/NAME`` takes the same JSON style/control messages as the WebSocket, and
``GET /streams`` lists the published streams with their stats.

Both are plain SDP offer/answer over HTTP: 201 Created with the answer and a ``Location`` to
``DELETE`` when done. ICE candidates are all in the answer (no trickle: ``PATCH`` is 405). The
publisher's sound goes on to the viewers that ask for audio, held back by the stylizer's latency so
that it stays in step with the stylized video (`serve.audio`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from rtrdit.errors import first_line
from rtrdit.serve.messages import handle_text
from rtrdit.serve.scheduler import LiveSession, Output, Scheduler, ServeError, ServerFull

NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # a stream's name in its URLs
VIDEO_CODECS = {"H264", "VP8"}  # the video codecs aiortc sends and receives (SDP names)
_HELPERS = {"RTX", "RED", "ULPFEC", "FLEXFEC-03"}  # payloads that only carry another codec's
MAX_SDP_BYTES = 256 * 1024
SDP = "application/sdp"


@dataclass
class Stream:
    """One published camera: its session, its publisher's connection and its viewers'."""

    name: str
    resource: str  # the WHIP resource's id (in its Location): only the publisher knows it
    session: LiveSession
    publisher: Any  # RTCPeerConnection
    viewers: dict[str, Any] = field(default_factory=dict)  # WHEP resource id -> RTCPeerConnection
    tracks: dict[str, Any] = field(default_factory=dict)  # the same ids (and the publisher's) -> StylizedTrack
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the last few errors of its session (bad frames)
    audio: Any = None  # serve.audio.AudioRelay of the publisher's sound, if it sends any

    def info(self) -> dict[str, Any]:
        sound = {"audio": self.audio is not None,
                 "audio_delay_ms": round(self.audio.delay * 1000, 1) if self.audio is not None else None}
        return {"name": self.name, "viewers": len(self.viewers), "errors": self.errors[-5:], **sound,
                **self.session.stats_message()}


class Streams:
    """The published streams of one server, by name; closes a stream's connections with it."""

    def __init__(self, scheduler: Scheduler, closers: dict[int, Callable[[], Awaitable[None]]],
                 peers: set[Any]) -> None:
        self.scheduler = scheduler
        self.closers = closers  # the app's idle reaper closes sessions through these
        self.peers = peers  # every open peer connection, closed when the server stops
        self.by_name: dict[str, Stream] = {}

    async def publish(self, name: str, sdp: str, prompt: str | None) -> tuple[Stream, str]:
        """A new stream `name` fed by the publisher's offer; returns it and the SDP answer."""
        from aiortc import RTCPeerConnection

        from rtrdit.serve import webrtc

        loop = asyncio.get_running_loop()

        def deliver(item: Any) -> None:  # event loop
            if isinstance(item, Output):
                webrtc.record_sent(session, item)
                for track in stream.tracks.values():
                    track.queue.put(item)
            elif item.get("type") == "error":
                stream.errors = [*stream.errors[-4:], item["message"]]

        session = self.scheduler.open(lambda item: loop.call_soon_threadsafe(deliver, item))
        pc = RTCPeerConnection()
        stream = Stream(name, secrets.token_urlsafe(12), session, pc)
        self.by_name[name] = stream
        self.peers.add(pc)
        self.closers[session.id] = lambda: self.unpublish(stream)

        @pc.on("track")
        def on_track(track: Any) -> None:
            if track.kind == "video":
                # a sendrecv offer also gets the stylized video back on the same connection
                stream.tracks[""] = webrtc.StylizedTrack(session, record=False)
                pc.addTrack(stream.tracks[""])
                on_error = lambda message: deliver({"type": "error", "message": message})
                stream.tasks.append(asyncio.ensure_future(webrtc.feed(track, session, on_error)))
            elif track.kind == "audio" and stream.audio is None:
                from rtrdit.serve.audio import AudioRelay

                stream.audio = AudioRelay(lambda: session.stats.last_latency_ms / 1000)
                stream.tasks.append(asyncio.ensure_future(stream.audio.run(track)))
            else:
                stream.tasks.append(asyncio.ensure_future(webrtc.discard(track)))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.unpublish(stream)

        try:
            if prompt is not None:
                session.set_style(prompt=prompt)
            answer = await webrtc.answer(pc, sdp)
        except ServeError:
            await self.unpublish(stream)
            raise
        return stream, answer

    async def unpublish(self, stream: Stream) -> None:
        """End a stream: its session, its publisher and every viewer (idempotent)."""
        if self.by_name.get(stream.name) is stream:
            del self.by_name[stream.name]
        self.closers.pop(stream.session.id, None)
        self.scheduler.close(stream.session)
        for t in stream.tasks:
            t.cancel()
        for pc in [stream.publisher, *stream.viewers.values()]:
            self.peers.discard(pc)
            with contextlib.suppress(Exception):
                await pc.close()
        stream.viewers.clear()
        stream.tracks.clear()

    async def view(self, stream: Stream, sdp: str) -> tuple[str, str]:
        """A viewer of `stream` from its (receive-only) offer; returns its resource id and the answer."""
        from aiortc import RTCPeerConnection

        from rtrdit.serve import webrtc

        pc = RTCPeerConnection()
        vid = secrets.token_urlsafe(12)
        stream.viewers[vid] = pc
        self.peers.add(pc)
        stream.tracks[vid] = webrtc.StylizedTrack(stream.session, record=False)
        pc.addTrack(stream.tracks[vid])
        if stream.audio is not None and "\nm=audio " in sdp:  # a viewer that takes sound gets the publisher's
            pc.addTrack(stream.audio.subscribe(vid))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self.unview(stream, vid)

        try:
            answer = await webrtc.answer(pc, sdp)
        except ServeError:
            await self.unview(stream, vid)
            raise
        return vid, answer

    async def unview(self, stream: Stream, vid: str) -> None:
        pc = stream.viewers.pop(vid, None)
        stream.tracks.pop(vid, None)
        if stream.audio is not None:
            stream.audio.unsubscribe(vid)
        if pc is not None:
            self.peers.discard(pc)
            with contextlib.suppress(Exception):
                await pc.close()


def _problem(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


class _HttpError(Exception):
    """A refused WHIP/WHEP request: its HTTP status and one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _guarded(route: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
    """A route whose refusals (_HttpError, ServeError) become one status and {"error": line}."""

    @functools.wraps(route)
    async def run(*args: Any, **kwargs: Any) -> Response:
        try:
            return await route(*args, **kwargs)
        except _HttpError as exc:
            return _problem(exc.status, str(exc))
        except ServeError as exc:
            return _problem(503 if isinstance(exc, ServerFull) else 400, str(exc))

    return run


async def _read_offer(request: Request) -> str:
    """The SDP offer in a WHIP/WHEP request body; _HttpError if it is not one."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != SDP:
        raise _HttpError(415, f"the offer must be sent as Content-Type: {SDP}")
    body = await request.body()
    if len(body) > MAX_SDP_BYTES:
        raise _HttpError(413, "the offer is too large")
    try:
        sdp = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _HttpError(400, "the offer is not UTF-8 text") from None
    if not sdp.startswith("v=0"):
        raise _HttpError(400, "the body is not an SDP offer (it must start with v=0)")
    if "\nm=video " not in sdp:
        raise _HttpError(400, "the offer has no video (an m=video line)")
    codecs = _video_codecs(sdp)
    if codecs and not codecs & VIDEO_CODECS:
        raise _HttpError(400, f"the offer's video is {' or '.join(sorted(codecs))}; this server takes H.264 or VP8 "
                              "(OBS: Settings -> Output -> Video Encoder x264)")
    return sdp


def _video_codecs(sdp: str) -> set[str]:
    """The codec names of the offer's video sections (its a=rtpmap lines), upper case, helpers left out."""
    names: set[str] = set()
    for section in sdp.split("\nm=")[1:]:
        if section.startswith("video "):
            names |= {m.upper() for m in re.findall(r"\na=rtpmap:\d+ ([^/\s]+)/", section)}
    return names - _HELPERS


def _created(location: str, sdp: str) -> Response:
    return Response(sdp, status_code=201, media_type=SDP, headers={"Location": location})


def add_routes(app: FastAPI, streams: Streams, authorized: Callable[[Request], bool], watch_page: Path) -> None:
    """Register the WHIP, WHEP, /streams and /watch routes on `app`."""
    limits = streams.scheduler.limits

    def checked(name: str, request: Request) -> None:
        if not authorized(request):
            raise _HttpError(401, "missing or wrong token")
        if not NAME.fullmatch(name):
            raise _HttpError(400, "a stream name is 1-64 letters, digits, '-' or '_'")

    def published(name: str) -> Stream:
        stream = streams.by_name.get(name)
        if stream is None:
            raise _HttpError(404, f"no stream {name!r} is being published")
        return stream

    @app.options("/whip/{name}")
    @app.options("/whep/{name}")
    async def options(name: str) -> Response:
        return Response(status_code=204, headers={"Accept-Post": SDP, "Allow": "POST, OPTIONS"})

    @app.post("/whip/{name}")
    @_guarded
    async def whip(name: str, request: Request) -> Response:
        checked(name, request)
        sdp = await _read_offer(request)
        if name in streams.by_name:  # checked after the last await: publish() claims the name at once
            raise _HttpError(409, f"stream {name!r} is already being published")
        prompt = request.query_params.get("prompt")
        stream, answer = await streams.publish(name, sdp, prompt if prompt and prompt.strip() else None)
        return _created(f"/whip/{name}/{stream.resource}", answer)

    @app.delete("/whip/{name}/{resource}")
    @_guarded
    async def whip_delete(name: str, resource: str, request: Request) -> Response:
        checked(name, request)
        stream = published(name)
        if not secrets.compare_digest(resource, stream.resource):
            raise _HttpError(404, f"no such WHIP resource of stream {name!r}")
        await streams.unpublish(stream)
        return Response(status_code=200)

    @app.post("/whep/{name}")
    @_guarded
    async def whep(name: str, request: Request) -> Response:
        checked(name, request)
        stream = published(name)
        vid, answer = await streams.view(stream, await _read_offer(request))
        return _created(f"/whep/{name}/{vid}", answer)

    @app.delete("/whep/{name}/{viewer}")
    @_guarded
    async def whep_delete(name: str, viewer: str, request: Request) -> Response:
        checked(name, request)
        stream = published(name)
        if viewer not in stream.viewers:
            raise _HttpError(404, f"no such WHEP resource of stream {name!r}")
        await streams.unview(stream, viewer)
        return Response(status_code=200)

    @app.patch("/whip/{name}/{resource}")
    @app.patch("/whep/{name}/{resource}")
    async def patch(name: str, resource: str) -> Response:
        return _problem(405, "trickle ICE and ICE restarts are not supported: every candidate is in the answer",
                        Allow="POST, DELETE, OPTIONS")

    @app.get("/streams")
    async def stream_list(request: Request) -> Response:
        if not authorized(request):
            return _problem(401, "missing or wrong token")
        return JSONResponse({"streams": [s.info() for s in streams.by_name.values()]})

    @app.post("/streams/{name}")
    @_guarded
    async def stream_message(name: str, request: Request) -> Response:
        checked(name, request)
        stream = published(name)
        try:
            handle_text(stream.session, (await request.body()).decode("utf-8", errors="replace"), limits)
        except ServeError:
            raise
        except Exception as exc:  # noqa: BLE001 - the stylizer's own one-line errors (prompt, reference)
            raise ServeError(first_line(exc)) from None
        return JSONResponse(stream.info(), status_code=202)

    @app.get("/watch/{name}")
    async def watch(name: str) -> FileResponse:
        return FileResponse(watch_page, headers={"Cache-Control": "no-store"})


__all__ = ["NAME", "Stream", "Streams", "add_routes"]
