"""`rtrdit data ...`: build, validate, stylize and encode stylization datasets."""

from __future__ import annotations

import argparse

from rtrdit.cli import add_group

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "styles": ("rtrdit.commands.data_styles", "list the built-in classical stylizers and their prompts"),
    "stylize": ("rtrdit.commands.data_stylize", "apply a built-in stylizer to a video"),
    "build": ("rtrdit.commands.data_build", "make source/target pairs and a manifest from a folder of videos"),
    "validate": ("rtrdit.commands.data_validate", "check every row of a manifest"),
    "encode": ("rtrdit.commands.data_encode", "precompute latents and text embeddings into shards (resumable)"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_group(parser, SUBCOMMANDS)


def run(args: argparse.Namespace) -> int:
    return int(args._run(args) or 0)
