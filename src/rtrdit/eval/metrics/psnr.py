"""PSNR against a known target (the built-in stylizers' output), per frame, 8-bit range.
Identical frames are capped at 100 dB so the value stays a finite number in JSON."""

from __future__ import annotations

import numpy as np

from rtrdit.eval.metrics.base import Conditions, FramePairMean, MetricContext

MAX_DB = 100.0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two uint8 images of the same shape (peak 255), at most 100."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    if mse == 0.0:
        return MAX_DB
    return float(min(MAX_DB, 10.0 * np.log10(255.0**2 / mse)))


class PSNR:
    name = "psnr"
    label = "PSNR"
    needs = frozenset({"target"})
    higher_is_better = True

    def __init__(self, ctx: MetricContext) -> None:
        self.ctx = ctx

    def start(self, conditions: Conditions) -> FramePairMean:
        return FramePairMean(psnr)


METRIC = PSNR
