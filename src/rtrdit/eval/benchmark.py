"""`rtrdit eval benchmark`: run a stylizer over clips and styles with the paper's protocol and score it.

Protocol (paper, sec. 4.1.2): every clip is cut to 5 s, resampled to 24 fps and resized (crop) to
832x640; TV2V pairs each clip with a prompt drawn at random (seeded), RV2V with a reference made by
applying a randomly drawn style to the clip's first frame. Targets for PSNR/SSIM come from the
built-in classical stylizers, so the benchmark works out of the box with the demo model. The time
is the wall-clock of session + push + flush for the clip (reading and writing files excluded), after
one untimed warm-up session on the first frames so one-time start-up costs are not counted.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rtrdit.errors import first_line
from rtrdit.eval.inputs import VIDEO_SUFFIXES, read_list
from rtrdit.eval.metrics.base import EvalError
from rtrdit.eval.report import Report, atomic_write


@dataclass
class BenchmarkConfig:
    """What to run and how (defaults: the paper's protocol on the demo model)."""

    clips: Path
    out: Path
    model: str = "demo"
    mode: str = "tv2v"  # "tv2v" | "rv2v" | "both"
    styles: list[str] | None = None  # built-in style names; None = all
    metrics: str | None = None  # None: default_metrics(mode, weights given)
    seconds: float = 5.0
    fps: float = 24.0
    size: tuple[int, int] = (832, 640)  # (width, height)
    max_clips: int | None = None
    seed: int = 0
    method: str = "RTR-DiT (ours)"
    weights: Path | None = None
    device: str = "cpu"
    batch_size: int = 16
    steps: int | None = None  # sampler steps (None: the model's own)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Task:
    """One benchmark video: a clip with a style, in one mode."""

    name: str
    clip: Path
    mode: str
    style: str
    prompt: str | None


def resample_indices(src_frames: int, src_fps: float, fps: float, seconds: float) -> list[int]:
    """Source frame indices for ``seconds`` at ``fps`` (nearest earlier source frame in time),
    stopping at the end of the source."""
    out = []
    for i in range(round(seconds * fps)):
        j = int(np.floor(i * src_fps / fps + 1e-6))
        if j >= src_frames:
            break
        out.append(j)
    return out


def prepare_clip(path: Path, size: tuple[int, int], fps: float, seconds: float) -> np.ndarray:
    """The protocol's version of a clip: first ``seconds`` at ``fps``, resized (crop) to ``size``."""
    from rtrdit.codecs.video import probe, read_frames

    info = probe(path)
    src_fps = info.fps if info.fps and info.fps > 0 else fps
    needed = int(np.ceil(seconds * src_fps)) + 1
    frames = read_frames(path, size=size, mode="crop", count=needed)
    idx = resample_indices(len(frames), src_fps, fps, seconds)
    if not idx:
        raise EvalError(f"{path}: no frames to benchmark")
    return frames[idx]


def find_clips(clips: Path, max_clips: int | None) -> list[Path]:
    """Video files of ``clips`` (a folder or one file), sorted by name."""
    if clips.is_file():
        found = [clips]
    elif clips.is_dir():
        found = sorted(p for p in clips.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    else:
        raise EvalError(f"--clips {clips} does not exist")
    if not found:
        raise EvalError(f"no videos in {clips}")
    return found[:max_clips] if max_clips else found


def make_tasks(clips: list[Path], styles: list[Any], mode: str, seed: int) -> list[Task]:
    """Random (seeded) clip/style pairings, one per clip and mode; TV2V draws one of the style's
    prompts too. The same seed gives the same pairings."""
    rng = random.Random(seed)
    modes = ["tv2v", "rv2v"] if mode == "both" else [mode]
    tasks = []
    for m in modes:
        for clip in clips:
            style = rng.choice(styles)
            prompt = rng.choice(style.prompts) if m == "tv2v" else None
            tasks.append(Task(name=f"{clip.stem}-{m}-{style.name}", clip=clip, mode=m, style=style.name, prompt=prompt))
    return tasks


def default_metrics(mode: str, has_weights: bool) -> str:
    """Weight-free metrics out of the box; with ``--weights`` also the paper's CLIP-based ones
    (CLIP-T for TV2V, CSD for RV2V, CLIP-F, AQ). IQ needs pyiqa and is only run when asked for."""
    if not has_weights:
        return "warp,psnr,ssim,time"
    align = {"tv2v": "clip_t", "rv2v": "csd", "both": "clip_t,csd"}[mode]
    return f"{align},clip_f,aq,time,warp,psnr,ssim"


def load_stylizer(model: str, device: str) -> Any:
    """``Stylizer.from_pretrained(model)``; its errors become one-line EvalErrors."""
    from rtrdit.stream.stylizer import Stylizer

    try:
        return Stylizer.from_pretrained(model, device=device)
    except (ValueError, OSError) as exc:
        raise EvalError(f"cannot load the model {model!r}: {first_line(exc)}") from None


def stylize_timed(stylizer: Any, frames: np.ndarray, prompt: str | None, reference: np.ndarray | None,
                  seed: int, steps: int | None = None) -> tuple[np.ndarray, float]:
    """Stream ``frames`` through a new session (push all, flush); the output and the seconds taken."""
    import torch

    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    sync()
    t0 = time.perf_counter()
    kwargs: dict[str, Any] = {"seed": seed}
    if steps is not None:
        kwargs["steps"] = steps
    sess = stylizer.session(prompt=prompt, reference=reference, **kwargs)
    parts = [sess.push(frames), sess.flush()]
    sync()
    seconds = time.perf_counter() - t0
    out = np.concatenate([p for p in parts if len(p)]) if any(len(p) for p in parts) else parts[0]
    return out, seconds


def run_benchmark(cfg: BenchmarkConfig, stylizer: Any = None,
                  progress: Callable[[str], None] | None = None) -> Report:
    """Prepare clips, targets and references, stylize every task, then score the outputs."""
    from PIL import Image

    from rtrdit.codecs.video_writer import write_video
    from rtrdit.data.stylizers import builtin_styles
    from rtrdit.eval.evaluate import evaluate
    from rtrdit.eval.metrics import build_metrics, parse_metric_names
    from rtrdit.eval.metrics.base import MetricContext

    say = progress or (lambda s: None)
    if cfg.mode not in ("tv2v", "rv2v", "both"):
        raise EvalError(f"unknown mode {cfg.mode!r} (tv2v, rv2v or both)")
    metric_list = cfg.metrics if cfg.metrics is not None else default_metrics(cfg.mode, cfg.weights is not None)
    names = parse_metric_names(metric_list)
    if cfg.mode == "rv2v" and "clip_t" in names:
        raise EvalError("clip_t needs prompts; RV2V runs have references (use csd)")
    if cfg.mode == "tv2v" and "csd" in names:
        raise EvalError("csd needs references; TV2V runs have prompts (use clip_t)")
    all_styles = builtin_styles()
    chosen = cfg.styles or list(all_styles)
    unknown = [s for s in chosen if s not in all_styles]
    if unknown:
        raise EvalError(f"unknown style {unknown[0]!r} (known: {', '.join(all_styles)})")
    tasks = make_tasks(find_clips(cfg.clips, cfg.max_clips), [all_styles[s] for s in chosen], cfg.mode, cfg.seed)
    ctx = MetricContext(weights=cfg.weights, device=cfg.device, batch_size=cfg.batch_size)
    metrics = build_metrics(names, ctx)  # fail on missing weights before any work
    if stylizer is None:
        say(f"loading model {cfg.model}")
        stylizer = load_stylizer(cfg.model, cfg.device)

    dirs = {k: cfg.out / k for k in ("sources", "targets", "references", "videos")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    rows = []
    prepared: dict[Path, np.ndarray] = {}
    warm = False
    for i, task in enumerate(tasks, 1):
        say(f"[{i}/{len(tasks)}] {task.name}")
        if task.clip not in prepared:
            prepared = {task.clip: prepare_clip(task.clip, cfg.size, cfg.fps, cfg.seconds)}
        frames = prepared[task.clip]
        style = all_styles[task.style]
        source_path = dirs["sources"] / f"{task.clip.stem}.mp4"
        if not source_path.exists():
            write_video(source_path, frames, cfg.fps)
        target_path = dirs["targets"] / f"{task.name}.mp4"
        write_video(target_path, style.apply(frames), cfg.fps)
        reference = None
        row: dict[str, Any] = {"name": task.name, "mode": task.mode, "style": task.style,
                               "source": f"sources/{source_path.name}", "target": f"targets/{target_path.name}"}
        if task.mode == "rv2v":
            reference = style.apply(frames[0])
            ref_path = dirs["references"] / f"{task.name}.png"
            buf = _png(Image.fromarray(reference))
            atomic_write(ref_path, buf)
            row["reference"] = f"references/{ref_path.name}"
        else:
            row["prompt"] = task.prompt
        try:
            if not warm:  # untimed: first-call costs (allocations, kernels) are not the stylizer's speed
                stylize_timed(stylizer, frames[:9], task.prompt, reference, cfg.seed, cfg.steps)
                warm = True
            out, seconds = stylize_timed(stylizer, frames, task.prompt, reference, cfg.seed, cfg.steps)
        except ValueError as exc:  # StylizerError and friends: one line
            raise EvalError(f"{task.name}: {first_line(exc)}") from None
        write_video(dirs["videos"] / f"{task.name}.mp4", out, cfg.fps)
        row.update(pred=f"videos/{task.name}.mp4", seconds=seconds)
        rows.append(row)
    atomic_write(cfg.out / "list.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode())

    items = read_list(cfg.out / "list.jsonl")
    say("scoring")
    # with --mode both, CLIP-T scores the TV2V videos and CSD the RV2V ones
    report = evaluate(items, metrics, method=cfg.method, progress=say, skip_inapplicable=cfg.mode == "both")
    for video, row in zip(report.videos, rows, strict=True):
        video.meta["style"] = row["style"]
    report.extra["protocol"] = {
        "model": cfg.model, "mode": cfg.mode, "seconds": cfg.seconds, "fps": cfg.fps,
        "size": list(cfg.size), "seed": cfg.seed, "styles": chosen, "clips": str(cfg.clips),
        "device": cfg.device, "steps": cfg.steps, **cfg.extra,
    }
    return report


def _png(img: Any) -> bytes:
    import io

    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()

