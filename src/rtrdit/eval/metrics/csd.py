"""CSD-Score (Somepalli et al. 2024): style similarity between the reference image and each frame.

CSD is an OpenAI CLIP ViT-L/14 vision tower without its projection (1024-d) followed by a learned
style head (1024x768); score = mean over frames of cos(style(reference), style(frame)). The public
checkpoint is a training checkpoint (``model_state_dict``, keys prefixed ``module.``, OpenAI CLIP
names); every key is mapped explicitly onto transformers' CLIP vision tower and any key left over
or missing is refused, because a lenient load can silently load nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rtrdit.eval.metrics.base import Chunk, Conditions, EvalError, MetricContext, MetricResult, mean_result
from rtrdit.eval.metrics.preprocess import clip_pixels_pil
from rtrdit.eval.weights import CSD, require

# OpenAI VisionTransformer name -> HF CLIPVisionTransformer name (per residual block).
_BLOCK = {
    "ln_1.weight": "layer_norm1.weight", "ln_1.bias": "layer_norm1.bias",
    "ln_2.weight": "layer_norm2.weight", "ln_2.bias": "layer_norm2.bias",
    "attn.out_proj.weight": "self_attn.out_proj.weight", "attn.out_proj.bias": "self_attn.out_proj.bias",
    "mlp.c_fc.weight": "mlp.fc1.weight", "mlp.c_fc.bias": "mlp.fc1.bias",
    "mlp.c_proj.weight": "mlp.fc2.weight", "mlp.c_proj.bias": "mlp.fc2.bias",
}
_TOP = {
    "conv1.weight": "embeddings.patch_embedding.weight",
    "class_embedding": "embeddings.class_embedding",
    "positional_embedding": "embeddings.position_embedding.weight",
    "ln_pre.weight": "pre_layrnorm.weight", "ln_pre.bias": "pre_layrnorm.bias",
    "ln_post.weight": "post_layernorm.weight", "ln_post.bias": "post_layernorm.bias",
}
_RESBLOCK = re.compile(r"transformer\.resblocks\.(\d+)\.(.+)")


def strip_module_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove the DataParallel ``module.`` prefix; all keys must have it or none."""
    prefixed = [k.startswith("module.") for k in state]
    if any(prefixed) and not all(prefixed):
        odd = next(k for k in state if not k.startswith("module."))
        raise EvalError(f"CSD checkpoint mixes 'module.'-prefixed and plain keys (e.g. {odd!r})")
    return {k.removeprefix("module."): v for k, v in state.items()} if any(prefixed) else dict(state)


def map_openai_visual(visual: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """OpenAI CLIP ``visual.*`` tensors (prefix removed) -> HF ``CLIPVisionTransformer`` state dict;
    the fused attention ``in_proj`` is split into q/k/v. Unknown keys raise EvalError."""
    out: dict[str, torch.Tensor] = {}
    for key, value in visual.items():
        value = value.float()
        if key in _TOP:
            out[_TOP[key]] = value
            continue
        m = _RESBLOCK.fullmatch(key)
        if m is None:
            raise EvalError(f"CSD checkpoint has an unexpected backbone key {'backbone.' + key!r}")
        i, rest = m.group(1), m.group(2)
        prefix = f"encoder.layers.{i}."
        if rest in ("attn.in_proj_weight", "attn.in_proj_bias"):
            kind = rest.rsplit("_", 1)[1]
            for name, part in zip(("q_proj", "k_proj", "v_proj"), value.chunk(3, dim=0), strict=True):
                out[f"{prefix}self_attn.{name}.{kind}"] = part.contiguous()
        elif rest in _BLOCK:
            out[prefix + _BLOCK[rest]] = value
        else:
            raise EvalError(f"CSD checkpoint has an unexpected backbone key {'backbone.' + key!r}")
    return out


def vision_config_from_openai(visual: dict[str, torch.Tensor]) -> Any:
    """The CLIP vision config implied by the tensor shapes, as OpenAI's ``build_model`` infers it
    (heads = width / 64, QuickGELU); ViT-L/14 gives width 1024, 24 layers, patch 14, image 224."""
    from transformers import CLIPVisionConfig

    try:
        width, _, patch, _ = visual["conv1.weight"].shape
        grid = math.isqrt(visual["positional_embedding"].shape[0] - 1)
        layers = len({k.split(".")[2] for k in visual if k.startswith("transformer.resblocks.")})
        mlp = visual["transformer.resblocks.0.mlp.c_fc.weight"].shape[0]
    except KeyError as exc:
        raise EvalError(f"CSD checkpoint lacks the backbone key 'backbone.{exc.args[0]}'") from None
    return CLIPVisionConfig(
        hidden_size=width, intermediate_size=mlp, num_hidden_layers=layers,
        num_attention_heads=max(1, width // 64), image_size=grid * patch, patch_size=patch,
        hidden_act="quick_gelu", layer_norm_eps=1e-5,
    )


@dataclass
class CSDModel:
    """The CLIP vision tower and the style head of CSD."""

    vision: Any  # the transformers CLIP vision tower (embeddings, pre_layrnorm, encoder, post_layernorm)
    style_head: torch.Tensor  # [width, style_dim]
    device: str

    @torch.no_grad()
    def embed(self, frames: np.ndarray, batch_size: int = 16) -> torch.Tensor:
        """Unit-length style embeddings ``[T, style_dim]`` of uint8 frames ``(T, H, W, 3)``."""
        size = int(self.vision.config.image_size)
        out = []
        for i in range(0, len(frames), batch_size):
            pixels = clip_pixels_pil(frames[i : i + batch_size], size).to(self.device)
            feat = self.vision(pixel_values=pixels).pooler_output
            out.append(F.normalize(feat.float() @ self.style_head, dim=-1).cpu())
        return torch.cat(out)


def csd_from_state_dict(checkpoint: Any, device: str = "cpu") -> CSDModel:
    """Build CSD from a loaded checkpoint (a training checkpoint with ``model_state_dict`` or a plain
    state dict); refuses missing and leftover keys."""
    from transformers import CLIPVisionModel

    state = checkpoint.get("model_state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise EvalError("CSD checkpoint is not a state dict (expected 'model_state_dict' with tensors)")
    state = strip_module_prefix(state)
    visual = {k.removeprefix("backbone."): v for k, v in state.items() if k.startswith("backbone.")}
    if "last_layer_style" not in state:
        raise EvalError("CSD checkpoint lacks the style head 'module.last_layer_style'")
    known_heads = ("last_layer_style", "last_layer_content")  # the content head is not used by the score
    leftover = sorted(k for k in state if not k.startswith("backbone.") and k not in known_heads)
    if leftover:
        raise EvalError(f"CSD checkpoint has unexpected keys: {', '.join(leftover[:5])}")
    mapped = map_openai_visual(visual)
    model = CLIPVisionModel(vision_config_from_openai(visual))
    tower = getattr(model, "vision_model", model)  # transformers < 5 nests the tower, 5.x does not
    expected = set(tower.state_dict())
    missing, extra = sorted(expected - set(mapped)), sorted(set(mapped) - expected)
    if missing or extra:
        what = f"missing {', '.join(missing[:4])}" if missing else f"unexpected {', '.join(extra[:4])}"
        raise EvalError(f"CSD checkpoint does not match a CLIP vision tower: {what}")
    try:
        tower.load_state_dict(mapped, strict=True)
    except RuntimeError as exc:
        raise EvalError(f"CSD checkpoint has tensors of the wrong shape: {str(exc).splitlines()[-1].strip()}") from None
    head = state["last_layer_style"].float()
    if head.shape[0] != model.config.hidden_size:
        raise EvalError(f"CSD style head has shape {tuple(head.shape)}, expected ({model.config.hidden_size}, N)")
    return CSDModel(vision=tower.to(device).eval(), style_head=head.to(device), device=device)


def load_csd(path: Path, device: str = "cpu") -> CSDModel:
    """Load the CSD checkpoint file (torch pickle read with weights_only=True, or safetensors)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            checkpoint: Any = load_file(str(path))
        else:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unreadable or unsafe pickle: one line for the user
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise EvalError(f"cannot read the CSD checkpoint {path}: {first}") from None
    return csd_from_state_dict(checkpoint, device)


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
