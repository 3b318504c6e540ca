"""`rtrdit demo`: the quick-start job. Makes a sample clip itself (a camera move over a
photo shipped inside a dependency), stylizes it with a text style, switches to a reference
style mid-clip, and writes the videos and a contact sheet.

Until the trained demo model is in the package, it runs a clearly labelled smoke test of
the same pipeline with a small *untrained* DiT: the output is not a real stylization.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rtrdit.cli import CLIError, add_dtype_option, device_arg, output_folder, positive_float

SAMPLE_FPS = 24.0  # frame rate of the generated sample clip
MAX_SAMPLE_BYTES = 2 << 30  # the sample clip is made in memory: 2 GiB (60 s at 512x512 is 1.1)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="outputs/demo", help="output folder (default: outputs/demo)")
    p.add_argument("--model", default="demo", help="'demo' or a stylizer directory")
    p.add_argument("--seconds", type=positive_float, default=4.0, help="length of the sample clip")
    p.add_argument("--size", type=int, default=256, help="side of the square sample clip")
    p.add_argument("--prompt", default="a pencil sketch", help="text style of the first half (a built-in style's prompt)")
    p.add_argument("--ref-style", default="blueprint",
                   help="built-in style that makes the reference image from a frame of the sample")
    p.add_argument("--device", default="cpu", help="torch device: cpu (default), cuda, cuda:1, auto (a GPU if any)")
    add_dtype_option(p)


def _sample_clip(out: Path, size: int, seconds: float, fps: float = SAMPLE_FPS) -> Path:
    """A camera move over a photo that ships inside scikit-learn, as an MP4."""
    import numpy as np

    from rtrdit.codecs.photo import read_image
    from rtrdit.codecs.video_writer import write_video
    from rtrdit.data.build import animate_image, package_images

    images = package_images()
    if not images:
        raise CLIError("no sample photo found inside the installed packages (scikit-learn's china.jpg)")
    frames = animate_image(read_image(images[0]), (size, size), round(seconds * fps) | 1,
                           np.random.default_rng(0))
    path = out / "sample.mp4"
    write_video(path, frames, fps=fps)
    return path


def _reference(out: Path, style: str, sample: Path, frame: int) -> Path:
    """A reference image: the sample's frame where the reference style starts, through a built-in
    stylizer (the paper's RV2V protocol styles a frame of the video itself)."""
    from PIL import Image

    from rtrdit.codecs.video import read_frames
    from rtrdit.data.stylizers import get_style

    photo = read_frames(sample, start=frame, count=1)[0]
    styled = get_style(style).apply(photo[None])[0]
    path = out / "reference.png"
    Image.fromarray(styled).save(path)
    return path


def _smoke_stylizer(device: str):  # type: ignore[no-untyped-def]
    """The demo pipeline with an untrained small DiT (shipped autoencoder, real MiniLM)."""
    import torch

    from rtrdit.codecs import load_codec
    from rtrdit.codecs.text import CachedTextEncoder, load_text_encoder
    from rtrdit.model.config import get_config
    from rtrdit.model.dit import DiT
    from rtrdit.stream.stylizer import Stylizer, StylizerConfig

    torch.manual_seed(0)
    dit = DiT(get_config("small").replace(attention="block_causal", chunk_frames=1, num_layers=2))
    text = CachedTextEncoder(load_text_encoder("minilm", max_tokens=dit.config.text_len))
    return Stylizer(dit, load_codec("tiny", device=device), text, StylizerConfig(), device)


def _check_args(args: argparse.Namespace) -> None:
    """Refuse bad options in one line before any model loads or any file is written."""
    from rtrdit.data.stylizers import get_style

    if args.size < 32:
        raise CLIError(f"--size must be at least 32 (pixels, square), got {args.size}")
    frames = round(args.seconds * SAMPLE_FPS) | 1
    if frames * args.size * args.size * 3 > MAX_SAMPLE_BYTES:
        raise CLIError(f"the sample clip would take {frames * args.size**2 * 3 / 2**30:.1f} GiB of memory (at most "
                       f"{MAX_SAMPLE_BYTES / 2**30:.0f}): give a shorter --seconds or a smaller --size; "
                       "`rtrdit stylize` streams files of any length")
    if not args.prompt.strip():
        raise CLIError("--prompt is empty")
    try:
        get_style(args.ref_style)
    except ValueError:
        raise CLIError(f"unknown --ref-style {args.ref_style!r} (see `rtrdit data styles`)") from None
    output_folder(args.out)


def run(args: argparse.Namespace) -> int:
    from rtrdit.codecs import CodecError
    from rtrdit.codecs.video import VideoError
    from rtrdit.model.loading import CheckpointError
    from rtrdit.stream.render import render_file
    from rtrdit.stream.schedule import StyleChange
    from rtrdit.stream.stylizer import CONFIG_NAME, Stylizer, StylizerError, demo_dir

    _check_args(args)
    device = device_arg(args.device)
    out = Path(args.out)
    try:
        if args.model == "demo" and not (demo_dir() / CONFIG_NAME).is_file():
            print("SMOKE RUN: the trained demo model is not in this checkout yet; running the same streaming")
            print("pipeline with an UNTRAINED DiT (random weights). The output is NOT a real stylization.")
            stylizer = _smoke_stylizer(device)
        else:
            stylizer = Stylizer.from_pretrained(args.model, device=device, dtype=args.dtype)
        out.mkdir(parents=True, exist_ok=True)
        sample = _sample_clip(out, args.size, args.seconds)
        ref = _reference(out, args.ref_style, sample, round(args.seconds / 2 * SAMPLE_FPS))
        schedule = [StyleChange(0.0, prompt=args.prompt), StyleChange(args.seconds / 2, reference=str(ref))]
        print(f"sample clip: {sample}")
        print(f"style: '{args.prompt}', then the reference {ref} from {args.seconds / 2:.1f} s")
        result = render_file(stylizer, sample, out / "stylized.mp4", schedule, compare=True)
    except (StylizerError, CheckpointError, CodecError, VideoError) as exc:
        raise CLIError(str(exc)) from None
    except OSError as exc:
        raise CLIError(f"{exc.filename or out}: {exc.strerror or exc}") from None
    print(f"stylized:      {result.output}  ({result.frames} frames at {result.fps:.1f} fps)")
    print(f"side by side:  {result.compare}")
    print(f"contact sheet: {result.contact_sheet}")
    return 0
