"""A small RTSP server for tests: the role an IP camera (or a relay such as MediaMTX) plays for a client that
pulls its stream. A publisher (FFmpeg's RTSP muxer) ANNOUNCEs a stream and RECORDs it; a reader DESCRIBEs,
SETUPs and PLAYs it and gets the publisher's RTP and RTCP packets, interleaved on its TCP connection
(RFC 2326 section 10.12), until the publisher ends. The publisher's RECORD is answered only once a reader
PLAYs, so the reader gets the stream from its first packet, as from a camera whose first key frame it waits
for. ``credentials`` makes it ask for HTTP Basic authentication, as cameras do; ``rtcp_after`` holds back the
RTCP sender reports of the stream's first seconds, as a camera that sends its first one late does (until then
a reader has no clock to put its frames on)."""

from __future__ import annotations

import base64
import socket
import threading
import time
from typing import Any, Self


class RtspRelay:
    """Serves one stream at ``rtsp://127.0.0.1:PORT/<any path>`` (``url``); use it as a context manager."""

    def __init__(self, credentials: tuple[str, str] | None = None, rtcp_after: float = 0.0) -> None:
        self.credentials = credentials
        self.rtcp_after = rtcp_after  # seconds of the stream sent without its RTCP (a camera's late sender report)
        self._started = 0.0
        self.sdp: bytes | None = None
        self.announced = threading.Event()
        self.playing = threading.Event()
        self.ended = threading.Event()
        self.requests: list[str] = []  # "METHOD url" of every request, in order
        self.refused = 0  # requests answered 401
        self.publishers = 0  # streams published and ended
        self._readers: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])

    def url(self, path: str = "live/cam", user: str | None = None, password: str | None = None) -> str:
        auth = f"{user}:{password}@" if user is not None else ""
        return f"rtsp://{auth}127.0.0.1:{self.port}/{path}"

    def __enter__(self) -> Self:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.ended.set()
        self._server.close()
        with self._lock:
            for reader in self._readers:
                _hang_up(reader)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = _Reader(conn)
        publishing = False
        try:
            while (message := reader.next()) is not None:
                if isinstance(message, bytes):  # an interleaved packet: RTP on even channels, RTCP on odd ones
                    rtcp = message[1] % 2 == 1
                    if publishing and not (rtcp and time.monotonic() < self._started + self.rtcp_after):
                        self._relay(message)
                    continue
                method, url, headers, body = message
                self.requests.append(f"{method} {url}")
                if not self._authorised(headers):
                    self.refused += 1
                    conn.sendall(_reply(headers, 401, {"WWW-Authenticate": 'Basic realm="camera"'}))
                    continue
                extra: dict[str, str] = {}
                payload = b""
                if method == "OPTIONS":
                    extra["Public"] = "OPTIONS, DESCRIBE, ANNOUNCE, SETUP, PLAY, RECORD, GET_PARAMETER, TEARDOWN"
                elif method == "ANNOUNCE":
                    self.sdp = body
                    self.announced.set()
                elif method == "DESCRIBE":
                    if not self.announced.wait(30):
                        conn.sendall(_reply(headers, 404))
                        continue
                    assert self.sdp is not None
                    extra.update({"Content-Type": "application/sdp", "Content-Base": url.rstrip("/") + "/"})
                    payload = self.sdp
                elif method == "SETUP":
                    extra["Transport"] = headers.get("transport", "")
                    extra["Session"] = "12345678"
                    if "interleaved" not in extra["Transport"]:
                        conn.sendall(_reply(headers, 461))  # TCP only, as asked of cameras behind NAT
                        continue
                elif method == "RECORD":
                    publishing = True
                    self.playing.wait(30)
                    self._started = time.monotonic()
                    extra["Session"] = "12345678"
                elif method == "PLAY":
                    with self._lock:
                        self._readers.append(conn)
                    extra["Session"] = "12345678"
                    conn.sendall(_reply(headers, 200, extra))
                    self.playing.set()
                    continue
                conn.sendall(_reply(headers, 200, extra, payload))
                if method == "TEARDOWN":
                    break
        except OSError:
            pass
        finally:
            if publishing:  # the stream has ended: so has every reader's; the next publisher starts afresh
                self.announced.clear()
                self.playing.clear()
                self.publishers += 1
                with self._lock:
                    for r in self._readers:
                        _hang_up(r)
                    self._readers.clear()
            conn.close()

    def _authorised(self, headers: dict[str, str]) -> bool:
        if self.credentials is None:
            return True
        token = base64.b64encode(":".join(self.credentials).encode()).decode()
        return headers.get("authorization", "") == f"Basic {token}"

    def _relay(self, packet: bytes) -> None:
        with self._lock:
            for r in list(self._readers):
                try:
                    r.sendall(packet)
                except OSError:
                    self._readers.remove(r)


class _Reader:
    """RTSP requests and interleaved ``$``-framed packets from one connection."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn, self.buf = conn, b""

    def _fill(self, n: int) -> bool:
        while len(self.buf) < n:
            chunk = self.conn.recv(65536)
            if not chunk:
                return False
            self.buf += chunk
        return True

    def next(self) -> tuple[str, str, dict[str, str], bytes] | bytes | None:
        if not self._fill(1):
            return None
        if self.buf[:1] == b"$":  # channel byte, 16-bit length, packet
            if not self._fill(4):
                return None
            size = int.from_bytes(self.buf[2:4], "big")
            if not self._fill(4 + size):
                return None
            packet, self.buf = self.buf[: 4 + size], self.buf[4 + size:]
            return packet
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(len(self.buf) + 1):
                return None
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("utf-8", "replace").split("\r\n")
        method, url, _ = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        size = int(headers.get("content-length", "0"))
        if not self._fill(size):
            return None
        body, self.buf = self.buf[:size], self.buf[size:]
        return method, url, headers, body


def _hang_up(conn: socket.socket) -> None:
    """End a connection another thread may be reading: shutdown() sends the FIN and wakes that read."""
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _reply(headers: dict[str, str], status: int, extra: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    reason = {200: "OK", 401: "Unauthorized", 404: "Not Found", 461: "Unsupported Transport"}[status]
    lines = [f"RTSP/1.0 {status} {reason}", f"CSeq: {headers.get('cseq', '0')}"]
    lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def publish(clip: str, url: str) -> None:
    """Send ``clip``'s packets as they are to ``url`` with FFmpeg's RTSP muxer (over TCP), in real time from
    the moment the server lets the stream start. Run in its own process (`publisher`): PyAV holds the
    interpreter's lock while its muxer connects, which would stall a server in the same process."""
    import time

    import av

    with av.open(clip) as src:
        streams = [src.streams.video[0], *src.streams.audio[:1]]
        with av.open(url, "w", format="rtsp", options={"rtsp_transport": "tcp"}) as out:
            mapping = {s: out.add_stream_from_template(s) for s in streams}
            t0: float | None = None
            for packet in src.demux(streams):
                if packet.dts is None:
                    continue
                if t0 is not None and (wait := t0 + float(packet.dts * packet.time_base) - time.monotonic()) > 0:
                    time.sleep(wait)
                packet.stream = mapping[packet.stream]
                out.mux(packet)  # the first one connects and waits for the server's answer to RECORD
                if t0 is None:
                    t0 = time.monotonic()


def publisher(clip: str, url: str) -> Any:
    """`publish` in a child process: the `subprocess.Popen`."""
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, __file__, clip, url])


if __name__ == "__main__":
    import sys

    publish(sys.argv[1], sys.argv[2])
