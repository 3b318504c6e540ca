"""ImagingQuality (VBench): MUSIQ trained on SPAQ scores each frame, frames resized so the longer
side is at most 512 (bilinear, antialias=False), mean over frames, divided by 100.

MUSIQ is pyiqa's architecture (``pyiqa.archs.musiq_arch.MUSIQ``), an optional extra because pyiqa is
licensed for non-commercial use. It is built with ``pretrained=False`` (pyiqa would otherwise download)
and the checkpoint is loaded here the way pyiqa's ``load_pretrained_network`` does for MUSIQ (a flat
state dict, DataParallel ``module.`` prefix removed, strict), but read with weights_only=True. The
scoring loop takes any ``scorer(frame [1, 3, h, w] in 0..1) -> score``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rtrdit.errors import typed_line
from rtrdit.eval.metrics.base import Chunk, Conditions, EvalError, MetricContext, MetricResult, mean_result
from rtrdit.eval.metrics.preprocess import iq_pixels
from rtrdit.eval.weights import MUSIQ_SPAQ, load_strict, read_checkpoint, require

Scorer = Callable[[torch.Tensor], torch.Tensor]
_BLOCK = "transformer_encoder.transformer.encoderblock_"
RESNET_TOKEN_DIM = 256  # MUSIQ's ResNet stem gives 64 * 4 channels per token pixel
HEAD_WIDTH = 64  # MUSIQ-SPAQ: 384 hidden, 6 heads


def import_musiq() -> type:
    """pyiqa's MUSIQ class, or EvalError saying how to install the optional extra."""
    try:
        from pyiqa.archs.musiq_arch import MUSIQ
    except Exception as exc:  # noqa: BLE001 - ImportError, or a dependency failing inside pyiqa
        raise EvalError(
            "iq needs the optional pyiqa package (MUSIQ; non-commercial licence): pip install 'rtrdit[eval]' "
            f"({typed_line(exc)})"
        ) from None
    return MUSIQ  # type: ignore[no-any-return]


def musiq_state(checkpoint: Any, path: Path) -> dict[str, torch.Tensor]:
    """The state dict of a pyiqa MUSIQ checkpoint: a flat dict of tensors (pyiqa loads MUSIQ with no
    ``weight_keys``), with the ``module.`` prefix removed as pyiqa's ``clean_state_dict`` does."""
    if not isinstance(checkpoint, dict) or not checkpoint or not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        keys = sorted(checkpoint)[:4] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise EvalError(f"{path} is not a MUSIQ state dict (expected a flat dict of tensors as pyiqa saves it; got {keys})")
    return {k.removeprefix("module."): v for k, v in checkpoint.items()}


def musiq_arch(state: dict[str, torch.Tensor], path: Path) -> dict[str, int]:
    """MUSIQ's constructor sizes implied by the tensor shapes (SPAQ: patch 32, hidden 384, MLP 1152,
    14 layers, 6 heads, 3 scales, grid 10); the head must be one score (``head.weight [1, hidden]``)."""
    try:
        hidden, tokens = state["embedding.weight"].shape
        mlp = state[_BLOCK + "0.mlp.fc1.weight"].shape[0]
        grid = math.isqrt(state["transformer_encoder.posembed_input.position_emb"].shape[1])
        scales = state["transformer_encoder.scaleembed_input.scale_emb"].shape[0]
        head = state["head.weight"].shape
    except KeyError as exc:
        raise EvalError(f"{path} is not a MUSIQ-SPAQ checkpoint (no {exc.args[0]!r})") from None
    if tuple(head) != (1, hidden):
        raise EvalError(f"{path}: MUSIQ head has shape {tuple(head)}, expected (1, {hidden}) (a one-score model like SPAQ)")
    layers = len({k[len(_BLOCK):].split(".")[0] for k in state if k.startswith(_BLOCK)})
    patch = 4 * math.isqrt(tokens // RESNET_TOKEN_DIM)
    return {"patch_size": patch, "hidden_size": int(hidden), "mlp_dim": int(mlp),
            "num_heads": max(1, int(hidden) // HEAD_WIDTH), "num_layers": layers, "num_scales": int(scales),
            "spatial_pos_grid_size": grid}


def load_musiq(path: Path, device: str = "cpu") -> torch.nn.Module:
    """pyiqa's MUSIQ (eval mode, num_class 1, VBench's defaults otherwise) with the checkpoint at ``path``."""
    musiq = import_musiq()
    state = musiq_state(read_checkpoint(path, "MUSIQ checkpoint"), path)
    model = musiq(pretrained=False, num_class=1, **musiq_arch(state, path))
    load_strict(model, state, f"MUSIQ checkpoint {path}")
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
