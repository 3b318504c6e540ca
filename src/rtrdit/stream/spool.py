"""Inputs that are not files yet: a video piped to standard input (``-``) or at an http(s) URL is
copied to a hidden file beside the output, read from there as any file is (a render probes it, seeks
in it and reads its audio separately), and removed when the render ends, however it ends; a reference
image at a URL is downloaded to a temporary folder the same way. A URL that answers with a never-ending
motion JPEG stream (an IP camera's, a phone camera app's) is not copied: `LiveContent` says so."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from rtrdit.codecs.video import VideoError
from rtrdit.files import WriteError, temp_beside

STDIN = "-"
URL_SCHEMES = ("http://", "https://")
CHUNK = 1 << 20
TIMEOUT = 30.0  # seconds a download may wait for its server before it is given up


class LiveContent(VideoError):
    """An http(s) URL that turned out to be a live stream (motion JPEG: ``multipart/x-mixed-replace``), which
    is stylized as it comes (`stream.live`), not downloaded."""


def is_spooled(source: object) -> bool:
    """Whether ``source`` names standard input or an http(s) URL rather than a file."""
    return isinstance(source, str) and (source == STDIN or source.lower().startswith(URL_SCHEMES))


def describe(source: str) -> str:
    """How messages name an input: 'standard input' for ``-``, else the URL (a password in it as ``***``)."""
    from rtrdit.codecs.video_writer import shown_url

    return "standard input" if source == STDIN else shown_url(source)


@contextmanager
def local_input(source: str | os.PathLike[str], output: str | os.PathLike[str],
                progress: Callable[[int, int | None], None] | None = None) -> Iterator[Path]:
    """The path to read ``source`` from: itself for a file; for ``-`` or a URL a copy beside ``output``
    (``progress(bytes so far, total or None)`` as it arrives, and once more at the end with the total),
    deleted when the block ends. A VideoError or StylizerError raised in the block names the input as the
    user gave it, not the copy."""
    from rtrdit.codecs.video import VideoError
    from rtrdit.codecs.video_writer import STDOUT, output_format

    if not is_spooled(source):
        yield Path(source)
        return
    assert isinstance(source, str)
    out = Path(output)
    output_format(out, 1)  # a bad output name is said before a download, not after
    if str(out) == STDOUT:  # streamed to standard output: the copy goes in the current folder
        out = Path(".rtrdit-stdout")
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise VideoError(f"output folder does not exist: {out.parent}")
    if source == STDIN and sys.stdin.isatty():
        raise VideoError("standard input is a terminal, not a video: pipe one in "
                         "(cat clip.mp4 | rtrdit stylize - -o out.mp4)")
    try:
        copy = temp_beside(out, suffix=".input")
    except WriteError as exc:
        raise VideoError(f"{out}: {exc}") from None
    with _copied(source, copy, progress) as path:
        yield path


@contextmanager
def local_reference(reference: Any) -> Iterator[Any]:
    """A reference image given as an http(s) URL, downloaded to a temporary folder for the block (a
    reference is small); any other reference (a path, an image, an array) as it is."""
    if not (isinstance(reference, str) and reference.lower().startswith(URL_SCHEMES)):
        yield reference
        return
    with tempfile.TemporaryDirectory(prefix="rtrdit-reference-") as folder:
        copy = Path(folder) / "reference"
        copy.touch()
        with _copied(reference, copy, None) as path:
            yield str(path)


@contextmanager
def _copied(source: str, copy: Path, progress: Callable[[int, int | None], None] | None) -> Iterator[Path]:
    """``source`` (``-`` or a URL) copied into the empty file ``copy``, which is removed when the block ends;
    errors raised in the block name ``source``, not the copy."""
    from rtrdit.codecs.video import VideoError
    from rtrdit.stream.session import StylizerError

    try:
        try:
            if source == STDIN:
                _copy(sys.stdin.buffer, copy, None, progress, source)
            else:
                _download(source, copy, progress)
        except OSError as exc:  # the disk beside the output filled up, or the pipe broke
            raise VideoError(f"{describe(source)}: cannot copy it here ({exc.strerror or exc})") from None
        try:
            yield copy
        except (VideoError, StylizerError) as exc:
            raise type(exc)(str(exc).replace(str(copy), describe(source))) from None
    finally:
        copy.unlink(missing_ok=True)


def _download(url: str, to: Path, progress: Callable[[int, int | None], None] | None) -> None:
    import http.client
    import urllib.error
    import urllib.request

    from rtrdit.codecs.video import VideoError

    request = _request(url)
    url = describe(url)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            kind = response.headers.get_content_type()
            if kind in ("text/html", "application/xhtml+xml"):  # a video site's page, pasted from a browser
                raise VideoError(f"{url}: a web page ({kind}), not the file itself: give the file's own address, "
                                 "or fetch it first with a tool made for that site")
            if kind == "multipart/x-mixed-replace":  # a camera's motion JPEG: it never ends
                raise LiveContent(f"{url}: a live stream (motion JPEG), not a file: stylize it as a stream "
                                  "(rtrdit stylize URL, Stylizer.stylize_stream)")
            length = response.headers.get("Content-Length")
            _copy(response, to, int(length) if length and length.isdigit() else None, progress, url)
    except urllib.error.HTTPError as exc:
        raise VideoError(f"{url}: cannot download it (HTTP {exc.code} {exc.reason})") from None
    except urllib.error.URLError as exc:
        reason = getattr(exc.reason, "strerror", None) or exc.reason
        raise VideoError(f"{url}: cannot download it ({reason})") from None
    except TimeoutError:
        raise VideoError(f"{url}: cannot download it (no answer in {TIMEOUT:g} s)") from None
    except http.client.HTTPException as exc:  # the connection broke mid-answer
        raise VideoError(f"{url}: cannot download it ({type(exc).__name__})") from None


def _request(url: str) -> Any:
    """A GET of ``url``; a ``user:password@`` in it (which urllib does not take) is sent as HTTP Basic login."""
    import base64
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    headers = {"User-Agent": "rtrdit"}
    if parts.username is not None:
        login = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(login.encode()).decode()
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host  # an IPv6 address
        url = urllib.parse.urlunsplit(parts._replace(netloc=host + (f":{parts.port}" if parts.port else "")))
    return urllib.request.Request(url, headers=headers)


def _copy(stream: IO[bytes], to: Path, total: int | None, progress: Callable[[int, int | None], None] | None,
          source: str) -> None:
    from rtrdit.codecs.video import VideoError

    done = 0
    with open(to, "wb") as f:
        while chunk := stream.read(CHUNK):
            f.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    if progress is not None:
        progress(done, done if total is None else total)  # the end, said once more with the total known
    if total is not None and done < total:
        raise VideoError(f"{describe(source)}: the download stopped after {done} of {total} bytes")


__all__ = ["STDIN", "LiveContent", "describe", "is_spooled", "local_input", "local_reference"]
