"""A uvicorn server for the app on a free loopback port, in a thread, started inside a test
(imported by name from the serve tests: a module of its own, not conftest, whose name other test
folders share)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any


class LiveServer:
    """A uvicorn server for an app on a free loopback port, in a thread."""

    def __init__(self, app: Any, ws_max_size: int = 16 * 1024 * 1024) -> None:
        import uvicorn

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.app = app
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws_max_size=ws_max_size,
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        with contextlib.suppress(OSError):
            self.sock.close()

    def health(self) -> dict[str, Any]:
        import httpx

        return httpx.get(f"{self.url}/health", timeout=5).json()

    def wait_sessions(self, n: int, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while True:
            got = self.health()["sessions"]
            if got == n or time.monotonic() > deadline:
                return got
            time.sleep(0.05)


@contextlib.contextmanager
def live_server(stylizer: Any, token: str | None = None, ws_max_size: int = 16 * 1024 * 1024,
                **scheduler_kw: Any) -> Iterator[LiveServer]:
    from rtrdit.serve.app import create_app
    from rtrdit.serve.scheduler import Scheduler

    scheduler = Scheduler({"cpu": stylizer}, **scheduler_kw)
    server = LiveServer(create_app(scheduler, token=token), ws_max_size=ws_max_size).start()
    try:
        yield server
    finally:
        server.stop()
