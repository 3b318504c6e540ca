"""Built-in stylizers: enough distinct styles, deterministic, flicker-free, usable from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from data_scenes import scene, write_scene

from rtrdit.cli import main
from rtrdit.data.stylizers import builtin_styles, cartoon_outlines, get_style

STYLES = list(builtin_styles())


def _photo(size: int = 64) -> np.ndarray:
    import cv2

    from rtrdit.data.build import package_images

    img = cv2.cvtColor(cv2.imread(str(package_images()[0])), cv2.COLOR_BGR2RGB)
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)


def test_at_least_eight_styles_with_paraphrased_prompts() -> None:
    styles = builtin_styles()
    assert len(styles) >= 8
    all_prompts = [p for s in styles.values() for p in s.prompts]
    assert len(all_prompts) == len(set(all_prompts)), "prompts must not repeat across styles"
    for s in styles.values():
        assert len(s.prompts) >= 3 and all(p.strip() for p in s.prompts), s.name


@pytest.mark.parametrize("name", STYLES)
def test_static_clip_gives_identical_frames(name: str) -> None:
    """No per-frame randomness: a static scene stays exactly static (no flicker), and a second run
    gives the same output; the style also really changes the picture."""
    frame = _photo()
    clip = np.repeat(frame[None], 9, axis=0)
    out = get_style(name).apply(clip)
    assert out.shape == clip.shape and out.dtype == np.uint8
    assert all(np.array_equal(out[0], f) for f in out[1:])
    assert np.array_equal(out, get_style(name).apply(clip))
    assert np.abs(out.astype(int) - frame.astype(int)).mean() > 8


def test_moving_scene_changes_smoothly() -> None:
    """Temporal stability beyond static scenes: a one-step scene change moves the output far less than
    switching to another style does."""
    a, b = scene(0, 64, 64), scene(1, 64, 64)
    for name in STYLES:
        s = get_style(name)
        step = np.abs(s.apply(a).astype(int) - s.apply(b).astype(int)).mean()
        other = get_style(STYLES[(STYLES.index(name) + 1) % len(STYLES)])
        jump = np.abs(s.apply(a).astype(int) - other.apply(a).astype(int)).mean()
        assert step < jump / 2, (name, step, jump)


def test_styles_are_clearly_distinct() -> None:
    frame = _photo()
    outs = {n: get_style(n).apply(frame).astype(int) for n in STYLES}
    for i, a in enumerate(STYLES):
        for b in STYLES[i + 1:]:
            assert np.abs(outs[a] - outs[b]).mean() > 12, (a, b)


def test_cartoon_outlines_are_bold_and_follow_shapes() -> None:
    """Cartoon draws a bold black line (several pixels wide at 256 px, so it survives an 8x latent;
    its edges anti-aliased) along a shape's boundary, and none over the fine texture of flat areas."""
    import cv2

    size, radius = 256, 60
    yy, xx = np.mgrid[0:size, 0:size]
    dist = np.hypot(yy - size / 2, xx - size / 2)
    texture = cv2.GaussianBlur(np.random.default_rng(0).normal(0, 1, (size, size)), (0, 0), 1.5)
    texture *= 10 / texture.std()  # grain a few pixels wide, like foliage or fabric
    gray = np.where(dist < radius, 200.0, 90.0) + texture
    frame = np.repeat(np.clip(gray, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    dark = get_style("cartoon").apply(frame).max(axis=2) < 40  # the ink's core; its anti-aliased rims are lighter
    assert dark[np.abs(dist - radius) < 1].mean() > 0.95  # the outline is closed
    widths = [int(dark[size // 2, c - 8:c + 8].sum()) for c in (size // 2 - radius, size // 2 + radius)]
    assert min(widths) >= 3, widths
    assert dark[np.abs(dist - radius) > 8].mean() < 0.005  # texture draws no speckles
    ink = cartoon_outlines(frame)  # where an evaluation looks for the lines: they are the black pixels
    assert (ink[dark] > 0.5).all() and dark[ink > 0.9].all()


def test_unknown_style_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="ink_wash"):
        get_style("nope")


def test_styles_command_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "styles", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in listed] == STYLES
    assert all(isinstance(d["prompts"], list) and len(d["prompts"]) >= 3 for d in listed)
    assert main(["data", "styles"]) == 0
    assert "watercolor" in capsys.readouterr().out


def test_stylize_command_applies_the_style(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rtrdit.codecs.video import probe, read_frames

    src = write_scene(tmp_path / "in.mp4", frames=9, size=(64, 64))
    out = tmp_path / "out.mp4"
    assert main(["data", "stylize", str(src), "-o", str(out), "--style", "thermal"]) == 0
    assert probe(out).frames == 9
    got = read_frames(out).astype(int)
    want = get_style("thermal").apply(read_frames(src)).astype(int)
    other = get_style("blueprint").apply(read_frames(src)).astype(int)
    assert np.abs(got - want).mean() < 6 < np.abs(got - other).mean()
    # a bad style: one line, exit 2, no output file
    bad = tmp_path / "bad.mp4"
    assert main(["data", "stylize", str(src), "-o", str(bad), "--style", "nope"]) == 2
    assert "unknown style" in capsys.readouterr().err and not bad.exists()


def test_stylize_command_writes_a_photo_as_an_image_and_refuses_what_it_would_mangle(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    from rtrdit.codecs.video import read_frames

    photo = np.asarray(Image.fromarray(read_frames(write_scene(tmp_path / "in.mp4", frames=1, size=(64, 48)))[0]))
    Image.fromarray(photo).save(tmp_path / "photo.png")
    assert main(["data", "stylize", str(tmp_path / "photo.png"), "-o", str(tmp_path / "out.png"), "--style", "thermal"]) == 0
    with Image.open(tmp_path / "out.png") as im:  # a PNG (once MP4 data under a .png name), lossless
        assert im.format == "PNG"
        np.testing.assert_array_equal(np.asarray(im), get_style("thermal").apply(photo[None])[0])
    assert "out.png: 1 frame in style thermal" in capsys.readouterr().out
    clip = write_scene(tmp_path / "clip.mp4", frames=5, size=(64, 48))
    before = clip.read_bytes()
    for out, message in [(clip, "is the input"),  # once stylized over the user's own source
                         (tmp_path / "out.avi", "output must end in .mp4"),  # once MP4 data under an .avi name
                         (tmp_path / "out.jpg", "an image output (.jpg) takes a photo, and the input has 5 frames")]:
        assert main(["data", "stylize", str(clip), "-o", str(out), "--style", "thermal"]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert clip.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "in.mp4", "out.png", "photo.png"]


def test_stylize_command_reads_a_phone_photo_upright_and_in_srgb(tmp_path: Path) -> None:
    """A phone photo was read through FFmpeg: sideways (its EXIF orientation ignored) and in P3's duller
    colours; it is read as `data build` and `rtrdit stylize` read it."""
    from PIL import Image
    from video_clips import display_p3_icc

    from rtrdit.codecs.photo import read_photo

    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    Image.new("RGB", (40, 30), (200, 100, 80)).save(tmp_path / "phone.png", exif=exif, icc_profile=display_p3_icc())
    assert main(["data", "stylize", str(tmp_path / "phone.png"), "-o", str(tmp_path / "out.png"), "--style", "thermal"]) == 0
    with Image.open(tmp_path / "out.png") as im:
        got = np.asarray(im)
    upright = read_photo(tmp_path / "phone.png")
    assert got.shape == upright.shape == (40, 30, 3)
    assert np.abs(upright[20, 15].astype(int) - (216, 93, 72)).max() <= 2  # P3 (200, 100, 80) in sRGB
    np.testing.assert_array_equal(got, get_style("thermal").apply(upright[None])[0])


def test_stylize_command_keeps_the_audio_a_held_last_frame_plays_over(tmp_path: Path) -> None:
    from video_clips import audio_duration, make_clip

    src = make_clip(tmp_path / "slides.mp4", frames=4, size=(64, 48), fps=10, times=[0, 0.1, 0.2, 0.4],
                    audio="aac", audio_seconds=2.0)
    assert main(["data", "stylize", str(src), "-o", str(tmp_path / "out.mp4"), "--style", "thermal"]) == 0
    assert audio_duration(tmp_path / "out.mp4") == pytest.approx(2.0, abs=0.05)  # was cut at 0.5 s
