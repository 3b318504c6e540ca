"""CSD-Score (Somepalli et al. 2024): style similarity between the reference image and each frame.

CSD is an OpenAI CLIP ViT-L/14 vision tower without its projection (1024-d) followed by a learned
style head (1024x768); score = mean over frames of cos(style(reference), style(frame)). The public
checkpoint is a training checkpoint (``model_state_dict``, keys prefixed ``module.``, OpenAI CLIP
names); every key is mapped explicitly onto open_clip's (OpenAI-named) vision tower and any key left
over or missing is refused, because a lenient load can silently load nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rtrdit.eval.metrics.base import Chunk, Conditions, EvalError, MetricContext, MetricResult, mean_result
from rtrdit.eval.metrics.clip_backbone import vision_shape, vision_tower
from rtrdit.eval.metrics.preprocess import clip_pixels_pil
from rtrdit.eval.weights import CSD, load_strict, read_checkpoint, require

STYLE_HEAD = "last_layer_style"
KNOWN_HEADS = (STYLE_HEAD, "last_layer_content")  # the content head is not used by the score


def strip_module_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove the DataParallel ``module.`` prefix; all keys must have it or none."""
    prefixed = [k.startswith("module.") for k in state]
    if any(prefixed) and not all(prefixed):
        odd = next(k for k in state if not k.startswith("module."))
        raise EvalError(f"CSD checkpoint mixes 'module.'-prefixed and plain keys (e.g. {odd!r})")
    return {k.removeprefix("module."): v for k, v in state.items()} if any(prefixed) else dict(state)


def split_checkpoint(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The explicit key mapping of the public checkpoint (prefix already stripped): ``backbone.<name>``
    -> the OpenAI/open_clip vision tower's ``<name>``, ``last_layer_style`` -> the style head; the
    content head is dropped and any other key is refused."""
    if STYLE_HEAD not in state:
        raise EvalError(f"CSD checkpoint lacks the style head 'module.{STYLE_HEAD}'")
    leftover = sorted(k for k in state if not k.startswith("backbone.") and k not in KNOWN_HEADS)
    if leftover:
        raise EvalError(f"CSD checkpoint has unexpected keys: {', '.join(leftover[:5])}")
    visual = {k.removeprefix("backbone."): v for k, v in state.items() if k.startswith("backbone.")}
    return visual, state[STYLE_HEAD].float()


@dataclass
class CSDModel:
    """The CLIP vision tower (open_clip, no projection) and the style head of CSD."""

    vision: Any  # open_clip VisionTransformer with proj=None: pooled 'ln_post' features
    style_head: torch.Tensor  # [width, style_dim]
    device: str

    @torch.no_grad()
    def embed(self, frames: np.ndarray, batch_size: int = 16) -> torch.Tensor:
        """Unit-length style embeddings ``[T, style_dim]`` of uint8 frames ``(T, H, W, 3)``."""
        size = int(self.vision.image_size[0])
        out = []
        for i in range(0, len(frames), batch_size):
            pixels = clip_pixels_pil(frames[i : i + batch_size], size).to(self.device)
            feat = self.vision(pixels)
            out.append(F.normalize(feat.float() @ self.style_head, dim=-1).cpu())
        return torch.cat(out)


def csd_from_state_dict(checkpoint: Any, device: str = "cpu") -> CSDModel:
    """Build CSD from a loaded checkpoint (a training checkpoint with ``model_state_dict`` or a plain
    state dict); refuses missing and leftover keys."""
    state = checkpoint.get("model_state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise EvalError("CSD checkpoint is not a state dict (expected 'model_state_dict' with tensors)")
    visual, head = split_checkpoint(strip_module_prefix(state))
    shape = vision_shape(visual, "CSD checkpoint", prefix="module.backbone.")
    tower = vision_tower(shape, output_dim=None)
    load_strict(tower, visual, "CSD checkpoint backbone tensors", prefix="backbone.")
    if head.ndim != 2 or head.shape[0] != shape.width:
        raise EvalError(f"CSD style head has shape {tuple(head.shape)}, expected ({shape.width}, N)")
    return CSDModel(vision=tower.to(device).eval(), style_head=head.to(device), device=device)


def load_csd(path: Path, device: str = "cpu") -> CSDModel:
    """Load the CSD checkpoint file (torch pickle read with weights_only=True, or safetensors)."""
    return csd_from_state_dict(read_checkpoint(path, "CSD checkpoint"), device)


class _Acc:
    def __init__(self, model: CSDModel, ref: torch.Tensor, batch_size: int) -> None:
        self.model, self.ref, self.batch_size, self.values = model, ref, batch_size, []

    def update(self, chunk: Chunk) -> None:
        self.values += (self.model.embed(chunk.pred, self.batch_size) @ self.ref).tolist()

    def result(self) -> MetricResult:
        return mean_result(self.values)


class CSDScore:
    name = "csd"
    label = "CSD-Score"
    needs = frozenset({"reference"})
    higher_is_better = True

    def __init__(self, ctx: MetricContext) -> None:
        self.ctx = ctx
        self.model: CSDModel = ctx.shared("csd", lambda: load_csd(require(ctx.weights, CSD), ctx.device))

    def start(self, conditions: Conditions) -> _Acc:
        if conditions.reference is None:
            raise EvalError(f"csd needs a reference image for {conditions.name} "
                            "(--ref IMAGE or a 'reference' in --list)")
        ref = self.model.embed(conditions.reference[None], 1)[0]
        return _Acc(self.model, ref, self.ctx.batch_size)


METRIC = CSDScore
