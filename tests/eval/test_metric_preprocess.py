"""The resize/crop rules of the standard metric implementations (reimplemented in torch/PIL), checked
against torchvision's transforms as VBench and CLIP use them."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from rtrdit.eval.metrics.preprocess import (
    CLIP_MEAN,
    CLIP_STD,
    center_crop_box,
    clip_pixels_pil,
    clip_pixels_tensor,
    iq_pixels,
    longer_side_size,
    shorter_side_size,
)


def test_iq_resize_rule_maps_640x832_to_393x512() -> None:
    assert longer_side_size(640, 832) == (393, 512)
    assert longer_side_size(832, 640) == (512, 393)
    assert longer_side_size(480, 512) == (480, 512)  # longer side already <= 512: unchanged
    frame = np.zeros((640, 832, 3), np.uint8)
    assert tuple(iq_pixels(frame).shape) == (1, 3, 393, 512)


def test_iq_pixels_are_rounded_uint8_values_over_255() -> None:
    frame = np.random.default_rng(0).integers(0, 256, (640, 832, 3), dtype=np.uint8)
    x = iq_pixels(frame)
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert torch.allclose(x * 255, (x * 255).round(), atol=1e-4)  # resized as uint8, like VBench
    small = frame[:300, :400]
    assert torch.equal(iq_pixels(small), torch.from_numpy(small).permute(2, 0, 1)[None].float() / 255)


def test_shorter_side_and_center_crop_follow_torchvision() -> None:
    assert shorter_side_size(640, 832, 224) == (224, 291)  # int(224 * 832 / 640) = 291
    assert shorter_side_size(832, 640, 224) == (291, 224)
    assert center_crop_box(224, 291, 224) == (0, 34)  # round(67 / 2) = 34 (half to even)


def _normalized(frame: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255
    return (x - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(CLIP_STD).view(1, 3, 1, 1)


def test_both_clip_pipelines_leave_a_square_frame_of_the_right_size_untouched() -> None:
    frame = np.random.default_rng(1).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    assert torch.allclose(clip_pixels_tensor(frame[None]), _normalized(frame), atol=1e-6)
    assert torch.allclose(clip_pixels_pil(frame[None]), _normalized(frame), atol=1e-6)


def test_pil_pipeline_is_pil_bicubic_then_center_crop() -> None:
    frame = np.random.default_rng(2).integers(0, 256, (100, 150, 3), dtype=np.uint8)
    img = Image.fromarray(frame).resize((48, 32), Image.Resampling.BICUBIC).crop((8, 0, 40, 32))
    assert torch.allclose(clip_pixels_pil(frame[None], 32), _normalized(np.asarray(img).copy()), atol=1e-6)
    # the tensor pipeline (antialias=False) is a different, non-antialiased resize
    assert not torch.allclose(clip_pixels_tensor(frame[None], 32), clip_pixels_pil(frame[None], 32), atol=1e-3)


def test_tensor_pipeline_equals_vbench_torchvision_transform() -> None:
    """VBench's aesthetic clip_transform: Resize(n, bicubic, antialias=False) and CenterCrop on uint8
    tensors, /255, CLIP mean/std."""
    from torchvision import transforms

    vbench = transforms.Compose([
        transforms.Resize(224, interpolation=transforms.InterpolationMode.BICUBIC, antialias=False),
        transforms.CenterCrop(224),
        transforms.Lambda(lambda x: x.float().div(255.0)),
        transforms.Normalize(CLIP_MEAN, CLIP_STD),
    ])
    frames = np.random.default_rng(3).integers(0, 256, (2, 640, 832, 3), dtype=np.uint8)
    expected = vbench(torch.from_numpy(frames).permute(0, 3, 1, 2))
    assert torch.allclose(clip_pixels_tensor(frames), expected, atol=1e-6)


def test_iq_pixels_equal_torchvision_resize_without_antialias() -> None:
    from torchvision import transforms

    frame = np.random.default_rng(4).integers(0, 256, (640, 832, 3), dtype=np.uint8)
    expected = transforms.Resize((393, 512), antialias=False)(torch.from_numpy(frame).permute(2, 0, 1)[None]) / 255.0
    assert torch.equal(iq_pixels(frame), expected)
