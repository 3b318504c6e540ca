"""The live stylization server: FastAPI with /health, the /ws WebSocket path, WebRTC
signalling (/offer, aiortc), WHIP ingest and WHEP playback (`rtrdit.serve.whip`) and the static
browser client.

WebSocket protocol (kept stable for other clients): the client sends text messages
``{"type": "style", "prompt": "..."}`` / ``{"type": "style", "reference": "<base64 image>"}`` /
``{"type": "control", ...}`` and binary messages that are each one JPEG camera frame; the server
sends binary messages that are each one JPEG stylized frame and text messages
``{"type": "stats", ...}`` and ``{"type": "error", "message": "..."}``. Each stylized frame is
preceded by a stats message whose ``frame`` is the index of the camera frame (counting from 0
in the order the client sent them, dropped ones included) it was made from, so a client can
measure capture-to-display latency on its own clock. Over WebRTC the same text messages travel
on a data channel and the video on the media tracks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from rtrdit.errors import first_line
from rtrdit.serve import whip
from rtrdit.serve.messages import error_message, handle_text
from rtrdit.serve.outbox import DropOldest
from rtrdit.serve.scheduler import (
    Output,
    Scheduler,
    ServeError,
    ServerFull,
    encode_jpeg,
)

STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(scheduler: Scheduler, token: str | None = None, static_dir: Path = STATIC_DIR) -> FastAPI:
    """The FastAPI app serving `scheduler`'s sessions; `token` (if set) guards /ws and /offer."""
    limits = scheduler.limits
    closers: dict[int, Callable[[], Awaitable[None]]] = {}
    peers: set[Any] = set()

    def authorized(given: str | None) -> bool:
        return token is None or (given is not None and secrets.compare_digest(given.encode(), token.encode()))

    def bearer(headers: Any, query: Any) -> str | None:
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return query.get("token")

    async def reap_idle() -> None:
        while True:
            await asyncio.sleep(min(1.0, scheduler.idle_timeout / 2))
            for s in scheduler.idle():
                closer = closers.pop(s.id, None)
                scheduler.close(s)
                if closer is not None:
                    with contextlib.suppress(Exception):
                        await closer()

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        scheduler.start()
        reaper = asyncio.create_task(reap_idle())
        try:
            yield
        finally:
            reaper.cancel()
            for pc in list(peers):
                with contextlib.suppress(Exception):
                    await pc.close()
            scheduler.stop()

    app = FastAPI(title="RTR-DiT live stylization", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.scheduler = scheduler

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "sessions": len(scheduler.sessions), "max_sessions": scheduler.max_sessions,
                "devices": [w.device for w in scheduler.workers]}

    @app.get("/presets")
    async def presets() -> dict[str, Any]:  # the page's one-tap styles: the ones this model knows, if it says
        return {"presets": [{"name": name, "prompt": prompt} for name, prompt in scheduler.presets]}

    @app.get("/")
    async def index() -> FileResponse:
        return FileResponse(static_dir / "index.html", headers={"Cache-Control": "no-store"})

    app.mount("/static", StaticFiles(directory=static_dir), name="static")

    # ------------------------------------------------------------ WebSocket
    @app.websocket("/ws")
    async def ws_endpoint(ws: WebSocket) -> None:
        await ws.accept()
        if not authorized(bearer(ws.headers, ws.query_params)):
            await ws.send_json(error_message("missing or wrong token"))
            await ws.close(code=1008)
            return
        loop = asyncio.get_running_loop()
        out = DropOldest()

        def emit(item: Any) -> None:  # worker thread
            if isinstance(item, Output):
                item = (item, encode_jpeg(item.frame))
            loop.call_soon_threadsafe(out.put, item)

        try:
            session = scheduler.open(emit)
        except ServeError as exc:
            await ws.send_json(error_message(str(exc)))
            await ws.close(code=1013)
            return

        async def close_idle() -> None:
            with contextlib.suppress(Exception):
                await ws.send_json(error_message(f"closed after {scheduler.idle_timeout:g} s without frames or messages"))
            await ws.close(code=1001)

        closers[session.id] = close_idle

        async def sender() -> None:
            with contextlib.suppress(Exception):  # a vanished client: the receive loop ends the session
                await _send_loop()

        async def _send_loop() -> None:
            while True:
                item = await out.get()
                if isinstance(item, tuple):
                    output, jpeg = item
                    now = time.monotonic()
                    session.stats.sent += 1
                    session.stats.out_times.append(now)
                    session.stats.last_latency_ms = (now - output.received) * 1000
                    await ws.send_json(session.stats_message(output.index))
                    await ws.send_bytes(jpeg)
                else:
                    await ws.send_json(item)

        send_task = asyncio.create_task(sender())
        try:
            while True:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    break
                try:
                    if msg.get("bytes") is not None:
                        session.submit(msg["bytes"])
                    elif msg.get("text") is not None:
                        handle_text(session, msg["text"], limits)
                except ServeError as exc:
                    await ws.send_json(error_message(str(exc)))
                except Exception as exc:  # noqa: BLE001 - the stylizer's own one-line errors (prompt, reference)
                    await ws.send_json(error_message(first_line(exc)))
        except Exception:  # noqa: BLE001, S110 - WebSocketDisconnect, or the socket vanished while we answered it
            pass
        finally:
            send_task.cancel()
            closers.pop(session.id, None)
            scheduler.close(session)

    # --------------------------------------------------------------- WebRTC
    @app.post("/offer")
    async def offer(request: Request) -> JSONResponse:
        if not authorized(bearer(request.headers, request.query_params)):
            return JSONResponse({"error": "missing or wrong token"}, status_code=401)
        body = await request.body()
        if len(body) > 256 * 1024:
            return JSONResponse({"error": "offer is too large"}, status_code=413)
        try:
            params = json.loads(body)
            sdp, kind = params["sdp"], params["type"]
            if kind != "offer" or not isinstance(sdp, str):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "expected JSON {\"sdp\": ..., \"type\": \"offer\"}"}, status_code=400)
        try:
            answer = await _webrtc_answer(scheduler, sdp, params, closers, peers)
        except ServeError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503 if isinstance(exc, ServerFull) else 400)
        return JSONResponse(answer)

    # ---------------------------------------------------------- WHIP / WHEP
    streams = whip.Streams(scheduler, closers, peers)
    app.state.streams = streams
    whip.add_routes(app, streams, lambda request: authorized(bearer(request.headers, request.query_params)),
                    static_dir / "watch.html")
    return app


async def _webrtc_answer(scheduler: Scheduler, sdp: str, params: dict[str, Any],
                         closers: dict[int, Callable[[], Awaitable[None]]], peers: set[Any]) -> dict[str, str]:
    """Answer a browser's offer: its camera track feeds a session, the session's frames go back
    on a video track, style/control/stats travel on the data channel."""
    from aiortc import RTCPeerConnection

    from rtrdit.serve import webrtc

    loop = asyncio.get_running_loop()
    limits = scheduler.limits
    channel: list[Any] = []

    def send_text(msg: dict[str, Any]) -> None:
        if channel and channel[0].readyState == "open":
            with contextlib.suppress(Exception):
                channel[0].send(json.dumps(msg))

    def deliver(item: Any) -> None:  # event loop
        if isinstance(item, Output):
            out_track.queue.put(item)
        else:
            send_text(item)

    def emit(item: Any) -> None:  # worker thread
        loop.call_soon_threadsafe(deliver, item)

    session = scheduler.open(emit)
    out_track = webrtc.StylizedTrack(session, on_sent=send_text)
    if isinstance(params.get("prompt"), str) and params["prompt"].strip():
        try:
            session.set_style(prompt=params["prompt"])
        except ServeError:
            scheduler.close(session)
            raise
    pc = RTCPeerConnection()
    peers.add(pc)
    tasks: list[asyncio.Task[Any]] = []

    async def shutdown() -> None:
        closers.pop(session.id, None)
        scheduler.close(session)
        for t in tasks:
            t.cancel()
        peers.discard(pc)
        await pc.close()

    closers[session.id] = shutdown

    @pc.on("datachannel")
    def on_datachannel(ch: Any) -> None:
        channel[:] = [ch]

        @ch.on("message")
        def on_message(message: Any) -> None:
            if not isinstance(message, str):
                send_text(error_message("data channel messages must be JSON text"))
                return
            try:
                handle_text(session, message, limits)
            except Exception as exc:  # noqa: BLE001 - any bad message gets an error reply, never a dead session
                send_text(error_message(first_line(exc)))

    @pc.on("track")
    def on_track(track: Any) -> None:
        if track.kind == "video":
            pc.addTrack(out_track)
            tasks.append(asyncio.ensure_future(webrtc.feed(track, session, lambda m: send_text(error_message(m)))))

    @pc.on("connectionstatechange")
    async def on_state() -> None:
        if pc.connectionState in ("failed", "closed"):
            await shutdown()

    try:
        sdp = await webrtc.answer(pc, sdp)
    except ServeError:
        await shutdown()
        raise
    return {"sdp": sdp, "type": "answer"}


__all__ = ["STATIC_DIR", "create_app"]
