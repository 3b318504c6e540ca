"""`rtrdit data stylize INPUT -o OUTPUT --style NAME`: apply a built-in classical style to a video."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="INPUT", help="video file (or photo) to stylize")
    parser.add_argument("-o", "--output", required=True,
                        help="output video (.mp4, .m4v, .mov, .mkv, .webm) or, for a photo, image (.png, .jpg, "
                             ".webp); written atomically")
    parser.add_argument("--style", required=True, help="style name (see `rtrdit data styles`)")
    parser.add_argument("--size", default=None, metavar="WxH", help="resize (centre crop) before stylizing")
    parser.add_argument("--no-audio", action="store_true", help="do not copy the input's audio")


def run(args: argparse.Namespace) -> int:
    from rtrdit.cli import CLIError
    from rtrdit.codecs.photo import read_photo, write_image
    from rtrdit.codecs.video import VideoError, iter_frames, probe, resize_frame
    from rtrdit.codecs.video_writer import VideoWriter, output_format
    from rtrdit.commands.data_build import parse_size
    from rtrdit.data.stylizers import get_style
    from rtrdit.files import same_file

    try:
        style = get_style(args.style)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    size = parse_size(args.size) if args.size else None
    if same_file(args.output, args.input):
        raise CLIError(f"the output {args.output} is the input; write it elsewhere")
    try:
        output_format(args.output, 1)  # the suffix, before the input is opened
        info = probe(args.input)
        if output_format(args.output, info.frames) == "image":
            photo = read_photo(args.input)  # upright and in sRGB, as in `data build` and `stylize`
            write_image(args.output, style.apply(photo if size is None else resize_frame(photo, size)))
            written = 1
        else:
            audio = None if args.no_audio or not info.has_audio else args.input
            writer = VideoWriter(args.output, info.fps, audio_from=audio)
            try:
                for frame in iter_frames(args.input, size=size):
                    writer.write(style.apply(frame))
                writer.close(end=info.end)  # all of the input's audio
            except BaseException:
                writer.abort()  # nothing left behind
                raise
            written = writer.frames_written
    except VideoError as exc:
        raise CLIError(str(exc)) from None
    print(f"{args.output}: {written} frame{'s' if written != 1 else ''} in style {style.name}")
    return 0
