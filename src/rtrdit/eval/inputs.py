"""Which videos to evaluate and how their frames are read: predictions paired with sources and
targets by file name, prompts/references/timings per video, aligned chunks streamed from disk.

Sources and targets are read at the prediction's size (``codecs.video`` crop policy, the one the
stylizer applies to its input) and all streams are cut to the shortest one (with a note saying so).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtrdit.errors import first_line
from rtrdit.eval.metrics.base import Chunk, EvalError

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")


@dataclass(frozen=True)
class EvalItem:
    """One video to score and what it was made from."""

    name: str
    pred: Path
    source: Path | None = None
    target: Path | None = None
    prompt: str | None = None
    reference: Path | None = None
    seconds: float | None = None
    mode: str | None = None  # "tv2v" | "rv2v" | None (inferred from prompt/reference)
    start: float = 0.0  # seconds into the source/target where the prediction begins (`rtrdit stylize --start`)

    @property
    def task(self) -> str | None:
        if self.mode:
            return self.mode
        if self.reference is not None:
            return "rv2v"
        return "tv2v" if self.prompt else None


def _videos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def _match(pred: Path, other: Path | None, what: str, many: bool) -> Path | None:
    """The file in ``other`` (a file or a folder) that belongs to prediction ``pred``."""
    if other is None:
        return None
    if not other.exists():
        raise EvalError(f"--{what} {other} does not exist")
    if other.is_file():
        if many:
            raise EvalError(f"--{what} is one file but --pred is a folder of several videos; give a folder")
        return other
    for cand in _videos_in(other):
        if cand.stem == pred.stem:
            return cand
    raise EvalError(f"no {what} video named {pred.stem}.* in {other} for {pred.name}")


def collect_items(pred: Path, source: Path | None = None, target: Path | None = None,
                  prompt: str | None = None, reference: Path | None = None, start: float = 0.0) -> list[EvalItem]:
    """Pair ``pred`` (a video or a folder of videos) with sources/targets of the same file stem (each
    prediction a part of them from ``start`` seconds, when given)."""
    if not pred.exists():
        raise EvalError(f"--pred {pred} does not exist")
    preds = _videos_in(pred) if pred.is_dir() else [pred]
    if not preds:
        raise EvalError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) in {pred}")
    if reference is not None and not reference.is_file():
        raise EvalError(f"--ref {reference} is not a file")
    many = len(preds) > 1
    return [EvalItem(name=p.stem, pred=p, source=_match(p, source, "source", many),
                     target=_match(p, target, "target", many), prompt=prompt, reference=reference, start=start)
            for p in preds]


def read_list(path: Path) -> list[EvalItem]:
    """Items from a JSONL list: ``{"pred", "source"?, "target"?, "prompt"?, "reference"?,
    "seconds"?, "mode"?, "name"?}`` per line, paths relative to the list file."""
    if not path.is_file():
        raise EvalError(f"--list {path} does not exist")
    base = path.parent
    items = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or "pred" not in row:
                raise ValueError("each line must be an object with a 'pred' path")
        except ValueError as exc:
            raise EvalError(f"{path}:{n}: {first_line(exc)}") from None

        def rel(key: str) -> Path | None:
            value = row.get(key)  # noqa: B023 - rel() is called within this iteration only
            if value is None:
                return None
            p = base / value
            if not p.exists():
                raise EvalError(f"{path}:{n}: {key} {p} does not exist")  # noqa: B023
            return p

        pred = rel("pred")
        assert pred is not None
        seconds, start = row.get("seconds"), row.get("start", 0)
        if isinstance(start, bool) or not isinstance(start, (int, float)) or not 0 <= start < float("inf"):
            raise EvalError(f"{path}:{n}: start must be seconds >= 0, got {start!r}")
        items.append(EvalItem(name=str(row.get("name") or pred.stem), pred=pred, source=rel("source"),
                              target=rel("target"), prompt=row.get("prompt"), reference=rel("reference"),
                              seconds=None if seconds is None else float(seconds), mode=row.get("mode"),
                              start=float(start)))
    if not items:
        raise EvalError(f"--list {path} has no rows")
    return items


def read_image(path: Path) -> np.ndarray:
    """A reference image as uint8 ``(H, W, 3)`` RGB (through ``codecs.photo.read_image``)."""
    from rtrdit.codecs.photo import read_image as _read

    return _read(path)


def iter_chunks(item: EvalItem, source: bool, target: bool, chunk_frames: int = 16,
                max_frames: int | None = None, note: Callable[[str], None] | None = None) -> Iterator[Chunk]:
    """Aligned chunks of ``item``'s prediction and (when asked) source/target frames, up to the end of
    the shortest; ``note`` is told when the others had frames left (a prediction that dropped or
    added frames is then scored on a cut, not silently)."""
    from rtrdit.codecs.video import iter_frames, iter_timed_frames, probe

    info = probe(item.pred)
    size = (info.width, info.height)
    streams: dict[str, Iterator[np.ndarray]] = {"pred": iter_frames(item.pred, count=max_frames)}
    for key, wanted, path in (("source", source, item.source), ("target", target, item.target)):
        if wanted:
            if path is None:
                raise EvalError(f"{item.name}: a chosen metric needs --{key}")
            timed = iter_timed_frames(path, size=size, mode="crop", count=max_frames, start_time=item.start)
            streams[key] = (frame for _, frame in timed)
    done = False
    count = 0
    while not done:
        buf: dict[str, list[np.ndarray]] = {k: [] for k in streams}
        while len(buf["pred"]) < chunk_frames:
            frames = {}
            for k, it in streams.items():
                frame = next(it, None)
                if frame is None:
                    done = True
                    # a stream read before this one in this round already had one more frame
                    longer = [o for o, rest in streams.items()
                              if o != k and (o in frames or next(rest, None) is not None)]
                    if longer and note is not None:
                        note(f"note: {item.name}: the {'prediction' if k == 'pred' else k} ends after {count} "
                             f"frames, the {' and '.join('prediction' if o == 'pred' else o for o in longer)} "
                             f"go{'es' if len(longer) == 1 else ''} on; scored the first {count}")
                    break
                frames[k] = frame
            if done:
                break
            count += 1
            for k, f in frames.items():
                buf[k].append(f)
        if buf["pred"]:
            yield Chunk(pred=np.stack(buf["pred"]),
                        source=np.stack(buf["source"]) if "source" in buf else None,
                        target=np.stack(buf["target"]) if "target" in buf else None)
