"""The one small interface every metric implements, and the shared context they load from.

A metric scores one video at a time, streaming: ``start(conditions)`` returns an accumulator that
takes aligned chunks of frames (prediction, and source/target where the metric needs them) and
finally gives one value per video plus per-frame values (for drift curves).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np


class EvalError(ValueError):
    """A user-facing evaluation error (bad input, missing weights): one readable line."""


@dataclass(frozen=True)
class Conditions:
    """What one video was stylized with: the prompt (TV2V) or the reference image (RV2V), and
    the measured wall-clock seconds of the stylization when known."""

    name: str
    prompt: str | None = None
    reference: np.ndarray | None = None  # uint8 (H, W, 3) RGB
    seconds: float | None = None


@dataclass(frozen=True)
class Chunk:
    """Consecutive frames of one video, all uint8 (T, H, W, 3) and of the same length T.
    ``source``/``target`` are None when the metric did not ask for them."""

    pred: np.ndarray
    source: np.ndarray | None = None
    target: np.ndarray | None = None


@dataclass(frozen=True)
class MetricResult:
    """One video's score and the per-frame (or per frame pair) values it averages."""

    value: float
    per_frame: list[float] = field(default_factory=list)


class Accumulator(Protocol):
    """One video's running score: fed chunk by chunk, so long videos never sit in memory whole."""

    def update(self, chunk: Chunk) -> None:
        """Add the next frames (and their source/target frames when the metric needs them)."""
        ...

    def result(self) -> MetricResult:
        """The video's score once every chunk is in."""
        ...


class Metric(Protocol):
    """``name`` as in the registry; ``needs`` is a subset of {"source", "target", "prompt",
    "reference", "seconds"}; ``label`` is the column title in the paper's table."""

    name: str
    label: str
    needs: frozenset[str]
    higher_is_better: bool

    def start(self, conditions: Conditions) -> Accumulator:
        """Begin one video under its prompt/reference/timing conditions."""
        ...


@dataclass
class MetricContext:
    """Where metrics load weights from, the device and batch size, and a per-run cache so that
    metrics sharing a network (CLIP-T, CLIP-F and AQ all use CLIP ViT-L/14) load it once."""

    weights: Path | None = None
    device: str = "cpu"
    batch_size: int = 16
    cache: dict[str, Any] = field(default_factory=dict)

    def shared(self, key: str, build: Any) -> Any:
        """The cached object under ``key``, built with ``build()`` on first use."""
        if key not in self.cache:
            self.cache[key] = build()
        return self.cache[key]


def mean_result(values: list[float]) -> MetricResult:
    """Average of per-frame values; NaN when there are none (e.g. a one-frame video for CLIP-F)."""
    vals = [float(v) for v in values]
    return MetricResult(value=float(np.mean(vals)) if vals else float("nan"), per_frame=vals)


class FramePairMean:
    """Accumulator of ``fn(pred_frame, target_frame)`` over aligned frames; the result is the mean
    (PSNR, SSIM and other full-reference per-frame scores)."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.values: list[float] = []

    def update(self, chunk: Chunk) -> None:
        assert chunk.target is not None
        self.values += [self.fn(p, t) for p, t in zip(chunk.pred, chunk.target, strict=True)]

    def result(self) -> MetricResult:
        return mean_result(self.values)
