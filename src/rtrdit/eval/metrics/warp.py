"""Warping error: temporal consistency without any pretrained network (Lai et al. 2018).

Optical flow (OpenCV DIS) is computed on the *source* frames, so it measures how the stylized
video follows the real motion: the previous output frame is warped to the current one and the
mean squared difference (values in 0..1) is taken over pixels that are not occluded (forward /
backward flow consistency) and stay inside the image. Lower is better; flicker raises it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rtrdit.eval.metrics.base import Chunk, Conditions, EvalError, MetricContext, MetricResult, mean_result


def _gray(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)


def _sample(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    return cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@dataclass(frozen=True)
class Motion:
    """Where each pixel of the current frame was in the previous one, and which pixels count."""

    map_x: np.ndarray  # float32 (H, W)
    map_y: np.ndarray
    mask: np.ndarray  # bool (H, W): not occluded and inside the image


class FlowWarper:
    """DIS optical flow between consecutive source frames and the warp it implies."""

    def __init__(self, preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM) -> None:
        self.dis = cv2.DISOpticalFlow_create(preset)

    def motion(self, src_prev: np.ndarray, src_cur: np.ndarray) -> Motion:
        """Backward flow (current -> previous) with the forward/backward consistency mask."""
        g_prev, g_cur = _gray(src_prev), _gray(src_cur)
        back = self.dis.calc(g_cur, g_prev, None)
        fwd = self.dis.calc(g_prev, g_cur, None)
        h, w = g_cur.shape
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        map_x, map_y = xs + back[..., 0], ys + back[..., 1]
        fwd_at = _sample(fwd, map_x, map_y)
        cycle = np.sum((back + fwd_at) ** 2, axis=-1)
        bound = 0.01 * (np.sum(back**2, axis=-1) + np.sum(fwd_at**2, axis=-1)) + 0.5
        inside = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
        return Motion(map_x, map_y, (cycle < bound) & inside)

    @staticmethod
    def error(motion: Motion, out_prev: np.ndarray, out_cur: np.ndarray) -> float:
        """Mean squared difference (0..1 values) of ``out_cur`` and the warped ``out_prev`` on the mask."""
        if not motion.mask.any():
            return 0.0
        warped = _sample(out_prev.astype(np.float32) / 255.0, motion.map_x, motion.map_y)
        diff = (out_cur.astype(np.float32) / 255.0 - warped) ** 2
        return float(diff[motion.mask].mean())

    def pair_error(self, src_prev: np.ndarray, src_cur: np.ndarray, out_prev: np.ndarray, out_cur: np.ndarray) -> float:
        """Warping error between ``out_prev`` warped by the source motion and ``out_cur``."""
        return self.error(self.motion(src_prev, src_cur), out_prev, out_cur)


class _Acc:
    def __init__(self, warper: FlowWarper) -> None:
        self.warper = warper
        self.prev: tuple[np.ndarray, np.ndarray] | None = None
        self.values: list[float] = []

    def update(self, chunk: Chunk) -> None:
        assert chunk.source is not None
        for src, out in zip(chunk.source, chunk.pred, strict=True):
            if self.prev is not None:
                self.values.append(self.warper.pair_error(self.prev[0], src, self.prev[1], out))
            self.prev = (src, out)

    def result(self) -> MetricResult:
        return mean_result(self.values)


class WarpingError:
    name = "warp"
    label = "Warp err"
    needs = frozenset({"source"})
    higher_is_better = False

    def __init__(self, ctx: MetricContext) -> None:
        self.ctx = ctx

    def start(self, conditions: Conditions) -> _Acc:
        return _Acc(FlowWarper())


METRIC = WarpingError


def warping_error(pred: np.ndarray, source: np.ndarray) -> MetricResult:
    """Warping error of uint8 ``pred`` against the motion of uint8 ``source`` (both (T, H, W, 3))."""
    if pred.shape != source.shape:
        raise EvalError(f"warp: prediction {pred.shape} and source {source.shape} differ in shape")
    acc = _Acc(FlowWarper())
    acc.update(Chunk(pred=pred, source=source))
    return acc.result()
