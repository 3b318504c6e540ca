"""Build a stylization dataset: cut 1+4k-frame source clips from videos (and from photos, the user's or
those shipped inside installed packages, animated with pans and zooms), make a target per clip with a
pluggable generator and prompter, add RV2V rows whose reference is a random target frame (paper,
section 3.1), and write a manifest with a train/val split. Every choice is drawn from a seed.
"""

from __future__ import annotations

import importlib.util
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rtrdit.data.generators import GeneratorError, Prompter, TargetGenerator, TargetJob
from rtrdit.data.manifest import RV2V_PROMPT, ManifestRow, write_manifest
from rtrdit.files import atomic_path

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".avif", ".tif", ".tiff", ".bmp")
ANIMATED_EXTENSIONS = (".gif", ".webp")  # a video when animated, a photo when not (`find_inputs`)
# Folders inside installed packages that ship sample photographs (looked up without importing them).
# Only scikit-learn's two photos (china.jpg, flower.jpg): it is a pinned core dependency, so the demo data,
# `rtrdit demo` and the benchmarks see the same images whatever optional extras are installed.
_PACKAGE_IMAGE_DIRS = (("sklearn", "datasets/images"),)


@dataclass
class BuildConfig:
    """What ``rtrdit data build`` makes; sizes are ``(width, height)``, ``frames`` is 1+4k."""

    out: Path
    videos: list[Path] = field(default_factory=list)  # video or photo files, or folders of them
    size: tuple[int, int] = (256, 256)
    frames: int = 33
    frame_step: int = 1
    clips_per_video: int = 4
    package_images: bool = False
    clips_per_image: int = 4
    image_fps: float = 24.0
    styles_per_clip: int = 1
    rv2v: bool = True
    val_fraction: float = 0.1
    holdout: list[str] = field(default_factory=list)  # input names held out as val (replaces val_fraction)
    seed: int = 0

    def check(self) -> None:
        if self.frames < 1 or (self.frames - 1) % 4:
            raise ValueError(f"frames must be 1+4k (1, 5, 9, 13, ...), got {self.frames}")
        w, h = self.size
        if w < 8 or h < 8 or w % 8 or h % 8:
            raise ValueError(f"size must be multiples of 8 (the latent codec's factor), got {w}x{h}")
        if self.frame_step < 1 or self.clips_per_video < 1 or self.clips_per_image < 1 or self.styles_per_clip < 1:
            raise ValueError("frame step, clips per video/image and styles per clip must be >= 1")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val fraction must be in [0, 1), got {self.val_fraction}")


@dataclass
class BuildReport:
    """What a build wrote."""

    manifest: Path
    clips: int = 0
    rows: int = 0
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Clip:
    clip_id: str
    group: str  # clips from one video or image share a split
    frames: np.ndarray
    fps: float


# ----------------------------------------------------------------------------- sources


def find_inputs(paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """``(videos, photos)`` named directly or found (non-recursively, sorted) in the given folders; a
    named file is a photo when its suffix is an image one, otherwise it is read as a video. A GIF or a
    WebP is a video when it is animated (more than one frame), a photo otherwise."""
    videos: list[Path] = []
    photos: list[Path] = []
    for p in paths:
        if p.is_dir():
            files = sorted(q for q in p.iterdir() if q.is_file() and not q.name.startswith("."))
            for q in files:
                kind = _kind(q)
                if kind == "video" and q.suffix.lower() in (*VIDEO_EXTENSIONS, *ANIMATED_EXTENSIONS):
                    videos.append(q)
                elif kind == "photo" and q.suffix.lower() in (*IMAGE_EXTENSIONS, *ANIMATED_EXTENSIONS):
                    photos.append(q)
        elif p.is_file():
            (photos if _kind(p) == "photo" else videos).append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return videos, photos


def _kind(path: Path) -> str:
    """"video" or "photo", by the suffix; a GIF or WebP by its frame count (Pillow reads only the header)."""
    suffix = path.suffix.lower()
    if suffix in ANIMATED_EXTENSIONS:
        from PIL import Image

        try:
            with Image.open(path) as im:
                return "video" if getattr(im, "n_frames", 1) > 1 else "photo"
        except (OSError, ValueError):
            return "photo"  # unreadable: the photo reader says so in one line, and the build goes on
    return "photo" if suffix in IMAGE_EXTENSIONS else "video"


def package_images() -> list[Path]:
    """Sample photographs shipped inside an installed package (scikit-learn's china.jpg and
    flower.jpg), found without importing it."""
    out: list[Path] = []
    for package, sub in _PACKAGE_IMAGE_DIRS:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        for root in spec.submodule_search_locations:
            folder = Path(root) / sub
            if folder.is_dir():
                out.extend(sorted(q for q in folder.iterdir()
                                  if q.suffix.lower() in IMAGE_EXTENSIONS and q.stat().st_size > 20_000))
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).lower()[:40].strip("-") or "clip"


def video_clips(path: Path, size: tuple[int, int], frames: int, count: int, step: int = 1) -> Iterator[tuple[int, np.ndarray, float]]:
    """Up to ``count`` clips of ``frames`` frames (every ``step``-th) spread evenly over a video,
    resized with centre crop; yields ``(start_frame, clip, fps)``, decoding the video once."""
    from rtrdit.codecs.video import iter_frames, probe

    info = probe(path)
    span = (frames - 1) * step + 1
    if info.frames < span:
        return
    n = min(count, info.frames // span)
    starts = [round(x) for x in np.linspace(0, info.frames - span, n)] if n > 1 else [0]
    wanted = {s + i * step: (k, i) for k, s in enumerate(starts) for i in range(frames)}
    bufs: list[list[np.ndarray]] = [[] for _ in starts]
    last = max(wanted)
    for index, frame in enumerate(iter_frames(path, size=size, mode="crop")):
        if index in wanted:
            k, _ = wanted[index]
            bufs[k].append(frame)
            if len(bufs[k]) == frames:
                yield starts[k], np.stack(bufs[k]), info.fps / step
                bufs[k] = []
        if index >= last:
            break


def _smoothstep(x: float) -> float:
    return x * x * (3.0 - 2.0 * x)


def _full_width(image_hw: tuple[int, int], size: tuple[int, int]) -> float:
    """The width of the largest window of an image of ``image_hw`` with the aspect ratio of ``size``."""
    (ih, iw), (w, h) = image_hw, size
    return min(iw, ih * (w / h))


def camera_path(image_hw: tuple[int, int], size: tuple[int, int], frames: int, rng: np.random.Generator,
                max_step: float = 0.02) -> list[tuple[float, float, float]]:
    """The crop windows ``(cx, cy, width)`` of a virtual camera move over an image of ``image_hw``: an eased
    pan and/or zoom between two random windows with the output's aspect ratio, shortened so the window
    moves and zooms by at most ``max_step`` of its width per frame, as a brisk real camera would (a
    9-frame clip that crossed the whole photo would move further per frame than any real video does,
    and further than a codec's 4-frame latents can hold)."""
    w, h = size
    ih, iw = image_hw
    aspect = w / h
    full_w = _full_width(image_hw, size)
    motion = rng.choice(["pan", "zoom_in", "zoom_out", "pan_zoom"])
    z0, z1 = {"pan": (0.7, 0.7), "zoom_in": (1.0, 0.55), "zoom_out": (0.55, 1.0)}.get(
        motion, tuple(rng.uniform(0.55, 0.95, 2)))

    def centre(z: float) -> tuple[float, float]:
        ww, wh = z * full_w, z * full_w / aspect
        return rng.uniform(ww / 2, iw - ww / 2), rng.uniform(wh / 2, ih - wh / 2)

    (cx0, cy0), (cx1, cy1) = centre(z0), centre(z1)
    # the ease's steepest step is 1.5x its mean: keep that one within max_step
    reach = max_step * max(1, frames - 1) / 1.5
    if abs(z1 - z0) > reach * min(z0, z1):
        z1 = z0 * (1 + reach) if z1 > z0 else z0 / (1 + reach)
    dist = float(np.hypot(cx1 - cx0, cy1 - cy0))
    limit = reach * min(z0, z1) * full_w
    if dist > limit:
        cx1, cy1 = cx0 + (cx1 - cx0) * limit / dist, cy0 + (cy1 - cy0) * limit / dist
    path = []
    for t in range(frames):
        a = _smoothstep(t / max(1, frames - 1))
        ww = (z0 + (z1 - z0) * a) * full_w
        wh = ww / aspect
        # keep the window inside the image while zoom and pan interpolate
        cx = min(max(cx0 + (cx1 - cx0) * a, ww / 2), iw - ww / 2)
        cy = min(max(cy0 + (cy1 - cy0) * a, wh / 2), ih - wh / 2)
        path.append((float(cx), float(cy), float(ww)))
    return path


def animate_image(image: np.ndarray, size: tuple[int, int], frames: int, rng: np.random.Generator,
                  max_step: float = 0.02) -> np.ndarray:
    """A virtual camera move over a still image (`camera_path`); returns ``(frames, H, W, 3)`` uint8."""
    import cv2

    w, h = size
    ih, iw = image.shape[:2]
    zmin = 0.5
    pre = min(1.0, w / (zmin * _full_width((ih, iw), size)) * 1.25)  # pre-shrink so warping never downsamples much
    if pre < 1.0:
        image = cv2.resize(image, (max(1, round(iw * pre)), max(1, round(ih * pre))), interpolation=cv2.INTER_AREA)
    out = np.empty((frames, h, w, 3), np.uint8)
    for t, (cx, cy, ww) in enumerate(camera_path(image.shape[:2], size, frames, rng, max_step)):
        s = w / ww
        m = np.array([[s, 0.0, w / 2 - s * cx], [0.0, s, h / 2 - s * cy]], np.float64)
        out[t] = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return out


def image_clips(path: Path, size: tuple[int, int], frames: int, count: int, seed: int) -> Iterator[np.ndarray]:
    """``count`` animated clips (pans/zooms drawn from ``seed``) over one still image (any mode: grey
    and alpha become RGB); ``VideoError`` when it cannot be read."""
    from rtrdit.codecs.photo import read_photo

    image = read_photo(path)  # upright, as a viewer shows it; VideoError in one line
    for k in range(count):
        rng = np.random.default_rng([seed, k, sum(path.name.encode())])
        yield animate_image(image, size, frames, rng)


# ----------------------------------------------------------------------------- building


def _save_png(path: Path, frame: np.ndarray) -> None:
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(frame).save(tmp, format="PNG")


def _conform_target(target: Path, frames: int, size: tuple[int, int], fps: float) -> None:
    """Make an external generator's output match its source: resize (centre crop) to ``size`` and
    keep the first ``frames`` frames; a shorter target is an error."""
    from rtrdit.codecs.video import VideoError, iter_frames, probe
    from rtrdit.codecs.video_writer import VideoWriter

    try:
        info = probe(target)
    except VideoError as exc:
        raise GeneratorError(f"generator output is not a readable video ({exc})") from None
    if info.frames < frames:
        raise GeneratorError(f"{target}: generator wrote {info.frames} frames, the source has {frames}")
    if info.frames == frames and (info.width, info.height) == size:
        return
    with VideoWriter(target, fps) as writer:  # atomic: replaces target only when complete
        for frame in iter_frames(target, size=size, mode="crop", count=frames):
            writer.write(frame)


def _held_out(holdout: Sequence[str], groups: Sequence[str]) -> set[str]:
    """The source groups ``holdout`` names (a file name, its stem or the clip prefix: ``music.mp4``,
    ``music``, ``china.jpg``, ``img-china``); ValueError for a name that matches no group, or when
    nothing would be left to train on."""
    matched: set[str] = set()
    for name in holdout:
        slug = _slug(Path(name).stem)
        hits = {g for g in groups if g in (slug, "img-" + slug)}
        if not hits:
            raise ValueError(f"holdout {name!r}: no input of that name (inputs: {', '.join(groups)})")
        matched |= hits
    if groups and matched >= set(groups):
        raise ValueError("holdout names every input: nothing would be left to train on")
    return matched


def _assign_splits(clip_groups: list[str], val_fraction: float, seed: int, holdout: Sequence[str] = ()) -> list[str]:
    """Split per clip: whole source videos/images go to val when there are several (no clip of a val
    video is trained on); with a single source the clips themselves are split. ``holdout`` names the
    val sources instead (see ``_held_out``)."""
    if holdout:
        val_groups = _held_out(holdout, sorted(set(clip_groups)))
        return ["val" if g in val_groups else "train" for g in clip_groups]
    if val_fraction <= 0 or not clip_groups:
        return ["train"] * len(clip_groups)
    rng = random.Random(f"split:{seed}")
    groups = sorted(set(clip_groups))
    units = groups if len(groups) >= 2 else list(range(len(clip_groups)))
    n_val = min(len(units) - 1, max(1, round(val_fraction * len(units))))
    val = set(rng.sample(units, n_val)) if n_val > 0 else set()
    if len(groups) >= 2:
        return ["val" if g in val else "train" for g in clip_groups]
    return ["val" if i in val else "train" for i in range(len(clip_groups))]


def build_dataset(
    cfg: BuildConfig,
    generator: TargetGenerator,
    prompter: Prompter,
    progress: Callable[[str], None] | None = None,
) -> BuildReport:
    """Cut clips, make targets and references, and write ``cfg.out/manifest.jsonl``. On any error
    the files and folders this call created are removed again (no half-built dataset is left)."""
    cfg.check()
    out = Path(cfg.out)
    created: list[Path] = []
    for d in (out, out / "clips", out / "refs"):
        if not d.exists():
            created.append(d)
    try:
        return _build(cfg, generator, prompter, progress, created)
    except BaseException:
        for p in reversed(created):
            try:
                p.rmdir() if p.is_dir() else p.unlink(missing_ok=True)
            except OSError:
                pass
        raise


def _build(cfg: BuildConfig, generator: TargetGenerator, prompter: Prompter,
           progress: Callable[[str], None] | None, created: list[Path]) -> BuildReport:
    from rtrdit.codecs.video import VideoError

    out = Path(cfg.out)
    clips_dir, refs_dir = out / "clips", out / "refs"
    clips_dir.mkdir(parents=True, exist_ok=True)
    if cfg.rv2v:
        refs_dir.mkdir(exist_ok=True)
    report = BuildReport(out / "manifest.jsonl")
    say = progress or (lambda _msg: None)

    sources: list[tuple[str, Callable[[], Iterator[_Clip]]]] = []
    videos, photos = find_inputs(cfg.videos)
    for video in videos:
        group = _slug(video.stem)

        def from_video(video: Path = video, group: str = group) -> Iterator[_Clip]:
            for start, frames, fps in video_clips(video, cfg.size, cfg.frames, cfg.clips_per_video, cfg.frame_step):
                yield _Clip(f"{group}-f{start:05d}", group, frames, fps)

        sources.append((group, from_video))
    for image in photos + (package_images() if cfg.package_images else []):
        group = "img-" + _slug(image.stem)

        def from_image(image: Path = image, group: str = group) -> Iterator[_Clip]:
            for k, frames in enumerate(image_clips(image, cfg.size, cfg.frames, cfg.clips_per_image, cfg.seed)):
                yield _Clip(f"{group}-m{k:02d}", group, frames, cfg.image_fps)

        sources.append((group, from_image))
    if not sources:
        raise ValueError("no input: give video/photo files or folders, or --package-images")

    groups = [g for g, _ in sources]
    if len(set(groups)) != len(groups):
        raise ValueError(f"two inputs share a name ({', '.join(sorted({g for g in groups if groups.count(g) > 1}))})")
    _held_out(cfg.holdout, groups)  # a misspelt name fails before any clip is made

    rows: list[ManifestRow] = []
    clip_rows: list[tuple[str, list[ManifestRow]]] = []
    for group, make in sources:
        made_before = report.clips
        clips = make()  # streamed: one clip in memory at a time
        while True:
            try:
                clip = next(clips, None)
            except VideoError as exc:  # an unreadable input is skipped, with a note
                report.skipped.append(str(exc))
                made_before = -1
                break
            if clip is None:
                break
            _make_pairs(cfg, clip, generator, prompter, created, clip_rows, say)
            report.clips += 1
        if report.clips == made_before:
            report.skipped.append(f"{group}: shorter than {cfg.frames} frames (x{cfg.frame_step} step)")

    splits = _assign_splits([g for g, _ in clip_rows], cfg.val_fraction, cfg.seed, cfg.holdout)
    for (group, made), split in zip(clip_rows, splits):
        for r in made:
            rows.append(ManifestRow(r.source, r.target, r.mode, r.prompt, r.reference, split, r.extra))
    if not rows:
        raise ValueError("no clips were made (every input was too short or unreadable)")
    write_manifest(report.manifest, rows)
    report.rows = len(rows)
    return report


def _make_pairs(cfg: BuildConfig, clip: _Clip, generator: TargetGenerator, prompter: Prompter,
                created: list[Path], clip_rows: list[tuple[str, list[ManifestRow]]],
                say: Callable[[str], None]) -> None:
    """Write one source clip, its targets and RV2V references; append its rows to ``clip_rows``."""
    from rtrdit.codecs.video import read_frames
    from rtrdit.codecs.video_writer import VideoWriter

    out = Path(cfg.out)
    clips_dir, refs_dir = out / "clips", out / "refs"
    rng = random.Random(f"{cfg.seed}:{clip.clip_id}")
    src_path = clips_dir / f"{clip.clip_id}.mp4"
    created.append(src_path)
    with VideoWriter(src_path, clip.fps) as writer:
        writer.write(clip.frames)
    # the source as written (lossy) fixes the frame count and size the target must match
    made: list[ManifestRow] = []
    used: set[str] = set()
    for j in range(cfg.styles_per_clip):
        sp = prompter(src_path, rng)
        tag = sp.style or f"t{j}"
        if tag in used:
            tag = f"{tag}-{j}"
        used.add(tag)
        tgt_path = clips_dir / f"{clip.clip_id}.{tag}.mp4"
        created.append(tgt_path)
        generator(TargetJob(src_path, tgt_path, sp.prompt, sp.style))
        _conform_target(tgt_path, len(clip.frames), cfg.size, clip.fps)
        extra = {"style": sp.style} if sp.style else {}
        rel_src, rel_tgt = src_path.relative_to(out).as_posix(), tgt_path.relative_to(out).as_posix()
        paraphrases = {"prompts": list(sp.paraphrases)} if len(sp.paraphrases) > 1 else {}
        made.append(ManifestRow(rel_src, rel_tgt, "tv2v", sp.prompt, None, None, {**extra, **paraphrases}))
        if cfg.rv2v:
            r = rng.randrange(len(clip.frames))
            ref = read_frames(tgt_path, start=r, count=1)[0]
            ref_path = refs_dir / f"{clip.clip_id}.{tag}.png"
            created.append(ref_path)
            _save_png(ref_path, ref)
            made.append(ManifestRow(rel_src, rel_tgt, "rv2v", RV2V_PROMPT,
                                    ref_path.relative_to(out).as_posix(), None,
                                    {**extra, "reference_frame": r}))
    clip_rows.append((clip.group, made))
    say(f"{clip.clip_id}: {', '.join(r.extra.get('style') or r.prompt for r in made if r.mode == 'tv2v')}")
