"""The stylization dataset manifest (JSONL, one source/target pair per line) and its validator.

A row is ``{"source", "target", "mode": "tv2v"|"rv2v", "prompt", "reference", "split"}``; paths are
relative to the manifest's folder (absolute paths are kept). Extra keys (e.g. ``style``) are kept
as metadata. RV2V rows use the paper's fixed text (section 3.1) and a reference image.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rtrdit.errors import one_line
from rtrdit.files import atomic_path

MODES = ("tv2v", "rv2v")
# The guiding text of every RV2V sample, as in the paper (section 3.1).
RV2V_PROMPT = "Transfer the video style to match the reference image style"
_KNOWN_KEYS = {"source", "target", "mode", "prompt", "reference", "split"}


class ManifestError(ValueError):
    """A manifest that cannot be used, explained in one line (with the line number)."""


@dataclass(frozen=True)
class ManifestRow:
    """One training pair; paths as written in the manifest (see :meth:`resolve`)."""

    source: str
    target: str
    mode: str
    prompt: str
    reference: str | None = None
    split: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"source": self.source, "target": self.target, "mode": self.mode,
                             "prompt": self.prompt, "reference": self.reference}
        if self.split is not None:
            d["split"] = self.split
        d.update(self.extra)
        return d

    def resolve(self, base: str | os.PathLike[str]) -> dict[str, Path | None]:
        """Absolute paths of source, target and reference relative to the manifest folder ``base``."""
        b = Path(base)
        return {"source": b / self.source, "target": b / self.target,
                "reference": (b / self.reference) if self.reference else None}


@dataclass(frozen=True)
class ManifestIssue:
    """A problem found on one line of a manifest."""

    line: int
    message: str

    def format(self, manifest: str | os.PathLike[str]) -> str:
        return f"{manifest}:{self.line}: {self.message}"


def parse_row(text: str) -> ManifestRow:
    """One manifest line -> row; ``ManifestError`` (without line number) on a schema problem."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise ManifestError(f"expected a JSON object, got {type(obj).__name__}")
    for key in ("source", "target"):
        if key not in obj or obj[key] in (None, ""):
            raise ManifestError(f"missing {key!r} path")
        if not isinstance(obj[key], str):
            raise ManifestError(f"{key!r} must be a path string, got {type(obj[key]).__name__}")
    mode = obj.get("mode")
    if mode not in MODES:
        raise ManifestError(f"unknown mode {mode!r} (expected 'tv2v' or 'rv2v')")
    prompt = obj.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ManifestError("missing prompt")
    reference = obj.get("reference")
    if reference is not None and not isinstance(reference, str):
        raise ManifestError(f"'reference' must be a path string or null, got {type(reference).__name__}")
    if mode == "rv2v" and not reference:
        raise ManifestError("rv2v row has no reference image")
    split = obj.get("split")
    if split is not None and (not isinstance(split, str) or not split):
        raise ManifestError("'split' must be a non-empty string")
    extra = {k: v for k, v in obj.items() if k not in _KNOWN_KEYS}
    return ManifestRow(obj["source"], obj["target"], mode, prompt, reference or None, split, extra)


MANIFEST_NAME = "manifest.jsonl"  # what `rtrdit data build` writes in its output folder


def manifest_path(path: str | os.PathLike[str]) -> Path:
    """A manifest given as its file or as the dataset folder `data build` wrote (holding MANIFEST_NAME)."""
    p = Path(path)
    return p / MANIFEST_NAME if p.is_dir() and (p / MANIFEST_NAME).is_file() else p


def iter_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, str]]:
    """Non-blank lines of a manifest with their 1-based line numbers."""
    p = Path(path)
    if p.is_dir():
        raise ManifestError(f"{p}: a folder without {MANIFEST_NAME}; give the manifest file")
    if not p.is_file():
        raise ManifestError(f"{p}: no such manifest file")
    with open(p, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                yield number, line


def read_manifest(path: str | os.PathLike[str]) -> list[tuple[int, ManifestRow]]:
    """All rows with their line numbers; stops at the first schema error (see :func:`validate_manifest`
    for a full report). File checks are not done here."""
    rows = []
    for number, line in iter_lines(path):
        try:
            rows.append((number, parse_row(line)))
        except ManifestError as exc:
            raise ManifestError(f"{path}:{number}: {exc}") from None
    if not rows:
        raise ManifestError(f"{path}: manifest has no rows")
    return rows


def write_manifest(path: str | os.PathLike[str], rows: Iterable[ManifestRow]) -> None:
    """Write rows as JSONL atomically (temporary file in the same folder, then rename)."""
    p = Path(path)
    with atomic_path(p) as tmp, tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row.to_dict(), ensure_ascii=False) + "\n")


def _check_image(path: Path) -> str | None:
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        return f"reference: no such file {path}"
    try:
        with Image.open(path) as im:
            im.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return f"reference: unreadable image {path} ({one_line(exc)})"
    return None


def check_row(row: ManifestRow, base: Path, check_files: bool = True) -> list[str]:
    """Every file problem of a parsed row: missing/unreadable videos or reference,
    frame count or size mismatch between source and target."""
    if not check_files:
        return []
    from rtrdit.codecs.video import VideoError, probe

    problems: list[str] = []
    paths = row.resolve(base)
    infos = {}
    for key in ("source", "target"):
        p = paths[key]
        assert p is not None
        if not p.exists():
            problems.append(f"{key}: no such file {p}")
            continue
        try:
            infos[key] = probe(p)
        except VideoError as exc:
            problems.append(f"{key}: unreadable video ({exc})")
    if len(infos) == 2:
        s, t = infos["source"], infos["target"]
        if s.frames != t.frames:
            problems.append(f"frame count mismatch: source has {s.frames} frames, target {t.frames}")
        if (s.width, s.height) != (t.width, t.height):
            problems.append(f"size mismatch: source is {s.width}x{s.height}, target {t.width}x{t.height}")
    if paths["reference"] is not None:
        msg = _check_image(paths["reference"])
        if msg:
            problems.append(msg)
    return problems


def validate_manifest(path: str | os.PathLike[str], check_files: bool = True) -> tuple[int, list[ManifestIssue]]:
    """Check every row (never stopping at the first bad one); returns ``(rows, issues)``."""
    base = Path(path).parent
    issues: list[ManifestIssue] = []
    count = 0
    for number, line in iter_lines(path):
        count += 1
        try:
            row = parse_row(line)
        except ManifestError as exc:
            issues.append(ManifestIssue(number, str(exc)))
            continue
        issues.extend(ManifestIssue(number, m) for m in check_row(row, base, check_files))
    if count == 0:
        issues.append(ManifestIssue(0, "manifest has no rows"))
    return count, issues
