"""`rtrdit eval`: score stylized videos with the paper's metrics, and `rtrdit eval benchmark`: run a
model over clips and styles with the paper's protocol and produce the table.

    rtrdit eval --pred OUT_DIR --source SRC_DIR --prompt "ink wash painting" \
        --metrics clip_t,clip_f,aq,warp --weights WEIGHTS --json report.json --markdown table.md
    rtrdit eval benchmark --clips CLIPS_DIR --out bench/ --metrics clip_f,warp,psnr,ssim,time
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rtrdit.cli import clock_time, positive_float, positive_int

if TYPE_CHECKING:  # pragma: no cover
    from rtrdit.eval.inputs import EvalItem

WEIGHT_HELP = (
    "folder of pretrained metric weights: vit_large_patch14_clip_224.openai/open_clip_model.safetensors "
    "(OpenAI CLIP ViT-L/14 for open_clip), sa_0_4_vit_l_14_linear.pth (AQ), csd_vit_l.pth (CSD), "
    "musiq_spaq_ckpt-358bb6af.pth (IQ); the metrics need the 'eval' extra (open_clip, pyiqa)"
)


def _common(p: argparse.ArgumentParser, device_help: str = "torch device for the metric networks") -> None:
    p.add_argument("--weights", type=Path, help=WEIGHT_HELP)
    p.add_argument("--device", default="cpu", help=f"{device_help} (default cpu; 'auto' = cuda if present)")
    p.add_argument("--batch-size", type=positive_int, default=16, help="frames per CLIP/CSD batch (default 16)")
    p.add_argument("--markdown", type=Path, help="write the Table-1-style Markdown table here")
    p.add_argument("--plots", type=Path, help="folder for per-frame PNG curves (one per metric)")
    p.add_argument("--no-paper-rows", action="store_true", help="leave the paper's rows out of the Markdown table")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rtrdit.eval.metrics import REGISTRY

    parser.add_argument("--pred", type=Path, help="stylized video or folder of videos")
    parser.add_argument("--source", type=Path, help="source video/folder (same file names as --pred)")
    parser.add_argument("--target", type=Path, help="target video/folder for psnr/ssim (same file names)")
    cond = parser.add_mutually_exclusive_group()
    cond.add_argument("--prompt", help="the text prompt (TV2V: clip_t)")
    cond.add_argument("--ref", type=Path, help="the reference style image (RV2V: csd)")
    parser.add_argument("--list", type=Path, dest="list_file",
                        help="JSONL with one video per line: pred, source, target, prompt, reference, seconds, mode")
    parser.add_argument("--metrics", help=f"comma-separated, from: {', '.join(REGISTRY)} (default: what the inputs "
                                          "allow: clip_t/csd, clip_f, aq with --weights; warp with --source; psnr, "
                                          "ssim with --target; time with timings)")
    parser.add_argument("--json", type=Path, dest="json_out", help="write the JSON report here")
    parser.add_argument("--name", default="Ours", help="the method's row name in the table")
    parser.add_argument("--max-frames", type=positive_int, help="score only the first N frames of each video")
    parser.add_argument("--start", type=clock_time, default=0.0, metavar="TIME",
                        help="the predictions begin this far into their sources and targets (a part made with "
                             "`rtrdit stylize --start`; seconds or [HH:]MM:SS); 'start' in a --list row")
    _common(parser)
    sub = parser.add_subparsers(dest="eval_command", metavar="SUBCOMMAND")
    bench = sub.add_parser("benchmark", help="run a model over clips and styles (paper protocol) and score it",
                           description="Run a model over clips and styles with the paper's protocol (5 s, 24 fps, "
                                       "resized; random prompt/reference pairings with a seed) and score it.")
    add_benchmark_arguments(bench)


def add_benchmark_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--clips", type=Path, required=True, help="folder of source videos (or one video)")
    p.add_argument("--out", type=Path, required=True, help="output folder: videos, targets, report.json, table.md")
    p.add_argument("--model", default="demo", help="Stylizer.from_pretrained spec (default: the shipped demo model)")
    p.add_argument("--mode", choices=("tv2v", "rv2v", "both"), default="tv2v", help="task(s) to run (default tv2v)")
    p.add_argument("--styles", help="comma-separated built-in style names (default: all)")
    p.add_argument("--metrics", help="comma-separated metrics (default: warp,psnr,ssim,time; with --weights "
                                     "also clip_t/csd, clip_f and aq)")
    p.add_argument("--seconds", type=positive_float, default=5.0, help="clip length (paper: 5)")
    p.add_argument("--fps", type=positive_float, default=24.0, help="frame rate clips are resampled to (paper: 24)")
    p.add_argument("--size", default="832x640", help="WIDTHxHEIGHT clips are resized to (paper: 832x640)")
    p.add_argument("--max-clips", type=positive_int, help="use only the first N clips")
    p.add_argument("--seed", type=int, default=0, help="seed of the random pairings and the sampler (default 0)")
    p.add_argument("--steps", type=positive_int, help="denoising steps per chunk (default: the model's own, K = 2)")
    p.add_argument("--name", default="RTR-DiT (ours)", help="the method's row name in the table")
    _common(p, "torch device for the stylizer and the metric networks")


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse unwritable report paths before the (long) evaluation, not after it."""
    from rtrdit.cli import output_file, output_folder

    if getattr(args, "json_out", None) is not None:
        output_file(args.json_out, "--json")
    if args.markdown is not None:
        output_file(args.markdown, "--markdown")
    if args.plots is not None:
        output_folder(args.plots, "--plots")


def _write_outputs(args: argparse.Namespace, report: object, json_out: Path | None) -> None:
    from rtrdit.eval.report import to_markdown, write_json, write_markdown, write_plots

    if json_out is not None:
        write_json(report, json_out)  # type: ignore[arg-type]
    if args.markdown is not None:
        write_markdown([report], args.markdown, paper_rows=not args.no_paper_rows)  # type: ignore[list-item]
    if args.plots is not None:
        write_plots(report, args.plots)  # type: ignore[arg-type]
    print(to_markdown([report], paper_rows=False), end="")  # type: ignore[list-item]


def run(args: argparse.Namespace) -> int:
    from rtrdit.cli import CLIError
    from rtrdit.codecs.video import VideoError
    from rtrdit.eval.metrics.base import EvalError

    try:
        if getattr(args, "eval_command", None) == "benchmark":
            return _run_benchmark(args)
        return _run_eval(args)
    except (EvalError, VideoError) as exc:
        raise CLIError(str(exc)) from None


def default_metrics(items: list[EvalItem], has_weights: bool) -> str:
    """The metrics every item has the inputs for: the paper's CLIP-based ones when weights are given
    (CLIP-T with prompts, CSD with references, CLIP-F, AQ), warp with sources, PSNR/SSIM with targets,
    time with timings. IQ (optional pyiqa) only when asked for."""
    from rtrdit.cli import CLIError

    names = []
    if has_weights:
        names += ["clip_t"] if all(i.prompt for i in items) else []
        names += ["csd"] if all(i.reference is not None for i in items) else []
        names += ["clip_f", "aq"]
    names += ["warp"] if all(i.source is not None for i in items) else []
    names += ["psnr", "ssim"] if all(i.target is not None for i in items) else []
    names += ["time"] if all(i.seconds is not None for i in items) else []
    if not names:
        raise CLIError("nothing to measure: give --metrics, --weights DIR, --source or --target")
    return ",".join(names)


def _run_eval(args: argparse.Namespace) -> int:
    from rtrdit.cli import CLIError, device_arg
    from rtrdit.eval.evaluate import check_needs, evaluate
    from rtrdit.eval.inputs import collect_items, read_list
    from rtrdit.eval.metrics import build_metrics, metric_class, parse_metric_names
    from rtrdit.eval.metrics.base import MetricContext

    if (args.pred is None) == (args.list_file is None):
        raise CLIError("give either --pred FILE_OR_DIR or --list FILE.jsonl")
    if args.list_file is not None:
        if any(x is not None for x in (args.source, args.target, args.prompt, args.ref)) or args.start:
            raise CLIError("--list already names sources, targets, prompts, references and starts; drop the other "
                           "flags")
        items = read_list(args.list_file)
    else:
        items = collect_items(args.pred, args.source, args.target, args.prompt, args.ref, args.start)
    _check_outputs(args)
    chosen = args.metrics if args.metrics is not None else default_metrics(items, args.weights is not None)
    names = parse_metric_names(chosen)
    check_needs(items, [metric_class(n) for n in names])  # before any weights are loaded
    ctx = MetricContext(weights=args.weights, device=device_arg(args.device), batch_size=args.batch_size)
    metrics = build_metrics(names, ctx)
    report = evaluate(items, metrics, method=args.name, max_frames=args.max_frames,
                      progress=lambda s: print(s, file=sys.stderr))
    _write_outputs(args, report, args.json_out)
    return 0


def _run_benchmark(args: argparse.Namespace) -> int:
    from rtrdit.cli import CLIError, device_arg, output_folder
    from rtrdit.eval.benchmark import BenchmarkConfig, run_benchmark

    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise CLIError(f"--size must be WIDTHxHEIGHT, got {args.size!r}") from None
    if w < 16 or h < 16:
        raise CLIError(f"--size must be at least 16x16, got {args.size}")
    output_folder(args.out)
    _check_outputs(args)
    cfg = BenchmarkConfig(
        clips=args.clips, out=args.out, model=args.model, mode=args.mode,
        styles=None if not args.styles else [s.strip() for s in args.styles.split(",") if s.strip()],
        metrics=args.metrics, seconds=args.seconds, fps=args.fps, size=(w, h), max_clips=args.max_clips,
        seed=args.seed, method=args.name, weights=args.weights, device=device_arg(args.device),
        batch_size=args.batch_size, steps=args.steps,
    )
    report = run_benchmark(cfg, progress=lambda s: print(s, file=sys.stderr))
    if args.markdown is None:
        args.markdown = args.out / "table.md"
    if args.plots is None:
        args.plots = args.out / "plots"
    _write_outputs(args, report, args.out / "report.json")
    return 0
