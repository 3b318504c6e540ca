"""`rtrdit stylize INPUT -o OUTPUT (--prompt TEXT | --ref IMAGE | --schedule FILE)`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rtrdit.cli import CLIError, device_arg, positive_int


def parse_size(text: str | None) -> tuple[int, int] | None:
    """'WxH' -> (w, h), both positive multiples of 16 (the codec's 8 x the patch's 2)."""
    if text is None:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise CLIError(f"--size must look like 256x256, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise CLIError(f"--size must be positive, got {w}x{h}")
    if w % 16 or h % 16:
        raise CLIError(f"--size sides must be multiples of 16, got {w}x{h}")
    return w, h


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="video file to stylize (any format FFmpeg reads), or a photo")
    p.add_argument("-o", "--output", required=True,
                   help="output video: .mp4, .m4v, .mov or .mkv (H.264) or .webm (VP9); for a photo also .png, .jpg "
                        "or .webp; written when complete")
    p.add_argument("--prompt", help="text style, e.g. 'ink wash painting'")
    p.add_argument("--ref", help="reference style image")
    p.add_argument("--schedule", help="JSON list of timed style changes [{time, prompt|reference}]")
    p.add_argument("--model", default="demo", help="'demo' or a stylizer directory (default: demo)")
    p.add_argument("--size", help="model resolution WxH, multiples of 16 (default: ~256x256 at the input's aspect)")
    p.add_argument("--steps", type=positive_int, help="denoising steps per chunk (default: the model's, K=2)")
    p.add_argument("--seed", type=int, default=0, help="noise seed (default 0): the same seed, input and style give the same output")
    p.add_argument("--compare", action="store_true", help="also write OUTPUT_compare (same format) and OUTPUT_sheet.png")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, auto (a GPU if any) ...")


def run(args: argparse.Namespace) -> int:
    from rtrdit.codecs.video import VideoError, output_format, probe
    from rtrdit.stream.render import compare_paths
    from rtrdit.stream.schedule import StyleChange, load_schedule
    from rtrdit.stream.session import StylizerError, load_reference_image

    size = parse_size(args.size)
    device = device_arg(args.device)
    out = Path(args.output)
    try:
        output_format(out, 1)  # the suffix, before the input is opened
    except VideoError as exc:
        raise CLIError(str(exc)) from None
    if not out.parent.is_dir():
        raise CLIError(f"output folder does not exist: {out.parent}")
    written = [out, *compare_paths(out)] if args.compare else [out]
    for path in written:
        if path.resolve() == Path(args.input).resolve():
            raise CLIError(f"the output {path} is the input video; write it elsewhere")
    try:
        info = probe(args.input)
        if info.frames == 0:
            raise CLIError(f"{args.input}: the video has no frames")
        output_format(out, info.frames)
        schedule: list[StyleChange] = []
        if args.prompt is not None or args.ref is not None:
            if args.prompt is not None and not args.prompt.strip():
                raise CLIError("--prompt is empty")
            if args.ref is not None:
                load_reference_image(args.ref)
            schedule.append(StyleChange(0.0, args.prompt, args.ref))
        if args.schedule:
            schedule += load_schedule(args.schedule)
        if not schedule:
            raise CLIError("give --prompt, --ref or --schedule")
        if schedule[0].time > 0 and not (args.prompt or args.ref):
            raise CLIError("the schedule must start at time 0 (or give --prompt/--ref for the start)")
        schedule.sort(key=lambda c: c.time)
        late = [c.time for c in schedule if info.duration > 0 and c.time >= info.duration]
        if late:
            at = ", ".join(f"{t:g}" for t in late)
            print(f"rtrdit stylize: note: the style change(s) at {at} s come after the video ends "
                  f"({info.duration:.2f} s) and are not used", file=sys.stderr)
        return _render(args, info, schedule, size, device)
    except (VideoError, StylizerError) as exc:
        raise CLIError(str(exc)) from None


def _render(args: argparse.Namespace, info, schedule, size, device: str) -> int:  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    from rtrdit.codecs import CodecError
    from rtrdit.codecs.video import IMAGE_SUFFIXES
    from rtrdit.model.loading import CheckpointError
    from rtrdit.stream.render import render_file, render_image
    from rtrdit.stream.stylizer import Stylizer

    try:
        stylizer = Stylizer.from_pretrained(args.model, device=device)
    except (CheckpointError, CodecError) as exc:
        raise CLIError(str(exc)) from None
    if size is not None and size[0] * size[1] > 4 * stylizer.config.area:
        side = round(stylizer.config.area ** 0.5)
        print(f"rtrdit stylize: note: --size {size[0]}x{size[1]} is {size[0] * size[1] / stylizer.config.area:.0f}x "
              f"the area this model was trained at (about {side}x{side}); expect it to run much slower and to "
              "follow the style less well", file=sys.stderr)
    if Path(args.output).suffix.lower() in IMAGE_SUFFIXES:
        result = render_image(stylizer, args.input, args.output, schedule[0], seed=args.seed, steps=args.steps,
                              size=size, compare=args.compare)
        print(f"wrote {result.output} ({result.seconds:.1f} s)")
        if result.compare:
            print(f"wrote {result.compare}")
        return 0
    bar = tqdm(total=info.frames, unit="frame", desc="stylize", dynamic_ncols=True)
    last = 0

    def progress(done: int) -> None:
        nonlocal last
        bar.update(done - last)
        last = done
        rate = bar.format_dict.get("rate")
        if rate:
            bar.set_postfix(fps=f"{rate:.1f}")

    try:
        result = render_file(stylizer, args.input, args.output, schedule, seed=args.seed, steps=args.steps,
                             size=size, compare=args.compare, progress=progress)
    finally:
        bar.close()
    noun = "frame" if result.frames == 1 else "frames"
    print(f"wrote {result.output} ({result.frames} {noun}, {result.fps:.1f} fps)")
    if result.compare:
        print(f"wrote {result.compare}")
        print(f"wrote {result.contact_sheet}")
    return 0
