"""The fast streaming autoencoder: layout, streaming equivalence, persistence, training, CLI."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from video_clips import SHARED_VIDEOS, make_clip, tone

from rtrdit.cli import CLIError
from rtrdit.codecs.base import frames_to_video, video_to_frames
from rtrdit.codecs.tiny_ae import TinyAEConfig, TinyAutoencoder, load_tiny_ae
from rtrdit.train import autoencoder as train_ae

SMALL = TinyAEConfig(enc_channels=(8, 8, 16), enc_blocks=(1, 1), dec_channels=(16, 8, 8), dec_blocks=(1, 1))


def small_model(seed: int = 0) -> TinyAutoencoder:
    torch.manual_seed(seed)
    model = TinyAutoencoder(SMALL).eval()
    with torch.no_grad():  # non-trivial latent statistics, so normalisation is exercised too
        model.latents_mean.uniform_(-0.1, 0.1)
        model.latents_std.uniform_(0.5, 2.0)
    return model


def video(t: int, h: int = 32, w: int = 40, b: int = 2, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, t, h, w, generator=g) * 2 - 1


@pytest.mark.parametrize("k", [0, 1, 3])
def test_shapes_for_1_plus_4k_frames(k: int) -> None:
    model = small_model()
    v = video(1 + 4 * k)
    z = model.encode(v)
    assert z.shape == (2, 16, 1 + k, 4, 5)
    rec = model.decode(z)
    assert rec.shape == v.shape
    assert rec.min() >= -1 and rec.max() <= 1
    assert (model.latent_channels, model.temporal_factor, model.spatial_factor) == (16, 4, 8)


def test_rejects_bad_layouts() -> None:
    model = small_model()
    with pytest.raises(ValueError, match="1 \\+ 4k"):
        model.encode(video(4))
    with pytest.raises(ValueError, match="multiples of 8"):
        model.encode(video(5, h=30))
    with pytest.raises(ValueError, match="latent"):
        model.decode(torch.zeros(1, 8, 2, 4, 4))


def test_streamed_encode_and_decode_equal_whole_clip() -> None:
    model = small_model()
    v = video(1 + 4 * 4)
    z = model.encode(v)
    rec = model.decode(z)

    enc = model.stream_encoder()
    parts, i = [], 0
    for n in [1, 2, 5, 0, 3, 6]:  # the first frame alone, then groups split unevenly
        out = enc.push(v[:, :, i:i + n])
        assert out.shape[2] == (i + n + 3) // 4 - (i + 3) // 4  # latent frames finished by this push
        parts.append(out)
        i += n
    # equal up to float rounding (oneDNN may pick other kernels for other batch sizes); a lost
    # or misaligned cache changes values by orders of magnitude more
    torch.testing.assert_close(torch.cat(parts, 2), z, atol=1e-5, rtol=0)

    dec = model.stream_decoder()
    frames = [dec.push(z[:, :, j:j + n]) for j, n in [(0, 1), (1, 2), (3, 0), (3, 2)]]
    assert [f.shape[2] for f in frames] == [1, 8, 0, 8]
    torch.testing.assert_close(torch.cat(frames, 2), rec, atol=1e-5, rtol=0)


def guided_model(seed: int = 0) -> TinyAutoencoder:
    """``small_model`` with a source-guide branch, its zero-initialised outputs perturbed (as after training)."""
    model = small_model(seed)
    guided = TinyAutoencoder(dataclasses.replace(SMALL, guide_channels=4)).eval()
    missing, unexpected = guided.load_state_dict(model.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("decoder.guide.") for k in missing)
    return guided


def test_a_new_guide_branch_decodes_exactly_as_before_until_trained() -> None:
    model, guided = small_model(), guided_model()
    v = video(9)
    z = model.encode(v)
    assert guided.guided and not model.guided
    assert torch.equal(guided.encode(v), z)
    assert torch.equal(guided.decode(z, guide=v), model.decode(z))  # zero-initialised additions
    with torch.no_grad():
        for p in guided.decoder.guide.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    assert not torch.allclose(guided.decode(z, guide=v), model.decode(z), atol=1e-3)
    assert torch.equal(guided.decode(z), model.decode(z))  # no source given: the plain decoder
    assert torch.equal(model.decode(z, guide=v), model.decode(z))  # an unguided decoder ignores it
    with pytest.raises(ValueError, match="guide video"):
        guided.decode(z, guide=v[:, :, :5])


def test_guided_decoder_reads_the_source_of_each_frame_causally_and_streams_exactly() -> None:
    guided = guided_model()
    with torch.no_grad():
        for p in guided.decoder.guide.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    v = video(1 + 4 * 4)
    z = guided.encode(v)
    whole = guided.decode(z, guide=v)
    w = v.clone()
    w[:, :, 7] = 0  # one source frame: only its own output frame changes
    other = guided.decode(z, guide=w)
    changed = (other - whole).abs().flatten(3).amax(dim=(0, 1, 3)) > 0
    assert changed.tolist() == [i == 7 for i in range(v.shape[2])]

    dec = guided.stream_decoder()
    frames, t = [], 0
    for j, n in [(0, 1), (1, 2), (3, 0), (3, 2)]:
        k = (1 + 4 * (n - 1) if j == 0 else 4 * n) if n else 0
        frames.append(dec.push(z[:, :, j:j + n], guide=v[:, :, t:t + k]))
        t += k
    torch.testing.assert_close(torch.cat(frames, 2), whole, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="guide video"):
        guided.stream_decoder().push(z[:, :, :2], guide=v[:, :, :4])


def test_guided_decoder_saves_and_loads(tmp_path: Path) -> None:
    guided = guided_model()
    guided.save_pretrained(tmp_path / "ae")
    back = load_tiny_ae(tmp_path / "ae")
    assert back.config.guide_channels == 4 and back.guided
    v = video(5)
    z = guided.encode(v)
    assert torch.equal(back.decode(z, guide=v), guided.decode(z, guide=v))


def test_encoding_is_causal_and_memory_is_used() -> None:
    model = small_model()
    v = video(9)
    w = v.clone()
    w[:, :, 5:] = 0  # change only the last group of 4 frames
    za, zb = model.encode(v), model.encode(w)
    assert torch.equal(za[:, :, :2], zb[:, :, :2])  # the past does not see the future
    assert not torch.equal(za[:, :, 2], zb[:, :, 2])
    # the memory blocks make a latent depend on the previous group, not only its own frames
    u = v.clone()
    u[:, :, 1:5] = 0
    assert not torch.equal(model.encode(u)[:, :, 2], za[:, :, 2])


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    model = small_model()
    model.save_pretrained(tmp_path / "ae")
    assert sorted(p.name for p in (tmp_path / "ae").iterdir()) == ["config.json", "model.safetensors"]
    loaded = load_tiny_ae(tmp_path / "ae")
    assert loaded.config.enc_channels == SMALL.enc_channels
    v = video(5)
    assert torch.equal(loaded.encode(v), model.encode(v))
    z = model.encode(v)
    assert torch.equal(loaded.decode(z), model.decode(z))
    (tmp_path / "ae" / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        load_tiny_ae(tmp_path / "ae")


def test_mismatched_weights_are_one_line_codec_errors(tmp_path: Path) -> None:
    from rtrdit.codecs.base import CodecError

    small_model().save_pretrained(tmp_path / "ae")
    cfg = json.loads((tmp_path / "ae" / "config.json").read_text())
    (tmp_path / "ae" / "config.json").write_text(json.dumps({**cfg, "dec_channels": [32, 8, 8]}))
    with pytest.raises(CodecError, match="cannot load") as info:
        load_tiny_ae(tmp_path / "ae")
    assert "\n" not in str(info.value)
    (tmp_path / "ae" / "config.json").write_text(json.dumps({**cfg, "width": 3}))
    with pytest.raises(CodecError, match="width"):
        load_tiny_ae(tmp_path / "ae")
    (tmp_path / "ae" / "config.json").write_text(json.dumps(cfg))
    weights = tmp_path / "ae" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:500])  # a truncated download
    with pytest.raises(CodecError, match="cannot load"):
        load_tiny_ae(tmp_path / "ae")


def test_shipped_demo_codec_reconstructs_the_held_out_clip() -> None:
    from rtrdit.codecs.base import LatentCodec, StreamDecoder, StreamEncoder, load_codec
    from rtrdit.codecs.video import read_frames

    model = load_codec("tiny")  # the committed weights
    assert isinstance(model, TinyAutoencoder) and isinstance(model, LatentCodec)
    assert isinstance(model.stream_encoder(), StreamEncoder) and isinstance(model.stream_decoder(), StreamDecoder)
    # woman-running.mp4 was held out of training; random weights give ~12 dB, the shipped ones ~23.4
    v = frames_to_video(read_frames(SHARED_VIDEOS / "woman-running.mp4", size=(128, 128), count=9))
    z = model.encode(v)
    assert z.shape == (1, 16, 3, 16, 16)
    assert abs(float(z.mean())) < 0.25 and 0.7 < float(z.std()) < 1.3  # normalised for diffusion
    assert train_ae.psnr(model.decode(z), v) > 21.0


def test_a_few_training_steps_reduce_the_loss() -> None:
    torch.manual_seed(0)
    model = TinyAutoencoder(SMALL)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, 16), torch.linspace(-1, 1, 16), indexing="ij")
    clip = torch.stack([torch.stack([torch.sin(3 * xs + t / 2), ys, torch.cos(2 * ys + t / 3)]) for t in range(9)], 1)
    clip = clip.unsqueeze(0) * 0.8
    losses = [train_ae.train_step(model, opt, clip, latent_noise=0.05, momentum=max(0.02, 1 / (i + 1)))[0]
              for i in range(40)]
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5
    # running latent statistics are tracked, so the normalised latent is roughly standardised
    z = model.eval().encode(clip)
    assert abs(float(z.mean())) < 0.5 and 0.5 < float(z.std()) < 2.0


def _two_clips(tmp_path: Path) -> Path:
    """A folder of two short generated clips, a.mp4 (trained on) and b.mp4 (held out)."""
    videos = tmp_path / "videos"
    videos.mkdir()
    make_clip(videos / "a.mp4", frames=13, size=(40, 40))
    make_clip(videos / "b.mp4", frames=13, size=(40, 40))
    return videos


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    train_ae.add_arguments(parser)
    return parser.parse_args(argv)


def test_train_command_writes_weights_and_report(tmp_path: Path) -> None:
    videos = _two_clips(tmp_path)
    out = tmp_path / "run"
    common = ["--videos", str(videos), "--out", str(out), "--size", "32", "--crop", "16", "--frames", "5",
              "--batch", "1", "--eval-frames", "9", "--holdout", "b.mp4", "--threads", "1"]
    assert train_ae.run(_parse([*common, "--steps", "2"])) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["steps"] == 2
    assert [r["clip"] for r in report["heldout"]] == ["b.mp4"]
    assert report["heldout"][0]["frames"] == 9 and isinstance(report["heldout"][0]["psnr"], float)
    assert report["train_clips"] == ["a.mp4"]
    assert "b.mp4" in (out / "report.md").read_text()
    load_tiny_ae(out)  # the saved weights load
    # resume continues from the checkpoint instead of starting over
    assert train_ae.run(_parse([*common, "--steps", "3", "--resume"])) == 0
    assert json.loads((out / "report.json").read_text())["steps"] == 3


def test_styled_training_draws_restyled_clips_and_reports_them(tmp_path: Path) -> None:
    from rtrdit.data.stylizers import builtin_styles, get_style

    frames = np.random.default_rng(0).integers(0, 256, (13, 32, 32, 3), dtype=np.uint8)
    clip = train_ae.Clip("a.mp4", frames)
    styled = train_ae.styled_clips([clip], 9, torch.Generator().manual_seed(0))
    assert sorted(c.name for c in styled) == sorted(f"a.mp4:{n}" for n in builtin_styles())
    halftone = next(c for c in styled if c.name == "a.mp4:halftone").frames
    assert len(halftone) == 9
    starts = [t for t in range(5) if np.array_equal(halftone, get_style("halftone").apply(frames[t:t + 9]))]
    assert len(starts) == 1  # a window of the clip, styled whole at its full size
    # fraction 1 draws only restyled clips, fraction 0 only the originals
    gen = torch.Generator().manual_seed(0)
    originals = frames_to_video(frames)
    only_styled = train_ae.sample_batch([clip], 6, 5, 0, gen, styled, 1.0)
    only_plain = train_ae.sample_batch([clip], 6, 5, 0, gen, styled, 0.0)

    def from_original(v: torch.Tensor) -> bool:
        return any(torch.equal(v, originals[0, :, t:t + 5]) or torch.equal(v, originals[0, :, t:t + 5].flip(-1))
                   for t in range(9))
    assert not any(from_original(v) for v in only_styled)
    assert all(from_original(v) for v in only_plain)
    # --color-permute: the channels of an original clip, in another order
    permuted = train_ae.sample_batch([clip], 6, 5, 0, gen, color_permute=1.0)
    for v in permuted:
        assert not from_original(v)
        assert any(from_original(v[list(order)]) for order in ((0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)))

    videos = _two_clips(tmp_path)
    common = ["--videos", str(videos), "--size", "32", "--crop", "16", "--frames", "5", "--batch", "1",
              "--eval-frames", "5", "--holdout", "b.mp4", "--threads", "1", "--steps", "2"]
    assert train_ae.run(_parse([*common, "--out", str(tmp_path / "plain")])) == 0
    assert train_ae.run(_parse([*common, "--out", str(tmp_path / "styled"), "--styled", "0.5",
                                "--styled-frames", "9", "--color-permute", "0.5",
                                "--init", str(tmp_path / "plain")])) == 0
    report = json.loads((tmp_path / "styled" / "report.json").read_text())
    assert sorted(report["heldout_styled"]) == sorted(builtin_styles())
    assert "--styled 0.5" in report["command"] and "--init" in report["command"]
    assert "--color-permute 0.5" in report["command"] and "--styled" not in report["init_commands"][0]
    assert report["init_commands"] == [json.loads((tmp_path / "plain" / "report.json").read_text())["command"]]
    assert "halftone" in (tmp_path / "styled" / "report.md").read_text()
    with pytest.raises(CLIError, match="--styled"):
        train_ae.run(_parse([*common, "--out", str(tmp_path / "o"), "--styled", "1.5"]))


def test_freeze_encoder_trains_the_decoder_only(tmp_path: Path) -> None:
    videos = _two_clips(tmp_path)
    common = ["--videos", str(videos), "--size", "32", "--crop", "16", "--frames", "5", "--batch", "2",
              "--eval-frames", "5", "--holdout", "b.mp4", "--threads", "1", "--lr", "1e-2"]
    assert train_ae.run(_parse([*common, "--steps", "2", "--out", str(tmp_path / "base")])) == 0
    assert train_ae.run(_parse([*common, "--steps", "3", "--out", str(tmp_path / "dec"), "--freeze-encoder",
                                "--init", str(tmp_path / "base")])) == 0
    base, dec = load_tiny_ae(tmp_path / "base"), load_tiny_ae(tmp_path / "dec")
    # the latent space a DiT was trained on is untouched: same encoder, same latent statistics
    for name, value in base.state_dict().items():
        same = torch.equal(value, dec.state_dict()[name])
        assert same != name.startswith("decoder."), name
    video = frames_to_video(np.random.default_rng(1).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8))
    assert torch.equal(base.encode(video), dec.encode(video))
    assert "--freeze-encoder" in json.loads((tmp_path / "dec" / "report.json").read_text())["command"]
    with pytest.raises(CLIError, match="--freeze-encoder needs --init"):
        train_ae.run(_parse([*common, "--steps", "1", "--out", str(tmp_path / "o"), "--freeze-encoder"]))
    assert not (tmp_path / "o").exists()


def test_missing_video_folder_is_a_clean_cli_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rtrdit.cli import main

    out = tmp_path / "out"
    code = main(["train", "autoencoder", "--videos", str(tmp_path / "nope"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "nope" in err and "Traceback" not in err
    assert not out.exists()


def test_bad_arguments_are_clean_errors(tmp_path: Path) -> None:
    from rtrdit.cli import CLIError

    videos = tmp_path / "empty"
    videos.mkdir()
    with pytest.raises(CLIError, match="no video files"):
        train_ae.run(_parse(["--videos", str(videos), "--out", str(tmp_path / "o")]))
    with pytest.raises(CLIError, match="1 \\+ 4k"):
        train_ae.run(_parse(["--videos", str(videos), "--out", str(tmp_path / "o"), "--frames", "8"]))
    assert not (tmp_path / "o").exists()


def test_shipped_demo_codec_keeps_every_builtin_style_apart() -> None:
    """The DiT can only output what the codec decodes: each built-in style's target, encoded and decoded,
    must stay nearer its own target than any other style's, in tone (after a sigma-3 blur) for every
    style and pixel for pixel (halftone's dots sit one per 16 px token; its earlier 6 px rotated screens
    an 8x codec could not keep, nor cartoon's earlier 1 px threshold speckles). A
    codec trained on camera footage alone failed this: it had never seen saturated greens or the
    thermal palette (thermal came out nearest vintage sepia)."""
    from rtrdit.codecs.base import load_codec
    from rtrdit.codecs.video import read_frames
    from rtrdit.data.stylizers import builtin_styles
    from rtrdit.eval.metrics.psnr import psnr

    model = load_codec("tiny")
    clip = read_frames(SHARED_VIDEOS / "music.mp4", size=(256, 256), count=9)  # held out of codec training
    targets = {name: style.apply(clip) for name, style in builtin_styles().items()}
    blurred = {name: tone(t) for name, t in targets.items()}
    for name, target in targets.items():
        with torch.no_grad():
            rec = model.decode(model.encode(frames_to_video(target)))
        rec_u8 = video_to_frames(rec[0])
        tones = {other: psnr(tone(rec_u8), t) for other, t in blurred.items()}
        assert max(tones, key=tones.__getitem__) == name, (name, sorted(tones.items(), key=lambda kv: -kv[1])[:3])
        scores = {other: psnr(rec_u8, t) for other, t in targets.items()}
        assert max(scores, key=scores.__getitem__) == name, (name, sorted(scores.items(), key=lambda kv: -kv[1])[:3])
