"""Loading real-layout checkpoints: equivalence with diffusers' WanTransformer3DModel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from testing_helpers import randn, randomize_

from rtrdit import load_dit
from rtrdit.model.config import get_config
from rtrdit.model.dit import DiT
from rtrdit.model.loading import CheckpointError

HEADS, HEAD_DIM, LAYERS, FFN, TEXT_DIM, FREQ = 2, 16, 2, 48, 24, 32


def _diffusers_wan(seed: int = 0):
    from diffusers import WanTransformer3DModel

    torch.manual_seed(seed)
    m = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=HEADS, attention_head_dim=HEAD_DIM, in_channels=16,
        out_channels=16, text_dim=TEXT_DIM, freq_dim=FREQ, ffn_dim=FFN, num_layers=LAYERS,
        cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6,
    )
    return randomize_(m, seed).eval()


def _inputs(b: int = 1, f: int = 3, h: int = 8, w: int = 6, text_len: int = 512):
    x = randn(b, 16, f, h, w, seed=1)
    text = randn(b, text_len, TEXT_DIM, seed=2)
    t = torch.tensor([637.0] * b)
    return x, text, t


@pytest.fixture(scope="module")
def diffusers_model():
    return _diffusers_wan()


def _reference(m, x, t, text):
    with torch.no_grad():
        return m(hidden_states=x, timestep=t, encoder_hidden_states=text, return_dict=False)[0]


def test_diffusers_layout_matches_diffusers(tmp_path: Path, diffusers_model) -> None:
    diffusers_model.save_pretrained(tmp_path / "wan")
    ours = load_dit(tmp_path / "wan").eval()
    assert ours.config.in_channels == 32 and ours.config.dim == HEADS * HEAD_DIM
    x, text, t = _inputs()
    with torch.no_grad():
        got = ours(x, None, t, text)
    want = _reference(diffusers_model, x, t, text)
    assert want.abs().mean() > 1e-2  # not vacuous
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_original_layout_matches_diffusers(tmp_path: Path, diffusers_model) -> None:
    """Original Wan names, produced by inverting diffusers' own converter on its weights."""
    from diffusers.loaders.single_file_utils import convert_wan_transformer_to_diffusers
    from safetensors.torch import save_file

    ours_init = DiT(get_config("tiny").replace(
        dim=HEADS * HEAD_DIM, num_heads=HEADS, num_layers=LAYERS, ffn_dim=FFN, text_dim=TEXT_DIM,
        freq_dim=FREQ, text_len=512, source_conditioning=False, reference_adapter=False))
    original_keys = list(ours_init.state_dict())
    converted = convert_wan_transformer_to_diffusers({k: torch.empty(0) for k in original_keys})
    to_original = dict(zip(converted.keys(), original_keys, strict=True))  # converter keeps order
    dsd = diffusers_model.state_dict()
    sd = {to_original[k]: v.contiguous() for k, v in dsd.items()}
    out = tmp_path / "wan-original"
    out.mkdir()
    save_file(sd, str(out / "diffusion_pytorch_model.safetensors"))
    (out / "config.json").write_text(json.dumps({
        "model_type": "t2v", "dim": HEADS * HEAD_DIM, "ffn_dim": FFN, "num_heads": HEADS, "num_layers": LAYERS,
        "in_dim": 16, "out_dim": 16, "text_len": 512, "freq_dim": FREQ, "eps": 1e-6, "text_dim": TEXT_DIM,
    }))
    ours = load_dit(out).eval()
    x, text, t = _inputs()
    with torch.no_grad():
        got = ours(x, None, t, text)
    torch.testing.assert_close(got, _reference(diffusers_model, x, t, text), rtol=1e-4, atol=1e-4)


def test_widened_model_ignores_zero_source_only(tmp_path: Path, diffusers_model) -> None:
    diffusers_model.save_pretrained(tmp_path / "wan")
    ours = load_dit(tmp_path / "wan").eval()
    w = ours.patch_embedding.weight
    assert torch.count_nonzero(w[:, 16:]) == 0  # source half starts at zero
    x, text, t = _inputs()
    with torch.no_grad():
        torch.testing.assert_close(ours(x, torch.zeros_like(x), t, text), ours(x, None, t, text))
        w[:, 16:].normal_()
        assert not torch.allclose(ours(x, randn(*x.shape, seed=9), t, text), ours(x, None, t, text))


def test_rtrdit_layout_round_trip(tmp_path: Path, tiny_cfg) -> None:
    m = randomize_(DiT(tiny_cfg.replace(attention="block_causal", chunk_frames=2)), seed=3).eval()
    m.save_pretrained(str(tmp_path / "ours"))
    back = load_dit(tmp_path / "ours")
    assert back.config == m.config
    for k, v in m.state_dict().items():
        assert torch.equal(v, back.state_dict()[k]), k
    override = load_dit(tmp_path / "ours", attention="bidirectional")
    assert override.config.attention == "bidirectional"


def test_meta_build_holds_no_second_copy(tmp_path: Path, tiny_cfg) -> None:
    m = randomize_(DiT(tiny_cfg)).eval()
    m.save_pretrained(str(tmp_path / "ours"))
    back = load_dit(tmp_path / "ours")
    assert not any(p.is_meta for p in back.parameters())


def test_refuses_missing_and_mismatched_keys(tmp_path: Path, tiny_cfg) -> None:
    from safetensors.torch import load_file, save_file

    m = DiT(tiny_cfg)
    m.save_pretrained(str(tmp_path / "m"))
    sd = load_file(str(tmp_path / "m" / "model.safetensors"))
    del sd["blocks.1.ffn.0.weight"]
    sd["head.head.weight"] = torch.zeros(3, 3)
    sd["bogus.weight"] = torch.zeros(1)
    save_file(sd, str(tmp_path / "m" / "model.safetensors"))
    with pytest.raises(CheckpointError) as err:
        load_dit(tmp_path / "m")
    msg = str(err.value)
    assert "blocks.1.ffn.0.weight" in msg and "head.head.weight" in msg and "bogus.weight" in msg


def test_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="model directory not found"):
        load_dit(tmp_path / "nope")
    (tmp_path / "d").mkdir()
    with pytest.raises(CheckpointError, match="config.json"):
        load_dit(tmp_path / "d")
    (tmp_path / "d" / "config.json").write_text(json.dumps({"dim": 32, "num_heads": 2, "num_layers": 1, "ffn_dim": 8}))
    with pytest.raises(CheckpointError, match="diffusion_pytorch_model.safetensors"):
        load_dit(tmp_path / "d")


def test_a_damaged_weights_file_is_named(tmp_path: Path, tiny_cfg) -> None:
    DiT(tiny_cfg).save_pretrained(str(tmp_path / "m"))
    weights = tmp_path / "m" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # a truncated download
    with pytest.raises(CheckpointError, match="cannot read .*model.safetensors") as err:
        load_dit(tmp_path / "m")
    assert "\n" not in str(err.value)


def test_full_size_config_builds_on_meta() -> None:
    with torch.device("meta"):
        m = DiT(get_config("wan2.1-t2v-1.3b"))
    n = sum(p.numel() for n_, p in m.named_parameters() if not n_.startswith("ref_adapter"))
    # Wan2.1-T2V-1.3B has 1.42B parameters; ours adds 16 source input channels to the patch embedding.
    assert 1.40e9 < n < 1.45e9
