"""CLIP-T, CLIP-F and AQ on a tiny random open_clip CLIP saved in the real weights' layout (same loading
path), checked against open_clip's own preprocessing, tokenizer and encoders."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from eval_helpers import crossfade_clip, tiny_hf_clip, tiny_open_clip
from PIL import Image
from safetensors.torch import load_file, save_file

from rtrdit.eval.metrics import build_metrics
from rtrdit.eval.metrics.base import Chunk, Conditions, EvalError, Metric, MetricContext, MetricResult
from rtrdit.eval.metrics.clip_backbone import shared_clip
from rtrdit.eval.weights import OPENCLIP_L14

CLIP_DIR = OPENCLIP_L14.name.split("/")[0]


def _score(metric: Metric, frames: np.ndarray, chunk: int = 5, **cond: object) -> MetricResult:
    acc = metric.start(Conditions(name="v", **cond))  # type: ignore[arg-type]
    for i in range(0, len(frames), chunk):
        acc.update(Chunk(pred=frames[i : i + chunk]))
    return acc.result()


def _weights_with(tmp_path: Path, weights_dir: Path) -> Path:
    """A fresh weights folder sharing the session's tiny CLIP."""
    root = tmp_path / "weights"
    root.mkdir()
    (root / CLIP_DIR).symlink_to(weights_dir / CLIP_DIR)
    return root


def test_identical_frames_give_clip_f_one(weights_dir: Path) -> None:
    (clip_f,) = build_metrics(["clip_f"], MetricContext(weights=weights_dir))
    frame = crossfade_clip()[3]
    res = _score(clip_f, np.repeat(frame[None], 7, axis=0), chunk=3)
    assert len(res.per_frame) == 6  # pairs, including across chunk borders
    assert res.value == pytest.approx(1.0, abs=1e-5)


def test_ordered_video_scores_above_its_shuffled_frames(weights_dir: Path) -> None:
    (clip_f,) = build_metrics(["clip_f"], MetricContext(weights=weights_dir))
    video = crossfade_clip(frames=16)
    shuffled = video[np.random.default_rng(0).permutation(len(video))]
    assert _score(clip_f, video).value > _score(clip_f, shuffled).value + 1e-3


def test_chunking_does_not_change_clip_f(weights_dir: Path) -> None:
    (clip_f,) = build_metrics(["clip_f"], MetricContext(weights=weights_dir, batch_size=2))
    video = crossfade_clip(frames=9)
    a, b = _score(clip_f, video, chunk=9), _score(clip_f, video, chunk=2)
    assert np.allclose(a.per_frame, b.per_frame, atol=1e-6)


def test_clip_t_is_the_mean_cosine_between_prompt_and_frames(weights_dir: Path) -> None:
    ctx = MetricContext(weights=weights_dir)
    (clip_t,) = build_metrics(["clip_t"], ctx)
    video = crossfade_clip(frames=6)
    res = _score(clip_t, video, prompt="an ink wash painting")
    clip = shared_clip(ctx)
    text = clip.embed_texts(["an ink wash painting"])[0]
    frames = clip.embed_images(video)
    assert torch.allclose(frames.norm(dim=-1), torch.ones(len(video)), atol=1e-5)  # unit embeddings
    assert res.per_frame == pytest.approx((frames @ text).tolist(), abs=1e-6)
    other = _score(clip_t, video, prompt="minecraft blocks").value
    assert -1.0 <= res.value <= 1.0 and other != pytest.approx(res.value)
    long_prompt = " ".join(["watercolor"] * 100)  # over 77 tokens: truncated like OpenAI CLIP
    assert math.isfinite(_score(clip_t, video, prompt=long_prompt).value)
    with pytest.raises(EvalError, match="prompt"):
        clip_t.start(Conditions(name="v"))


def test_aq_with_a_constant_head_is_the_bias_over_ten(tmp_path: Path, weights_dir: Path) -> None:
    root = _weights_with(tmp_path, weights_dir)
    torch.save({"weight": torch.zeros(1, 16), "bias": torch.tensor([5.5])}, root / "sa_0_4_vit_l_14_linear.pth")
    (aq,) = build_metrics(["aq"], MetricContext(weights=root))
    res = _score(aq, crossfade_clip(frames=5))
    assert res.per_frame == pytest.approx([0.55] * 5, abs=1e-7)
    assert res.value == pytest.approx(0.55, abs=1e-7)


def test_aq_is_the_linear_head_on_normalised_vbench_embeddings(tmp_path: Path, weights_dir: Path) -> None:
    root = _weights_with(tmp_path, weights_dir)
    w, b = torch.randn(1, 16, generator=torch.Generator().manual_seed(0)), torch.tensor([4.0])
    torch.save({"weight": w, "bias": b}, root / "sa_0_4_vit_l_14_linear.pth")
    ctx = MetricContext(weights=root)
    (aq,) = build_metrics(["aq"], ctx)
    video = crossfade_clip(frames=4, size=80)
    emb = shared_clip(ctx).embed_images(video, "vbench")
    expected = ((emb @ w[0] + b) / 10).tolist()
    assert _score(aq, video).per_frame == pytest.approx(expected, abs=1e-6)


def test_aq_head_with_wrong_keys_is_refused(tmp_path: Path, weights_dir: Path) -> None:
    root = _weights_with(tmp_path, weights_dir)
    torch.save({"layers.0.weight": torch.zeros(1, 16)}, root / "sa_0_4_vit_l_14_linear.pth")
    with pytest.raises(EvalError, match="aesthetic head"):
        build_metrics(["aq"], MetricContext(weights=root))


def test_embeddings_equal_open_clips_own_pipeline(weights_dir: Path) -> None:
    """Image: open_clip's inference transform on PIL images + encode_image; text: open_clip.tokenize +
    encode_text, on the same tiny weights: the reference implementation of CLIP-T/CLIP-F."""
    import open_clip

    clip = shared_clip(MetricContext(weights=weights_dir))
    ref = tiny_open_clip()
    video = crossfade_clip(frames=3, size=50)
    transform = open_clip.image_transform(32, is_train=False)
    with torch.no_grad():
        pixels = torch.stack([transform(Image.fromarray(f)) for f in video])
        expected_img = ref.encode_image(pixels, normalize=True)
        prompts = ["an ink wash painting", "Minecraft, blocky voxels!"]
        expected_txt = ref.encode_text(open_clip.tokenize(prompts), normalize=True)
    assert torch.allclose(clip.embed_images(video), expected_img, atol=1e-6)
    assert torch.allclose(clip.embed_texts(prompts), expected_txt, atol=1e-6)


def test_hugging_face_layout_scores_like_transformers_clip_and_like_open_clip(tmp_path: Path) -> None:
    """The same random weights (a) in Hugging Face layout give transformers' own CLIP embeddings, and
    (b) converted to open_clip's file give the same CLIP-T, CLIP-F and AQ scores as from that layout."""
    import open_clip

    from rtrdit.eval.metrics.preprocess import clip_pixels_pil

    hf = tiny_hf_clip()
    hf_root, oc_root = tmp_path / "hf", tmp_path / "oc"
    hf.save_pretrained(str(hf_root / "clip-vit-large-patch14"), safe_serialization=True)
    ctx = MetricContext(weights=hf_root)
    clip = shared_clip(ctx)
    video = crossfade_clip(frames=4, size=50)
    prompts = ["an ink wash painting", "Minecraft, blocky voxels!"]
    with torch.no_grad():
        pooled = hf.vision_model(pixel_values=clip_pixels_pil(video, 32)).pooler_output
        img = torch.nn.functional.normalize(hf.visual_projection(pooled), dim=-1)
        pooled = hf.text_model(input_ids=open_clip.tokenize(prompts)).pooler_output
        txt = torch.nn.functional.normalize(hf.text_projection(pooled), dim=-1)
    assert torch.allclose(clip.embed_images(video), img, atol=1e-5)
    assert torch.allclose(clip.embed_texts(prompts), txt, atol=1e-5)

    converted = {k: v.contiguous() for k, v in clip.model.state_dict().items()}  # OpenAI/open_clip names
    (oc_root / CLIP_DIR).mkdir(parents=True)
    save_file(converted, str(oc_root / OPENCLIP_L14.name))
    head = {"weight": torch.randn(1, 16, generator=torch.Generator().manual_seed(1)), "bias": torch.tensor([5.0])}
    scores = []
    for root in (hf_root, oc_root):
        torch.save(head, root / "sa_0_4_vit_l_14_linear.pth")
        metrics = build_metrics(["clip_t", "clip_f", "aq"], MetricContext(weights=root))
        scores.append([_score(m, video, prompt=prompts[0]).per_frame for m in metrics])
    for a, b in zip(*scores, strict=True):
        assert a == pytest.approx(b, abs=1e-6)


def test_clip_file_with_a_missing_or_extra_tensor_is_refused(tmp_path: Path) -> None:
    state = {k: v.contiguous() for k, v in tiny_open_clip().state_dict().items()}
    path = tmp_path / OPENCLIP_L14.name
    path.parent.mkdir()
    save_file({k: v for k, v in state.items() if k != "ln_final.bias"}, str(path))
    with pytest.raises(EvalError, match=r"missing ln_final\.bias"):
        build_metrics(["clip_f"], MetricContext(weights=tmp_path))
    save_file({**state, "visual.extra": torch.zeros(1)}, str(path))
    with pytest.raises(EvalError, match=r"unexpected visual\.extra"):
        build_metrics(["clip_f"], MetricContext(weights=tmp_path))
    path.write_bytes(b"not safetensors")
    with pytest.raises(EvalError, match="cannot read the CLIP weights"):
        build_metrics(["clip_f"], MetricContext(weights=tmp_path))


def test_missing_clip_file_names_it_and_where_it_is_published(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match=r"open_clip_model\.safetensors.*huggingface.co/timm/vit_large_patch14_clip_224"
                                        r".*clip-vit-large-patch14/model\.safetensors.*huggingface.co/openai") as info:
        build_metrics(["clip_f"], MetricContext(weights=tmp_path))
    assert "\n" not in str(info.value)
    (tmp_path / "clip-vit-large-patch14").mkdir()
    tiny_hf_clip().save_pretrained(str(tmp_path / "clip-vit-large-patch14"), safe_serialization=True)
    hf_file = tmp_path / "clip-vit-large-patch14" / "model.safetensors"
    save_file({**load_file(str(hf_file)), "text_model.encoder.layers.0.self_attn.gate.weight": torch.zeros(1)}, str(hf_file))
    with pytest.raises(EvalError, match="unexpected Hugging Face key 'text_model.encoder.layers.0.self_attn.gate.weight'"):
        build_metrics(["clip_f"], MetricContext(weights=tmp_path))
    with pytest.raises(EvalError, match="sa_0_4_vit_l_14_linear.pth.*LAION"):
        build_metrics(["aq"], MetricContext(weights=tmp_path))
    with pytest.raises(EvalError, match="--weights"):
        build_metrics(["clip_t"], MetricContext(weights=None))


def test_without_open_clip_the_clip_metrics_say_how_to_install_it(weights_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """open_clip comes with the 'eval' extra: with it absent (an import that fails) one line names the extra."""
    import sys

    monkeypatch.setitem(sys.modules, "open_clip", None)  # makes `import open_clip` raise ImportError
    with pytest.raises(EvalError, match=r"pip install 'rtrdit\[eval\]'") as info:
        build_metrics(["clip_f"], MetricContext(weights=weights_dir))
    assert "\n" not in str(info.value)
