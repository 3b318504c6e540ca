"""Score a list of videos with a list of metrics, streaming each video once through all of them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from rtrdit.eval.inputs import EvalItem, iter_chunks, read_image
from rtrdit.eval.metrics.base import Chunk, Conditions, EvalError, Metric
from rtrdit.eval.report import Report, VideoScores


def check_needs(items: list[EvalItem], metrics: list[Metric] | list[type]) -> None:
    """Fail before any work (and before loading weights, when given metric classes) when a metric
    lacks an input for some video (one line)."""
    for item in items:
        for m in metrics:
            for need, have in (("source", item.source), ("target", item.target), ("seconds", item.seconds)):
                if need in m.needs and have is None:
                    flag = {"seconds": "a timing ('seconds' in --list)"}.get(need, f"--{need}")
                    raise EvalError(f"{m.name} needs {flag} for {item.name}")
            if "prompt" in m.needs and not item.prompt:
                raise EvalError(f"{m.name} needs --prompt (or 'prompt' in --list) for {item.name}")
            if "reference" in m.needs and item.reference is None:
                raise EvalError(f"{m.name} needs --ref IMAGE (or 'reference' in --list) for {item.name}")


def score_video(name: str, chunks: Iterable[Chunk], metrics: list[Metric], conditions: Conditions,
                **meta: Any) -> VideoScores:
    """Run every metric over one video's chunks; per-video value and per-frame values."""
    accs = [(m, m.start(conditions)) for m in metrics]
    frames = 0
    for chunk in chunks:
        frames += len(chunk.pred)
        for _, acc in accs:
            acc.update(chunk)
    if frames == 0:
        raise EvalError(f"{name}: no frames to evaluate")
    results = {m.name: acc.result() for m, acc in accs}
    return VideoScores(name=name, frames=frames, values={k: r.value for k, r in results.items()},
                       per_frame={k: r.per_frame for k, r in results.items() if r.per_frame}, meta=dict(meta))


def evaluate(items: list[EvalItem], metrics: list[Metric], method: str = "Ours", chunk_frames: int = 16,
             max_frames: int | None = None, progress: Callable[[str], None] | None = None) -> Report:
    """Score every item; the report's ``mean`` averages each metric over the videos."""
    check_needs(items, metrics)
    need_source = any("source" in m.needs for m in metrics)
    need_target = any("target" in m.needs for m in metrics)
    videos = []
    for i, item in enumerate(items, 1):
        if progress:
            progress(f"[{i}/{len(items)}] {item.name}")
        ref = read_image(item.reference) if item.reference is not None else None
        cond = Conditions(name=item.name, prompt=item.prompt, reference=ref, seconds=item.seconds)
        chunks = iter_chunks(item, need_source, need_target, chunk_frames, max_frames)
        meta = {"pred": str(item.pred), "mode": item.task, "prompt": item.prompt,
                "reference": None if item.reference is None else str(item.reference)}
        videos.append(score_video(item.name, chunks, metrics, cond, **meta))
    return Report.build(method, metrics, videos)

