"""The `rtrdit` command line: a thin dispatcher over subcommand modules.

Each subcommand lives in its own module under ``rtrdit.commands`` exposing
``add_arguments(parser)`` and ``run(args) -> int``. Command modules import heavy
libraries (torch, av, ...) inside ``run`` only, so ``rtrdit --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from rtrdit import __version__

# name -> (module, one-line help). Add a line here to add a subcommand.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("rtrdit.commands.demo", "stylize a generated sample clip (the quick-start job)"),
}


class CLIError(Exception):
    """A user-facing error: printed as one line, exit code 2, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rtrdit",
        description="RTR-DiT: real-time streaming video stylization with an autoregressive DiT.",
    )
    parser.add_argument("--version", action="version", version=f"rtrdit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    mod = importlib.import_module(args._module)
    try:
        return int(mod.run(args) or 0)
    except CLIError as exc:
        print(f"rtrdit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rtrdit {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
