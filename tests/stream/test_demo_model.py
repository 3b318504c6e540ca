"""The shipped demo model and `rtrdit demo` (the README's main command)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from video_clips import SHARED_VIDEOS, tone

from rtrdit import Stylizer
from rtrdit.cli import main
from rtrdit.codecs.video import probe, read_frames
from rtrdit.data.stylizers import builtin_styles
from rtrdit.eval.metrics.psnr import psnr


def test_demo_command_writes_videos_and_sheet(tmp_path, capsys) -> None:
    assert main(["demo", "--out", str(tmp_path), "--seconds", "1", "--size", "128"]) == 0
    out = capsys.readouterr().out
    assert "SMOKE RUN" not in out  # the trained model ships with the package
    for name in ("sample.mp4", "stylized.mp4", "stylized_compare.mp4", "stylized_sheet.png", "reference.png"):
        assert (tmp_path / name).is_file(), name
    assert probe(tmp_path / "stylized.mp4").frames == probe(tmp_path / "sample.mp4").frames == 25


@pytest.mark.parametrize(("args", "message"), [
    (["--size", "0"], "--size must be at least 32"),
    (["--seconds", "0"], "argument --seconds: must be a finite number > 0"),
    (["--seconds", "nan"], "argument --seconds: must be a finite number > 0"),
    (["--seconds", "1e9"], "would take 4394531.3 GiB of memory (at most 2)"),  # once a numpy MemoryError traceback
    (["--size", "100000"], "give a shorter --seconds or a smaller --size"),
    (["--prompt", " "], "--prompt is empty"),
    (["--ref-style", "cubism"], "unknown --ref-style"),
    (["--model", "/nonexistent/model"], "model folder not found: /nonexistent/model"),
    (["--device", "cuda:99"], "--device cuda:99"),
    (["--out", "{file}"], "is not a folder"),
])
def test_demo_bad_options_are_one_line_and_write_nothing(args, message, tmp_path, capsys) -> None:
    (tmp_path / "file").write_text("x")
    out = tmp_path / "out"
    argv = ["demo", "--out", str(out), *[a.replace("{file}", str(tmp_path / "file")) for a in args]]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rtrdit demo: error:") and message in err and "\n" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


# Measured for the release of git 55f43bf on this clip (hard-edged cartoon outlines; the model retrained
# with anti-aliased ones passes the same thresholds): prompts 36/40 nearest own target (40/40 in tone; the 4
# misses are cartoon's), references 8/10 (9/10). The release before, with halftone on 6 px screens it
# could not draw, got 32/40 and 7/10; the model on the codec before --styled/--color-permute 6/10
# references, the old recipe's model (4 random styles per clip, one prompt per row) 24/40 prompts. The
# thresholds leave a margin of about one style's prompts and one reference for platform numerics.
HITS = {"prompt": 32, "reference": 7}
TONE_HITS = {"prompt": 36, "reference": 8}


@pytest.mark.slow
def test_demo_model_follows_prompts_and_references_at_256() -> None:
    """On a real clip the demo never saw in training (music.mp4, 256x256, native), each built-in style
    through every one of its prompts and through a reference (the clip's first frame styled, the
    paper's RV2V protocol) comes out closer to that style's target than the source is, and nearer its
    own target than to any other style's target for most prompts and references; in colour and tone
    (output and targets blurred, the fine textures the small model blurs set aside) for nearly all prompts."""
    st = Stylizer.from_pretrained("demo")
    assert st.config.area == 256 * 256  # the shipped model runs at 256x256 itself, no upscaling
    frames = read_frames(SHARED_VIDEOS / "music.mp4", (256, 256), count=9)
    styles = builtin_styles()
    names = sorted(styles)
    targets = {n: styles[n].apply(frames) for n in names}
    tones = {n: tone(t) for n, t in targets.items()}
    source_psnr = np.mean([psnr(frames, targets[n]) for n in names])

    def run(**style) -> np.ndarray:  # type: ignore[no-untyped-def]
        sess = st.session(seed=0, **style)
        return np.concatenate([sess.push(frames), sess.flush()])

    cases = {"prompt": [(n, {"prompt": p}) for n in names for p in styles[n].prompts],
             "reference": [(n, {"reference": styles[n].apply(frames[:1])[0]}) for n in names]}
    for kind, runs in cases.items():
        own, others, hits, tone_hits = [], [], 0, 0
        for name, style in runs:
            out = run(**style)
            scores = {m: psnr(out, targets[m]) for m in names}
            toned = {m: psnr(tone(out), tones[m]) for m in names}
            own.append(scores[name])
            others += [v for m, v in scores.items() if m != name]
            hits += max(scores, key=scores.__getitem__) == name
            tone_hits += max(toned, key=toned.__getitem__) == name
        assert np.mean(own) > source_psnr + 2.0, (kind, np.mean(own), source_psnr)
        assert np.mean(own) > np.mean(others) + 4.0, (kind, np.mean(own), np.mean(others))
        assert hits >= HITS[kind], (kind, hits, len(runs))
        assert tone_hits >= TONE_HITS[kind], (kind, tone_hits, len(runs))


@pytest.mark.slow
def test_demo_model_takes_the_new_style_at_a_switch_like_a_fresh_stream() -> None:
    """After a mid-stream switch to a reference, the demo model's output matches a stream started fresh
    with that reference at the switch (held-out music.mp4). With the paper's one kept self-attention frame
    this small model copies the old style from it and stays 3-6 dB below (hence switch_keep_frames 0)."""
    st = Stylizer.from_pretrained("demo")
    assert st.config.switch_keep_frames == 0
    frames = read_frames(SHARED_VIDEOS / "music.mp4", (256, 256), count=97)
    styles = builtin_styles()
    cut = 49
    for first, old, name in (("a pencil sketch", "pencil_sketch", "vintage_sepia"),
                             ("a thermal camera image", "thermal", "blueprint")):
        ref = styles[name].apply(frames[cut:cut + 1])[0]
        target = styles[name].apply(frames[cut:])
        fresh = st.session(reference=ref, seed=0)
        fresh_out = np.concatenate([fresh.push(frames[cut:]), fresh.flush()])
        sess = st.session(prompt=first, seed=0)
        before = sess.push(frames[:cut])
        sess.set_style(reference=ref)
        after = np.concatenate([before, sess.push(frames[cut:]), sess.flush()])[cut:]
        assert psnr(after, target) > psnr(fresh_out, target) - 1.0, (first, name)
        assert psnr(after, target) > psnr(after, styles[old].apply(frames[cut:])) + 3.0, (first, name)


def test_the_demo_offers_its_built_in_styles_as_presets() -> None:
    """The shipped stylizer.json names the styles the demo knows, for `rtrdit serve`'s one-tap buttons."""
    from rtrdit.data.stylizers import builtin_presets
    from rtrdit.stream.stylizer import CONFIG_NAME, StylizerConfig, demo_dir

    shipped = StylizerConfig.from_dict(json.loads((demo_dir() / CONFIG_NAME).read_text()))
    assert shipped.presets == builtin_presets()


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_the_demo_model_in_a_gpus_dtype_streams_what_float32_does(dtype: str) -> None:
    """The dtypes a GPU runs the DiT in (bfloat16; float16 on an older GPU), run here: with a mid-stream
    switch to a reference, the stream's output does not depend on how it was pushed, and it stays within
    rounding of the float32 model's (held-out music.mp4, 256x256)."""
    import torch

    frames = read_frames(SHARED_VIDEOS / "music.mp4", (256, 256), count=17)
    ref = builtin_styles()["watercolor"].apply(frames[:1])[0]

    def run(st: Stylizer, splits: list[int]) -> np.ndarray:
        sess, out, i = st.session(prompt="a pencil sketch", seed=0), [], 0
        for n in splits:
            out.append(sess.push(frames[i:i + n]))
            i += n
            if i == 8:
                sess.set_style(reference=ref)
        return np.concatenate([*out, sess.flush()])

    half = Stylizer.from_pretrained("demo", dtype=dtype)
    assert half.dit.dtype == getattr(torch, dtype)
    got = run(half, [8, 9])
    np.testing.assert_array_equal(got, run(half, [3, 5, 1, 8]))
    want = run(Stylizer.from_pretrained("demo"), [8, 9])
    assert got.shape == want.shape == frames.shape
    assert psnr(got, want) > 40.0, psnr(got, want)
