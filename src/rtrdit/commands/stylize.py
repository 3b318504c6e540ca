"""`rtrdit stylize INPUT -o OUTPUT (--prompt TEXT | --ref IMAGE | --schedule FILE)`."""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rtrdit.cli import CLIError, add_dtype_option, clock_time, device_arg, positive_float, positive_int, seed_arg
from rtrdit.codecs.video_writer import CRF, CRF_MAX, STDOUT, check_crf
from rtrdit.stream.live import is_live, is_pipe
from rtrdit.stream.spool import STDIN, URL_SCHEMES

if TYPE_CHECKING:  # pragma: no cover
    from rtrdit.stream.render import RenderPlan


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


def crf_arg(text: str) -> int:
    """--crf: a whole number from 0 (lossless) to 51 (`video_writer.check_crf`)."""
    from rtrdit.codecs.video import VideoError

    try:
        return check_crf(int(text))
    except (ValueError, VideoError):
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 (lossless) to {CRF_MAX}, got {text!r}") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="video file to stylize (any format FFmpeg reads), or a photo; - reads it from "
                                 "standard input, an http(s) URL downloads it (either copied whole beside the output "
                                 "first); a folder: each of its files, into the folder -o names; a live stream "
                                 "(rtmp://, rtsp://, udp://, tcp://, an http(s) .m3u8 playlist, or pipe: for standard "
                                 "input that may never end: MPEG-TS, Matroska, NUT, Y4M) is stylized as it arrives, until "
                                 "it ends or Ctrl-C")
    p.add_argument("-o", "--output", required=True,
                   help="output video: .mp4, .m4v, .mov or .mkv (H.264), .webm (VP9), .gif or .webp (animated, no sound); for a photo "
                        "also .png, .jpg or .webp; written when complete; - streams Matroska to standard output as "
                        "it is made (| mpv -); from a live stream also a URL to send it on to (rtmp://, udp://, ...)")
    p.add_argument("--prompt", help="text style, e.g. 'ink wash painting'")
    p.add_argument("--ref", help="reference style image (a path, or an http(s) URL)")
    p.add_argument("--schedule", help="JSON list of timed style changes [{time, prompt|reference}]")
    p.add_argument("--start", type=clock_time, default=0.0, metavar="TIME",
                   help="stylize from this time of the input (seconds, or [HH:]MM:SS): try a style on a part first")
    p.add_argument("--duration", type=clock_time, metavar="TIME",
                   help="stylize this long a part (seconds, or [HH:]MM:SS); the schedule keeps the input's clock")
    p.add_argument("--crf", type=crf_arg, default=CRF, metavar="N",
                   help=f"video quality, 0 to {CRF_MAX} (default {CRF}; lower is better and larger; each 6 about halves or "
                        "doubles the size): H.264's constant rate factor, VP9's is N+6 (.webm); 0 is lossless (beyond "
                        "4:2:0 colour), for editing: the same frames every run, large, and most browsers cannot play it")
    p.add_argument("--model", default="demo", help="'demo' or a stylizer directory (default: demo)")
    p.add_argument("--size", help="model resolution WxH, multiples of 16 (default: ~256x256 at the input's aspect)")
    p.add_argument("--steps", type=positive_int, help="denoising steps per chunk (default: the model's, K=2)")
    p.add_argument("--seed", type=seed_arg, default=0,
                   help="noise seed (default 0): the same seed, input and style give the same output; random (or -1) "
                        "draws one and prints it")
    p.add_argument("--compare", action="store_true", help="also write OUTPUT_compare (source | stylized, same format) and, for a video, OUTPUT_sheet.png")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, auto (a GPU if any) ...")
    add_dtype_option(p)
    p.add_argument("--listen", action="store_true",
                   help="live input: wait for the sender (OBS, a phone app) to connect to the input URL, "
                        "rtmp://0.0.0.0:1935/live/stream or tcp://0.0.0.0:9000, instead of connecting to a server")
    p.add_argument("--timeout", type=positive_float, default=None, metavar="SECONDS",
                   help="live input: a server must answer within this, and a stream that sends nothing for this "
                        "long has ended (default 10)")
    p.add_argument("--reconnect", action="store_true",
                   help="live input: when the stream drops (a camera's reboot, a sender's lost network), connect "
                        "again (with --listen: wait for the sender again) and go on with the same output, until "
                        "Ctrl-C or --duration")
    p.add_argument("--lag", type=positive_float, default=None, metavar="SECONDS",
                   help="live input: seconds of frames that may wait for a stylizer that falls behind before the "
                        "oldest are dropped (default 1; more keeps every frame of a slow patch, at the cost of "
                        "delay and memory)")
    p.add_argument("--skip-existing", action="store_true",
                   help="leave an output that exists as it is (outputs are only ever written whole): a stopped "
                        "folder run goes on where it stopped")


def run(args: argparse.Namespace) -> int:
    from rtrdit.codecs.video import VideoError
    from rtrdit.stream.render import refuse_stream_output
    from rtrdit.stream.session import StylizerError
    from rtrdit.stream.spool import LiveContent, describe, local_input, local_reference

    size = parse_size(args.size)
    device = device_arg(args.device)
    if args.prompt is None and args.ref is None and args.schedule is None:
        raise CLIError("give --prompt, --ref or --schedule")
    if args.seed is None:  # --seed random: drawn here, and said, so the output can be made again
        args.seed = secrets.randbelow(2**31)
        print(f"rtrdit stylize: seed {args.seed} (--seed {args.seed} makes this output again)", file=sys.stderr)
    model = _Model(args.model, device, args.dtype)
    live_flags = [flag for flag, given in (("--timeout", args.timeout is not None), ("--reconnect", args.reconnect),
                                           ("--lag", args.lag is not None)) if given]
    # an http(s) URL is a file unless it turns out to be a camera's motion JPEG (`LiveContent`) or a live flag says so
    if is_live(args.input) or args.listen or (live_flags and args.input.lower().startswith(URL_SCHEMES)):
        return _run_live(args, size, model)
    if live_flags:
        pipe = "; standard input read as a live stream is pipe:, not -" if args.input == STDIN else ""
        raise CLIError(f"{live_flags[0]} is for a live input (rtmp://, rtsp://, udp://, ...){pipe}")
    try:
        refuse_stream_output(args.output)
    except VideoError as exc:
        raise CLIError(str(exc)) from None
    folder = Path(args.input).is_dir()
    if args.skip_existing and not folder and Path(args.output).exists():
        print(f"rtrdit stylize: note: {args.output} exists: skipped (--skip-existing)", file=sys.stderr)
        return 0
    bar = _ByteBar(args.input)
    given_ref = args.ref
    try:
        with local_reference(args.ref) as ref:  # a reference at a URL: downloaded once
            args.ref = ref
            if folder:
                return _run_folder(args, size, model)
            with local_input(args.input, args.output, bar) as source:
                return _plan_and_render(args, source, Path(args.output), describe(args.input), size, model)
    except LiveContent:  # the URL is a camera's never-ending motion JPEG: stylized as it comes
        bar.close()
        args.ref = given_ref
        return _run_live(args, size, model)
    except (VideoError, StylizerError) as exc:
        bar.close()  # before the error line, not after it
        raise CLIError(str(exc)) from None


def _run_live(args: argparse.Namespace, size: tuple[int, int] | None, model: _Model) -> int:
    """A live stream stylized as it arrives, until it ends, --duration or Ctrl-C; the output is finished
    either way (exit 0), and said with the frames dropped to stay live."""
    from tqdm import tqdm

    from rtrdit.codecs.video import VideoError
    from rtrdit.codecs.video_writer import shown_url, stream_container
    from rtrdit.stream.live import LAG, TIMEOUT, LiveError, plan_live, render_live
    from rtrdit.stream.session import StylizerError
    from rtrdit.stream.spool import local_reference

    if args.listen and not is_live(args.input):
        raise CLIError(f"--listen takes a live stream's URL to wait at as the input "
                       f"(rtmp://0.0.0.0:1935/live/stream, tcp://0.0.0.0:9000, ...), got {shown_url(args.input)}")
    if args.skip_existing:
        raise CLIError("--skip-existing is for files and folders; a live stream is written as it comes")
    bar: Any = None
    source, output = shown_url(args.input), shown_url(str(args.output))  # as printed: no password

    def opened(facts: Any) -> None:
        nonlocal bar
        sound = ", with sound" if facts.audio is not None else ""
        whole = f", a finished playlist of {facts.duration:.1f} s (every frame)" if facts.duration else ""
        print(f"receiving {facts.width}x{facts.height} at {facts.fps:g} fps{sound}{whole}: stylizing to {output} "
              "(Ctrl-C ends it)", file=sys.stderr)
        total = round(facts.duration * facts.fps) if facts.duration else None
        bar = tqdm(total=total, unit="frame", desc="stylize", dynamic_ncols=True)

    def dropped_out() -> None:  # on the reading thread; tqdm.write keeps the bar whole
        again = f"waiting for the sender again at {source}" if args.listen else f"connecting to {source} again"
        tqdm.write(f"the stream dropped; {again} (Ctrl-C ends it)", file=sys.stderr)

    def progress(done: int, dropped: int) -> None:
        bar.update(done - bar.n)
        rate = bar.format_dict.get("rate")
        bar.set_postfix(fps=f"{rate:.1f}" if rate else "-", dropped=dropped)

    try:
        with local_reference(args.ref) as ref:
            lag = args.lag or LAG
            changes = plan_live(args.input, args.output, args.prompt, ref, args.schedule, args.duration, args.listen,
                                args.compare, lag, args.start, reconnect=args.reconnect)
            stylizer = model()
            how = "waiting for a sender at" if args.listen else "connecting to"
            print(f"reading standard input ({source})" if is_pipe(args.input) else f"{how} {source}",
                  "(Ctrl-C to stop)", file=sys.stderr)
            try:
                result = render_live(stylizer, args.input, args.output, changes, listen=args.listen,
                                     reconnect=args.reconnect,
                                     timeout=args.timeout or TIMEOUT, duration=args.duration, seed=args.seed,
                                     steps=args.steps, size=size, compare=args.compare, lag=lag, start=args.start,
                                     crf=args.crf, progress=progress, on_open=opened, on_drop=dropped_out)
            finally:
                if bar is not None:
                    bar.close()
    except (VideoError, StylizerError, LiveError) as exc:
        raise CLIError(str(exc)) from None
    stopped = "stopped; " if result.extra.get("stopped") else ""
    if not result.frames:
        print(f"rtrdit stylize: {stopped}no frame was stylized: nothing written", file=sys.stderr)
        return 1
    dropped = int(result.extra.get("dropped", 0))
    late = f"; {dropped} dropped to keep up with the stream" if dropped else ""
    again = int(result.extra.get("reconnects", 0))
    late += f"; the stream came back {again} time{'s' if again > 1 else ''}" if again else ""
    noun = "frame" if result.frames == 1 else "frames"
    where = "sent" if str(args.output) == STDOUT or stream_container(args.output) is not None else "wrote"
    print(f"{stopped}{where} {output} ({result.frames} {noun}, {result.fps:.1f} fps{late})",
          file=sys.stderr if str(args.output) == STDOUT else sys.stdout)
    for extra in (result.compare, result.contact_sheet):
        if extra:
            print(f"wrote {extra}")
    return 0


class _Model:
    """The stylizer, loaded when the first render needs it (after the input and style are checked), once."""

    def __init__(self, name: str, device: str, dtype: str = "auto") -> None:
        self.name, self.device, self.dtype = name, device, dtype
        self.stylizer: Any = None

    def __call__(self) -> Any:
        from rtrdit.codecs import CodecError
        from rtrdit.model.loading import CheckpointError
        from rtrdit.stream.stylizer import Stylizer

        if self.stylizer is None:
            try:
                self.stylizer = Stylizer.from_pretrained(self.name, device=self.device, dtype=self.dtype)
            except (CheckpointError, CodecError) as exc:
                raise CLIError(str(exc)) from None
        return self.stylizer


def _run_folder(args: argparse.Namespace, size: tuple[int, int] | None, model: _Model) -> int:
    """Every file of the folder ``args.input`` (hidden ones aside) into the folder ``args.output``, under its
    own name (``clip.avi.mp4`` where its container is not an output one); a file that fails is said in one
    line and the others go on; exit status 2 if any failed."""
    from rtrdit.codecs.photo import IMAGE_SUFFIXES
    from rtrdit.codecs.video import VideoError
    from rtrdit.codecs.video_writer import CONTAINERS
    from rtrdit.files import same_file
    from rtrdit.stream.render import style_changes
    from rtrdit.stream.session import StylizerError

    folder, out = Path(args.input), Path(args.output)
    try:  # a bad style is said once, not once a file
        style_changes(args.prompt, args.ref, args.schedule, args.start)
    except StylizerError as exc:
        raise CLIError(str(exc)) from None
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise CLIError(f"{folder}: no files to stylize in it")
    if out.exists() and not out.is_dir():
        raise CLIError(f"the input {folder} is a folder, so -o names a folder for the outputs, and {out} is a file")
    if not out.exists():
        if not (out.parent if str(out.parent) else Path(".")).is_dir():
            raise CLIError(f"output folder does not exist: {out.parent}")
        out.mkdir()
    if same_file(folder, out):
        raise CLIError(f"the outputs would replace the inputs in {folder}: write them to another folder")
    failed = skipped = 0
    for i, src in enumerate(files, 1):
        known = src.suffix.lower() in (*CONTAINERS, *IMAGE_SUFFIXES)
        target = out / (src.name if known else f"{src.name}{PHOTO_OUT if _photo(src) else '.mp4'}")
        print(f"[{i}/{len(files)}] {src}", file=sys.stderr)
        if args.skip_existing and target.exists():
            print(f"rtrdit stylize: note: {target} exists: skipped (--skip-existing)", file=sys.stderr)
            skipped += 1
            continue
        try:
            _plan_and_render(args, src, target, str(src), size, model)
        except (VideoError, StylizerError) as exc:
            failed += 1
            print(f"rtrdit stylize: error: {exc}", file=sys.stderr)
    print(f"stylized {len(files) - failed - skipped} of {len(files)} files into {out}"
          + (f"; {skipped} there already" if skipped else "") + (f"; {failed} could not be (said above)" if failed else ""))
    return 2 if failed else 0


PHOTO_OUT = ".png"  # a photo in a format written only as input (HEIC, TIFF, ...) is stylized to PNG
PHOTO_IN = (".heic", ".heif", ".avif", ".tif", ".tiff", ".bmp", ".dpx", ".jxl")


def _photo(path: Path) -> bool:
    return path.suffix.lower() in PHOTO_IN


class _ByteBar:
    """A byte progress bar for an input copied from standard input or a URL (`spool.local_input`), made when
    the first bytes come, closed at the copy's end or by the caller when it fails."""

    def __init__(self, source: str) -> None:
        self.desc = "read stdin" if source == STDIN else "download"
        self.bar: Any = None

    def __call__(self, done: int, total: int | None) -> None:
        from tqdm import tqdm

        if self.bar is None and done:
            self.bar = tqdm(total=total, unit="B", unit_scale=True, dynamic_ncols=True, desc=self.desc)
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
            if done == total:
                self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _plan_and_render(args: argparse.Namespace, source: Path, output: Path, label: str, size: tuple[int, int] | None,
                     model: _Model) -> int:
    """Check one render (``label``: the input as the user named it, for notes), then run it."""
    from rtrdit.stream.render import plan_render

    # everything about the input, output and style, before the model loads
    plan = plan_render(source, output, args.prompt, args.ref, args.schedule, args.compare, args.start,
                       args.duration)
    if plan.late_changes:
        at = ", ".join(f"{t:g}" for t in plan.late_changes)
        what = "the video ends" if plan.end == plan.info.duration else "the part stylized ends"
        print(f"rtrdit stylize: note: the style change(s) at {at} s come after {what} "
              f"({plan.end:.2f} s) and are not used", file=sys.stderr)
    if plan.info.unreadable_audio and not plan.info.has_audio:
        print(f"rtrdit stylize: note: {label}'s audio is in a codec FFmpeg cannot decode: the output "
              "has no sound", file=sys.stderr)
    kind = {".gif": "a GIF", ".webp": "an animated WebP"}.get(plan.output.suffix.lower())
    if plan.info.has_audio and kind is not None and not plan.image:
        print(f"rtrdit stylize: note: {kind} has no sound: {label}'s audio is left out", file=sys.stderr)
    if plan.info.hdr:
        print(f"rtrdit stylize: note: {label} is HDR ({plan.info.hdr}): it is read tone-mapped to SDR "
              "and the output is SDR", file=sys.stderr)
    return _render(args, plan, size, model())


def _render(args: argparse.Namespace, plan: RenderPlan, size: tuple[int, int] | None, stylizer: Any) -> int:
    from tqdm import tqdm

    from rtrdit.stream.render import render

    if size is not None and size[0] * size[1] > 4 * stylizer.config.area:
        side = round(stylizer.config.area ** 0.5)
        print(f"rtrdit stylize: note: --size {size[0]}x{size[1]} is {size[0] * size[1] / stylizer.config.area:.0f}x "
              f"the area this model was trained at (about {side}x{side}); expect it to run much slower and to "
              "follow the style less well", file=sys.stderr)
    if size is not None and plan.info.width and plan.info.height:
        squeeze = (size[0] / size[1]) / (plan.info.width / plan.info.height)
        if not 0.8 <= squeeze <= 1.25:
            print(f"rtrdit stylize: note: --size {size[0]}x{size[1]} has another shape than the input "
                  f"({plan.info.width}x{plan.info.height}): each frame is squeezed to it and stretched back "
                  "(leave --size out to keep the input's shape)", file=sys.stderr)
    if plan.image:
        result = render(stylizer, plan, seed=args.seed, steps=args.steps, size=size)
        print(f"wrote {result.output} ({result.seconds:.1f} s)")
        if result.compare:
            print(f"wrote {result.compare}")
        return 0
    bar = tqdm(total=plan.frames, unit="frame", desc="stylize", dynamic_ncols=True)
    last = 0

    def progress(done: int) -> None:
        nonlocal last
        bar.update(done - last)
        last = done
        rate = bar.format_dict.get("rate")
        if rate:
            bar.set_postfix(fps=f"{rate:.1f}")

    try:
        result = render(stylizer, plan, seed=args.seed, steps=args.steps, size=size, progress=progress, crf=args.crf)
    finally:
        bar.close()
    noun = "frame" if result.frames == 1 else "frames"
    if str(plan.output) == STDOUT:  # the video is on standard output: this goes beside it
        print(f"sent {result.frames} {noun} to standard output ({result.fps:.1f} fps)", file=sys.stderr)
        return 0
    print(f"wrote {result.output} ({result.frames} {noun}, {result.fps:.1f} fps)")
    if result.compare:
        print(f"wrote {result.compare}")
        print(f"wrote {result.contact_sheet}")
    return 0
