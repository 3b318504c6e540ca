"""Score a list of videos with a list of metrics, streaming each video once through all of them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from rtrdit.eval.inputs import EvalItem, iter_chunks, read_image
from rtrdit.eval.metrics.base import Chunk, Conditions, EvalError, Metric
from rtrdit.eval.report import Report, VideoScores


def missing_need(item: EvalItem, metric: Metric | type) -> str | None:
    """What ``metric`` lacks to score ``item`` (a phrase for the error line), or None."""
    have = {"source": item.source is not None, "target": item.target is not None,
            "seconds": item.seconds is not None, "prompt": bool(item.prompt), "reference": item.reference is not None}
    flags = {"source": "--source", "target": "--target", "seconds": "a timing ('seconds' in --list)",
             "prompt": "--prompt (or 'prompt' in --list)", "reference": "--ref IMAGE (or 'reference' in --list)"}
    for need in sorted(metric.needs):
        if not have[need]:
            return flags[need]
    return None


def check_needs(items: list[EvalItem], metrics: list[Metric] | list[type]) -> None:
    """Fail before any work (and before loading weights, when given metric classes) when a metric
    lacks an input for some video (one line)."""
    for item in items:
        for m in metrics:
            need = missing_need(item, m)
            if need is not None:
                raise EvalError(f"{m.name} needs {need} for {item.name}")


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
             max_frames: int | None = None, progress: Callable[[str], None] | None = None,
             skip_inapplicable: bool = False) -> Report:
    """Score every item; the report's ``mean`` averages each metric over the videos. With
    ``skip_inapplicable`` a metric lacking an input for a video (CLIP-T on an RV2V video) is left
    out for that video (NaN) instead of failing."""
    if not skip_inapplicable:
        check_needs(items, metrics)
    videos = []
    for i, item in enumerate(items, 1):
        used = [m for m in metrics if missing_need(item, m) is None]
        need_source = any("source" in m.needs for m in used)
        need_target = any("target" in m.needs for m in used)
        if progress:
            progress(f"[{i}/{len(items)}] {item.name}")
        ref = read_image(item.reference) if item.reference is not None else None
        cond = Conditions(name=item.name, prompt=item.prompt, reference=ref, seconds=item.seconds)
        chunks = iter_chunks(item, need_source, need_target, chunk_frames, max_frames, note=progress)
        meta = {"pred": str(item.pred), "mode": item.task, "prompt": item.prompt,
                "reference": None if item.reference is None else str(item.reference)}
        scores = score_video(item.name, chunks, used, cond, **meta)
        scores.values = {m.name: scores.values.get(m.name, float("nan")) for m in metrics}
        videos.append(scores)
    return Report.build(method, metrics, videos)

