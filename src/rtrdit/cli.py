"""The `rtrdit` command line: a thin dispatcher over subcommand modules.

Each subcommand lives in its own module under ``rtrdit.commands`` exposing
``add_arguments(parser)`` and ``run(args) -> int``. Only the chosen subcommand's module
is imported, and command modules import heavy libraries (torch, av, ...) inside ``run``,
so ``rtrdit --help`` stays instant. A group of subcommands (``rtrdit data ...``) is a
module whose ``add_arguments`` calls :func:`add_group`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import math
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn

from rtrdit import __version__
from rtrdit.files import WriteError, temp_beside

# name -> (module, one-line help). Add a line here to add a subcommand.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("rtrdit.commands.demo", "stylize a generated sample clip (the quick-start job)"),
    "stylize": ("rtrdit.commands.stylize", "stylize a video file with a text prompt or a reference image"),
    "serve": ("rtrdit.commands.serve", "serve live stylization to a browser or phone, or from OBS over WHIP"),
    "bench": ("rtrdit.commands.bench", "measure streaming fps, latency and memory"),
    "eval": ("rtrdit.commands.eval", "evaluate stylized videos with the paper's metrics"),
    "video": ("rtrdit.commands.video", "inspect video files"),
    "data": ("rtrdit.commands.data", "build, validate and encode stylization datasets"),
    "train": ("rtrdit.commands.train", "train the autoencoder, teacher, student or distilled model"),
}


class CLIError(Exception):
    """A user-facing error: printed as one line, exit code 2, no traceback."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``docker stop``, a scheduler's preemption), raised like Ctrl-C so the same
    clean-up runs: temporary files removed, no partial output left behind."""


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread instead of killing the
    process outright; a handler someone else installed, or a call off the main thread, is left alone."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return

    def raise_terminated(signum: int, frame: object) -> None:
        raise Terminated

    raise_terminated.raises_terminated = True  # type: ignore[attr-defined]  # a training loop may defer it to a step's end
    signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def positive_int(text: str) -> int:
    """argparse type for a count (frames, clips, steps, threads...): a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


def seed_arg(text: str) -> int | None:
    """argparse type for a noise seed: a whole number >= 0, or 'random' (or -1, as in other diffusion
    tools) for None: the command draws one and prints it, so the output can be made again."""
    if text.strip().lower() in ("random", "-1"):
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, or random (-1), got {text!r}")
    return value


def clock_time(text: str) -> float:
    """argparse type for a time in a video: seconds ('90', '90.5') or a clock time as a player shows it
    ('1:30', '01:02:03.5')."""
    bad = argparse.ArgumentTypeError(f"must be seconds or [HH:]MM:SS(.s), got {text!r}")
    parts = text.strip().split(":")
    try:
        if len(parts) > 3 or any(p.strip() != p or not p for p in parts):
            raise bad
        seconds = float(parts[-1])
        whole = [int(p) for p in parts[:-1]]
    except ValueError:
        raise bad from None
    sixties = [seconds, *whole[1:]] if whole else []  # the seconds and minutes of a clock time stay under 60
    if not math.isfinite(seconds) or seconds < 0 or any(v < 0 for v in whole) or any(v >= 60 for v in sixties):
        raise bad
    minutes = 0
    for v in whole:  # [hours,] minutes
        minutes = minutes * 60 + v
    return minutes * 60 + seconds


def positive_float(text: str) -> float:
    """argparse type for a duration or rate: a finite number > 0 (nan and inf are refused here,
    before they reach a frame count)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def device_arg(spec: str, flag: str = "--device") -> str:
    """A command's device option checked before anything heavy loads ("auto": a GPU if any)."""
    from rtrdit.devices import DeviceError, resolve_device

    try:
        return str(resolve_device(spec))
    except DeviceError as exc:
        raise CLIError(f"{flag} {exc}") from None


DTYPE_CHOICES = ("auto", "float32", "bfloat16", "float16")


def add_dtype_option(p: argparse.ArgumentParser) -> None:
    """The ``--dtype`` option of the commands that load a stylizer (`Stylizer.from_pretrained`'s ``dtype``)."""
    p.add_argument("--dtype", default="auto", choices=DTYPE_CHOICES,
                   help="the DiT's weights: auto (default: bfloat16 on a recent GPU, float16 on an older one such "
                        "as a T4 or V100, float32 on a CPU), float32, bfloat16 or float16")


def output_folder(path: str | os.PathLike[str], flag: str = "--out") -> Path:
    """A command's output folder, refused up front when a file already holds that name or the name of
    a folder it would be made in, or when it cannot be written in."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise CLIError(f"{flag} {out} exists and is not a folder")
    _writable_above(out, [out, *out.parents], flag)
    return out


def output_file(path: str | os.PathLike[str], flag: str) -> Path:
    """A command's output file (its folders are made when missing), refused before any work when a
    folder holds that name, a file holds the name of a folder above it, or it cannot be written there."""
    out = Path(path)
    if out.is_dir():
        raise CLIError(f"{flag} {out} is a folder, not a file name")
    _writable_above(out, list(out.parents), flag)
    return out


def _writable_above(out: Path, folders: list[Path], flag: str) -> None:
    """The nearest existing of ``folders`` (where ``out`` will be written or made) must be a folder,
    not a file, and one this process can write in (not read-only, not another user's)."""
    parent = next((p for p in folders if p.exists()), None)
    if parent is None:
        return
    if not parent.is_dir():
        raise CLIError(f"{flag} {out}: {parent} is a file, not a folder")
    try:
        temp_beside(parent / ".rtrdit-check").unlink()
    except WriteError as exc:
        raise CLIError(f"{flag} {out}: {exc}") from None


def add_group(parser: argparse.ArgumentParser, members: dict[str, tuple[str, str]]) -> None:
    """Add nested subcommands ``name -> (module, help)``; each module has
    ``add_arguments``/``run`` like a top-level command. Modules are imported here,
    which is cheap because they defer heavy imports to ``run``."""
    sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    for name, (module, help_text) in members.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        mod = importlib.import_module(module)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)


class OneLineParser(argparse.ArgumentParser):
    """argparse with its errors in one line like every other error here (no usage dump); its
    subcommand parsers are of this class too."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser; with ``command`` only that subcommand's module is imported."""
    parser = OneLineParser(
        prog="rtrdit",
        description="RTR-DiT: real-time streaming video stylization with an autoregressive DiT.",
    )
    parser.add_argument("--version", action="version", version=f"rtrdit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            mod = importlib.import_module(module)
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rtrdit ARGS``; a CLIError is one line on stderr and exit status 2, Ctrl-C exits 130 and
    SIGTERM 143, both after the command's clean-up."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, a bad option: returned, not raised, to a caller of main
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_help()
        return 0
    try:
        with sigterm_as_interrupt():
            return int(args._run(args) or 0)
    except (CLIError, WriteError) as exc:  # WriteError: any command's output folder it cannot write in
        print(f"rtrdit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except Terminated:
        print(f"rtrdit {args.command}: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print(f"rtrdit {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `rtrdit video info x | head -1`: the reader left, as `head` does; no traceback
        _silence_stdout()
        return 128 + signal.SIGPIPE


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's flush at exit does not hit the closed pipe again."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test's capture)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


if __name__ == "__main__":  # pragma: no cover
    # `python -m rtrdit.cli`: run the imported module's main, so the errors the commands raise
    # (rtrdit.cli.CLIError, ...) are the classes it catches, not this __main__ copy's
    from rtrdit.cli import main as _main

    sys.exit(_main())
