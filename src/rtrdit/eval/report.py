"""Evaluation reports: a JSON file (``mean`` per metric, ``videos`` with per-video and per-frame
values), a Markdown table in the layout of the paper's Table 1, and per-frame curves as PNG.
Every file is written atomically (temporary file renamed on success)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rtrdit.eval.metrics.base import EvalError, Metric
from rtrdit.files import atomic_write_bytes

# The paper's Table 1 (CLIP-T or CSD-Score / CLIP-F / AQ / IQ / minutes), for comparison rows.
PAPER_TABLE1: dict[str, list[tuple[str, tuple[float, float, float, float, float]]]] = {
    "tv2v": [
        ("Rerender-A-Video", (0.2272, 0.9883, 0.5730, 0.7012, 4.5)),
        ("FRESCO", (0.1970, 0.9907, 0.6060, 0.6834, 7.3)),
        ("TokenWarping", (0.2122, 0.9857, 0.6093, 0.7324, 3.2)),
        ("RTR-DiT (paper)", (0.2585, 0.9914, 0.6302, 0.7279, 0.12)),
    ],
    "rv2v": [
        ("VACE", (0.4046, 0.9905, 0.6012, 0.7165, 27.6)),
        ("StyleMaster", (0.4275, 0.9892, 0.6536, 0.7247, 28.5)),
        ("Gen-4 Aleph", (0.8312, 0.9925, 0.6336, 0.7378, 3.5)),
        ("RTR-DiT (paper)", (0.7958, 0.9909, 0.6714, 0.7321, 0.12)),
    ],
}
TABLE1_COLUMNS = ("align", "clip_f", "aq", "iq", "time")  # "align" = clip_t (TV2V) or csd (RV2V)


@dataclass(frozen=True)
class MetricInfo:
    name: str
    label: str
    higher_is_better: bool


@dataclass
class VideoScores:
    """One video's values per metric, its per-frame curves and what it was made from."""

    name: str
    frames: int
    values: dict[str, float]
    per_frame: dict[str, list[float]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def mode(self) -> str | None:
        return self.meta.get("mode")


def drift(per_frame: list[float]) -> float | None:
    """Mean of the last quarter minus mean of the first quarter of a per-frame curve (None under 8
    values): a number for the drift the plots show, e.g. CSD falling along a long stream."""
    if len(per_frame) < 8:
        return None
    q = len(per_frame) // 4
    a, b = finite_mean(per_frame[:q]), finite_mean(per_frame[-q:])
    return b - a if math.isfinite(a) and math.isfinite(b) else None


def finite_mean(values: Iterable[float]) -> float:
    """Mean of the finite values (NaN when there are none)."""
    vals = [float(v) for v in values if v is not None and math.isfinite(v)]
    return sum(vals) / len(vals) if vals else float("nan")


@dataclass
class Report:
    """All videos of one method; ``mean`` is the average over videos of each metric."""

    method: str
    metrics: list[MetricInfo]
    videos: list[VideoScores]
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, method: str, metrics: list[Metric], videos: list[VideoScores], **extra: Any) -> Report:
        infos = [MetricInfo(m.name, m.label, m.higher_is_better) for m in metrics]
        return cls(method=method, metrics=infos, videos=videos, extra=dict(extra))

    def mean(self, mode: str | None = None) -> dict[str, float]:
        """Per-metric mean over the videos (of one ``mode`` when given)."""
        vids = [v for v in self.videos if mode is None or v.mode == mode]
        return {m.name: finite_mean(v.values.get(m.name, float("nan")) for v in vids) for m in self.metrics}

    @property
    def modes(self) -> list[str | None]:
        return list(dict.fromkeys(v.mode for v in self.videos))

    def to_dict(self) -> dict[str, Any]:
        by_mode = {m: _clean(self.mean(m)) for m in self.modes if m is not None}
        return {
            "method": self.method,
            "metrics": [vars(m) for m in self.metrics],
            "mean": _clean(self.mean()),
            "by_mode": by_mode,
            "videos": [{"name": v.name, "frames": v.frames, **v.meta, "values": _clean(v.values),
                        "drift": {k: drift(x) for k, x in v.per_frame.items()},
                        "per_frame": {k: _clean_list(x) for k, x in v.per_frame.items()}} for v in self.videos],
            **self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        known = {"method", "metrics", "mean", "by_mode", "videos"}
        videos = []
        for v in data["videos"]:
            meta = {k: x for k, x in v.items() if k not in ("name", "frames", "values", "per_frame", "drift")}
            values = {k: float("nan") if x is None else float(x) for k, x in v["values"].items()}
            per_frame = {k: [float("nan") if y is None else y for y in x] for k, x in v.get("per_frame", {}).items()}
            videos.append(VideoScores(v["name"], int(v["frames"]), values, per_frame, meta))
        return cls(method=data["method"], metrics=[MetricInfo(**m) for m in data["metrics"]], videos=videos,
                   extra={k: x for k, x in data.items() if k not in known})


def _clean(d: dict[str, float]) -> dict[str, float | None]:
    return {k: (float(v) if v is not None and math.isfinite(v) else None) for k, v in d.items()}


def _clean_list(x: list[float]) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in x]


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, renamed at the end."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)


def write_json(report: Report, path: Path) -> None:
    atomic_write(path, (json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n").encode())


def read_json(path: Path) -> Report:
    try:
        return Report.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EvalError(f"cannot read report {path}: {exc}") from None


def _fmt(name: str, value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if name == "time":
        return f"{value:.2f}" if value >= 0.1 else f"{value:.2g}"
    if name == "psnr":
        return f"{value:.2f}"
    return f"{value:.4f}"


def _mode_title(mode: str | None) -> str:
    return {"tv2v": "TV2V (text-guided)", "rv2v": "RV2V (reference-guided)"}.get(mode or "", "All videos")


def to_markdown(reports: list[Report], paper_rows: bool = True) -> str:
    """Markdown tables in the layout of the paper's Table 1 (one per task present): rows are the
    methods (with the paper's rows when ``paper_rows``), columns CLIP-T or CSD-Score, CLIP-F, AQ,
    IQ, Time(min), then any other metric measured (warping error, PSNR, SSIM)."""
    modes = list(dict.fromkeys(m for r in reports for m in r.modes))
    labels = {m.name: m.label for r in reports for m in r.metrics}
    extras = [n for n in labels if n not in ("clip_t", "csd", "clip_f", "aq", "iq", "time")]
    out: list[str] = []
    for mode in modes:
        align = "csd" if mode == "rv2v" else "clip_t"
        if mode is None and "clip_t" not in labels and "csd" in labels:
            align = "csd"
        head = ["Methods", "CLIP-T" if align == "clip_t" else "CSD-Score", "CLIP-F", "AQ", "IQ", "Time(min)"]
        head += [labels[n] for n in extras]
        out += [f"### {_mode_title(mode)}", "", "| " + " | ".join(head) + " |",
                "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
        if paper_rows and mode in PAPER_TABLE1:
            for name, vals in PAPER_TABLE1[mode]:
                cells = [_fmt(c, v) for c, v in zip(TABLE1_COLUMNS, vals, strict=True)] + ["-"] * len(extras)
                out.append(f"| {name} | " + " | ".join(cells) + " |")
        for r in reports:
            mean = r.mean(mode)
            n = sum(1 for v in r.videos if v.mode == mode)
            cells = [_fmt(c, mean.get(align if c == "align" else c)) for c in TABLE1_COLUMNS]
            cells += [_fmt(n_, mean.get(n_)) for n_ in extras]
            out.append(f"| **{r.method}** ({n} video{'' if n == 1 else 's'}) | " + " | ".join(cells) + " |")
        out.append("")
    arrows = ", ".join(f"{m.label} {'higher' if m.higher_is_better else 'lower'} is better"
                       for m in {m.name: m for r in reports for m in r.metrics}.values())
    out.append(f"Means over videos. {arrows}.")
    return "\n".join(out) + "\n"


def write_markdown(reports: list[Report], path: Path, paper_rows: bool = True) -> None:
    atomic_write(path, to_markdown(reports, paper_rows).encode())


def write_plots(report: Report, folder: Path) -> list[Path]:
    """One PNG per metric with per-frame values: a curve per video (e.g. style similarity along a
    long stream shows drift or its absence). Returns the files written."""
    from rtrdit.eval.plot import line_plot

    written = []
    for m in report.metrics:
        series = {v.name: v.per_frame[m.name] for v in report.videos if v.per_frame.get(m.name)}
        if not series:
            continue
        xlabel = "frame pair" if m.name in ("clip_f", "warp") else "frame"
        png = line_plot(series, title=f"{m.label} per frame - {report.method}", xlabel=xlabel, ylabel=m.label)
        path = folder / f"{m.name}_per_frame.png"
        atomic_write(path, png)
        written.append(path)
    return written
