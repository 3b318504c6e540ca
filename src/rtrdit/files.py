"""Atomic file writes: the content goes to a temporary file in the target's folder that is renamed
over the target only when complete, so an error or a crash never leaves a partial file behind; the
result gets the permissions of any new file (0666 less the umask; a bare ``mkstemp`` file is 0600).
A folder that cannot be written in is a one-line :class:`WriteError`; :func:`same_file` checks that an
output is none of the files a command reads."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def current_umask() -> int:
    """The process umask, read without changing it where Linux shows it (``/proc/self/status``): the
    ``os.umask`` round trip briefly sets 0 for every thread of the process."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two paths name one existing file: the same path spelt two ways, a symlink or a hard link to it."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # either missing (an output not written yet), or not a path
        return False


def publish(tmp: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Give a finished temporary file normal permissions and rename it over ``path``."""
    os.chmod(tmp, 0o666 & ~current_umask())
    os.replace(tmp, path)


class WriteError(OSError):
    """A folder that cannot be written in (no permission, a read-only disk), said in one line."""


def temp_beside(path: str | os.PathLike[str], suffix: str = ".part") -> Path:
    """A new empty hidden file in ``path``'s folder, to be renamed over ``path`` when complete; a
    WriteError that names the folder when it cannot be made there."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=suffix)
    except OSError as exc:
        raise WriteError(f"cannot write in {folder} ({exc.strerror or exc})") from None
    os.close(fd)
    return Path(tmp)


@contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = ".part") -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; it replaces ``path`` when the block ends
    normally and is removed when it raises. ``suffix`` is its extension, for writers that read the
    format from the name (``.png``)."""
    path = Path(path)
    tmp = temp_beside(path, suffix)
    try:
        yield Path(tmp)
        publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


__all__ = ["WriteError", "atomic_path", "atomic_write_bytes", "atomic_write_text", "current_umask", "publish",
           "same_file", "temp_beside"]
