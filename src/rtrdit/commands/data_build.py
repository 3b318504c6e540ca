"""`rtrdit data build`: make source/target pairs (TV2V and RV2V rows) and a manifest from videos and
photos (yours, and optionally those shipped inside installed packages) animated with camera motion."""

from __future__ import annotations

import argparse
import sys


def parse_size(text: str) -> tuple[int, int]:
    """``"WxH"`` -> ``(width, height)``; ``CLIError`` otherwise."""
    from rtrdit.cli import CLIError

    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise CLIError(f"size must look like WIDTHxHEIGHT (e.g. 256x256), got {text!r}") from None
    if w <= 0 or h <= 0:
        raise CLIError(f"size must be positive, got {text!r}")
    return w, h


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("videos", nargs="*", metavar="INPUT",
                        help="video or photo files, or folders of them (e.g. ../shared/videos); "
                             "a photo becomes --clips-per-image camera moves over it")
    parser.add_argument("-o", "--out", required=True, help="output folder (clips/, refs/, manifest.jsonl)")
    parser.add_argument("--package-images", action="store_true",
                        help="also animate sample images shipped in installed packages (pans and zooms)")
    parser.add_argument("--size", default="256x256", metavar="WxH", help="clip size, multiples of 8 (default 256x256)")
    parser.add_argument("--frames", type=int, default=33, help="frames per clip, 1+4k (default 33)")
    parser.add_argument("--frame-step", type=int, default=1, help="take every n-th source frame (default 1)")
    parser.add_argument("--clips-per-video", type=int, default=4, help="clips cut from each video (default 4)")
    parser.add_argument("--clips-per-image", type=int, default=4, help="camera moves per photo (default 4)")
    parser.add_argument("--styles-per-clip", type=int, default=1, help="targets made per source clip (default 1)")
    parser.add_argument("--styles", default=None,
                        help="comma-separated built-in styles to draw from (default: all)")
    parser.add_argument("--generator", default="builtin",
                        help="target maker: builtin | python:MODULE:FUNCTION | command:TEMPLATE "
                             "with {source} {target} {prompt} {style} (default builtin)")
    parser.add_argument("--prompter", default="builtin",
                        help="prompt maker: builtin | python:MODULE:FUNCTION | command:TEMPLATE with {source}")
    parser.add_argument("--no-rv2v", action="store_true", help="do not add RV2V rows")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="share of videos/photos held out (default 0.1)")
    parser.add_argument("--holdout", nargs="+", default=[], metavar="NAME",
                        help="hold out these inputs as val instead (file names or stems, e.g. music.mp4 china)")
    parser.add_argument("--seed", type=int, default=0, help="seed for styles, prompts, camera moves, split")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing manifest in --out")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rtrdit.cli import CLIError, output_folder
    from rtrdit.codecs.video import VideoError
    from rtrdit.data.build import BuildConfig, build_dataset
    from rtrdit.data.generators import GeneratorError, make_generator, make_prompter

    out = output_folder(args.out)
    if (out / "manifest.jsonl").exists() and not args.overwrite:
        raise CLIError(f"{out / 'manifest.jsonl'} already exists (use --overwrite or another --out)")
    if not args.videos and not args.package_images:
        raise CLIError("no input: give video/photo files or folders and/or --package-images")
    styles = [s.strip() for s in args.styles.split(",") if s.strip()] if args.styles else None
    cfg = BuildConfig(out=out, videos=[Path(v) for v in args.videos], size=parse_size(args.size),
                      frames=args.frames, frame_step=args.frame_step, clips_per_video=args.clips_per_video,
                      package_images=args.package_images, clips_per_image=args.clips_per_image,
                      styles_per_clip=args.styles_per_clip, rv2v=not args.no_rv2v,
                      val_fraction=args.val_fraction, holdout=list(args.holdout), seed=args.seed)
    try:
        cfg.check()
        for v in cfg.videos:
            if not v.exists():
                raise CLIError(f"{v}: no such file or folder")
        generator = make_generator(args.generator)
        prompter = make_prompter(args.prompter, styles)
        if args.overwrite:
            (out / "manifest.jsonl").unlink(missing_ok=True)  # never left pointing at replaced clips
        report = build_dataset(cfg, generator, prompter, progress=lambda m: print(m, file=sys.stderr))
    except (ValueError, GeneratorError, VideoError, FileNotFoundError) as exc:
        raise CLIError(str(exc)) from None
    for msg in report.skipped:
        print(f"skipped: {msg}", file=sys.stderr)
    print(f"{report.manifest}: {report.rows} rows from {report.clips} clips")
    return 0
