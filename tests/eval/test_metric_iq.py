"""ImagingQuality (VBench) with a tiny random pyiqa MUSIQ saved as a checkpoint in pyiqa's layout:
the loaded model scores exactly like pyiqa's own loading and VBench's torchvision resize, the longer
side is at most 512 (640x832 -> 393x512), per-frame score / 100; bad checkpoints are refused."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from eval_helpers import tiny_musiq

from rtrdit.eval.metrics import build_metrics
from rtrdit.eval.metrics.base import Chunk, Conditions, EvalError, MetricContext
from rtrdit.eval.metrics.iq import load_musiq
from rtrdit.eval.weights import MUSIQ_SPAQ


@pytest.fixture(scope="module")
def musiq_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights folder with a tiny MUSIQ state dict saved under the SPAQ checkpoint's name."""
    root = tmp_path_factory.mktemp("musiq")
    torch.save(tiny_musiq().state_dict(), root / MUSIQ_SPAQ.name)
    return root


def vbench_reference(path: Path, frames: np.ndarray) -> list[float]:
    """VBench's imaging_quality loop: pyiqa's MUSIQ loaded by pyiqa itself, torchvision's Resize on
    uint8 frames (longer side 512, antialias=False), /255, one frame at a time, score / 100."""
    from pyiqa.archs.musiq_arch import MUSIQ
    from torchvision import transforms

    model = MUSIQ(pretrained_model_path=str(path), hidden_size=64, mlp_dim=128, num_heads=1, num_layers=1)
    model.training = False
    images = torch.from_numpy(frames).permute(0, 3, 1, 2)
    h, w = images.shape[2:]
    if max(h, w) > 512:
        scale = 512.0 / max(h, w)
        images = transforms.Resize(size=(int(scale * h), int(scale * w)), antialias=False)(images)
    images = images / 255.0
    with torch.no_grad():
        return [float(model(images[i][None])) / 100 for i in range(len(images))]


def test_iq_equals_pyiqa_and_vbench_on_the_same_model(musiq_weights: Path) -> None:
    (iq,) = build_metrics(["iq"], MetricContext(weights=musiq_weights))
    seen: list[tuple[int, ...]] = []
    iq.scorer.register_forward_pre_hook(lambda _m, args: seen.append(tuple(args[0].shape)))  # type: ignore[attr-defined]
    frames = np.random.default_rng(0).integers(0, 256, (2, 640, 832, 3), dtype=np.uint8)
    acc = iq.start(Conditions(name="v"))
    acc.update(Chunk(pred=frames[:1]))
    acc.update(Chunk(pred=frames[1:]))
    res = acc.result()
    assert seen == [(1, 3, 393, 512)] * 2  # longer side 512, aspect kept, truncated
    expected = vbench_reference(musiq_weights / MUSIQ_SPAQ.name, frames)
    assert res.per_frame == pytest.approx(expected, abs=1e-6)
    assert res.value == pytest.approx(float(np.mean(expected)), abs=1e-6)
    assert res.per_frame[0] != pytest.approx(res.per_frame[1], abs=1e-7)  # the score depends on the frame


def test_small_frames_are_not_resized_and_module_prefixed_checkpoints_load(tmp_path: Path) -> None:
    state = tiny_musiq().state_dict()
    torch.save({"module." + k: v for k, v in state.items()}, tmp_path / MUSIQ_SPAQ.name)
    (iq,) = build_metrics(["iq"], MetricContext(weights=tmp_path))
    model = iq.scorer  # type: ignore[attr-defined]
    assert set(model.state_dict()) == set(state)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    frames = np.random.default_rng(1).integers(0, 256, (1, 96, 128, 3), dtype=np.uint8)
    acc = iq.start(Conditions(name="v"))
    acc.update(Chunk(pred=frames))
    with torch.no_grad():
        direct = float(model(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255)) / 100
    assert acc.result().value == pytest.approx(direct, abs=1e-6)


def test_bad_musiq_checkpoints_are_refused_in_one_line(tmp_path: Path) -> None:
    state = tiny_musiq().state_dict()
    cases = [
        ({k: v for k, v in state.items() if k != "block1.gn3.bias"}, r"missing block1\.gn3\.bias"),
        ({**state, "extra.weight": torch.zeros(1)}, r"unexpected extra\.weight"),
        ({"params": state}, "not a MUSIQ state dict"),
        ({k: v for k, v in state.items() if k != "embedding.weight"}, "not a MUSIQ-SPAQ checkpoint"),
        ({**state, "head.weight": torch.zeros(10, 64)}, r"head has shape \(10, 64\)"),
    ]
    for bad, message in cases:
        torch.save(bad, tmp_path / "m.pth")
        with pytest.raises(EvalError, match=message) as info:
            load_musiq(tmp_path / "m.pth")
        assert "\n" not in str(info.value)


def test_missing_musiq_weights_name_the_file_and_where_it_is_published(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match=r"musiq_spaq_ckpt-358bb6af\.pth.*IQA-PyTorch-Weights"):
        build_metrics(["iq"], MetricContext(weights=tmp_path))


def test_without_pyiqa_iq_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pyiqa is an optional extra: with it absent (an import that fails, as in an install without
    'rtrdit[eval]') the metric fails with one line naming the extra."""
    torch.save(tiny_musiq().state_dict(), tmp_path / MUSIQ_SPAQ.name)
    monkeypatch.setitem(sys.modules, "pyiqa", None)  # makes `import pyiqa...` raise ImportError
    monkeypatch.delitem(sys.modules, "pyiqa.archs.musiq_arch", raising=False)
    monkeypatch.delitem(sys.modules, "pyiqa.archs", raising=False)
    with pytest.raises(EvalError, match=r"pip install 'rtrdit\[eval\]'") as info:
        build_metrics(["iq"], MetricContext(weights=tmp_path))
    assert "\n" not in str(info.value)
