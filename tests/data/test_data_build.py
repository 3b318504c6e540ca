"""Dataset building: clips of 1+4k frames, targets from pluggable generators, RV2V references taken
from the target, a split by source, seeded reproducibility, and package images animated by a camera."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from rtrdit.cli import main
from rtrdit.codecs.video import probe, read_frames
from rtrdit.data.build import BuildConfig, animate_image, build_dataset, camera_path, package_images
from rtrdit.data.generators import CommandGenerator, GeneratorError, TargetJob, make_generator, make_prompter
from rtrdit.data.manifest import RV2V_PROMPT, read_manifest, validate_manifest
from rtrdit.data.stylizers import get_style


def _rows(manifest: Path) -> list[dict]:
    return [json.loads(line) for line in manifest.read_text().splitlines()]


def test_build_command_makes_valid_pairs(videos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ds"
    args = ["data", "build", str(videos), "--package-images", "-o", str(out), "--size", "64x64", "--frames", "9",
            "--clips-per-video", "2", "--clips-per-image", "1", "--val-fraction", "0.25", "--seed", "3"]
    assert main(args) == 0
    manifest = out / "manifest.jsonl"
    assert validate_manifest(manifest) == (12, [])  # 2 videos x 2 clips + 2 images x 1 clip, TV2V + RV2V
    rows = _rows(manifest)
    assert len({r["source"] for r in rows}) == 6 and {r["mode"] for r in rows} == {"tv2v", "rv2v"}
    groups: dict[str, set[str]] = {}
    for r in rows:
        info = probe(out / r["source"])
        assert (info.width, info.height, info.frames) == (64, 64, 9)
        groups.setdefault(Path(r["source"]).name.rsplit("-", 1)[0], set()).add(r["split"])
        src, tgt = read_frames(out / r["source"]), read_frames(out / r["target"])
        if r["mode"] == "tv2v":
            assert r["prompt"] in get_style(r["style"]).prompts and r["reference"] is None
            want = get_style(r["style"]).apply(src).astype(int)
            assert np.abs(tgt.astype(int) - want).mean() < 10  # the target is the style of the source
        else:  # the paper's RV2V: fixed text, reference = a frame of the target video
            from PIL import Image

            assert r["prompt"] == RV2V_PROMPT
            ref = np.asarray(Image.open(out / r["reference"]))
            assert np.array_equal(ref, tgt[r["reference_frame"]])
    assert set(groups) == {"walk", "pan", "img-china", "img-flower"}
    assert all(len(s) == 1 for s in groups.values()), "a source video's clips share one split"
    assert sorted(s.pop() for s in groups.values()) == ["train", "train", "train", "val"]
    # the same seed gives the same dataset; a second build into the folder needs --overwrite
    assert main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    again = tmp_path / "ds2"
    assert main(args[:5] + [str(again)] + args[6:]) == 0
    assert _rows(again / "manifest.jsonl") == rows


def test_animated_package_images_move_smoothly() -> None:
    from PIL import Image

    images = package_images()
    assert len(images) >= 2  # scikit-learn ships china.jpg and flower.jpg
    image = np.asarray(Image.open(images[0]).convert("RGB"))
    for seed in range(4):
        clip = animate_image(image, (64, 48), 17, np.random.default_rng(seed)).astype(int)
        assert clip.shape == (17, 48, 64, 3)
        steps = np.abs(np.diff(clip, axis=0)).mean(axis=(1, 2, 3))
        total = np.abs(clip[-1] - clip[0]).mean()
        assert total > 5, "the camera moves"
        assert steps.max() < total, "no jumps: each step is a small part of the move"


def test_camera_path_moves_no_faster_than_max_step_whatever_the_clip_length() -> None:
    # a short clip shortens the move instead of crossing the photo in a few frames
    for hw, size, frames in (((427, 640), (256, 256), 9), ((300, 200), (64, 48), 17), ((480, 640), (96, 64), 3)):
        for seed in range(20):
            path = np.array(camera_path(hw, size, frames, np.random.default_rng(seed), max_step=0.02))
            cx, cy, ww = path.T
            moved = np.hypot(np.diff(cx), np.diff(cy)) / ww[:-1]
            zoomed = np.abs(np.diff(np.log(ww)))
            assert moved.max() <= 0.02 * 1.02 and zoomed.max() <= 0.02 * 1.02
            wh = ww * size[1] / size[0]
            assert (cx - ww / 2 >= -1e-6).all() and (cx + ww / 2 <= hw[1] + 1e-6).all()
            assert (cy - wh / 2 >= -1e-6).all() and (cy + wh / 2 <= hw[0] + 1e-6).all()
    # a long clip keeps its whole move: far more than one step's reach
    path = np.array(camera_path((427, 640), (256, 256), 97, np.random.default_rng(0)))
    assert np.hypot(*(path[-1, :2] - path[0, :2])) + abs(np.log(path[-1, 2] / path[0, 2])) * path[0, 2] > 0.3 * path[0, 2]


SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    import numpy as np
    from rtrdit.codecs.video import read_frames
    from rtrdit.codecs.video_writer import write_video
    source, target, prompt = sys.argv[1:4]
    if prompt == "fail please":
        sys.exit("model crashed: out of tokens")
    frames = read_frames(source, size=(128, 128))           # a bigger target, and longer:
    frames = np.concatenate([frames, frames[-3:]])          # the builder conforms both
    write_video(target, 255 - frames, 24)
    Path(target + ".prompt").write_text(prompt)
""")


def test_command_generator_with_prompter_callable(videos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "gen.py"
    script.write_text(SCRIPT)
    (tmp_path / "my_captioner.py").write_text(
        "def caption(source):\n    return ['a dreamy neon city at night', 'an oil painting of a quiet street']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    gen = make_generator(f"command:{sys.executable} {script} {{source}} {{target}} {{prompt}}")
    prompter = make_prompter("python:my_captioner:caption")
    cfg = BuildConfig(out=tmp_path / "ds", videos=[videos / "walk.mp4"], size=(64, 64), frames=9,
                      clips_per_video=2, rv2v=False, val_fraction=0.0)
    report = build_dataset(cfg, gen, prompter)
    assert validate_manifest(report.manifest) == (2, [])
    for _, row in read_manifest(report.manifest):
        assert row.prompt in ('a dreamy neon city at night', 'an oil painting of a quiet street')
        assert "style" not in row.extra and row.split == "train"
        target = cfg.out / row.target
        assert (target.parent / (target.name + ".prompt")).read_text() == row.prompt  # one argument
        src, tgt = read_frames(cfg.out / row.source).astype(int), read_frames(target).astype(int)
        assert tgt.shape == src.shape  # resized and cut to the source
        assert np.abs(tgt - (255 - src)).mean() < 12


def test_failing_generator_is_one_line(videos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "gen.py"
    script.write_text(SCRIPT)
    gen = CommandGenerator(f"{sys.executable} {script} {{source}} {{target}} {{prompt}}")
    with pytest.raises(GeneratorError, match="exited with 1: model crashed: out of tokens"):
        gen(TargetJob(videos / "walk.mp4", tmp_path / "t.mp4", "fail please"))
    out = tmp_path / "ds"
    assert main(["data", "build", str(videos), "-o", str(out), "--size", "64x64", "--frames", "9",
                 "--generator", "command:definitely-not-a-command {source} {target}"]) == 2
    assert "command not found: definitely-not-a-command" in capsys.readouterr().err
    # a generator failing on a clip: one line naming the clip, and the half-built dataset is removed
    assert main(["data", "build", str(videos), "-o", str(out), "--size", "64x64", "--frames", "9",
                 "--generator", f"command:{sys.executable} {script} {{source}} {{target}} 'fail please'"]) == 2
    err = capsys.readouterr().err
    assert "rtrdit data: error:" in err and "model crashed: out of tokens" in err and "Traceback" not in err
    assert not out.exists()
    assert main(["data", "build", str(videos), "-o", str(out), "--generator", "command:x {nope}"]) == 2
    assert "bad placeholder" in capsys.readouterr().err


def test_docs_example_command_generator_is_the_builtin_style(videos: Path, tmp_path: Path) -> None:
    """docs/data.md: `--generator "command:rtrdit data stylize {source} -o {target} --style {style}"`
    makes the same pairs as the built-in generator."""
    common = [str(videos / "pan.mp4"), "--size", "64x64", "--frames", "9", "--clips-per-video", "2", "--seed", "5"]
    stylize = f"command:{sys.executable} -m rtrdit.cli data stylize {{source}} -o {{target}} --style {{style}}"
    assert main(["data", "build", *common, "-o", str(tmp_path / "a"), "--generator", stylize]) == 0
    assert main(["data", "build", *common, "-o", str(tmp_path / "b")]) == 0
    a, b = _rows(tmp_path / "a" / "manifest.jsonl"), _rows(tmp_path / "b" / "manifest.jsonl")
    assert a == b
    for r in a:
        ta, tb = read_frames(tmp_path / "a" / r["target"]), read_frames(tmp_path / "b" / r["target"])
        # the command path goes through one more lossy H.264 round trip than the built-in one
        assert np.abs(ta.astype(int) - tb.astype(int)).mean() < 2.5


SHARED_VIDEOS = Path(__file__).resolve().parents[3] / "shared" / "videos"


@pytest.mark.skipif(not SHARED_VIDEOS.is_dir(), reason="shared videos folder not present")
def test_build_from_a_real_camera_clip(tmp_path: Path) -> None:
    """A real 480x480 camera clip (32 frames) gives evenly spread 17-frame clips, and one shorter than
    a clip is skipped with a note instead of failing."""
    boxer = SHARED_VIDEOS / "boxer-punching-towards-camera.mp4"
    cfg = BuildConfig(out=tmp_path / "real", videos=[boxer], size=(64, 64), frames=13, clips_per_video=3,
                      styles_per_clip=2, rv2v=False)
    report = build_dataset(cfg, make_generator("builtin"), make_prompter("builtin", ["ink_wash", "cartoon"]))
    rows = _rows(report.manifest)
    assert report.clips == 2 and len(rows) == 4  # 32 frames hold two 13-frame clips
    assert sorted({r["source"] for r in rows}) == ["clips/boxer-punching-towards-camera-f00000.mp4",
                                                   "clips/boxer-punching-towards-camera-f00019.mp4"]
    assert {r["split"] for r in rows} == {"train", "val"}  # one source: the clips themselves are split
    assert all(r["style"] in ("ink_wash", "cartoon") for r in rows)
    assert validate_manifest(report.manifest) == (4, [])
    with pytest.raises(ValueError, match="no clips were made"):
        build_dataset(BuildConfig(out=tmp_path / "r2", videos=[boxer], size=(64, 64), frames=33),
                      make_generator("builtin"), make_prompter("builtin"))
    assert not (tmp_path / "r2").exists()


def test_unreadable_input_is_skipped_with_a_note(videos: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (videos / "broken.mp4").write_bytes(b"not a video" * 50)
    out = tmp_path / "ds"
    assert main(["data", "build", str(videos), "-o", str(out), "--size", "64x64", "--frames", "5",
                 "--clips-per-video", "1", "--no-rv2v", "--val-fraction", "0"]) == 0
    captured = capsys.readouterr()
    assert "skipped:" in captured.err and "broken.mp4" in captured.err
    assert "2 rows from 2 clips" in captured.out
    assert {r["split"] for r in _rows(out / "manifest.jsonl")} == {"train"}


def test_photos_become_camera_moves_and_holdout_names_the_val_sources(
        videos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Photo files (any mode) given or found in a folder become --clips-per-image camera moves over the
    photo; an unreadable one is skipped with a note; --holdout puts exactly the named sources in val."""
    from PIL import Image

    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (120, 160), np.uint8)
    Image.fromarray(texture, "L").save(videos / "grey.png")
    Image.fromarray(np.dstack([texture] * 3 + [np.full_like(texture, 128)]), "RGBA").save(tmp_path / "alpha.png")
    (videos / "broken.jpg").write_bytes(b"not a photo" * 50)
    out = tmp_path / "ds"
    base = ["data", "build", str(videos), str(tmp_path / "alpha.png"), "--size", "64x64", "--frames", "5",
            "--clips-per-video", "1", "--clips-per-image", "2", "--no-rv2v"]
    assert main([*base, "-o", str(out), "--holdout", "walk.mp4", "grey"]) == 0
    captured = capsys.readouterr()
    assert "skipped:" in captured.err and "broken.jpg" in captured.err and "not a readable image" in captured.err
    rows = _rows(out / "manifest.jsonl")
    split = {Path(r["source"]).name: r["split"] for r in rows}
    assert split == {"pan-f00000.mp4": "train", "walk-f00000.mp4": "val", "img-grey-m00.mp4": "val",
                     "img-grey-m01.mp4": "val", "img-alpha-m00.mp4": "train", "img-alpha-m01.mp4": "train"}
    moves = [read_frames(out / "clips" / f"img-grey-m0{k}.mp4") for k in (0, 1)]
    assert moves[0].shape == (5, 64, 64, 3) and np.abs(moves[0][0].astype(int) - moves[0][-1]).mean() > 2
    assert np.abs(moves[0].astype(int) - moves[1]).mean() > 2  # two different camera moves
    # a held-out name that is no input: one line, no manifest
    assert main([*base, "-o", str(tmp_path / "bad"), "--holdout", "nosuch"]) == 2
    err = capsys.readouterr().err.strip()
    assert "nosuch" in err and "no input of that name" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "bad").exists()
    assert main([*base, "-o", str(tmp_path / "bad"), "--holdout", "walk", "pan", "grey", "alpha"]) == 2
    assert "nothing would be left to train on" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_a_phone_photo_is_animated_upright(tmp_path: Path) -> None:
    """A JPEG whose EXIF turns it upright (a phone held in portrait) is animated as a viewer shows it:
    red above blue in every frame, not side by side as the stored pixels are."""
    from PIL import Image

    from rtrdit.data.build import image_clips

    shown = np.zeros((80, 40, 3), np.uint8)
    shown[:40] = (255, 0, 0)
    shown[40:] = (0, 0, 255)
    stored = np.ascontiguousarray(np.rot90(shown, k=1))  # orientation 6 shows it turned 90 degrees clockwise
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(tmp_path / "p.jpg", exif=exif.tobytes(), quality=95)
    clips = np.concatenate(list(image_clips(tmp_path / "p.jpg", (32, 32), 5, 2, seed=0))).astype(int)
    red = clips[..., 0] - clips[..., 2]  # > 0 where red, < 0 where blue
    assert red[:, 0].mean() > 100 and red[:, -1].mean() < -100, (red[:, 0].mean(), red[:, -1].mean())


def test_photos_in_formats_pillow_lacks_are_animated(tmp_path: Path) -> None:
    """A folder of a phone's photos (HEIC; here DPX, the same path through FFmpeg) is built into clips."""
    from video_clips import write_dpx_still

    from rtrdit.data.build import IMAGE_EXTENSIONS, image_clips

    assert {".heic", ".heif", ".avif", ".webp"} <= set(IMAGE_EXTENSIONS)
    rgb = np.zeros((80, 120, 3), np.uint8)
    rgb[:, :60] = (200, 40, 60)
    clips = list(image_clips(write_dpx_still(tmp_path / "p.dpx", rgb), (32, 32), 5, 2, seed=0))
    assert len(clips) == 2 and clips[0].shape == (5, 32, 32, 3)
    assert abs(float(clips[0][..., 0].mean()) - 100) < 60 and clips[0][..., 1].max() <= 60  # the photo's two halves


def test_animated_gif_and_webp_are_videos_and_still_ones_photos(tmp_path: Path) -> None:
    """A folder with animated and still GIF and WebP files: the animated ones are cut into clips of their own
    frames (as videos), the still ones become camera moves (as photos)."""
    from PIL import Image

    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    moving = [Image.fromarray(np.roll(rng.integers(0, 256, (72, 96, 3), np.uint8), 4 * k, axis=1)) for k in range(12)]
    for name in ("wanim.webp", "ganim.gif"):
        moving[0].save(folder / name, save_all=True, append_images=moving[1:], duration=80, loop=0, lossless=True)
    for name in ("wstill.webp", "gstill.gif"):
        moving[0].save(folder / name)
    out = tmp_path / "ds"
    assert main(["data", "build", str(folder), "-o", str(out), "--size", "64x64", "--frames", "5",
                 "--clips-per-video", "1", "--clips-per-image", "1", "--no-rv2v", "--val-fraction", "0"]) == 0
    sources = sorted(Path(r["source"]).name for r in _rows(out / "manifest.jsonl"))
    assert sources == ["ganim-f00000.mp4", "img-gstill-m00.mp4", "img-wstill-m00.mp4", "wanim-f00000.mp4"]
