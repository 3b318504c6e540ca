"""ImagingQuality (VBench): MUSIQ trained on SPAQ scores each frame, frames resized so the longer
side is at most 512 (bilinear, antialias=False), mean over frames, divided by 100.

MUSIQ comes from pyiqa, an optional extra (non-commercial licence). pyiqa imports torchvision,
which does not work with this project's torch build, so here ``iq`` fails with one clear line
unless pyiqa (and a torchvision matching torch) are importable. The scoring loop takes any
``scorer(frame [1, 3, h, w] in 0..1) -> score`` so the protocol itself is tested without pyiqa.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from rtrdit.eval.metrics.base import Chunk, Conditions, EvalError, MetricContext, MetricResult, mean_result
from rtrdit.eval.metrics.preprocess import iq_pixels
from rtrdit.eval.weights import MUSIQ_SPAQ, require

Scorer = Callable[[torch.Tensor], torch.Tensor]


def load_musiq(path: Path, device: str = "cpu") -> Scorer:
    """pyiqa's MUSIQ with the SPAQ checkpoint at ``path``, as VBench builds it."""
    try:
        from pyiqa.archs.musiq_arch import MUSIQ  # type: ignore[import-not-found]
    except Exception as exc:  # noqa: BLE001 - ImportError, or torchvision failing inside pyiqa
        raise EvalError(
            "iq needs the optional pyiqa package (MUSIQ; non-commercial licence), which imports torchvision; "
            f"it is not usable here ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None
    model = MUSIQ(pretrained_model_path=str(path))
    model.training = False
    return model.to(device).eval()


def frame_scores(frames: np.ndarray, scorer: Scorer, device: str = "cpu", limit: int = 512) -> list[float]:
    """MUSIQ score / 100 of each uint8 frame ``(T, H, W, 3)`` after VBench's longer-side resize."""
    out = []
    with torch.no_grad():
        for frame in frames:
            score = scorer(iq_pixels(frame, limit).to(device))
            out.append(float(torch.as_tensor(score).float().mean()) / 100.0)
    return out


class _Acc:
    def __init__(self, scorer: Scorer, device: str) -> None:
        self.scorer, self.device, self.values = scorer, device, []

    def update(self, chunk: Chunk) -> None:
        self.values += frame_scores(chunk.pred, self.scorer, self.device)

    def result(self) -> MetricResult:
        return mean_result(self.values)


class ImagingQuality:
    name = "iq"
    label = "IQ"
    needs: frozenset[str] = frozenset()
    higher_is_better = True

    def __init__(self, ctx: MetricContext, scorer: Scorer | None = None) -> None:
        self.ctx = ctx
        self.scorer: Scorer = scorer if scorer is not None else ctx.shared(
            "musiq_spaq", lambda: load_musiq(require(ctx.weights, MUSIQ_SPAQ), ctx.device))

    def start(self, conditions: Conditions) -> _Acc:
        return _Acc(self.scorer, self.ctx.device)


METRIC = ImagingQuality
