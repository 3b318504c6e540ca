"""CLIP-T: text-video alignment, the mean over frames of cos(CLIP text embedding of the prompt,
CLIP image embedding of the frame), reported as a raw cosine (the paper's 0.2585)."""

from __future__ import annotations

import torch

from rtrdit.eval.metrics.base import Chunk, Conditions, EvalError, MetricContext, MetricResult, mean_result
from rtrdit.eval.metrics.clip_backbone import ClipModel, shared_clip


class _Acc:
    def __init__(self, clip: ClipModel, text: torch.Tensor, batch_size: int) -> None:
        self.clip, self.text, self.batch_size, self.values = clip, text, batch_size, []

    def update(self, chunk: Chunk) -> None:
        emb = self.clip.embed_images(chunk.pred, "openai", self.batch_size)
        self.values += (emb @ self.text).tolist()

    def result(self) -> MetricResult:
        return mean_result(self.values)


class ClipT:
    name = "clip_t"
    label = "CLIP-T"
    needs = frozenset({"prompt"})
    higher_is_better = True

    def __init__(self, ctx: MetricContext) -> None:
        self.ctx = ctx
        self.clip = shared_clip(ctx)

    def start(self, conditions: Conditions) -> _Acc:
        if not conditions.prompt:
            raise EvalError(f"clip_t needs a prompt for {conditions.name} (--prompt TEXT or a 'prompt' in --list)")
        text = self.clip.embed_texts([conditions.prompt])[0]
        return _Acc(self.clip, text, self.ctx.batch_size)


METRIC = ClipT
