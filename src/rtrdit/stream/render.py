"""Stylize a video file through a streaming session: frames are read, pushed and written
one batch at a time (bounded memory for any length), the output keeps the source's fps
and audio and appears only when complete (atomic writes), style changes follow a schedule.
"""

from __future__ import annotations

import math
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rtrdit.codecs.video_writer import CRF
from rtrdit.files import WriteError, atomic_path, same_file, temp_beside
from rtrdit.stream.schedule import StyleChange
from rtrdit.stream.session import processing_size, resize_frames
from rtrdit.stream.stylizer import Stylizer

if TYPE_CHECKING:  # pragma: no cover
    from rtrdit.codecs.video import VideoInfo

BATCH = 4  # frames per push: one latent frame of the 4x temporal codec
# x264's preset for stylized videos (OBS's default): at 1080p 40-51 ms a frame against 63-80 for "fast",
# the writer's default, files 5-6% smaller, 0.2-0.5 dB less of 43.5 dB (benchmarks/stylize_file.md)
PRESET = "veryfast"


@dataclass
class RenderResult:
    """What a render produced, with its throughput."""

    output: str
    frames: int
    fps: float  # frames stylized per second of wall time
    seconds: float
    compare: str | None = None
    contact_sheet: str | None = None
    extra: dict[str, float] = field(default_factory=dict)


@dataclass
class RenderPlan:
    """A file render checked before any model loads: the input's facts, the output's kind, the styles."""

    source: Path
    output: Path
    info: VideoInfo
    image: bool  # a photo written as a still image (`codecs.photo.IMAGE_SUFFIXES`)
    schedule: list[StyleChange]  # sorted, the first at time 0
    compare: bool = False
    start: float = 0.0  # seconds into the input where the render starts (`--start`)
    duration: float | None = None  # seconds of it to render (`--duration`); None: to the end

    @property
    def end(self) -> float:
        """Seconds into the input where the render ends: its end, or the end of ``duration``."""
        d = self.info.duration
        return d if self.duration is None else min(d, self.start + self.duration)

    @property
    def frames(self) -> int:
        """Frames the render will write (for a progress bar)."""
        return span_frames(self.info, self.start, self.duration)

    @property
    def late_changes(self) -> list[float]:
        """Times of style changes at or after the render's end: they will not be used."""
        return [c.time for c in self.schedule if self.end > 0 and c.time >= self.end]


def span_frames(info: VideoInfo, start: float = 0.0, duration: float | None = None) -> int:
    """Frames of a video from ``start`` seconds for ``duration`` (None: to the end): all of them, or
    those the span's length holds at its frame rate (about: a variable frame rate varies)."""
    if start == 0 and duration is None:
        return info.frames
    end = info.duration if duration is None else min(info.duration, start + duration)
    return max(1, min(info.frames, round((end - start) * info.fps)))


def plan_render(source: str | os.PathLike[str], output: str | os.PathLike[str], prompt: str | None = None,
                reference: Any = None, schedule: str | os.PathLike[str] | list[StyleChange] | None = None,
                compare: bool = False, start: float = 0.0, duration: float | None = None) -> RenderPlan:
    """Check a render before the work: the output's suffix and folder, that no output overwrites the
    input, that the input has frames (from ``start`` seconds on, for ``duration`` seconds if given), and
    the style (``prompt``/``reference`` from the start, and/or ``schedule``: a JSON file or StyleChange
    list, on the input's clock). Raises VideoError or StylizerError in one line."""
    from rtrdit.codecs.photo import photo_info
    from rtrdit.codecs.video import VideoError, probe
    from rtrdit.codecs.video_writer import STDOUT, output_format

    src, out = Path(source), Path(output)
    check_span(start, duration)
    refuse_stream_output(output)
    output_format(out, 1)  # the suffix, before the input is opened
    outputs = [] if str(out) == STDOUT else [out, *compare_paths(out)] if compare else [out]
    if not outputs:  # streamed to a player: nothing to write beside it
        if compare:
            raise VideoError("--compare writes files beside the output: give an output file, not - (standard output)")
    else:
        if not out.parent.is_dir():
            raise VideoError(f"output folder does not exist: {out.parent}")
        _refuse_overwrite(outputs, {src: "the input"})
        check_writable(out)
    try:
        info = probe(src)
    except VideoError:
        info = photo_info(src) if src.is_file() else None  # a photo larger than the video reader takes
        if info is None:
            raise
    if info.frames == 0:
        raise VideoError(f"{src}: the video has no frames")
    image = output_format(out, info.frames) == "image"
    if info.frames == 1 and (start > 0 or duration is not None):
        raise VideoError(f"{src}: one frame (a photo) has no time to start from or run for: leave out the start "
                         "and the duration")
    if start > 0 and start > info.duration - 0.5 / info.fps:  # no frame within half a frame of it or later
        raise VideoError(f"{src}: the start ({start:g} s) is not before the video's end ({info.duration:.2f} s)")
    if duration is not None and duration < 1 / info.fps:
        raise VideoError(f"the duration ({duration:g} s) is shorter than one frame of {src} "
                         f"({1 / info.fps:.3f} s at {info.fps:g} fps)")
    changes = style_changes(prompt, reference, schedule, start)
    refuse_overwriting_styles(outputs, schedule, changes)
    return RenderPlan(src, out, info, image, changes, compare, float(start),
                      None if duration is None else float(duration))


def check_writable(output: Path) -> None:
    """VideoError when the folder of ``output`` cannot be written in (no permission, a read-only disk): found
    now, not after the work."""
    from rtrdit.codecs.video import VideoError

    try:
        temp_beside(output).unlink()
    except WriteError as exc:
        raise VideoError(f"{output}: {exc}") from None


def refuse_stream_output(output: str | os.PathLike[str]) -> None:
    """VideoError for a file render sent to a server's URL: a server wants a stream paced in real time."""
    from rtrdit.codecs.video import VideoError
    from rtrdit.codecs.video_writer import stream_container

    if stream_container(output) is not None:
        raise VideoError(f"{output}: a stream is sent to a server from a live input (rtmp://, rtsp://, udp://, ...); "
                         "to broadcast a file, pipe -o - to a streamer that paces it (ffmpeg -re -i - ...)")


def style_changes(prompt: str | None = None, reference: Any = None,
                  schedule: str | os.PathLike[str] | list[StyleChange] | None = None,
                  start: float = 0.0) -> list[StyleChange]:
    """The styles of a render, checked and sorted by time: ``prompt``/``reference`` from time 0 and/or the
    ``schedule`` (a JSON file or StyleChange list); one must give the style at ``start``. Raises
    StylizerError in one line (a bad prompt or image is found now, not after the model loads or mid-video)."""
    from rtrdit.stream.schedule import load_schedule
    from rtrdit.stream.session import StylizerError, load_style

    changes: list[StyleChange] = []
    if prompt is not None or reference is not None:
        load_style(prompt, reference)
        changes.append(StyleChange(0.0, prompt, reference))
    if isinstance(schedule, (str, os.PathLike)):
        changes += load_schedule(schedule)  # checked as it is read
    elif schedule is not None:
        for c in schedule:
            if not isinstance(c, StyleChange):
                raise StylizerError(f"a schedule is a JSON file or a list of StyleChange, got {type(c).__name__}")
            load_style(c.prompt, c.reference)
            changes.append(c)
    if not changes:
        raise StylizerError("give a prompt, a reference image or a schedule")
    changes.sort(key=lambda c: c.time)
    if changes[0].time > start:  # a part from `start` on needs a style there, not necessarily at 0
        at = "at time 0" if not start else f"by the start ({start:g} s)"
        raise StylizerError(f"the schedule must start {at} (or give a prompt or reference for the start)")
    return changes


def check_span(start: float, duration: float | None) -> None:
    """VideoError unless ``start`` is seconds >= 0 and ``duration`` None or seconds > 0."""
    from rtrdit.codecs.video import VideoError

    def seconds(x: object) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)

    if not (seconds(start) and start >= 0):
        raise VideoError(f"the start must be a number of seconds >= 0, got {start!r}")
    if duration is not None and not (seconds(duration) and duration > 0):
        raise VideoError(f"the duration must be a number of seconds > 0, got {duration!r}")


def _refuse_overwrite(outputs: list[Path], inputs: dict[Path, str]) -> None:
    """VideoError when an output would replace a file the render reads (the video, a reference, the schedule)."""
    from rtrdit.codecs.video import VideoError

    for path in outputs:
        for source, what in inputs.items():
            if same_file(path, source):
                raise VideoError(f"the output {path} is {what}; write it elsewhere")


def refuse_overwriting_styles(outputs: list[Path], schedule: object, changes: list[StyleChange]) -> None:
    """VideoError when an output would replace the schedule file or a reference image the styles read."""
    inputs = {Path(schedule): "the schedule"} if isinstance(schedule, (str, os.PathLike)) else {}
    inputs |= {Path(c.reference): "a reference image" for c in changes if isinstance(c.reference, (str, os.PathLike))}
    _refuse_overwrite(outputs, inputs)


def render(stylizer: Stylizer, plan: RenderPlan, *, seed: int = 0, steps: int | None = None,
           size: tuple[int, int] | None = None, progress: Callable[[int], None] | None = None,
           crf: int = CRF) -> RenderResult:
    """Carry out a checked plan: a still image for a photo, else the streamed video (``crf``: its quality)."""
    if plan.image:
        return render_image(stylizer, plan.source, plan.output, plan.schedule[0], seed=seed, steps=steps,
                            size=size, compare=plan.compare)
    return render_file(stylizer, plan.source, plan.output, plan.schedule, seed=seed, steps=steps, size=size,
                       compare=plan.compare, progress=progress, info=plan.info, start=plan.start,
                       duration=plan.duration, crf=crf)


def compare_paths(output: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Where ``--compare`` writes beside OUTPUT: the side-by-side OUTPUT_compare (same format) and,
    for a video, the contact sheet OUTPUT_sheet.png."""
    out = Path(output)
    return out.with_name(f"{out.stem}_compare{out.suffix or '.mp4'}"), out.with_name(f"{out.stem}_sheet.png")


class SheetPicks:
    """Frames for a contact sheet from a stream of unknown length (a live one): every ``stride``-th (source,
    stylized) pair is kept, and when more than ``2 * n`` are, every other one goes and the stride doubles, so
    at most ``2 * n + 1`` pairs are held however long it runs; ``rows()`` gives ``n`` of them, evenly spread."""

    def __init__(self, n: int = 6) -> None:
        self.n, self.stride, self.count = n, 1, 0
        self._kept: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, source: np.ndarray, stylized: np.ndarray) -> None:
        """The next frame pair of the stream."""
        if self.count % self.stride == 0:
            self._kept.append((source, stylized))
            if len(self._kept) > 2 * self.n:
                self._kept, self.stride = self._kept[::2], self.stride * 2
        self.count += 1

    def rows(self) -> list[list[np.ndarray]]:
        """[sources, stylized] of up to ``n`` pairs evenly spread over what was kept (for `contact_sheet`)."""
        if not self._kept:
            return []
        picks = sorted(set(np.linspace(0, len(self._kept) - 1, self.n).round().astype(int).tolist()))
        return [[self._kept[i][0] for i in picks], [self._kept[i][1] for i in picks]]


def contact_sheet(rows: list[list[np.ndarray]], path: str | os.PathLike[str], width: int = 1024) -> None:
    """Write a PNG grid (one row per list, e.g. source / stylized), atomically."""
    from PIL import Image

    cols = max(len(r) for r in rows)
    h0, w0 = rows[0][0].shape[:2]
    tw = max(16, width // cols)
    th = max(16, round(h0 * tw / w0))
    sheet = Image.new("RGB", (tw * cols, th * len(rows)), (0, 0, 0))
    for y, row in enumerate(rows):
        for x, frame in enumerate(row):
            sheet.paste(Image.fromarray(frame).resize((tw, th), Image.Resampling.BILINEAR), (x * tw, y * th))
    with atomic_path(path, suffix=".png") as tmp:
        sheet.save(tmp)


def render_file(
    stylizer: Stylizer,
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    schedule: list[StyleChange],
    *,
    seed: int = 0,
    steps: int | None = None,
    size: tuple[int, int] | None = None,
    compare: bool = False,
    sheet_frames: int = 6,
    progress: Callable[[int], None] | None = None,
    info: VideoInfo | None = None,
    start: float = 0.0,
    duration: float | None = None,
    crf: int = CRF,
) -> RenderResult:
    """Stylize `source` into `output` (its suffix picks the container and ``crf`` its quality: `VideoWriter`). `schedule[0]` is the starting style;
    later entries switch style at their time. Every frame keeps its source timestamp, so a variable
    frame rate (phones) stays in sync with the audio. `progress(n)` is called with frames done; `info`
    is the source's `probe`, when the caller has it already (`plan_render`). ``start``/``duration``
    (seconds) render that part of the source only, its audio too; the schedule keeps the source's clock,
    so the part starts in the style the whole render would have there."""
    from rtrdit.codecs.video import iter_timed_frames, probe
    from rtrdit.codecs.video_writer import VideoWriter

    info = info if info is not None else probe(source)
    out = Path(output)
    compare_path, sheet_path = compare_paths(out) if compare else (None, None)
    frames = span_frames(info, start, duration)
    picks = set(np.linspace(0, max(frames - 1, 0), sheet_frames).round().astype(int).tolist())
    sheet_src: dict[int, np.ndarray] = {}
    sheet_out: list[np.ndarray] = []
    # The DiT's size; frames are decoded straight to it (a 4K HDR frame's tone map and copies at 256-ish px
    # rather than 3840x2160) and the output scaled back to the source's size, as a session would do. Only
    # --compare, which shows the source as it is beside the output, reads it at its own size.
    work = size if size is not None else processing_size(info.width, info.height, stylizer.config.area)
    read_size = work if compare_path is None else None

    half = 0.5 / info.fps if info.fps > 0 else 0.0
    first, pending = split_schedule(schedule, start + half)  # the style at the start: the latest change by then
    sess = stylizer.session(prompt=first.prompt, reference=first.reference, seed=seed, steps=steps, size=work)
    writers = [VideoWriter(out, info.fps, audio_from=source if info.has_audio else None, crf=crf, preset=PRESET,
                           audio_start=start)]
    if compare_path is not None:
        writers.append(VideoWriter(compare_path, info.fps, crf=crf, preset=PRESET))
    # (time, source frame for --compare) of the frames not stylized yet; without --compare only the time is kept
    waiting: deque[tuple[float, np.ndarray | None]] = deque()
    done = 0
    t0 = time.perf_counter()
    encoder = _EncodeThread(writers, (info.width, info.height))

    def emit(stylized: np.ndarray) -> None:
        nonlocal done
        for frame in stylized:
            t, src = waiting.popleft()
            encoder.put(frame, t, src)
            if done in picks:
                sheet_out.append(frame)
            done += 1
        if progress is not None and len(stylized):
            progress(done)

    try:
        feed = StyledFeed(sess, pending, half, emit)
        end = None if duration is None else start + duration
        for t, frame in iter_timed_frames(source, size=read_size, mode="stretch", start_time=start, end_time=end):
            if feed.count in picks:
                sheet_src[feed.count] = frame
            waiting.append((max(0.0, t - start), frame if compare_path is not None else None))
            feed.add(t, frame)
            if feed.waiting == BATCH:
                feed.push()
        feed.push()
        emit(sess.flush())
        encoder.finish()
        # all of the source's audio (a held last frame's too), or of the part rendered
        writers[0].close(end=(info.end if end is None else min(info.end, end)) - start)
        for w in writers[1:]:
            w.close()
        if sheet_path is not None and sheet_out:
            contact_sheet([[sheet_src[i] for i in sorted(sheet_src)], sheet_out], sheet_path)
    except BaseException:
        encoder.stop()  # before the files go: the thread may be writing to them
        for w in writers:
            w.abort()
        raise
    secs = time.perf_counter() - t0
    return RenderResult(str(out), done, done / secs if secs > 0 else 0.0, secs,
                        str(compare_path) if compare_path else None, str(sheet_path) if sheet_path else None)


def split_schedule(changes: list[StyleChange], at: float) -> tuple[StyleChange, list[StyleChange]]:
    """The style in force at ``at`` seconds (the latest change by then; the first if none is) and the changes
    still to come, in time order."""
    ordered = sorted(changes, key=lambda c: c.time)
    n = max(1, sum(c.time <= at for c in ordered))
    return ordered[n - 1], ordered[n:]


class StyledFeed:
    """Frames for a session, pushed a batch at a time, with the style switched at each pending change's
    time: the frames before it are pushed first, so a change applies from the frame nearest its time on
    (within ``half`` a frame). ``emit`` takes what each push returns."""

    def __init__(self, session: Any, pending: list[StyleChange], half: float,
                 emit: Callable[[np.ndarray], None]) -> None:
        self._session, self._pending, self._half, self._emit = session, list(pending), half, emit
        self._batch: list[np.ndarray] = []
        self.count = 0  # frames added so far

    @property
    def waiting(self) -> int:
        """Frames added and not pushed yet."""
        return len(self._batch)

    def add(self, t: float, frame: np.ndarray) -> None:
        """One frame at ``t`` seconds on the schedule's clock, after any change due by then."""
        while self._pending and self._pending[0].time <= t + self._half:
            self.push()
            change = self._pending.pop(0)
            self._session.set_style(prompt=change.prompt, reference=change.reference)
        self._batch.append(frame)
        self.count += 1

    def push(self) -> None:
        """Push the frames waiting, if any."""
        if self._batch:
            batch, self._batch = np.stack(self._batch), []
            self._emit(self._session.push(batch))


class _EncodeThread:
    """Writes the stylized frames (and --compare's) on a thread of its own, scaled to the output's
    ``size`` where they are not, so x264 encodes while the DiT works on the next chunk (PyAV and torch
    release the GIL). The queue is short, so memory stays bounded; a writer's error is raised in the
    caller at its next `put` or at `finish`."""

    def __init__(self, writers: list[Any], size: tuple[int, int]) -> None:
        self._writers = writers
        self._size = size
        self._queue: queue.Queue[tuple[np.ndarray, float, np.ndarray | None] | None] = queue.Queue(maxsize=8)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="rtrdit-encode", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # after a failure the rest is drained unwritten
            frame, t, src = item
            try:
                if (frame.shape[1], frame.shape[0]) != self._size:
                    frame = resize_frames(frame[None], self._size)[0]
                self._writers[0].write(frame, [t])
                if src is not None:  # --compare: source | stylized
                    self._writers[1].write(np.concatenate([src, frame], axis=1), [t])
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                self._error = exc

    def put(self, frame: np.ndarray, t: float, src: np.ndarray | None) -> None:
        """Queue one stylized frame at source time ``t`` (``src``: its source frame for --compare)."""
        self._check()
        self._queue.put((frame, t, src))

    def finish(self) -> None:
        """Wait until every queued frame is written; raise what a writer raised."""
        self.stop()
        self._check()

    def stop(self) -> None:
        """End the thread once the queued frames are handled (on an error: to abort the files safely)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _check(self) -> None:
        if self._error is not None:
            raise self._error


def render_image(
    stylizer: Stylizer,
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    style: StyleChange,
    *,
    seed: int = 0,
    steps: int | None = None,
    size: tuple[int, int] | None = None,
    compare: bool = False,
) -> RenderResult:
    """Stylize a photo (a one-frame source) into a still image whose suffix picks the format
    (`codecs.photo.IMAGE_SUFFIXES`), written atomically; ``compare`` adds OUTPUT_compare (source | stylized)."""
    from rtrdit.codecs.photo import read_photo, write_image

    t0 = time.perf_counter()
    photo = read_photo(source)[None]  # upright as a viewer shows it (EXIF orientation, mirrored ones too)
    sess = stylizer.session(prompt=style.prompt, reference=style.reference, seed=seed, steps=steps, size=size)
    stylized = np.concatenate([sess.push(photo), sess.flush()])[0]
    out = Path(output)
    outputs = [(out, stylized)]
    compare_path = compare_paths(out)[0] if compare else None
    if compare_path is not None:
        outputs.append((compare_path, np.concatenate([photo[0], stylized], axis=1)))
    for path, image in outputs:
        write_image(path, image)
    secs = time.perf_counter() - t0
    return RenderResult(str(out), 1, 1 / secs if secs > 0 else 0.0, secs, str(compare_path) if compare_path else None)
