"""`rtrdit video info FILE [--json]`: print a video's width, height, fps, frames, codec, duration, colour
matrix, HDR transfer and scan (an HDR video is read tone-mapped to SDR, an interlaced one deinterlaced)."""

from __future__ import annotations

import argparse
import json

from rtrdit.cli import CLIError

FIELDS = ("width", "height", "fps", "frames", "codec", "duration", "colour")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="video file (any container/codec FFmpeg reads)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run(args: argparse.Namespace) -> int:
    from rtrdit.codecs.video import VideoError, probe

    try:
        info = probe(args.file)
    except VideoError as exc:
        raise CLIError(str(exc)) from None
    data = {
        "path": info.path,
        "width": info.width,
        "height": info.height,
        "fps": round(info.fps, 6),
        "frames": info.frames,
        "codec": info.codec,
        "duration": round(info.duration, 6),
        "colour": info.colour,
        "hdr": info.hdr or None,
        "interlaced": info.interlaced,
        "has_audio": info.has_audio,
        "unreadable_audio": info.unreadable_audio,
    }
    if args.json:
        print(json.dumps(data))
    else:
        print(info.path)
        for key in FIELDS:
            print(f"  {key:<9} {data[key]}")
        print(f"  {'hdr':<9} {info.hdr + ', read tone-mapped to SDR' if info.hdr else 'no'}")
        print(f"  {'scan':<9} {'interlaced, read deinterlaced' if info.interlaced else 'progressive'}")
        lost = info.unreadable_audio
        print(f"  {'has_audio':<9} {info.has_audio}" + (f" ({lost} track(s) in a codec FFmpeg cannot decode)" if lost else ""))
    return 0
