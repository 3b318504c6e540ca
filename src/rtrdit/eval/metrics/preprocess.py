"""Image preprocessing of the standard metric implementations, in torch/PIL (no torchvision).

Two CLIP pipelines exist and scores depend on which one is used: OpenAI CLIP's own (PIL bicubic
resize of the shorter side, antialiased) used for CLIP-T/CLIP-F and CSD, and VBench's (bicubic on
uint8 tensors with antialias=False, rounded back to uint8) used for AestheticQuality. ImagingQuality
(VBench) resizes so the longer side is at most 512 (bilinear, antialias=False).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def shorter_side_size(height: int, width: int, n: int) -> tuple[int, int]:
    """(new_h, new_w) with the shorter side ``n`` and the aspect kept, truncated like torchvision's
    ``Resize(n)``."""
    if width <= height:
        return int(n * height / width), n
    return n, int(n * width / height)


def longer_side_size(height: int, width: int, limit: int = 512) -> tuple[int, int]:
    """(new_h, new_w) for VBench's ImagingQuality rule: if the longer side exceeds ``limit``, scale
    by ``limit / longer`` and truncate each side (640x832 -> 393x512); otherwise keep the size."""
    if max(height, width) <= limit:
        return height, width
    scale = float(limit) / max(height, width)
    return int(scale * height), int(scale * width)


def center_crop_box(height: int, width: int, n: int) -> tuple[int, int]:
    """(top, left) of torchvision's ``CenterCrop(n)``."""
    return round((height - n) / 2.0), round((width - n) / 2.0)


def _normalize(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(CLIP_MEAN, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean) / std


def resize_uint8(images: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """Resize uint8 ``[N, 3, H, W]`` to ``size = (h, w)`` as torchvision does for uint8 tensors with
    antialias=False: float interpolation, clamp (bicubic), round, back to uint8."""
    x = F.interpolate(images.float(), size=size, mode=mode, align_corners=False, antialias=False)
    if mode == "bicubic":
        x = x.clamp(0, 255)
    return x.round().to(torch.uint8)


def clip_pixels_tensor(frames: np.ndarray, n: int = 224) -> torch.Tensor:
    """VBench's CLIP transform on uint8 frames ``(T, H, W, 3)`` -> normalised float ``[T, 3, n, n]``."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    h, w = shorter_side_size(x.shape[2], x.shape[3], n)
    x = resize_uint8(x, (h, w), "bicubic")
    top, left = center_crop_box(h, w, n)
    x = x[:, :, top : top + n, left : left + n]
    return _normalize(x.float() / 255.0)


def clip_pixels_pil(frames: np.ndarray, n: int = 224) -> torch.Tensor:
    """OpenAI CLIP's preprocessing (PIL bicubic resize of the shorter side, center crop, /255,
    CLIP mean/std) on uint8 frames ``(T, H, W, 3)`` -> float ``[T, 3, n, n]``."""
    out = []
    for frame in frames:
        img = Image.fromarray(np.ascontiguousarray(frame))
        h, w = shorter_side_size(img.height, img.width, n)
        img = img.resize((w, h), Image.Resampling.BICUBIC)
        top, left = center_crop_box(h, w, n)
        img = img.crop((left, top, left + n, top + n))
        out.append(torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()))
    x = torch.stack(out).permute(0, 3, 1, 2).float() / 255.0
    return _normalize(x)


def iq_pixels(frame: np.ndarray, limit: int = 512) -> torch.Tensor:
    """VBench's ImagingQuality input for one uint8 frame ``(H, W, 3)``: longer side at most ``limit``
    (bilinear, antialias=False, rounded to uint8), then /255 -> float ``[1, 3, h, w]``."""
    x = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None]
    size = longer_side_size(x.shape[2], x.shape[3], limit)
    if size != (x.shape[2], x.shape[3]):
        x = resize_uint8(x, size, "bilinear")
    return x.float() / 255.0
