"""PSNR and SSIM against a known target: exact values on cases with a closed form."""

from __future__ import annotations

import math

import numpy as np
from eval_helpers import texture

from rtrdit.eval.metrics.base import Chunk, Conditions, MetricContext
from rtrdit.eval.metrics.psnr import MAX_DB, PSNR, psnr
from rtrdit.eval.metrics.ssim import SSIM, ssim


def test_psnr_of_a_constant_offset_is_20_log10_255_over_offset() -> None:
    a = np.full((32, 40, 3), 100, np.uint8)
    for d in (1, 5, 20):
        assert math.isclose(psnr(a, a + np.uint8(d)), 20 * math.log10(255 / d), rel_tol=1e-12)
    assert psnr(a, a) == MAX_DB


def test_ssim_is_one_for_identical_images_and_drops_with_noise() -> None:
    img = texture(64, 80)
    assert math.isclose(ssim(img, img), 1.0, abs_tol=1e-12)
    rng = np.random.default_rng(0)
    values = [ssim(img, np.clip(img + rng.normal(0, s, img.shape), 0, 255).astype(np.uint8)) for s in (2, 8, 32)]
    assert values[0] > values[1] > values[2]
    noisy = np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)
    assert math.isclose(ssim(img, noisy), ssim(noisy, img), rel_tol=1e-12)  # symmetric


def test_ssim_of_flat_images_is_the_luminance_term() -> None:
    a, b = 80.0, 120.0
    c1 = (0.01 * 255) ** 2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    got = ssim(np.full((20, 20, 3), a, np.uint8), np.full((20, 20, 3), b, np.uint8))
    assert math.isclose(got, expected, rel_tol=1e-9)


def test_metrics_average_per_frame_values_over_chunks() -> None:
    ctx = MetricContext()
    pred = np.stack([np.full((16, 16, 3), 50 + i, np.uint8) for i in range(5)])
    target = np.full_like(pred, 50)
    for metric, fn in ((PSNR(ctx), psnr), (SSIM(ctx), ssim)):
        acc = metric.start(Conditions(name="v"))
        acc.update(Chunk(pred=pred[:2], target=target[:2]))
        acc.update(Chunk(pred=pred[2:], target=target[2:]))
        res = acc.result()
        expected = [fn(p, t) for p, t in zip(pred, target, strict=True)]
        assert res.per_frame == expected
        assert math.isclose(res.value, float(np.mean(expected)))
