"""CLIP ViT-L/14 (OpenAI weights) through open_clip, for CLIP-T, CLIP-F, AQ and CSD's vision tower.

Weights: open_clip's ``open_clip_model.safetensors`` (OpenAI names), or the same OpenAI weights in
Hugging Face layout (``clip-vit-large-patch14/model.safetensors``), whose names are mapped explicitly
onto OpenAI's; either way the model runs in open_clip with OpenAI's tokenizer. The architecture is read from the tensor shapes, as open_clip's ``build_model_from_openai_state_dict``
does (heads = width / 64, QuickGELU like OpenAI's training), and built in float32 with open_clip's
``CLIP``/``VisionTransformer``; every tensor is loaded strictly. Embeddings are the projected,
L2-normalised image/text embeddings of the standard CLIP score implementations. open_clip is
imported only when a model is built (it is part of the ``eval`` extra).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rtrdit.errors import typed_line
from rtrdit.eval.metrics.base import EvalError, MetricContext
from rtrdit.eval.metrics.preprocess import clip_pixels_pil, clip_pixels_tensor
from rtrdit.eval.weights import OPENAI_CLIP_L14_HF, OPENCLIP_L14, load_strict, read_checkpoint

CONTEXT_LENGTH = 77  # OpenAI CLIP's text context
HEAD_WIDTH = 64  # OpenAI CLIP: attention heads = width / 64

# Hugging Face CLIPModel name -> OpenAI/open_clip name, per residual block and for the towers' ends.
_HF_BLOCK = {
    "layer_norm1": "ln_1", "layer_norm2": "ln_2", "self_attn.out_proj": "attn.out_proj",
    "mlp.fc1": "mlp.c_fc", "mlp.fc2": "mlp.c_proj",
}
_HF_TOP = {
    "vision_model.embeddings.patch_embedding.weight": "visual.conv1.weight",
    "vision_model.embeddings.class_embedding": "visual.class_embedding",
    "vision_model.embeddings.position_embedding.weight": "visual.positional_embedding",
    "vision_model.pre_layrnorm.weight": "visual.ln_pre.weight", "vision_model.pre_layrnorm.bias": "visual.ln_pre.bias",
    "vision_model.post_layernorm.weight": "visual.ln_post.weight", "vision_model.post_layernorm.bias": "visual.ln_post.bias",
    "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
    "text_model.embeddings.position_embedding.weight": "positional_embedding",
    "text_model.final_layer_norm.weight": "ln_final.weight", "text_model.final_layer_norm.bias": "ln_final.bias",
    "logit_scale": "logit_scale",
}
_HF_PROJ = {"visual_projection.weight": "visual.proj", "text_projection.weight": "text_projection"}  # transposed
_HF_IGNORED = {"vision_model.embeddings.position_ids", "text_model.embeddings.position_ids"}  # index buffers
_HF_LAYER = re.compile(r"(vision_model|text_model)\.encoder\.layers\.(\d+)\.(.+)\.(weight|bias)")


def import_open_clip() -> Any:
    """The open_clip module, or EvalError saying how to install it."""
    try:
        import open_clip
    except Exception as exc:  # noqa: BLE001 - ImportError or a broken torchvision: one line
        raise EvalError("CLIP metrics need open_clip (pip install 'rtrdit[eval]'): "
                        f"{typed_line(exc)}") from None
    return open_clip


@dataclass(frozen=True)
class VisionShape:
    """A ViT's size as implied by OpenAI-named ``visual.*`` tensors (prefix removed)."""

    width: int
    layers: int
    patch: int
    image: int
    mlp_ratio: float


def vision_shape(visual: dict[str, torch.Tensor], what: str = "CLIP weights", prefix: str = "visual.") -> VisionShape:
    """Width, depth, patch and image size of a ViT from its OpenAI-named tensors; EvalError naming the
    first key that is missing (``prefix`` is only used in that message)."""
    try:
        width, _, patch, _ = visual["conv1.weight"].shape
        grid = math.isqrt(visual["positional_embedding"].shape[0] - 1)
        mlp = visual["transformer.resblocks.0.mlp.c_fc.weight"].shape[0]
    except KeyError as exc:
        raise EvalError(f"{what} lack the key {prefix + exc.args[0]!r}") from None
    layers = len({k.split(".")[2] for k in visual if k.startswith("transformer.resblocks.")})
    return VisionShape(width=int(width), layers=layers, patch=int(patch), image=grid * int(patch),
                       mlp_ratio=mlp / width)


def vision_tower(shape: VisionShape, output_dim: int | None) -> torch.nn.Module:
    """An open_clip ``VisionTransformer`` of OpenAI's kind (QuickGELU, class-token pooling); without
    the output projection when ``output_dim`` is None (CSD's backbone)."""
    transformer = import_open_clip().transformer
    tower = transformer.VisionTransformer(
        image_size=shape.image, patch_size=shape.patch, width=shape.width, layers=shape.layers,
        heads=max(1, shape.width // HEAD_WIDTH), mlp_ratio=shape.mlp_ratio, output_dim=output_dim or 1,
        act_layer=transformer.QuickGELU,
    )
    if output_dim is None:
        tower.proj = None  # as CSD does with OpenAI's visual.proj
    return tower


def clip_from_state_dict(state: dict[str, torch.Tensor], what: str = "CLIP weights") -> torch.nn.Module:
    """An open_clip ``CLIP`` (float32, eval mode) sized by an OpenAI/open_clip-named state dict."""
    open_clip = import_open_clip()
    visual = {k.removeprefix("visual."): v for k, v in state.items() if k.startswith("visual.")}
    shape = vision_shape(visual, what)
    try:
        embed_dim = int(state["text_projection"].shape[1])
        text_width = int(state["ln_final.weight"].shape[0])
        vocab, context = state["token_embedding.weight"].shape[0], state["positional_embedding"].shape[0]
        text_mlp = state["transformer.resblocks.0.mlp.c_fc.weight"].shape[0]
    except KeyError as exc:
        raise EvalError(f"{what} lack the key {exc.args[0]!r}") from None
    text_layers = len({k.split(".")[2] for k in state if k.startswith("transformer.resblocks.")})
    model = open_clip.model.CLIP(
        embed_dim,
        vision_cfg=open_clip.model.CLIPVisionCfg(layers=shape.layers, width=shape.width, patch_size=shape.patch,
                                                 image_size=shape.image, mlp_ratio=shape.mlp_ratio),
        text_cfg=open_clip.model.CLIPTextCfg(context_length=int(context), vocab_size=int(vocab), width=text_width,
                                             heads=max(1, text_width // HEAD_WIDTH), layers=text_layers,
                                             mlp_ratio=text_mlp / text_width),
        quick_gelu=True,
    )
    load_strict(model, state, what)
    return model.eval()


def openai_names_from_hf(state: dict[str, torch.Tensor], what: str = "CLIP weights") -> dict[str, torch.Tensor]:
    """A transformers ``CLIPModel`` state dict renamed to OpenAI/open_clip names: q/k/v projections are
    fused into ``in_proj``, projection matrices transposed; an unknown key raises EvalError."""
    out: dict[str, torch.Tensor] = {}
    qkv: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if key in _HF_TOP:
            out[_HF_TOP[key]] = value
        elif key in _HF_PROJ:
            out[_HF_PROJ[key]] = value.t().contiguous()
        elif key in _HF_IGNORED:
            continue
        elif (m := _HF_LAYER.fullmatch(key)) is not None:
            tower, i, name, kind = m.groups()
            block = f"{'visual.' if tower == 'vision_model' else ''}transformer.resblocks.{i}."
            if name in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"):
                qkv.setdefault(f"{block}attn.in_proj_{kind}", {})[name[10]] = value
            elif name in _HF_BLOCK:
                out[f"{block}{_HF_BLOCK[name]}.{kind}"] = value
            else:
                raise EvalError(f"{what} have an unexpected Hugging Face key {key!r}")
        else:
            raise EvalError(f"{what} have an unexpected Hugging Face key {key!r}")
    for name, parts in qkv.items():
        if set(parts) != {"q", "k", "v"}:
            raise EvalError(f"{what} lack part of {name} (q/k/v projections: have {''.join(sorted(parts))})")
        out[name] = torch.cat([parts["q"], parts["k"], parts["v"]], dim=0)
    return out


@dataclass
class ClipModel:
    """A loaded CLIP: the open_clip model, its tokenizer (OpenAI's BPE, 77 tokens) and the device."""

    model: Any
    tokenizer: Any
    device: str

    @property
    def image_size(self) -> int:
        return int(self.model.visual.image_size[0])

    @property
    def embed_dim(self) -> int:
        return int(self.model.text_projection.shape[1])

    @torch.no_grad()
    def embed_images(self, frames: np.ndarray, pipeline: str = "openai", batch_size: int = 16) -> torch.Tensor:
        """Unit-length projected embeddings ``[T, D]`` of uint8 frames ``(T, H, W, 3)``;
        ``pipeline`` is "openai" (PIL, CLIP-T/CLIP-F) or "vbench" (uint8 tensors, AQ)."""
        prep = clip_pixels_pil if pipeline == "openai" else clip_pixels_tensor
        out = []
        for i in range(0, len(frames), batch_size):
            pixels = prep(frames[i : i + batch_size], self.image_size).to(self.device)
            out.append(self.model.encode_image(pixels, normalize=True).float().cpu())
        return torch.cat(out) if out else torch.zeros(0, self.embed_dim)

    @torch.no_grad()
    def embed_texts(self, prompts: list[str]) -> torch.Tensor:
        """Unit-length projected text embeddings ``[B, D]`` (77 tokens, truncated like OpenAI CLIP)."""
        context = min(CONTEXT_LENGTH, int(self.model.positional_embedding.shape[0]))
        tokens = self.tokenizer(prompts, context_length=context).to(self.device)
        return self.model.encode_text(tokens, normalize=True).float().cpu()


def load_clip(path: Path, device: str = "cpu") -> ClipModel:
    """Load CLIP from open_clip's ``open_clip_model.safetensors`` or a Hugging Face ``model.safetensors``
    (told apart by their key names), with OpenAI's tokenizer."""
    open_clip = import_open_clip()
    what = f"CLIP weights {path}"
    state = read_checkpoint(path, "CLIP weights")
    if any(k.startswith(("vision_model.", "text_model.")) for k in state):
        state = openai_names_from_hf(state, what)
    model = clip_from_state_dict(state, what)
    tokenizer = open_clip.tokenizer.SimpleTokenizer(context_length=CONTEXT_LENGTH)
    return ClipModel(model=model.to(device), tokenizer=tokenizer, device=device)


def clip_weights_path(weights: Path | None) -> Path:
    """The CLIP ViT-L/14 file under ``weights``: open_clip's file, else the Hugging Face layout; when
    neither is there, EvalError naming both and where they are published."""
    if weights is not None:
        for file in (OPENCLIP_L14, OPENAI_CLIP_L14_HF):
            if (Path(weights) / file.name).is_file():
                return Path(weights) / file.name
    where = "--weights DIR containing" if weights is None else f"missing weights file {Path(weights) / OPENCLIP_L14.name}:"
    raise EvalError(f"{where} {OPENCLIP_L14.name} ({OPENCLIP_L14.what}; published at {OPENCLIP_L14.source}), "
                    f"or {OPENAI_CLIP_L14_HF.name} ({OPENAI_CLIP_L14_HF.source})")


def shared_clip(ctx: MetricContext) -> ClipModel:
    """The context's CLIP ViT-L/14 (see ``clip_weights_path``), loaded once per run."""
    return ctx.shared("clip_l14", lambda: load_clip(clip_weights_path(ctx.weights), ctx.device))
