"""Fixtures for the live server: a small random stylizer saved in a tmp dir, and servers on
free loopback ports started inside the test and stopped at the end."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

AE_SCALE = 0.1  # random autoencoder weights at this scale give varied frames that depend on the prompt


def build_tiny_stylizer(path: Path) -> Path:
    """A random tiny stylizer (tiny block-causal DiT, tiny autoencoder, MiniLM) saved like a real model."""
    import torch
    from testing_helpers import randomize_

    from rtrdit.codecs.text import CachedTextEncoder, load_text_encoder
    from rtrdit.codecs.tiny_ae import TinyAutoencoder
    from rtrdit.model.config import get_config
    from rtrdit.model.dit import DiT
    from rtrdit.stream.stylizer import Stylizer, StylizerConfig

    torch.manual_seed(0)
    text = load_text_encoder("minilm")
    dit = DiT(get_config("tiny", text_dim=text.dim, text_len=text.max_tokens, attention="block_causal"))
    randomize_(dit, seed=0)  # Wan's init zeroes the head: every prompt would give the same frames
    ae = TinyAutoencoder()
    randomize_(ae, seed=1, scale=AE_SCALE)
    Stylizer(dit, ae, CachedTextEncoder(text), StylizerConfig(area=64 * 64)).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_stylizer(tmp_path_factory.mktemp("serve_model"))


@pytest.fixture(scope="session")
def tiny_stylizer(tiny_model_dir: Path) -> Any:
    from rtrdit.stream.stylizer import Stylizer

    return Stylizer.from_pretrained(tiny_model_dir)


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


@pytest.fixture(scope="module")
def server(tiny_stylizer: Any) -> Iterator[LiveServer]:
    with live_server(tiny_stylizer, max_sessions=6, idle_timeout=20.0) as s:
        yield s
