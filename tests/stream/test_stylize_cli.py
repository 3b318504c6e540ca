"""`rtrdit stylize`: a real file in, a real file out; clean failures leave nothing behind."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from video_clips import (
    LOSSLESS_H264,
    audio_duration,
    audio_onset,
    make_clip,
    make_hdr_clip,
    make_unknown_audio_clip,
    sdr_nits,
    video_profile,
)

from rtrdit.cli import clock_time, main
from rtrdit.codecs.photo import IMAGE_OPTIONS
from rtrdit.codecs.video import VideoError, iter_frames, iter_timed_frames, probe, read_frames
from rtrdit.codecs.video_writer import VideoWriter
from rtrdit.eval.metrics.psnr import psnr


def test_stylize_keeps_fps_audio_and_frame_count(tiny_stylizer_dir, clip_file, tmp_path, capsys) -> None:
    out = tmp_path / "out.mp4"
    rc = main(["stylize", clip_file, "-o", str(out), "--prompt", "ink wash painting",
               "--model", tiny_stylizer_dir, "--compare"])
    assert rc == 0
    src, got = probe(clip_file), probe(out)
    assert (got.width, got.height, got.frames) == (src.width, src.height, src.frames)
    assert abs(got.fps - src.fps) < 1e-6 and got.has_audio
    assert (tmp_path / "out_compare.mp4").is_file() and probe(tmp_path / "out_compare.mp4").width == 2 * src.width
    sheet = Image.open(tmp_path / "out_sheet.png")
    assert sheet.size[0] > 0 and sheet.size[1] > 0
    assert "wrote" in capsys.readouterr().out


def test_dtype_picks_the_dits_weights(tiny_stylizer_dir, clip_file, tmp_path, capsys) -> None:
    """`--dtype` runs the DiT in a GPU's dtype (here on the CPU): not float32's bytes, but the same video
    up to rounding (which this random model amplifies; the demo model's own check is in test_demo_model);
    a dtype that is none of the choices is one line and exit 2, with no output."""
    outs = {}
    for dtype in ("float32", "bfloat16"):
        outs[dtype] = tmp_path / f"{dtype}.mp4"
        assert main(["stylize", clip_file, "-o", str(outs[dtype]), "--prompt", "ink wash painting",
                     "--model", tiny_stylizer_dir, "--dtype", dtype]) == 0
    want, got = read_frames(outs["float32"]), read_frames(outs["bfloat16"])
    assert got.shape == want.shape and not np.array_equal(got, want) and psnr(got, want) > 20.0
    capsys.readouterr()
    bad = tmp_path / "bad.mp4"
    assert main(["stylize", clip_file, "-o", str(bad), "--prompt", "ink wash painting", "--dtype", "int8"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--dtype: invalid choice: 'int8'" in err and len(err.splitlines()) == 1 and not bad.exists()


def test_frames_decoded_at_the_dits_size_give_the_full_size_read_output(tmp_path) -> None:
    """Without --compare the source is decoded straight to the DiT's size (an HD or HDR frame is never
    made at full size) and the output scaled back: the same video as stylizing full-size frames, which
    --compare still reads, but for the two resamplers' rounding (the demo model on this clip, written
    losslessly: 44 dB; the tiny random model amplifies any difference, so it is not used here)."""
    from video_clips import SHARED_VIDEOS

    src = tmp_path / "dog.mp4"
    with VideoWriter(src, 24) as w:
        for frame in iter_frames(SHARED_VIDEOS / "dog.mp4", size=(640, 360), count=16):
            w.write(frame)
    fast, full = tmp_path / "fast.mp4", tmp_path / "full.mp4"
    for out, extra in ((fast, []), (full, ["--compare"])):
        assert main(["stylize", str(src), "-o", str(out), "--prompt", "ink wash painting", "--model", "demo",
                     "--crf", "0", *extra]) == 0  # lossless: no encoder noise on top
    a, b = read_frames(fast), read_frames(full)
    assert a.shape == b.shape == (16, 360, 640, 3)
    assert psnr(a, b) > 40, psnr(a, b)


def test_seed_random_is_drawn_said_and_repeatable(tiny_stylizer, tiny_stylizer_dir, clip, tmp_path, capsys) -> None:
    """--seed random (or -1, as in other diffusion tools) draws a seed and prints it; that seed given back
    makes the same output, and a negative or non-numeric seed is one line with exit 2."""
    photo = tmp_path / "photo.png"
    Image.fromarray(clip[3]).save(photo)
    seeds = []
    for i, word in enumerate(("random", "-1")):
        assert main(["stylize", str(photo), "-o", str(tmp_path / f"r{i}.png"), "--prompt", "ink wash painting",
                     "--seed", word, "--model", tiny_stylizer_dir]) == 0
        said = re.search(r"seed (\d+) \(--seed \1 makes this output again\)", capsys.readouterr().err)
        assert said, "the drawn seed is not printed"
        seeds.append(int(said.group(1)))
    assert seeds[0] != seeds[1]  # drawn afresh (a 1 in 2**31 chance of a false failure)
    assert main(["stylize", str(photo), "-o", str(tmp_path / "again.png"), "--prompt", "ink wash painting",
                 "--seed", str(seeds[0]), "--model", tiny_stylizer_dir]) == 0
    r0, r1, again = (np.asarray(Image.open(tmp_path / f"{n}.png")) for n in ("r0", "r1", "again"))
    assert np.array_equal(r0, again)
    assert not np.array_equal(r0, r1)  # another seed, another output: the drawn seed reached the noise
    for bad in ("-2", "one"):
        assert main(["stylize", str(photo), "-o", str(tmp_path / "bad.png"), "--prompt", "x", "--seed", bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert "--seed: must be a whole number >= 0, or random (-1)" in err, err
    assert not (tmp_path / "bad.png").exists()


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_a_photo_is_stylized_into_an_image(suffix, tiny_stylizer, tiny_stylizer_dir, clip, tmp_path, capsys) -> None:
    """A photo in, a still image out (its suffix the format), equal to the session's one frame; with
    --compare also the side-by-side image."""
    photo = tmp_path / "photo.png"
    Image.fromarray(clip[3]).save(photo)
    out = tmp_path / f"styled{suffix}"
    assert main(["stylize", str(photo), "-o", str(out), "--prompt", "ink wash painting", "--seed", "2",
                 "--model", tiny_stylizer_dir, "--compare"]) == 0
    sess = tiny_stylizer.session(prompt="ink wash painting", seed=2)
    expected = np.concatenate([sess.push(clip[3:4]), sess.flush()])[0]
    with Image.open(out) as im:
        assert im.format == {".png": "PNG", ".jpg": "JPEG", ".webp": "WEBP"}[suffix]
        got = np.asarray(im.convert("RGB")).astype(int)
    assert got.shape == clip[3].shape
    same = tmp_path / f"same{suffix}"  # the expected frame through the same encoder settings
    Image.fromarray(expected).save(same, **IMAGE_OPTIONS.get(suffix, {}))
    with Image.open(same) as im:
        assert psnr(got, np.asarray(im.convert("RGB"))) > 40  # the model loaded from disk differs by a rounding
    same.unlink()
    with Image.open(tmp_path / f"styled_compare{suffix}") as im:
        assert im.size == (2 * clip.shape[2], clip.shape[1])
    assert f"wrote {out}" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["photo.png", out.name, f"styled_compare{suffix}"])


def test_an_animated_webp_is_stylized_into_one(tiny_stylizer, tiny_stylizer_dir, clip, tmp_path, capsys) -> None:
    """A sticker (animated WebP, which FFmpeg cannot decode) in, an animated WebP out: every frame at its time,
    as the session stylizes them; --compare gives the side by side as one too. A video with sound to .webp:
    said once that the sound is left out."""
    frames = [Image.fromarray(f) for f in clip[:8]]
    frames[0].save(tmp_path / "sticker.webp", save_all=True, append_images=frames[1:], duration=125, lossless=True)
    out = tmp_path / "styled.webp"
    assert main(["stylize", str(tmp_path / "sticker.webp"), "-o", str(out), "--prompt", "ink wash painting",
                 "--model", tiny_stylizer_dir, "--compare"]) == 0
    sess = tiny_stylizer.session(prompt="ink wash painting")
    expected = np.concatenate([sess.push(clip[:8]), sess.flush()])
    with VideoWriter(tmp_path / "same.webp", 8) as w:  # the expected frames through the same encoder
        w.write(expected)
    got, same = read_frames(out), read_frames(tmp_path / "same.webp")
    assert got.shape == expected.shape and psnr(got.astype(int), same.astype(int)) > 40
    assert np.allclose([t for t, _ in iter_timed_frames(out)], np.arange(8) * 0.125, atol=1e-3)
    assert probe(tmp_path / "styled_compare.webp").width == 2 * clip.shape[2]
    capsys.readouterr()
    assert main(["stylize", str(make_clip(tmp_path / "talk.mp4", frames=6, audio="aac")), "-o",
                 str(tmp_path / "talk.webp"), "--prompt", "x", "--model", tiny_stylizer_dir]) == 0
    assert "an animated WebP has no sound: " in capsys.readouterr().err and probe(tmp_path / "talk.webp").frames == 6


def test_a_phone_photo_is_stylized_upright(tiny_stylizer_dir, tmp_path) -> None:
    """A JPEG whose EXIF turns it (here mirrored and turned: orientation 5) comes out as a viewer shows it."""
    from PIL import ImageOps

    stored = Image.fromarray(np.zeros((40, 64, 3), np.uint8))
    exif = stored.getexif()
    exif[0x0112] = 5
    stored.save(tmp_path / "phone.jpg", exif=exif.tobytes())
    with Image.open(tmp_path / "phone.jpg") as im:
        shown = ImageOps.exif_transpose(im).size
    assert shown == (40, 64)
    assert main(["stylize", str(tmp_path / "phone.jpg"), "-o", str(tmp_path / "out.png"), "--prompt", "x",
                 "--model", tiny_stylizer_dir]) == 0
    with Image.open(tmp_path / "out.png") as im:
        assert im.size == shown


def test_a_photo_past_the_video_readers_limit_is_stylized(tiny_stylizer_dir, tmp_path, monkeypatch) -> None:
    """A phone's 108 or 200 MP photo is past the video reader's 67 MP (`MAX_PIXELS`), which refused it;
    Pillow reads it (to its own limit, 179 MP): the same image as one under the limit gives, upright. Here
    the limit is lowered under a small photo's size instead (a real 72 MP photo: 3.4 s, 1.8 GB)."""
    from rtrdit.codecs import video

    yy, xx = np.mgrid[0:60, 0:80]
    photo = tmp_path / "p.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter: 60x80
    Image.fromarray(np.stack([xx * 3, yy * 4, xx + yy], -1).astype(np.uint8)).save(photo, exif=exif, quality=95)
    args = ["--prompt", "ink wash painting", "--model", tiny_stylizer_dir]
    assert main(["stylize", str(photo), "-o", str(tmp_path / "a.png"), *args]) == 0
    monkeypatch.setattr(video, "MAX_PIXELS", 40 * 40)
    with pytest.raises(video.VideoError, match="too large"):
        probe(photo)
    assert main(["stylize", str(photo), "-o", str(tmp_path / "b.png"), *args]) == 0
    a, b = np.asarray(Image.open(tmp_path / "a.png")), np.asarray(Image.open(tmp_path / "b.png"))
    assert a.shape == (80, 60, 3) and np.array_equal(a, b)


def test_an_image_output_of_a_video_is_refused(tiny_stylizer_dir, clip_file, tmp_path, capsys) -> None:
    assert main(["stylize", clip_file, "-o", str(tmp_path / "a.png"), "--prompt", "x", "--model", tiny_stylizer_dir]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("rtrdit stylize: error: an image output (.png) takes a photo, and the input has 23 frames: "
                   "write a video (.mp4, .m4v, .mov, .mkv, .webm, .gif, .webp)")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(("suffix", "codec"), [(".webm", "vp9"), (".mkv", "h264")])
def test_stylize_writes_the_container_its_suffix_names(tiny_stylizer_dir, clip_file, tmp_path, suffix, codec) -> None:
    out = tmp_path / f"out{suffix}"
    assert main(["stylize", clip_file, "-o", str(out), "--prompt", "ink wash painting",
                 "--model", tiny_stylizer_dir, "--compare"]) == 0
    src, got, cmp = probe(clip_file), probe(out), probe(tmp_path / f"out_compare{suffix}")
    assert (got.width, got.height, got.frames, got.codec) == (src.width, src.height, src.frames, codec)
    assert got.has_audio and abs(got.fps - src.fps) < 1e-6
    assert (cmp.width, cmp.codec) == (2 * src.width, codec)
    mp4 = tmp_path / "same.mp4"
    assert main(["stylize", clip_file, "-o", str(mp4), "--prompt", "ink wash painting", "--model", tiny_stylizer_dir]) == 0
    assert psnr(read_frames(out), read_frames(mp4)) > 25  # the same frames, encoded another way


def test_stylize_writes_a_gif_and_says_it_has_no_sound(tiny_stylizer_dir, clip_file, tmp_path, capsys) -> None:
    out = tmp_path / "out.gif"
    assert main(["stylize", clip_file, "-o", str(out), "--prompt", "x", "--model", tiny_stylizer_dir]) == 0
    assert "note: a GIF has no sound" in capsys.readouterr().err
    src, got = probe(clip_file), probe(out)
    assert (got.codec, got.width, got.height, got.frames, got.has_audio) == ("gif", src.width, src.height, 23, False)
    both = tmp_path / "both.gif"
    assert main(["stylize", clip_file, "-o", str(both), "--prompt", "x", "--model", tiny_stylizer_dir, "--compare"]) == 0
    assert probe(tmp_path / "both_compare.gif").width == 2 * src.width

def test_a_gif_holds_the_frames_an_mp4_does(tmp_path) -> None:
    """The demo model on a real clip: the GIF's 256 colours a frame against x264 at CRF 18, 33 dB apart (the tiny random
    model's noise-like frames would measure x264, not the GIF)."""
    from video_clips import SHARED_VIDEOS

    src = tmp_path / "dog.mp4"
    with VideoWriter(src, 24) as w:
        w.write(read_frames(SHARED_VIDEOS / "dog.mp4", size=(128, 128), count=12))
    gif, mp4 = tmp_path / "out.gif", tmp_path / "out.mp4"
    for out in (gif, mp4):
        assert main(["stylize", str(src), "-o", str(out), "--prompt", "thermal camera", "--model", "demo"]) == 0
    assert psnr(read_frames(gif), read_frames(mp4)) > 30


def test_a_variable_frame_rate_keeps_its_timing_audio_and_switch_times(tiny_stylizer_dir, tmp_path) -> None:
    """A phone-style clip (30 fps, then 10 fps) keeps every frame's time, so the audio stays in sync,
    and a scheduled switch follows the clock, not the frame count at the mean rate."""
    times = [i / 30 for i in range(12)] + [11 / 30 + 0.1 * (i + 1) for i in range(12)]
    src = make_clip(tmp_path / "vfr.mp4", frames=24, size=(48, 40), times=times, audio="aac")
    sched = tmp_path / "s.json"
    sched.write_text(json.dumps([{"time": 0, "prompt": "ink wash painting"}, {"time": times[18], "prompt": "neon"}]))
    plain, switched = tmp_path / "a.mp4", tmp_path / "b.mp4"
    lossless = ["--crf", "0", "--model", tiny_stylizer_dir]  # x264 at its default may recode a frame on a rerun
    assert main(["stylize", str(src), "-o", str(plain), "--prompt", "ink wash painting", *lossless]) == 0
    assert main(["stylize", str(src), "-o", str(switched), "--schedule", str(sched), *lossless]) == 0
    assert [t for t, _ in iter_timed_frames(switched)] == pytest.approx(times, abs=1e-3)
    assert audio_duration(switched) == pytest.approx(times[-1] + 1 / probe(src).fps, abs=0.06)
    a, b = read_frames(plain), read_frames(switched)
    changed = [i for i in range(24) if (a[i] != b[i]).any()]
    assert changed and 18 <= changed[0] <= 21, changed  # at the mean rate (15 fps) 1.07 s would be frame 16


def test_a_last_frame_held_over_the_audio_keeps_all_of_it(tiny_stylizer_dir, tmp_path) -> None:
    """A slideshow-like source (its last frame at 0.5 s, held while the audio plays on to 3 s): the output
    keeps the whole 3 s of audio, as a player plays the source; it was cut 1/fps after the last frame."""
    times = [0.0, 0.1, 0.2, 0.3, 0.5]
    src = make_clip(tmp_path / "slides.mp4", frames=5, size=(48, 40), fps=10, times=times, audio="aac",
                    audio_seconds=3.0)
    assert audio_duration(src) == pytest.approx(3.0, abs=0.03)
    out = tmp_path / "out.mp4"
    assert main(["stylize", str(src), "-o", str(out), "--prompt", "x", "--model", tiny_stylizer_dir]) == 0
    assert [t for t, _ in iter_timed_frames(out)] == pytest.approx(times, abs=1e-3)
    assert audio_duration(out) == pytest.approx(3.0, abs=0.05)


def test_schedule_switches_style(tiny_stylizer_dir, clip_file, tmp_path) -> None:
    Image.fromarray(np.full((20, 30, 3), (200, 30, 90), np.uint8)).save(tmp_path / "ref.png")
    sched = tmp_path / "s.json"
    sched.write_text(json.dumps([{"time": 0, "reference": "ref.png"}, {"time": 1.0, "prompt": "ink wash painting"}]))
    plain, switched = tmp_path / "a.mp4", tmp_path / "b.mp4"
    assert main(["stylize", clip_file, "-o", str(plain), "--ref", str(tmp_path / "ref.png"), "--crf", "0",
                 "--model", tiny_stylizer_dir]) == 0
    assert main(["stylize", clip_file, "-o", str(switched), "--schedule", str(sched), "--crf", "0",
                 "--model", tiny_stylizer_dir]) == 0
    a, b = read_frames(plain).astype(int), read_frames(switched).astype(int)
    diff = np.abs(a - b).mean(axis=(1, 2, 3))  # per frame
    assert diff[:12].max() == 0 and diff[13:].min() > 3, diff  # the same style until the switch at 1 s (frame 12)
    assert video_profile(plain) == video_profile(switched) == LOSSLESS_H264


def test_a_part_of_a_video_is_stylized_as_that_part_alone(tiny_stylizer_dir, tmp_path, capsys) -> None:
    """--start 1 --duration 1 (a preview of a long file) gives the video a clip of just those frames gives,
    from time 0, with the audio of that second in sync (its tone starts 1.25 s into the source)."""
    src = make_clip(tmp_path / "src.mkv", frames=36, size=(48, 40), fps=12, codec="ffv1", audio="aac",
                    audio_onset=1.25)
    alone = make_clip(tmp_path / "alone.mkv", frames=12, size=(48, 40), fps=12, codec="ffv1", first=12)
    part, ref, head = tmp_path / "part.mp4", tmp_path / "ref.mp4", tmp_path / "head.mp4"
    style = ["--prompt", "ink wash painting", "--model", tiny_stylizer_dir, "--crf", "0"]  # lossless: exact frames
    assert main(["stylize", str(src), "-o", str(part), "--start", "1", "--duration", "0:01", *style]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["stylize", str(alone), "-o", str(ref), *style]) == 0
    assert main(["stylize", str(src), "-o", str(head), "--duration", "1", *style]) == 0
    a, b, c = (read_frames(p).astype(int) for p in (part, ref, head))
    assert a.shape == b.shape == (12, 40, 48, 3)
    assert np.array_equal(a, b)
    assert np.abs(a - c).mean(axis=(1, 2, 3)).min() > 3  # not the first second
    assert [t for t, _ in iter_timed_frames(part)] == pytest.approx([i / 12 for i in range(12)], abs=1e-3)
    assert audio_duration(part) == pytest.approx(1.0, abs=0.03)
    assert audio_onset(part) == pytest.approx(0.25, abs=0.003)


def test_a_part_starts_in_the_style_the_schedule_has_there(tiny_stylizer_dir, clip_file, tmp_path, capsys) -> None:
    """The schedule keeps the input's clock: a part from 0.5 s switches at 1.25 s, 9 frames in (a switch
    applies from the next chunk: frames 1-4, 5-8, 9-12 of a part share one latent frame each); a part from
    1.5 s starts in the style changed to at 1.25 s; a change after the part is named."""
    sched = tmp_path / "s.json"
    sched.write_text(json.dumps([{"time": 0, "prompt": "ink wash painting"}, {"time": 1.25, "prompt": "neon"},
                                 {"time": 1.8, "prompt": "sepia"}]))
    scheduled, plain = tmp_path / "a.mp4", tmp_path / "b.mp4"
    common = ["--start", "0.5", "--duration", "1", "--model", tiny_stylizer_dir, "--crf", "0"]
    assert main(["stylize", clip_file, "-o", str(scheduled), "--schedule", str(sched), *common]) == 0
    assert "note: the style change(s) at 1.8 s come after the part stylized ends (1.50 s)" in capsys.readouterr().err
    assert main(["stylize", clip_file, "-o", str(plain), "--prompt", "ink wash painting", *common]) == 0
    a, b = read_frames(scheduled).astype(int), read_frames(plain).astype(int)
    diff = np.abs(a - b).mean(axis=(1, 2, 3))
    assert len(diff) == 12 and diff[:9].max() == 0 and diff[9:].min() > 3, diff
    late, neon = tmp_path / "c.mp4", tmp_path / "d.mp4"
    assert main(["stylize", clip_file, "-o", str(late), "--schedule", str(sched), "--start", "1.5",
                 "--duration", "0.25", "--model", tiny_stylizer_dir, "--crf", "0"]) == 0
    assert main(["stylize", clip_file, "-o", str(neon), "--prompt", "neon", "--start", "1.5",
                 "--duration", "0.25", "--model", tiny_stylizer_dir, "--crf", "0"]) == 0
    assert np.array_equal(read_frames(late), read_frames(neon))


def test_a_part_is_checked_before_the_work(tiny_stylizer, clip_file, tmp_path) -> None:
    """The API checks a part as the command does, and a progress bar knows its frames."""
    from rtrdit.stream.render import plan_render

    assert plan_render(clip_file, tmp_path / "a.mp4", "x", start=0.5, duration=1).frames == 12
    assert plan_render(clip_file, tmp_path / "a.mp4", "x", start=1.0).frames == 11  # 23 frames at 12 fps
    for start, duration, match in [(-1, None, "start must be"), (float("nan"), None, "start must be"),
                                   (0, 0, "duration must be"), (0, float("inf"), "duration must be"),
                                   (True, None, "start must be"), (2.5, None, "not before the video's end"),
                                   (1.9, None, "not before the video's end"),  # 1.92 s long, last frame at 1.83
                                   (0, 0.05, "shorter than one frame")]:
        with pytest.raises(VideoError, match=match):
            tiny_stylizer.stylize_file(clip_file, tmp_path / "a.mp4", "x", start=start, duration=duration)
    assert not list(tmp_path.iterdir())
    photo = tmp_path / "photo.png"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(photo)
    with pytest.raises(VideoError, match="one frame"):
        tiny_stylizer.stylize_file(photo, tmp_path / "b.png", "x", start=1.0)
    assert not (tmp_path / "b.png").exists()


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90.5", 90.5), ("1:30", 90), ("01:02:03.5", 3723.5),
                                               ("0:00.25", 0.25)])
def test_times_are_seconds_or_clock_times(text, seconds) -> None:
    assert clock_time(text) == seconds


@pytest.mark.parametrize("text", ["abc", "-1", "1:75", "1:2:60", "1::2", "inf", "nan", "1:2:3:4", ""])
def test_a_bad_time_is_one_line(text, clip_file, tmp_path, capsys) -> None:
    assert main(["stylize", clip_file, "-o", str(tmp_path / "a.mp4"), "--prompt", "x", "--start", text]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--start: must be seconds or [HH:]MM:SS(.s)" in err, err


def test_a_change_after_the_end_is_named_not_silently_dropped(tiny_stylizer_dir, clip_file, tmp_path, capsys) -> None:
    sched = tmp_path / "s.json"
    sched.write_text(json.dumps([{"time": 0, "prompt": "ink wash"}, {"time": 1.0, "prompt": "thermal"},
                                 {"time": 60, "prompt": "sepia"}]))
    assert main(["stylize", clip_file, "-o", str(tmp_path / "a.mp4"), "--schedule", str(sched),
                 "--model", tiny_stylizer_dir]) == 0
    err = capsys.readouterr().err
    duration = probe(clip_file).duration
    assert f"note: the style change(s) at 60 s come after the video ends ({duration:.2f} s) and are not used" in err


@pytest.mark.parametrize("case", ["missing-input", "empty-input", "corrupt-input", "no-style", "bad-ref",
                                  "missing-ref", "size-zero", "no-folder", "bad-schedule", "missing-model",
                                  "missing-device", "bad-suffix", "model-not-json", "model-unknown-field",
                                  "model-not-an-object", "bad-crf"])
def test_bad_input_one_line_no_output(case, tiny_stylizer_dir, clip_file, tmp_path, capsys) -> None:
    out = tmp_path / "out.mp4"
    args = [clip_file, "-o", str(out), "--prompt", "x", "--model", tiny_stylizer_dir]
    if case == "missing-input":
        args[0] = str(tmp_path / "nope.mp4")
    elif case == "empty-input":
        (tmp_path / "empty.mp4").write_bytes(b"")
        args[0] = str(tmp_path / "empty.mp4")
    elif case == "corrupt-input":
        (tmp_path / "bad.mp4").write_bytes(Path(clip_file).read_bytes()[:300])
        args[0] = str(tmp_path / "bad.mp4")
    elif case == "no-style":
        args = [clip_file, "-o", str(out), "--model", tiny_stylizer_dir]
    elif case == "bad-ref":
        (tmp_path / "r.png").write_text("no")
        args[3:5] = ["--ref", str(tmp_path / "r.png")]
    elif case == "missing-ref":
        args[3:5] = ["--ref", str(tmp_path / "none.png")]
    elif case == "size-zero":
        args += ["--size", "0x256"]
    elif case == "no-folder":
        out = tmp_path / "no" / "out.mp4"
        args[2] = str(out)
    elif case == "bad-schedule":
        (tmp_path / "s.json").write_text("[{\"time\": 0}]")
        args = [clip_file, "-o", str(out), "--schedule", str(tmp_path / "s.json"), "--model", tiny_stylizer_dir]
    elif case == "missing-model":
        args[-1] = str(tmp_path / "no-model")
    elif case == "missing-device":
        args += ["--device", "cuda:99"]
    elif case == "bad-suffix":
        out = tmp_path / "out.avi"
        args[2] = str(out)
    elif case == "bad-crf":
        args += ["--crf", "52"]
    elif case.startswith("model-"):
        model = tmp_path / "model"
        shutil.copytree(tiny_stylizer_dir, model)
        text = {"model-not-json": "{not json", "model-unknown-field": '{"bogus": 1}', "model-not-an-object": "[1, 2]"}
        (model / "stylizer.json").write_text(text[case])
        args[-1] = str(model)
    rc = main(["stylize", *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and err.startswith("rtrdit stylize: error:"), err
    if case.startswith("model-"):
        assert "cannot read" in err and "stylizer.json" in err, err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".") or p.suffix == ".mp4" and p.name != "bad.mp4"
                and p.name != "empty.mp4"]


def test_a_size_far_above_the_training_area_gets_a_note(tiny_stylizer_dir, clip_file, tmp_path, capsys) -> None:
    """--size 96x96 on a model trained at 32x32 (9x the area) still runs, after one line saying why it is slow."""
    assert main(["stylize", clip_file, "-o", str(tmp_path / "a.mp4"), "--prompt", "x", "--model", tiny_stylizer_dir,
                 "--size", "96x96"]) == 0
    assert "note: --size 96x96 is 9x the area this model was trained at (about 32x32)" in capsys.readouterr().err
    assert main(["stylize", clip_file, "-o", str(tmp_path / "b.mp4"), "--prompt", "x", "--model", tiny_stylizer_dir,
                 "--size", "48x48"]) == 0
    assert "note:" not in capsys.readouterr().err  # 48x40 to 48x48: near enough its shape
    assert main(["stylize", clip_file, "-o", str(tmp_path / "c.mp4"), "--prompt", "x", "--model", tiny_stylizer_dir,
                 "--size", "32x64"]) == 0
    assert "note: --size 32x64 has another shape than the input (48x40)" in capsys.readouterr().err
    assert probe(tmp_path / "c.mp4").width == 48  # still the input's size


def test_an_hdr_phone_video_is_stylized_from_its_sdr_picture(tiny_stylizer_dir, tmp_path, capsys) -> None:
    """An HLG clip (as an iPhone records) is read tone-mapped: the --compare video's source half shows the
    SDR picture it carries (read as SDR it was 20 levels darker), the output is SDR, and a note says so."""
    sdr = np.zeros((48, 64, 3), np.uint8)
    sdr[:, :32], sdr[:, 32:] = (190, 140, 120), (90, 140, 200)
    clip = make_hdr_clip(tmp_path / "phone.mp4", [sdr_nits(sdr)] * 5, "hlg")
    out = tmp_path / "out.mp4"
    assert main(["stylize", str(clip), "-o", str(out), "--prompt", "x", "--model", tiny_stylizer_dir, "--compare"]) == 0
    assert "phone.mp4 is HDR (HLG): it is read tone-mapped to SDR and the output is SDR" in capsys.readouterr().err
    assert probe(out).hdr == "" and probe(out).frames == 5
    source_half = read_frames(tmp_path / "out_compare.mp4")[:, :, :64].astype(float)
    for patch, rgb in ((source_half[:, 8:40, 4:28], (190, 140, 120)), (source_half[:, 8:40, 36:60], (90, 140, 200))):
        assert np.abs(patch.reshape(-1, 3).mean(axis=0) - rgb).max() < 3


def test_non_square_pixels_are_stylized_at_the_size_they_are_shown(tiny_stylizer_dir, tmp_path) -> None:
    """72x48 stored at a 4:3 pixel aspect is shown 96x48: the output has that size in square pixels."""
    clip = make_clip(tmp_path / "dv.mp4", frames=3, size=(72, 48), sar=Fraction(4, 3))
    out = tmp_path / "out.mp4"
    assert main(["stylize", str(clip), "-o", str(out), "--prompt", "x", "--model", tiny_stylizer_dir]) == 0
    assert (probe(out).width, probe(out).height) == (96, 48)
    with av.open(str(out)) as c:
        assert c.streams.video[0].sample_aspect_ratio in (None, Fraction(1))


@pytest.mark.parametrize("also_aac", [True, False])
def test_an_audio_track_ffmpeg_cannot_decode_is_passed_over(also_aac, tiny_stylizer_dir, tmp_path, capsys) -> None:
    """A first audio track in a codec FFmpeg does not know was a traceback: the readable track is kept,
    and with none readable the video is still stylized, with a note that it has no sound."""
    clip = make_unknown_audio_clip(tmp_path / "phone.mkv", also_aac)
    assert probe(clip).has_audio is also_aac and probe(clip).unreadable_audio == 1
    out = tmp_path / "out.mkv"
    assert main(["stylize", str(clip), "-o", str(out), "--prompt", "x", "--model", tiny_stylizer_dir]) == 0
    err = capsys.readouterr().err
    assert probe(out).frames == 24 and "Traceback" not in err
    if also_aac:
        assert audio_duration(out) == pytest.approx(1.0, abs=0.05) and "no sound" not in err
    else:
        assert not probe(out).has_audio and "phone.mkv's audio is in a codec FFmpeg cannot decode" in err


def test_sigterm_mid_stream_is_a_clean_stop(tiny_stylizer_dir, clip_file, tmp_path) -> None:
    """`kill` (SIGTERM) while a file is being written gets Ctrl-C's clean-up: one line, exit 143 and
    nothing left in the output folder (it used to kill the process outright, leaving the .part file)."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    script = textwrap.dedent("""
        import os, signal, sys
        from rtrdit.stream.session import Session
        push, calls = Session.push, []
        def push_then_terminate(self, frames):
            calls.append(1)
            if len(calls) == 3:  # output frames are in the temporary files by now
                os.kill(os.getpid(), signal.SIGTERM)
            return push(self, frames)
        Session.push = push_then_terminate
        from rtrdit.cli import main
        sys.exit(main(sys.argv[1:]))
    """)
    proc = subprocess.run([sys.executable, "-c", script, "stylize", clip_file, "-o", str(out_dir / "o.mp4"),
                           "--prompt", "ink wash painting", "--model", tiny_stylizer_dir, "--compare"],
                          check=False, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 143, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == "rtrdit stylize: terminated"
    assert list(out_dir.iterdir()) == []


def test_stylize_refuses_to_overwrite_its_input(tiny_stylizer_dir, clip_file, tmp_path, capsys) -> None:
    video = tmp_path / "in.mp4"
    video.write_bytes(Path(clip_file).read_bytes())
    before = video.read_bytes()
    rc = main(["stylize", str(video), "-o", str(tmp_path / "." / "in.mp4"), "--prompt", "x", "--model", tiny_stylizer_dir])
    assert rc == 2 and "is the input" in capsys.readouterr().err
    assert video.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]
    # nor through --compare's side-by-side file: stylizing x_compare.mp4 into x.mp4
    compare = tmp_path / "x_compare.mp4"
    compare.write_bytes(before)
    rc = main(["stylize", str(compare), "-o", str(tmp_path / "x.mp4"), "--prompt", "x", "--model", tiny_stylizer_dir,
               "--compare"])
    assert rc == 2 and f"the output {compare} is the input" in capsys.readouterr().err
    assert compare.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "x_compare.mp4"]


def test_stylize_refuses_to_overwrite_a_reference_or_the_schedule(tiny_stylizer_dir, clip, tmp_path, capsys) -> None:
    """`--ref style.png -o style.png` on a photo replaced the user's reference with the output; so did a
    schedule's reference, a link to the input, or an output named like the schedule."""
    photo, ref = tmp_path / "photo.png", tmp_path / "style.png"
    Image.fromarray(clip[0]).save(photo)
    Image.fromarray(clip[5]).save(ref)
    (tmp_path / "sched.json").write_text(json.dumps([{"time": 0, "reference": "style.png"}]))
    os.symlink(photo, tmp_path / "link.png")
    os.link(ref, tmp_path / "hard.png")
    Image.fromarray(clip[9]).save(tmp_path / "out_compare.png")
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    model = ["--model", tiny_stylizer_dir]
    for args, message in [
        (["-o", str(ref), "--ref", str(ref)], f"the output {ref} is a reference image"),
        (["-o", str(tmp_path / "hard.png"), "--ref", str(ref)], "hard.png is a reference image"),
        (["-o", str(ref), "--schedule", str(tmp_path / "sched.json")], f"the output {ref} is a reference image"),
        (["-o", str(tmp_path / "out.png"), "--compare", "--ref", str(tmp_path / "out_compare.png")],
         "out_compare.png is a reference image"),
        (["-o", str(tmp_path / "link.png"), "--prompt", "x"], "link.png is the input"),
    ]:
        assert main(["stylize", str(photo), *args, *model]) == 2, args
        assert message in capsys.readouterr().err, args
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == files, args
    assert main(["stylize", str(photo), "-o", str(tmp_path / "out.png"), "--ref", str(ref), *model]) == 0
    assert ref.read_bytes() == files["style.png"]


def test_bench_reports_the_documented_keys(tiny_stylizer_dir, capsys) -> None:
    assert main(["bench", "--model", tiny_stylizer_dir, "--size", "64x48", "--seconds", "2", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    for key in ("fps", "first_frame_latency_ms", "latency_ms_p50", "latency_ms_p95", "latency_ms_p99",
                "peak_rss_mb", "late_over_early"):
        assert isinstance(res[key], float) and res[key] > 0, key
    assert res["frames"] == 48 and res["width"] == 64 and res["height"] == 48
    assert res["latency_ms_p50"] <= res["latency_ms_p95"] <= res["latency_ms_p99"]
    tenths = res["latency_ms_by_tenth"]  # 12 chunks of output -> ten parts
    assert len(tenths) == 10 and all(x > 0 for x in tenths)
    assert main(["bench", "--model", tiny_stylizer_dir, "--size", "64x48", "--seconds", "1"]) == 0
    assert capsys.readouterr().out.count("latency_ms_by_tenth") == 1


def test_tenth_means() -> None:
    from rtrdit.stream.bench import tenth_means

    assert tenth_means(np.arange(20.0)) == [0.5 + 2 * i for i in range(10)]
    assert tenth_means(np.array([1.0, 2.0, 3.0])) == [1.0, 2.0, 3.0]  # fewer values than tenths
    step = tenth_means(np.r_[np.full(50, 70.0), np.full(50, 100.0)])  # a host slowing down half-way
    assert step == [70.0] * 5 + [100.0] * 5


def test_bench_bad_arguments(capsys) -> None:
    assert main(["bench", "--size", "0x0"]) == 2
    assert main(["bench", "--model", "/nonexistent", "--seconds", "1"]) == 2
    assert main(["bench", "--device", "cuda:99", "--seconds", "1"]) == 2
    assert main(["bench", "--dtype", "int8", "--seconds", "1"]) == 2
    assert all(line.startswith("rtrdit bench: error:") for line in capsys.readouterr().err.strip().splitlines())


def test_stylize_file_is_the_command_from_python(tiny_stylizer, tiny_stylizer_dir, clip_file, tmp_path) -> None:
    """`Stylizer.stylize_file` writes what `rtrdit stylize` writes (same frames, times and audio), takes a
    schedule as StyleChange objects as well as a JSON file, and refuses bad input with the same checks."""
    from rtrdit.codecs.video import VideoError
    from rtrdit.stream.schedule import StyleChange
    from rtrdit.stream.session import StylizerError

    Image.fromarray(np.full((16, 16, 3), (200, 40, 90), np.uint8)).save(tmp_path / "ref.png")
    (tmp_path / "s.json").write_text(json.dumps([{"time": 0, "prompt": "ink wash"},
                                                 {"time": 1.0, "reference": "ref.png"}]))
    cli, api = tmp_path / "cli.mp4", tmp_path / "api.mp4"
    assert main(["stylize", clip_file, "-o", str(cli), "--schedule", str(tmp_path / "s.json"), "--seed", "3",
                 "--model", tiny_stylizer_dir]) == 0
    done: list[int] = []
    result = tiny_stylizer.stylize_file(
        clip_file, api, schedule=[StyleChange(1.0, reference=str(tmp_path / "ref.png")), StyleChange(0.0, "ink wash")],
        seed=3, progress=done.append)
    assert result.frames == 23 and done[-1] == 23 and result.output == str(api)
    assert psnr(read_frames(api), read_frames(cli)) > 40  # the model loaded from disk differs by a rounding
    assert [t for t, _ in iter_timed_frames(api)] == pytest.approx([t for t, _ in iter_timed_frames(cli)])
    assert audio_duration(api) == pytest.approx(audio_duration(cli), abs=0.03)
    with pytest.raises(VideoError, match="is the input"):
        tiny_stylizer.stylize_file(api, api, prompt="x")
    with pytest.raises(StylizerError, match="give a prompt, a reference image or a schedule"):
        tiny_stylizer.stylize_file(clip_file, tmp_path / "b.mp4")
    with pytest.raises(StylizerError, match="reference image not found"):  # before the first frame, not at 1 s
        tiny_stylizer.stylize_file(clip_file, tmp_path / "b.mp4", "x", schedule=[StyleChange(1.0, reference="no.png")])
    with pytest.raises(VideoError, match="crf must be a whole number from 0"):
        tiny_stylizer.stylize_file(clip_file, tmp_path / "b.mp4", "x", crf=52)
    with pytest.raises(VideoError, match="crf must be a whole number from 0"):  # at once, not once a stream comes
        tiny_stylizer.stylize_stream("rtmp://127.0.0.1:9/live/x", tmp_path / "b.mp4", "x", listen=True, crf=-1)
    with pytest.raises(StylizerError, match="must start at time 0"):
        tiny_stylizer.stylize_file(clip_file, tmp_path / "b.mp4", schedule=[StyleChange(2.0, "x")])
    with pytest.raises(StylizerError, match=r"must start by the start \(0.5 s\)"):
        tiny_stylizer.stylize_file(clip_file, tmp_path / "b.mp4", schedule=[StyleChange(1.0, "x")], start=0.5)
    part = tiny_stylizer.stylize_file(clip_file, tmp_path / "c.mp4", schedule=[StyleChange(1.0, "x")], start=1.0)
    assert part.frames == 11  # a part from 1 s with the schedule's first style at 1 s: nothing before it needed
    (tmp_path / "c.mp4").unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["api.mp4", "cli.mp4", "ref.png", "s.json"]
    tiny_stylizer.stylize_file(clip_file, tmp_path / "exact.mp4", "x", crf=0, compare=True)
    assert video_profile(tmp_path / "exact.mp4") == video_profile(tmp_path / "exact_compare.mp4") == LOSSLESS_H264
    assert video_profile(api) == "High"  # the default, crf 18


def test_an_error_on_the_encoding_thread_reaches_the_caller(tmp_path) -> None:
    """The stylized frames are encoded on a thread beside the DiT: a writer's error there (here a frame that
    is not uint8) is raised in the caller, and the file it was writing can still be removed."""
    from rtrdit.codecs.video import VideoError
    from rtrdit.codecs.video_writer import VideoWriter
    from rtrdit.stream.render import _EncodeThread

    writer = VideoWriter(tmp_path / "out.mp4", 24)
    encoder = _EncodeThread([writer], (64, 48))
    encoder.put(np.zeros((48, 64, 3), np.uint8), 0.0, None)
    encoder.put(np.zeros((48, 64, 3), np.float32), 1 / 24, None)
    with pytest.raises(VideoError, match="frames must be uint8"):
        encoder.finish()
    writer.abort()
    assert list(tmp_path.iterdir()) == []
