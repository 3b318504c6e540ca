"""CSD: the public checkpoint's 'module.'-prefixed OpenAI-CLIP keys are mapped explicitly onto the
CLIP vision tower (checked against an OpenAI-style forward written here), and a checkpoint with a
missing or leftover key is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from eval_helpers import crossfade_clip, csd_state

from rtrdit.eval.metrics import build_metrics
from rtrdit.eval.metrics.base import Chunk, Conditions, EvalError, MetricContext
from rtrdit.eval.metrics.csd import load_csd
from rtrdit.eval.metrics.preprocess import clip_pixels_pil


def openai_visual_forward(sd: dict[str, torch.Tensor], x: torch.Tensor, heads: int) -> torch.Tensor:
    """OpenAI CLIP's VisionTransformer forward (proj=None) straight from its state dict names."""
    p = "module.backbone."
    width = sd[p + "conv1.weight"].shape[0]
    x = F.conv2d(x, sd[p + "conv1.weight"], stride=sd[p + "conv1.weight"].shape[-1])
    x = x.flatten(2).transpose(1, 2)
    x = torch.cat([sd[p + "class_embedding"].expand(x.shape[0], 1, width), x], dim=1)
    x = F.layer_norm(x + sd[p + "positional_embedding"], (width,), sd[p + "ln_pre.weight"], sd[p + "ln_pre.bias"])
    i = 0
    while f"{p}transformer.resblocks.{i}.ln_1.weight" in sd:
        b = f"{p}transformer.resblocks.{i}."
        attn = torch.nn.MultiheadAttention(width, heads, batch_first=True)
        attn.load_state_dict({"in_proj_weight": sd[b + "attn.in_proj_weight"], "in_proj_bias": sd[b + "attn.in_proj_bias"],
                              "out_proj.weight": sd[b + "attn.out_proj.weight"], "out_proj.bias": sd[b + "attn.out_proj.bias"]})
        h = F.layer_norm(x, (width,), sd[b + "ln_1.weight"], sd[b + "ln_1.bias"])
        x = x + attn(h, h, h, need_weights=False)[0]
        h = F.layer_norm(x, (width,), sd[b + "ln_2.weight"], sd[b + "ln_2.bias"])
        h = F.linear(h, sd[b + "mlp.c_fc.weight"], sd[b + "mlp.c_fc.bias"])
        h = h * torch.sigmoid(1.702 * h)  # QuickGELU
        x = x + F.linear(h, sd[b + "mlp.c_proj.weight"], sd[b + "mlp.c_proj.bias"])
        i += 1
    return F.layer_norm(x[:, 0], (width,), sd[p + "ln_post.weight"], sd[p + "ln_post.bias"])


def _save(path: Path, state: dict[str, torch.Tensor]) -> Path:
    torch.save({"model_state_dict": state, "epoch": 7}, path)  # a training checkpoint like the public one
    return path


def test_module_prefixed_checkpoint_loads_and_matches_openai_forward(tmp_path: Path) -> None:
    state = csd_state(width=128, layers=2)  # 2 heads (width / 64)
    model = load_csd(_save(tmp_path / "csd_vit_l.pth", state))
    frames = crossfade_clip(frames=3, size=48)
    with torch.no_grad():
        ref_feat = openai_visual_forward(state, clip_pixels_pil(frames, 32), heads=2)
    expected = F.normalize(ref_feat @ state["module.last_layer_style"], dim=-1)
    assert torch.allclose(model.embed(frames), expected, atol=1e-5)


def test_csd_score_is_mean_style_cosine_to_the_reference(tmp_path: Path) -> None:
    _save(tmp_path / "csd_vit_l.pth", csd_state())
    (csd,) = build_metrics(["csd"], MetricContext(weights=tmp_path))
    video = crossfade_clip(frames=6, size=48)
    acc = csd.start(Conditions(name="v", reference=video[0]))
    acc.update(Chunk(pred=video[:4]))
    acc.update(Chunk(pred=video[4:]))
    res = acc.result()
    assert res.per_frame[0] == pytest.approx(1.0, abs=1e-5)  # the reference itself
    assert res.value == pytest.approx(float(np.mean(res.per_frame)))
    assert res.per_frame[-1] < res.per_frame[0]
    with pytest.raises(EvalError, match="reference"):
        csd.start(Conditions(name="v"))


def test_checkpoint_with_a_missing_key_is_refused(tmp_path: Path) -> None:
    state = csd_state()
    del state["module.backbone.transformer.resblocks.1.ln_2.weight"]
    with pytest.raises(EvalError, match=r"missing backbone\.transformer\.resblocks\.1\.ln_2\.weight"):
        load_csd(_save(tmp_path / "csd.pth", state))
    state = csd_state()
    del state["module.last_layer_style"]
    with pytest.raises(EvalError, match="last_layer_style"):
        load_csd(_save(tmp_path / "csd.pth", state))


def test_checkpoint_with_leftover_keys_is_refused(tmp_path: Path) -> None:
    state = csd_state()
    state["module.projection_head.weight"] = torch.zeros(3)
    with pytest.raises(EvalError, match="unexpected keys: projection_head.weight"):
        load_csd(_save(tmp_path / "csd.pth", state))
    state = csd_state()
    state["module.backbone.proj"] = torch.zeros(64, 16)
    with pytest.raises(EvalError, match="backbone.proj"):
        load_csd(_save(tmp_path / "csd.pth", state))
    state = csd_state()
    state["plain_key"] = torch.zeros(1)
    with pytest.raises(EvalError, match="mixes"):
        load_csd(_save(tmp_path / "csd.pth", state))


def test_unsafe_pickle_is_not_loaded(tmp_path: Path) -> None:
    import argparse

    path = tmp_path / "csd.pth"
    torch.save({"model_state_dict": csd_state(), "args": argparse.Namespace(lr=1)}, path)
    with pytest.raises(EvalError, match="cannot read the CSD checkpoint"):
        load_csd(path)


def test_missing_csd_file_names_it_and_its_source(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match=r"csd_vit_l\.pth.*tomg-group-umd/CSD-ViT-L"):
        build_metrics(["csd"], MetricContext(weights=tmp_path))
