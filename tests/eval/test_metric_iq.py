"""ImagingQuality protocol (VBench): longer side at most 512, per-frame score / 100, mean. pyiqa
(MUSIQ) cannot be imported next to this torch build, so the protocol runs here with a small
random convolutional scorer standing in for MUSIQ, and the pyiqa path must fail in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rtrdit.eval.metrics import build_metrics
from rtrdit.eval.metrics.base import Chunk, Conditions, EvalError, MetricContext
from rtrdit.eval.metrics.iq import ImagingQuality, load_musiq


class TinyScorer(torch.nn.Module):
    """Conv -> global pool -> score in 0..100; records the input sizes it saw."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 4, 3, stride=4)
        self.head = torch.nn.Linear(4, 1)
        self.seen: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(tuple(x.shape))
        return 100 * torch.sigmoid(self.head(self.conv(x).mean((2, 3))))


def test_iq_resizes_longer_side_to_512_and_divides_by_100() -> None:
    scorer = TinyScorer()
    metric = ImagingQuality(MetricContext(), scorer=scorer)
    frames = np.random.default_rng(0).integers(0, 256, (3, 640, 832, 3), dtype=np.uint8)
    acc = metric.start(Conditions(name="v"))
    acc.update(Chunk(pred=frames[:2]))
    acc.update(Chunk(pred=frames[2:]))
    res = acc.result()
    assert scorer.seen == [(1, 3, 393, 512)] * 3
    with torch.no_grad():
        direct = [float(scorer(torch.nn.functional.interpolate(
            torch.from_numpy(f).permute(2, 0, 1)[None].float(), size=(393, 512), mode="bilinear",
            align_corners=False).round() / 255)) / 100 for f in frames]
    assert res.per_frame == pytest.approx(direct, abs=1e-6)
    assert 0 <= res.value <= 1 and res.value == pytest.approx(float(np.mean(direct)))


def test_missing_musiq_weights_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match=r"musiq_spaq_ckpt-358bb6af\.pth.*IQA-PyTorch-Weights"):
        build_metrics(["iq"], MetricContext(weights=tmp_path))


def test_pyiqa_path_fails_in_one_line_when_pyiqa_is_unusable(tmp_path: Path) -> None:
    try:
        import pyiqa.archs.musiq_arch  # noqa: F401
    except Exception:  # noqa: BLE001 - the situation in this environment (torchvision unusable)
        with pytest.raises(EvalError, match="pyiqa") as info:
            load_musiq(tmp_path / "musiq_spaq_ckpt-358bb6af.pth")
        assert "\n" not in str(info.value)
    else:  # pyiqa works: a wrong checkpoint path must then fail inside pyiqa, not silently
        with pytest.raises(Exception):  # noqa: B017
            load_musiq(tmp_path / "missing.pth")
