"""SSIM against a known target (Wang et al. 2004): 11x11 Gaussian window, sigma 1.5, K1 0.01,
K2 0.03, 8-bit range, mean over the valid region and the RGB channels, per frame."""

from __future__ import annotations

import cv2
import numpy as np

from rtrdit.eval.metrics.base import Conditions, FramePairMean, MetricContext

_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


def _blur(x: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)[5:-5, 5:-5]


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM between two uint8 images ``(H, W, 3)`` (or ``(H, W)``) of the same shape, H, W >= 11."""
    x, y = a.astype(np.float64), b.astype(np.float64)
    mx, my = _blur(x), _blur(y)
    vx = _blur(x * x) - mx * mx
    vy = _blur(y * y) - my * my
    cxy = _blur(x * y) - mx * my
    s = ((2 * mx * my + _C1) * (2 * cxy + _C2)) / ((mx * mx + my * my + _C1) * (vx + vy + _C2))
    return float(s.mean())


class SSIM:
    name = "ssim"
    label = "SSIM"
    needs = frozenset({"target"})
    higher_is_better = True

    def __init__(self, ctx: MetricContext) -> None:
        self.ctx = ctx

    def start(self, conditions: Conditions) -> FramePairMean:
        return FramePairMean(ssim)


METRIC = SSIM
