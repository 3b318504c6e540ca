"""CLIP-F: temporal consistency, the mean cosine similarity of the CLIP image embeddings of
consecutive frames (0.99+ is typical)."""

from __future__ import annotations

import torch

from rtrdit.eval.metrics.base import Chunk, Conditions, MetricContext, MetricResult, mean_result
from rtrdit.eval.metrics.clip_backbone import ClipModel, shared_clip


def consecutive_cosines(emb: torch.Tensor, previous: torch.Tensor | None = None) -> list[float]:
    """cos(e[i-1], e[i]) of unit rows, optionally continuing after the ``previous`` row."""
    if previous is not None:
        emb = torch.cat([previous[None], emb])
    return (emb[1:] * emb[:-1]).sum(-1).tolist()


class _Acc:
    def __init__(self, clip: ClipModel, batch_size: int) -> None:
        self.clip, self.batch_size = clip, batch_size
        self.last: torch.Tensor | None = None
        self.values: list[float] = []

    def update(self, chunk: Chunk) -> None:
        emb = self.clip.embed_images(chunk.pred, "openai", self.batch_size)
        if len(emb):
            self.values += consecutive_cosines(emb, self.last)
            self.last = emb[-1]

    def result(self) -> MetricResult:
        return mean_result(self.values)


class ClipF:
    name = "clip_f"
    label = "CLIP-F"
    needs: frozenset[str] = frozenset()
    higher_is_better = True

    def __init__(self, ctx: MetricContext) -> None:
        self.ctx = ctx
        self.clip = shared_clip(ctx)

    def start(self, conditions: Conditions) -> _Acc:
        return _Acc(self.clip, self.ctx.batch_size)


METRIC = ClipF
