"""Wan VAE on a tiny random AutoencoderKLWan: streaming equals the whole-clip pass, loading every layout."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from diffusers import AutoencoderKLWan
from diffusers.loaders.single_file_utils import convert_wan_vae_to_diffusers

from rtrdit.codecs import CodecError, LatentCodec, StreamDecoder, StreamEncoder, load_codec
from rtrdit.codecs.base import WAN_VAE_PTH
from rtrdit.codecs.wan_vae import WanVAE, load_wan_vae


def tiny_vae(seed: int = 0) -> AutoencoderKLWan:
    """Wan2.1's VAE layout at base_dim 8 (the converter needs dim_mult [1,2,4,4], 2 res blocks)."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    return AutoencoderKLWan(
        base_dim=8, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
        temperal_downsample=[False, True, True],
        latents_mean=torch.randn(16, generator=g).tolist(), latents_std=(torch.rand(16, generator=g) + 0.5).tolist(),
    ).eval()


@pytest.fixture(scope="module")
def vae() -> AutoencoderKLWan:
    return tiny_vae()


@pytest.fixture(scope="module")
def clip() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.rand(2, 3, 13, 32, 48, generator=g) * 2 - 1  # 13 = 1 + 4*3 frames


def diffusers_encode(vae: AutoencoderKLWan, video: torch.Tensor) -> torch.Tensor:
    """The reference: diffusers' own whole-clip encode, normalised like Wan (posterior mean)."""
    mean = torch.tensor(vae.config.latents_mean).view(1, 16, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std).view(1, 16, 1, 1, 1)
    with torch.no_grad():
        return (vae.encode(video).latent_dist.mode() - mean) / std


def diffusers_decode(vae: AutoencoderKLWan, latent: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(vae.config.latents_mean).view(1, 16, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std).view(1, 16, 1, 1, 1)
    with torch.no_grad():
        return vae.decode(latent * std + mean).sample


def test_whole_clip_matches_diffusers(vae: AutoencoderKLWan, clip: torch.Tensor) -> None:
    codec = WanVAE(vae)
    assert isinstance(codec, LatentCodec)
    assert (codec.latent_channels, codec.temporal_factor, codec.spatial_factor) == (16, 4, 8)
    z = codec.encode(clip)
    assert z.shape == (2, 16, 4, 4, 6)
    ref = diffusers_encode(vae, clip)
    torch.testing.assert_close(z, ref, rtol=1e-5, atol=1e-5)
    assert z.std() > 0.1  # not a degenerate all-constant latent
    video = codec.decode(z)
    assert video.shape == clip.shape and video.abs().max() <= 1.0
    torch.testing.assert_close(video, diffusers_decode(vae, z), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("chunks", [[1, 4, 4, 4], [2, 1, 5, 5], [13], [3, 3, 3, 3, 1]])
def test_streamed_encode_equals_whole_clip(vae: AutoencoderKLWan, clip: torch.Tensor, chunks: list[int]) -> None:
    codec = WanVAE(vae)
    whole = codec.encode(clip)
    enc = codec.stream_encoder()
    assert isinstance(enc, StreamEncoder)
    outs, start, done = [], 0, 0
    for n in chunks:
        out = enc.push(clip[:, :, start : start + n])
        start += n
        done += out.shape[2]
        assert done == 1 + (start - 1) // 4  # a latent frame comes out as soon as its group is complete
        outs.append(out)
    torch.testing.assert_close(torch.cat(outs, 2), whole, rtol=1e-5, atol=1e-5)


def test_streamed_decode_equals_whole_clip(vae: AutoencoderKLWan, clip: torch.Tensor) -> None:
    codec = WanVAE(vae)
    z = codec.encode(clip)
    whole = codec.decode(z)
    dec = codec.stream_decoder()
    assert isinstance(dec, StreamDecoder)
    outs = [dec.push(z[:, :, :1]), dec.push(z[:, :, 1:1]), dec.push(z[:, :, 1:3]), dec.push(z[:, :, 3:])]
    assert [o.shape[2] for o in outs] == [1, 0, 8, 4]  # latent 0 -> 1 frame, later ones 4 each
    torch.testing.assert_close(torch.cat(outs, 2), whole, rtol=1e-5, atol=1e-5)


def test_bad_shapes_are_one_line_errors(vae: AutoencoderKLWan) -> None:
    codec = WanVAE(vae)
    with pytest.raises(CodecError, match="1 \\+ 4k frames"):
        codec.encode(torch.zeros(1, 3, 4, 16, 16))
    with pytest.raises(CodecError, match="multiples of 8"):
        codec.encode(torch.zeros(1, 3, 1, 12, 16))
    with pytest.raises(CodecError, match=r"\[B, 16, F, h, w\]"):
        codec.decode(torch.zeros(1, 4, 1, 2, 2))


# --------------------------------------------------------------------------- loading


def to_original_layout(vae: AutoencoderKLWan) -> dict[str, torch.Tensor]:
    """Wan2.1_VAE.pth keys for a diffusers VAE: each key's original name is checked against diffusers'
    own converter, so the file we write is exactly what the converter expects from the release."""
    whole = [  # (diffusers prefix pattern, original prefix); the rest of the key is unchanged
        (r"^quant_conv\.", "conv1."), (r"^post_quant_conv\.", "conv2."),
        (r"^(encoder|decoder)\.conv_in\.", r"\1.conv1."),
        (r"^(encoder|decoder)\.norm_out\.", r"\1.head.0."), (r"^(encoder|decoder)\.conv_out\.", r"\1.head.2."),
        (r"^(encoder|decoder)\.mid_block\.attentions\.0\.", r"\1.middle.1."),
        (r"^decoder\.up_blocks\.(\d)\.upsamplers\.0\.", lambda m: f"decoder.upsamples.{4 * int(m[1]) + 3}."),
    ]
    residual = [  # residual blocks: new prefix, then their layer names
        (r"^(encoder|decoder)\.mid_block\.resnets\.(\d)\.", lambda m: f"{m[1]}.middle.{2 * int(m[2])}."),
        (r"^encoder\.down_blocks\.", "encoder.downsamples."),
        (r"^decoder\.up_blocks\.(\d)\.resnets\.(\d)\.", lambda m: f"decoder.upsamples.{4 * int(m[1]) + int(m[2])}."),
    ]
    layers = [(r"\.norm1\.gamma$", ".residual.0.gamma"), (r"\.conv1\.(weight|bias)$", r".residual.2.\1"),
              (r"\.norm2\.gamma$", ".residual.3.gamma"), (r"\.conv2\.(weight|bias)$", r".residual.6.\1"),
              (r"\.conv_shortcut\.", ".shortcut.")]
    out = {}
    for key, value in vae.state_dict().items():
        orig = key
        for pattern, repl in whole:
            if re.match(pattern, key):
                orig = re.sub(pattern, repl, key)
                break
        else:
            for pattern, repl in residual:
                if re.match(pattern, key):
                    orig = re.sub(pattern, repl, key)
                    for lp, lr in layers:
                        orig = re.sub(lp, lr, orig)
                    break
        assert convert_wan_vae_to_diffusers({orig: value}) == {key: value}, (key, orig)
        out[orig] = value.clone()
    return out


def test_load_every_layout(vae: AutoencoderKLWan, clip: torch.Tensor, tmp_path: Path) -> None:
    expected = WanVAE(vae).encode(clip[:1, :, :5])
    diffusers_dir = tmp_path / "vae"
    vae.save_pretrained(str(diffusers_dir))
    pipeline_dir = tmp_path / "pipeline"
    vae.save_pretrained(str(pipeline_dir / "vae"))
    release = tmp_path / "Wan2.1-T2V-1.3B"
    release.mkdir()
    torch.save(to_original_layout(vae), release / WAN_VAE_PTH)

    for spec in (diffusers_dir, pipeline_dir, release, release / WAN_VAE_PTH):
        codec = load_codec(str(spec), device="cpu")
        assert isinstance(codec, WanVAE), spec
        got = codec.encode(clip[:1, :, :5])
        if spec.parent == release or spec == release:
            # the .pth stores no latents_mean/std: diffusers' Wan2.1 defaults are used
            default = WanVAE(AutoencoderKLWan(base_dim=8))
            assert torch.equal(codec.latents_mean, default.latents_mean)
            got = codec.denormalize(got)
            want = WanVAE(vae).denormalize(expected)
        else:
            want = expected
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_missing_or_bad_files_name_the_file(vae: AutoencoderKLWan, tmp_path: Path) -> None:
    with pytest.raises(CodecError, match="no such file or directory"):
        load_wan_vae(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CodecError, match=re.escape(str(empty / WAN_VAE_PTH))):
        load_wan_vae(empty)
    with pytest.raises(CodecError, match=re.escape(str(empty / WAN_VAE_PTH))):
        load_codec(str(empty))
    only_config = tmp_path / "only_config"
    vae.save_pretrained(str(only_config))
    (only_config / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(CodecError, match=r"missing .*diffusion_pytorch_model\.safetensors"):
        load_codec(str(only_config))
    truncated = tmp_path / "truncated"
    vae.save_pretrained(str(truncated))
    weights = truncated / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:2000])  # a download cut short
    with pytest.raises(CodecError, match="Wan VAE .*truncated: cannot load") as err:
        load_codec(str(truncated))
    assert "\n" not in str(err.value)
    junk = tmp_path / WAN_VAE_PTH
    junk.write_bytes(b"\x00not a checkpoint")
    with pytest.raises(CodecError, match="cannot read Wan VAE checkpoint"):
        load_codec(str(junk))
    wrong = tmp_path / "wrong.pth"
    torch.save({"something.else": torch.zeros(2)}, wrong)
    with pytest.raises(CodecError, match="not a Wan2.1 VAE checkpoint"):
        load_codec(str(wrong))
    pickled = tmp_path / "pickled.pth"
    torch.save({"encoder.conv1.weight": torch.zeros(1), "hook": object()}, pickled)
    with pytest.raises(CodecError, match="cannot read"):  # weights_only=True refuses arbitrary objects
        load_codec(str(pickled))
