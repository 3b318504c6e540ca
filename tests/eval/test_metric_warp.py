"""Warping error: near 0 when the output follows the source motion, growing with flicker."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from eval_helpers import panning_clip

from rtrdit.eval.metrics.base import EvalError
from rtrdit.eval.metrics.warp import warping_error


def test_pure_translation_has_near_zero_warping_error() -> None:
    clip = panning_clip(frames=8, step=3)
    result = warping_error(clip, clip)
    assert len(result.per_frame) == 7  # one value per consecutive pair
    assert result.value < 1e-4


def test_warping_error_grows_with_injected_flicker() -> None:
    clip = panning_clip(frames=8, step=2)
    errors = []
    for amp in (0.0, 0.05, 0.1, 0.2):
        gain = np.array([1 + amp * (-1) ** t for t in range(len(clip))])
        pred = np.clip(clip * gain[:, None, None, None], 0, 255).astype(np.uint8)
        errors.append(warping_error(pred, clip).value)
    assert errors[0] < 1e-4
    assert all(a < b for a, b in itertools.pairwise(errors))
    assert errors[-1] > 100 * max(errors[0], 1e-6)


def test_flow_comes_from_the_source_not_the_output() -> None:
    """An output that stands still while the source pans does not follow the motion."""
    clip = panning_clip(frames=6, step=4)
    frozen = np.repeat(clip[:1], len(clip), axis=0)
    assert warping_error(frozen, clip).value > 10 * warping_error(clip, clip).value + 1e-4


def test_shape_mismatch_is_an_eval_error() -> None:
    clip = panning_clip(frames=4)
    with pytest.raises(EvalError):
        warping_error(clip[:, :64], clip)
