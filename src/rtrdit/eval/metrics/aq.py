"""AestheticQuality (VBench): the LAION linear head ``Linear(768, 1)`` on the L2-normalised
OpenAI CLIP ViT-L/14 image embedding (VBench's uint8-tensor preprocessing), divided by 10,
averaged over frames."""

from __future__ import annotations

from pathlib import Path

import torch

from rtrdit.eval.metrics.base import Chunk, Conditions, EvalError, MetricContext, MetricResult, mean_result
from rtrdit.eval.metrics.clip_backbone import ClipModel, shared_clip
from rtrdit.eval.weights import AESTHETIC_HEAD, read_checkpoint, require


def load_aesthetic_head(path: Path, dim: int) -> torch.nn.Linear:
    """The LAION head from its state dict (``weight [1, dim]``, ``bias [1]``), strictly."""
    state = read_checkpoint(path, "aesthetic head")
    if not isinstance(state, dict) or set(state) != {"weight", "bias"}:
        keys = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise EvalError(f"{path} is not the LAION aesthetic head (expected keys weight, bias; got {keys})")
    if tuple(state["weight"].shape) != (1, dim) or tuple(state["bias"].shape) != (1,):
        raise EvalError(f"{path}: aesthetic head has shape {tuple(state['weight'].shape)}, expected (1, {dim})")
    head = torch.nn.Linear(dim, 1)
    head.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return head.eval()


class _Acc:
    def __init__(self, clip: ClipModel, head: torch.nn.Linear, batch_size: int) -> None:
        self.clip, self.head, self.batch_size, self.values = clip, head, batch_size, []

    @torch.no_grad()
    def update(self, chunk: Chunk) -> None:
        emb = self.clip.embed_images(chunk.pred, "vbench", self.batch_size)
        self.values += (self.head(emb).squeeze(-1) / 10.0).tolist()

    def result(self) -> MetricResult:
        return mean_result(self.values)


class AestheticQuality:
    name = "aq"
    label = "AQ"
    needs: frozenset[str] = frozenset()
    higher_is_better = True

    def __init__(self, ctx: MetricContext) -> None:
        self.ctx = ctx
        head_path = require(ctx.weights, AESTHETIC_HEAD)  # fail on a missing file before loading CLIP
        self.clip = shared_clip(ctx)
        self.head = load_aesthetic_head(head_path, self.clip.embed_dim)

    def start(self, conditions: Conditions) -> _Acc:
        return _Acc(self.clip, self.head, self.ctx.batch_size)


METRIC = AestheticQuality
