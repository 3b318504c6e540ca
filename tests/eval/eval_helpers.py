"""Helpers for evaluation tests: tiny random open_clip CLIP and pyiqa MUSIQ models saved in the real
weights' layout, a tiny CSD checkpoint in the public checkpoint's layout, and textured moving clips."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch


def tiny_open_clip(seed: int = 0) -> torch.nn.Module:
    """A random open_clip CLIP of OpenAI's kind at tiny size: vision width 64 (1 head), 2 layers, 32 px
    images in 8 px patches; text width 64, 2 layers, OpenAI's 49408-token vocabulary; QuickGELU."""
    import open_clip

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = open_clip.model.CLIP(
            16,
            vision_cfg=open_clip.model.CLIPVisionCfg(layers=2, width=64, patch_size=8, image_size=32),
            text_cfg=open_clip.model.CLIPTextCfg(width=64, heads=1, layers=2),
            quick_gelu=True,
        )
    return model.eval()


def tiny_hf_clip(seed: int = 0) -> torch.nn.Module:
    """The same tiny architecture as ``tiny_open_clip`` as a random transformers ``CLIPModel``, configured
    like openai/clip-vit-large-patch14 (QuickGELU, OpenAI's vocabulary, pooling at the end-of-text id)."""
    from transformers import CLIPConfig, CLIPModel

    cfg = CLIPConfig(
        text_config=dict(vocab_size=49408, hidden_size=64, intermediate_size=256, num_hidden_layers=2,  # noqa: C408
                         num_attention_heads=1, max_position_embeddings=77, bos_token_id=49406,
                         eos_token_id=49407, pad_token_id=1, hidden_act="quick_gelu"),
        vision_config=dict(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=1,  # noqa: C408
                           image_size=32, patch_size=8, hidden_act="quick_gelu"),
        projection_dim=16,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = CLIPModel(cfg)
    return model.eval()


def save_tiny_clip(weights: Path, seed: int = 0) -> Path:
    """``tiny_open_clip(seed)`` saved as safetensors where the loader expects open_clip's ViT-L/14 file."""
    from safetensors.torch import save_file

    from rtrdit.eval.weights import OPENCLIP_L14

    path = weights / OPENCLIP_L14.name
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tiny_open_clip(seed).state_dict().items()}, str(path))
    return path


def tiny_musiq(seed: int = 0) -> torch.nn.Module:
    """A random pyiqa MUSIQ with a small transformer (hidden 64, 1 head, 1 layer; the ResNet stem,
    patches and scales as in MUSIQ-SPAQ), in eval mode."""
    from pyiqa.archs.musiq_arch import MUSIQ

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = MUSIQ(pretrained=False, hidden_size=64, mlp_dim=128, num_heads=1, num_layers=1)
    return model.eval()


def csd_state(width: int = 64, layers: int = 2, patch: int = 8, image: int = 32, style_dim: int = 16,
              seed: int = 0) -> dict[str, torch.Tensor]:
    """A random CSD state dict in the public checkpoint's names (OpenAI CLIP visual, 'module.' prefix)."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape: int, scale: float = 0.1) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * scale

    grid = image // patch
    sd = {
        "conv1.weight": r(width, 3, patch, patch),
        "class_embedding": r(width),
        "positional_embedding": r(grid * grid + 1, width),
        "ln_pre.weight": 1 + r(width), "ln_pre.bias": r(width),
        "ln_post.weight": 1 + r(width), "ln_post.bias": r(width),
    }
    for i in range(layers):
        p = f"transformer.resblocks.{i}."
        sd.update({
            p + "attn.in_proj_weight": r(3 * width, width), p + "attn.in_proj_bias": r(3 * width),
            p + "attn.out_proj.weight": r(width, width), p + "attn.out_proj.bias": r(width),
            p + "ln_1.weight": 1 + r(width), p + "ln_1.bias": r(width),
            p + "ln_2.weight": 1 + r(width), p + "ln_2.bias": r(width),
            p + "mlp.c_fc.weight": r(4 * width, width), p + "mlp.c_fc.bias": r(4 * width),
            p + "mlp.c_proj.weight": r(width, 4 * width), p + "mlp.c_proj.bias": r(width),
        })
    out = {"module.backbone." + k: v for k, v in sd.items()}
    out["module.last_layer_style"] = r(width, style_dim, scale=1.0)
    out["module.last_layer_content"] = r(width, style_dim, scale=1.0)
    return out


def texture(h: int = 200, w: int = 260, seed: int = 0) -> np.ndarray:
    """A smooth random colour texture (uint8), good for optical flow."""
    rng = np.random.default_rng(seed)
    canvas = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3)).astype(np.uint8), (0, 0), 2)
    return cv2.normalize(canvas, None, 0, 255, cv2.NORM_MINMAX)


def panning_clip(frames: int = 10, step: int = 2, size: tuple[int, int] = (160, 128), seed: int = 0) -> np.ndarray:
    """A camera pan: windows of one texture shifted ``step`` pixels right per frame, (T, H, W, 3)."""
    w, h = size
    canvas = texture(h + 60, w + 60 + step * frames, seed)
    return np.stack([canvas[20 : 20 + h, 20 + step * t : 20 + step * t + w] for t in range(frames)])


def crossfade_clip(frames: int = 16, size: int = 64, seed: int = 1) -> np.ndarray:
    """A slow cross-fade from a texture to a flat colour: consecutive frames are close, frames far
    apart in time are not, so shuffling the frames must lower CLIP-F."""
    a = texture(size, size, seed).astype(np.float64)
    b = np.zeros((size, size, 3))
    b[..., 1:] = 255.0
    w = np.linspace(0.0, 1.0, frames)[:, None, None, None]
    return ((1 - w) * a + w * b).astype(np.uint8)
