"""`rtrdit video ...`: inspect video files."""

from __future__ import annotations

import argparse

from rtrdit.cli import add_group

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "info": ("rtrdit.commands.video_info", "print width, height, fps, frames, codec and duration"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_group(parser, SUBCOMMANDS)


def run(args: argparse.Namespace) -> int:
    return int(args._run(args) or 0)
