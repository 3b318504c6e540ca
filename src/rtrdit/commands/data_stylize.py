"""`rtrdit data stylize INPUT -o OUTPUT --style NAME`: apply a built-in classical style to a video."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="INPUT", help="video file to stylize")
    parser.add_argument("-o", "--output", required=True, help="output MP4 (written atomically)")
    parser.add_argument("--style", required=True, help="style name (see `rtrdit data styles`)")
    parser.add_argument("--size", default=None, metavar="WxH", help="resize (centre crop) before stylizing")
    parser.add_argument("--no-audio", action="store_true", help="do not copy the input's audio")


def run(args: argparse.Namespace) -> int:
    from rtrdit.cli import CLIError
    from rtrdit.codecs.video import VideoError, VideoWriter, iter_frames, probe
    from rtrdit.commands.data_build import parse_size
    from rtrdit.data.stylizers import get_style

    try:
        style = get_style(args.style)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    size = parse_size(args.size) if args.size else None
    try:
        info = probe(args.input)
        audio = None if args.no_audio or not info.has_audio else args.input
        with VideoWriter(args.output, info.fps, audio_from=audio) as writer:
            for frame in iter_frames(args.input, size=size):
                writer.write(style.apply(frame))
    except VideoError as exc:
        raise CLIError(str(exc)) from None
    print(f"{args.output}: {writer.frames_written} frames in style {style.name}")
    return 0
