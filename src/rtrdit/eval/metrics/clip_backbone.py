"""CLIP ViT-L/14 (OpenAI weights in Hugging Face layout) for CLIP-T, CLIP-F and AQ.

Built on transformers' CLIPModel because open_clip imports torchvision, which does not work with
this torch build; HF's CLIP is a numerically faithful conversion of OpenAI's. Embeddings are the
projected, L2-normalised image/text embeddings, as in the standard CLIP score implementations.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rtrdit.eval.metrics.base import EvalError, MetricContext
from rtrdit.eval.metrics.preprocess import clip_pixels_pil, clip_pixels_tensor
from rtrdit.eval.weights import CLIP_L14, require

CONTEXT_LENGTH = 77  # OpenAI CLIP's text context


@dataclass
class ClipModel:
    """A loaded CLIP: the HF model, its tokenizer and the device."""

    model: Any
    tokenizer: Any
    device: str

    @property
    def image_size(self) -> int:
        return int(self.model.config.vision_config.image_size)

    @torch.no_grad()
    def embed_images(self, frames: np.ndarray, pipeline: str = "openai", batch_size: int = 16) -> torch.Tensor:
        """Unit-length projected embeddings ``[T, D]`` of uint8 frames ``(T, H, W, 3)``;
        ``pipeline`` is "openai" (PIL, CLIP-T/CLIP-F) or "vbench" (uint8 tensors, AQ)."""
        prep = clip_pixels_pil if pipeline == "openai" else clip_pixels_tensor
        out = []
        for i in range(0, len(frames), batch_size):
            pixels = prep(frames[i : i + batch_size], self.image_size).to(self.device)
            pooled = self.model.vision_model(pixel_values=pixels).pooler_output
            out.append(F.normalize(self.model.visual_projection(pooled).float(), dim=-1).cpu())
        return torch.cat(out) if out else torch.zeros(0, int(self.model.config.projection_dim))

    @torch.no_grad()
    def embed_texts(self, prompts: list[str]) -> torch.Tensor:
        """Unit-length projected text embeddings ``[B, D]`` (77 tokens, truncated like OpenAI CLIP)."""
        max_len = min(CONTEXT_LENGTH, int(self.model.config.text_config.max_position_embeddings))
        tok = self.tokenizer(prompts, padding="max_length", max_length=max_len, truncation=True, return_tensors="pt")
        out = self.model.text_model(input_ids=tok["input_ids"].to(self.device),
                                    attention_mask=tok["attention_mask"].to(self.device))
        return F.normalize(self.model.text_projection(out.pooler_output).float(), dim=-1).cpu()


def load_clip(path: Path, device: str = "cpu") -> ClipModel:
    """Load a CLIP model folder in HF layout (config.json, model.safetensors, tokenizer files)."""
    from transformers import CLIPModel, CLIPTokenizer

    for name in ("config.json", "model.safetensors"):
        if not (path / name).exists():
            raise EvalError(f"missing weights file {path / name} "
                            f"(part of {CLIP_L14.what}; published at {CLIP_L14.source})")
    if not ((path / "tokenizer.json").exists() or (path / "vocab.json").exists()):
        raise EvalError(f"missing weights file {path / 'vocab.json'} "
                        f"(the CLIP tokenizer; published at {CLIP_L14.source})")
    try:
        model = CLIPModel.from_pretrained(str(path), local_files_only=True, use_safetensors=True)
        tokenizer = CLIPTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise EvalError(f"cannot load CLIP from {path}: {str(exc).splitlines()[0]}") from None
    model = model.to(device=device, dtype=torch.float32).eval()
    return ClipModel(model=model, tokenizer=tokenizer, device=device)


def shared_clip(ctx: MetricContext) -> ClipModel:
    """The context's CLIP ViT-L/14, loaded once per run from ``<weights>/clip-vit-large-patch14``."""
    return ctx.shared("clip_l14", lambda: load_clip(require(ctx.weights, CLIP_L14), ctx.device))
