"""The metric registry: name -> module whose ``METRIC`` class is built as ``METRIC(ctx)``. Modules are imported only
when their metric is asked for, so weight-free metrics never load CLIP or pyiqa."""

from __future__ import annotations

import importlib

from rtrdit.eval.metrics.base import EvalError, Metric, MetricContext

REGISTRY: dict[str, tuple[str, str]] = {
    "clip_t": ("rtrdit.eval.metrics.clip_t", "text-video alignment (CLIP ViT-L/14)"),
    "clip_f": ("rtrdit.eval.metrics.clip_f", "consecutive-frame CLIP similarity"),
    "csd": ("rtrdit.eval.metrics.csd", "style similarity to the reference image (CSD ViT-L)"),
    "aq": ("rtrdit.eval.metrics.aq", "VBench AestheticQuality (LAION head on CLIP ViT-L/14)"),
    "iq": ("rtrdit.eval.metrics.iq", "VBench ImagingQuality (MUSIQ-SPAQ via optional pyiqa)"),
    "warp": ("rtrdit.eval.metrics.warp", "warping error with optical flow of the source"),
    "psnr": ("rtrdit.eval.metrics.psnr", "PSNR against --target"),
    "ssim": ("rtrdit.eval.metrics.ssim", "SSIM against --target"),
    "time": ("rtrdit.eval.metrics.timing", "minutes to stylize one clip"),
}

WEIGHT_FREE = ("warp", "psnr", "ssim", "time")


def parse_metric_names(text: str) -> list[str]:
    """``"clip_f,aq"`` -> ["clip_f", "aq"]; unknown names raise EvalError listing the known ones."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if not names:
        raise EvalError("no metrics given")
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise EvalError(f"unknown metric {unknown[0]!r} (known: {', '.join(REGISTRY)})")
    return list(dict.fromkeys(names))


def metric_class(name: str) -> type:
    """The metric class registered under ``name`` (its ``needs``/``label`` are class attributes)."""
    if name not in REGISTRY:
        raise EvalError(f"unknown metric {name!r} (known: {', '.join(REGISTRY)})")
    return importlib.import_module(REGISTRY[name][0]).METRIC  # type: ignore[no-any-return]


def build_metrics(names: list[str], ctx: MetricContext) -> list[Metric]:
    """Instantiate the named metrics (loading their weights through ``ctx``)."""
    return [metric_class(name)(ctx) for name in names]
