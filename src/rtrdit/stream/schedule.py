"""Timed style changes for a file (paper, Fig. 8): a JSON list of
``{"time": seconds, "prompt": "...", "reference": "path"}`` entries (prompt, reference, or both); a reference
is a path relative to the file, or an http(s) URL."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rtrdit.stream.session import StylizerError, load_reference_image
from rtrdit.stream.spool import URL_SCHEMES, local_reference


@dataclass(frozen=True)
class StyleChange:
    """A style that starts at `time` seconds (prompt and/or reference image: a path, or from Python
    a PIL image or an array)."""

    time: float
    prompt: str | None = None
    reference: Any = None


def load_schedule(path: str | os.PathLike[str]) -> list[StyleChange]:
    """Read and check a schedule file; references are resolved relative to it (those at a URL downloaded)
    and opened once here so a bad image fails before any frame is processed."""
    p = Path(path)
    try:
        raw = json.loads(p.read_text())
    except FileNotFoundError:
        raise StylizerError(f"schedule file not found: {p}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StylizerError(f"schedule {p} is not valid JSON: {exc}") from None
    except OSError as exc:  # a folder, no permission, ...
        raise StylizerError(f"cannot read schedule {p}: {exc.strerror or exc}") from None
    if not isinstance(raw, list) or not raw:
        raise StylizerError(f"schedule {p} must be a non-empty JSON list of style changes")
    changes: list[StyleChange] = []
    for i, item in enumerate(raw):
        where = f"schedule {p} entry {i}"
        if not isinstance(item, dict):
            raise StylizerError(f"{where}: must be an object with time and prompt/reference")
        unknown = set(item) - {"time", "prompt", "reference"}
        if unknown:
            raise StylizerError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        t = item.get("time", 0)
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
            raise StylizerError(f"{where}: time must be a number of seconds >= 0, got {t!r}")
        prompt, ref = item.get("prompt"), item.get("reference")
        if prompt is None and ref is None:
            raise StylizerError(f"{where}: needs a prompt or a reference")
        if prompt is not None and (not isinstance(prompt, str) or not prompt.strip()):
            raise StylizerError(f"{where}: prompt must be a non-empty string")
        if ref is not None and (not isinstance(ref, str) or not ref.strip()):
            raise StylizerError(f"{where}: reference must be an image path (a non-empty string), got {ref!r}")
        if ref is not None and ref.lower().startswith(URL_SCHEMES):  # downloaded once, kept as the image
            with local_reference(ref) as local:
                ref = load_reference_image(local)
        elif ref is not None:
            ref_path = Path(ref) if Path(ref).is_absolute() else p.parent / ref
            load_reference_image(ref_path)
            ref = str(ref_path)
        changes.append(StyleChange(float(t), prompt, ref))
    changes.sort(key=lambda c: c.time)
    return changes
