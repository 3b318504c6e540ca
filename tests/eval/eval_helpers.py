"""Helpers for evaluation tests: a tiny random CLIP saved in the real weights' layout, a tiny CSD
checkpoint in the public checkpoint's layout, and textured moving clips."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch


def _byte_chars() -> list[str]:
    """GPT-2/CLIP byte-level alphabet: 256 printable stand-ins for the 256 byte values."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def save_tiny_clip(folder: Path, seed: int = 0) -> Path:
    """A random CLIP (tiny sizes, QuickGELU like OpenAI's) with a byte-level tokenizer, saved with
    save_pretrained like openai/clip-vit-large-patch14 (config.json, model.safetensors, tokenizer)."""
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    chars = _byte_chars()
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": i + len(chars) for i, c in enumerate(chars)})
    bos, eos = len(vocab), len(vocab) + 1
    vocab["<|startoftext|>"], vocab["<|endoftext|>"] = bos, eos
    tok = CLIPTokenizer(vocab=vocab, merges=[])
    torch.manual_seed(seed)
    cfg = CLIPConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, bos_token_id=bos, eos_token_id=eos,
                         pad_token_id=eos, hidden_act="quick_gelu"),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8, hidden_act="quick_gelu"),
        projection_dim=16,
    )
    model = CLIPModel(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder), safe_serialization=True)
    tok.save_pretrained(str(folder))
    return folder


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
