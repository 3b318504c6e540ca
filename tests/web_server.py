"""A local HTTP server for tests that fetch over http(s): a folder's files, or a handler's own answers."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # no request log on stderr, where the command's error goes
        pass


@contextlib.contextmanager
def serving(folder: Path | None, handler: type[http.server.BaseHTTPRequestHandler] | None = None) -> Iterator[str]:
    """An HTTP server on a free local port serving ``folder`` (or answering with ``handler``): its base URL."""
    cls = handler or functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), cls)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
