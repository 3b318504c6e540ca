"""The streaming session's properties (issue: public API)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from rtrdit.stream.session import StylizerError, load_reference_image, resize_frames


def run(st, frames, splits, prompt="ink wash painting", **kw):
    sess = st.session(prompt=prompt, seed=3, **kw)
    outs, i = [], 0
    for n in splits:
        outs.append(sess.push(frames[i:i + n]))
        i += n
    outs.append(sess.flush())
    return outs


def test_frame_count_and_size(tiny_stylizer, clip) -> None:
    for n in (1, 2, 5, 9, 23):
        outs = run(tiny_stylizer, clip[:n], [n])
        total = np.concatenate(outs)
        assert total.shape == (n, 40, 48, 3) and total.dtype == np.uint8


def test_output_does_not_depend_on_push_split(tiny_stylizer, clip) -> None:
    whole = np.concatenate(run(tiny_stylizer, clip, [23]))
    pieces = np.concatenate(run(tiny_stylizer, clip, [1, 2, 5, 3, 2, 10]))
    single = np.concatenate(run(tiny_stylizer, clip, [1] * 23))
    np.testing.assert_array_equal(whole, pieces)
    np.testing.assert_array_equal(whole, single)


def test_returned_frames_do_not_depend_on_the_future(tiny_stylizer, clip) -> None:
    a = tiny_stylizer.session(prompt="pixel art", seed=1)
    b = tiny_stylizer.session(prompt="pixel art", seed=1)
    first_a, first_b = a.push(clip[:9]), b.push(clip[:9])
    assert len(first_a) > 0
    np.testing.assert_array_equal(first_a, first_b)
    rest_a = np.concatenate([a.push(clip[9:]), a.flush()])
    rest_b = np.concatenate([b.push(clip[::-1][9:]), b.flush()])
    assert not np.array_equal(rest_a, rest_b)


def test_set_style_changes_only_later_frames(tiny_stylizer, clip) -> None:
    plain = tiny_stylizer.session(prompt="ink wash painting", seed=2)
    switched = tiny_stylizer.session(prompt="ink wash painting", seed=2)
    before_plain, before_sw = plain.push(clip[:10]), switched.push(clip[:10])
    switched.set_style(prompt="neon edges glowing on black")
    after_plain = np.concatenate([plain.push(clip[10:]), plain.flush()])
    after_sw = np.concatenate([switched.push(clip[10:]), switched.flush()])
    np.testing.assert_array_equal(before_plain, before_sw)
    n = len(before_sw)
    # frames pushed before the switch but not yet returned keep the old style up to the chunk boundary
    pending = 10 - n
    np.testing.assert_array_equal(after_plain[:pending], after_sw[:pending])
    diff = np.abs(after_plain[pending:].astype(int) - after_sw[pending:].astype(int)).mean()
    assert diff > 1.0


def test_switch_to_reference_and_back(tiny_stylizer, clip) -> None:
    ref = (np.arange(30 * 20 * 3).reshape(30, 20, 3) % 251).astype(np.uint8)
    sess = tiny_stylizer.session(prompt="watercolor", seed=0)
    out = [sess.push(clip[:6])]
    sess.set_style(reference=ref)
    out.append(sess.push(clip[6:14]))
    sess.set_style(prompt="sepia photo", reference=ref)
    out.append(sess.push(clip[14:]))
    out.append(sess.flush())
    assert np.concatenate(out).shape == clip.shape


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".heic"])
def test_a_display_p3_photo_is_read_in_srgb(tmp_path, suffix) -> None:
    """An iPhone photo's pixels are Display P3: read as sRGB they are duller than on its screen. P3
    (200, 100, 80) is sRGB (216, 93, 72): P3 -> linear (gamma 2.2), the P3-to-sRGB matrix, sRGB's curve.
    An iPhone's own format, HEIC, too (through pillow-heif; FFmpeg, which read it before, drops the profile)."""
    from video_clips import display_p3_icc, save_heic

    from rtrdit.codecs.photo import read_photo

    path, plain = tmp_path / f"iphone{suffix}", tmp_path / f"plain{suffix}"
    exif = Image.Exif()
    # and turned upright, as before; a HEIF turns by its own box (irot), which libheif applies and pillow-heif
    # cannot write, and ignores EXIF's tag, as the HEIF standard says
    exif[0x0112] = 6 if suffix != ".heic" else 1
    options = {} if suffix == ".png" else {"quality": 98}
    if suffix == ".heic":  # written without registering pillow-heif with Pillow: reading has to
        save_heic(path, Image.new("RGB", (40, 30), (200, 100, 80)), display_p3_icc())
        save_heic(plain, Image.new("RGB", (40, 30), (200, 100, 80)))
    else:
        Image.new("RGB", (40, 30), (200, 100, 80)).save(path, icc_profile=display_p3_icc(), exif=exif, **options)
        Image.new("RGB", (40, 30), (200, 100, 80)).save(plain, **options)
    opened = [] if suffix == ".heic" else [load_reference_image(Image.open(path))]  # a PIL image given
    for image in (load_reference_image(path), read_photo(path), *opened):
        assert image.shape == ((40, 30, 3) if suffix != ".heic" else (30, 40, 3))
        assert np.abs(image[10:30, 5:25].reshape(-1, 3).mean(axis=0) - (216, 93, 72)).max() < 2.5
    assert np.abs(load_reference_image(plain)[10, 10].astype(int) - (200, 100, 80)).max() <= 2  # no profile: sRGB


def test_a_phone_photo_of_100_megapixels_is_a_reference_without_warnings(tmp_path) -> None:
    """Pillow warns of a "decompression bomb" from 89 MP (a 108 MP phone photo) and raises past 179 MP:
    the first reads quietly, the second is one line (here a PNG whose header claims 14000x14000)."""
    import struct
    import warnings
    import zlib

    big = tmp_path / "phone.png"
    Image.new("RGB", (9500, 9500), (200, 100, 50)).save(big, compress_level=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        ref = load_reference_image(big)
    assert ref.shape == (9500, 9500, 3) and ref[0, 0].tolist() == [200, 100, 50]
    huge = tmp_path / "huge.png"
    Image.new("RGB", (8, 8)).save(huge)
    data = bytearray(huge.read_bytes())
    ihdr = struct.pack(">II", 14000, 14000) + data[24:29]  # width, height, then depth, colour, ...
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    huge.write_bytes(bytes(data))
    with pytest.raises(StylizerError, match=r"huge.png: an image of more than 179 megapixels.*scale it down"):
        load_reference_image(huge)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "array-gray", "array-rgba", "path", "tiny"])
def test_reference_of_any_size_or_mode(tiny_stylizer, clip, tmp_path, mode) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    refs = {
        "L": Image.fromarray(rgb).convert("L"),
        "RGBA": Image.fromarray(rgb).convert("RGBA"),
        "P": Image.fromarray(rgb).convert("P"),
        "array-gray": rgb[..., 0],
        "array-rgba": np.concatenate([rgb, rgb[..., :1]], -1),
        "tiny": rgb[:3, :2],
    }
    if mode == "path":
        Image.fromarray(rgb).save(tmp_path / "ref.png")
        ref = str(tmp_path / "ref.png")
    else:
        ref = refs[mode]
    out = np.concatenate(run(tiny_stylizer, clip[:5], [5], prompt=None, reference=ref))
    assert out.shape == (5, 40, 48, 3)


@pytest.mark.parametrize(("kind", "top"), [("png-16bit", 65535), ("array-uint16", 65535), ("png-16bit", 256)])
def test_16bit_reference_is_scaled_not_clipped(tmp_path, kind, top) -> None:
    ramp = np.linspace(0, top, 40 * 64).reshape(40, 64).astype(np.uint16)  # top 256: a dark image stays dark
    if kind == "png-16bit":
        Image.fromarray(ramp).save(tmp_path / "ramp16.png")
        ref = load_reference_image(tmp_path / "ramp16.png")
    else:
        ref = load_reference_image(np.repeat(ramp[..., None], 3, axis=2))
    assert ref.dtype == np.uint8 and ref.shape == (40, 64, 3)
    expected = np.round(ramp / 257.0)
    assert np.abs(ref[..., 0].astype(float) - expected).max() <= 1  # a ramp, not white above 255/65535


def test_any_integer_seed_works_and_seeds_differ(tiny_stylizer, clip) -> None:
    outs = {}
    for seed in (0, -3, 10**30):  # 10**30 overflowed torch's 64-bit seed
        sess = tiny_stylizer.session(prompt="x", seed=seed)
        outs[seed] = np.concatenate([sess.push(clip[:5]), sess.flush()])
        assert outs[seed].shape == (5, *clip.shape[1:])
    assert not np.array_equal(outs[0], outs[-3]) and not np.array_equal(outs[0], outs[10**30])


def test_reference_arrays_of_other_dtypes() -> None:
    mask = np.zeros((4, 6), bool)
    mask[:, 3:] = True
    assert load_reference_image(mask)[..., 0].tolist() == [[0, 0, 0, 255, 255, 255]] * 4  # a mask: white where True
    assert load_reference_image(np.full((4, 6, 3), 0.5))[0, 0].tolist() == [128, 128, 128]  # floats in 0..1
    bad = np.zeros((4, 6, 3))
    bad[1, 1, 1] = np.nan
    with pytest.raises(StylizerError, match="NaN or infinite"):
        load_reference_image(bad)
    with pytest.raises(StylizerError, match="must hold numbers"):
        load_reference_image(np.full((4, 6, 3), "x", dtype=object))


def test_reference_changes_the_output(tiny_stylizer, clip) -> None:
    rng = np.random.default_rng(0)
    r1, r2 = (rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(2))
    a = np.concatenate(run(tiny_stylizer, clip[:9], [9], prompt=None, reference=r1))
    b = np.concatenate(run(tiny_stylizer, clip[:9], [9], prompt=None, reference=r2))
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 1.0


def test_memory_is_bounded(tiny_stylizer, clip) -> None:
    sess = tiny_stylizer.session(prompt="thermal camera", seed=0)
    sess.push(clip)
    sess.push(clip)
    early = sess.memory_bytes()
    for _ in range(6):
        sess.push(clip)
    assert sess.memory_bytes() == early > 0
    assert sess.frames_pushed == 8 * 23


def test_bad_input_is_refused(tiny_stylizer, clip, tmp_path) -> None:
    with pytest.raises(StylizerError, match="prompt, a reference"):
        tiny_stylizer.session()
    with pytest.raises(StylizerError, match="empty"):
        tiny_stylizer.session(prompt="   ")
    with pytest.raises(StylizerError, match="must be a string, got int"):
        tiny_stylizer.session(prompt=123)
    with pytest.raises(StylizerError, match="not found"):
        tiny_stylizer.session(reference=tmp_path / "missing.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(StylizerError, match="cannot read"):
        tiny_stylizer.session(reference=tmp_path / "bad.png")
    sess = tiny_stylizer.session(prompt="x")
    with pytest.raises(StylizerError, match="uint8"):
        sess.push(clip.astype(np.float32))
    with pytest.raises(StylizerError, match="shape"):
        sess.push(clip[..., :2])
    with pytest.raises(StylizerError, match=r"got shape \(4, 8, 8\)$"):  # the caller's shape, as given
        sess.push(np.zeros((4, 8, 8), np.uint8))
    sess.push(clip[:2])
    with pytest.raises(StylizerError, match="size changed"):
        sess.push(clip[:2, :20])
    sess.flush()
    with pytest.raises(StylizerError, match="flushed"):
        sess.push(clip[:1])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"steps": 0}, "steps must be >= 1, got 0"),  # 0 once fell back to the model's K silently
    ({"steps": -1}, "steps must be >= 1"),
    ({"steps": 1.5}, "steps must be a whole number"),
    ({"seed": 1.5}, "seed must be a whole number"),  # once rounded down to 1
    ({"seed": "3"}, "seed must be a whole number"),
    ({"seed": None}, "seed must be a whole number"),
    ({"size": (0, 0)}, "size 0x0 must be positive multiples of 16x16"),  # once an OpenCV assertion
    ({"size": (-16, 16)}, "must be positive multiples"),
    ({"size": (24, 32)}, "must be positive multiples of 16x16"),
    ({"size": (64,)}, "a \\(width, height\\) pair"),
    ({"size": "64x64"}, "a \\(width, height\\) pair"),
    ({"size": (64.0, 64.0)}, "size must be a whole number"),
])
def test_bad_session_options_are_refused_when_the_session_opens(tiny_stylizer, kwargs, message) -> None:
    with pytest.raises(StylizerError, match=message):
        tiny_stylizer.session(prompt="x", **kwargs)


def test_numpy_integers_are_whole_numbers(tiny_stylizer, clip) -> None:
    a = tiny_stylizer.session(prompt="x", seed=np.int64(3), steps=np.int32(1), size=(np.int64(32), 32))
    b = tiny_stylizer.session(prompt="x", seed=3, steps=1, size=(32, 32))
    np.testing.assert_array_equal(np.concatenate([a.push(clip[:5]), a.flush()]),
                                  np.concatenate([b.push(clip[:5]), b.flush()]))


def test_set_steps_applies_from_the_next_chunk(tiny_stylizer, clip) -> None:
    a = tiny_stylizer.session(prompt="cartoon", seed=4)
    b = tiny_stylizer.session(prompt="cartoon", seed=4)
    first_a, first_b = a.push(clip[:9]), b.push(clip[:9])
    b.set_steps(4)
    assert len(b.timesteps) == 4
    rest_a = np.concatenate([a.push(clip[9:]), a.flush()])
    rest_b = np.concatenate([b.push(clip[9:]), b.flush()])
    np.testing.assert_array_equal(first_a, first_b)
    assert not np.array_equal(rest_a, rest_b)
    with pytest.raises(StylizerError, match="steps must be"):
        tiny_stylizer.session(prompt="x").set_steps(0)


def test_switch_keep_frames_is_checked_and_read_from_stylizer_json() -> None:
    from rtrdit.stream.stylizer import StylizerConfig

    for bad in (-1, 9):
        with pytest.raises(ValueError, match="switch_keep_frames"):
            StylizerConfig(window_frames=8, switch_keep_frames=bad)
    cfg = StylizerConfig.from_dict({"window_frames": 3, "switch_keep_frames": 0})
    assert StylizerConfig.from_dict(cfg.to_dict()) == cfg and cfg.switch_keep_frames == 0
    assert StylizerConfig().switch_keep_frames == 1  # the paper's default


def test_presets_are_name_prompt_pairs_kept_through_stylizer_json() -> None:
    """`StylizerConfig.presets`: [name, prompt] pairs of non-empty texts, as JSON lists and back."""
    from rtrdit.stream.stylizer import StylizerConfig

    cfg = StylizerConfig.from_dict({"presets": [["Ink wash", "ink wash painting"], ["Sketch", "a pencil sketch"]]})
    assert cfg.presets == (("Ink wash", "ink wash painting"), ("Sketch", "a pencil sketch"))
    assert cfg.to_dict()["presets"] == [["Ink wash", "ink wash painting"], ["Sketch", "a pencil sketch"]]
    assert StylizerConfig.from_dict(cfg.to_dict()) == cfg and StylizerConfig().presets == ()
    for bad in ([["Ink wash"]], [["Ink wash", " "]], [["a", "b", "c"]], [[1, "b"]], ["ink"]):
        with pytest.raises(ValueError, match=r"\[name, prompt\] pair"):
            StylizerConfig.from_dict({"presets": bad})


def test_guided_decoder_stream_is_split_independent_and_reads_each_frames_source(guided_stylizer, clip) -> None:
    """A source-guided decoder gets, for every output frame, the source frame it came from: the streamed
    output equals the whole-clip decode of the session's latents guided by the source, however pushed."""
    import torch

    from rtrdit.codecs.base import frames_to_video, video_to_frames
    from rtrdit.stream.stylizer import Stylizer
    from rtrdit.train.decoder import LatentTap

    st = guided_stylizer
    whole = np.concatenate(run(st, clip, [23]))
    np.testing.assert_array_equal(whole, np.concatenate(run(st, clip, [1, 2, 5, 3, 2, 10])))
    np.testing.assert_array_equal(whole, np.concatenate(run(st, clip, [1] * 23)))
    assert whole.shape == clip.shape

    tap = LatentTap(st.codec)
    tapped = Stylizer(st.dit, tap, st.text_encoder, st.config, st.device)
    np.testing.assert_array_equal(np.concatenate(run(tapped, clip, [7, 16])), whole)
    latent = torch.cat(tap.latents, 2)
    t = 1 + 4 * (latent.shape[2] - 1)
    source = video_to_frames(torch.cat(tap.sources, 2)[0])  # what the session's encoder was given
    assert len(source) == t and source.shape[1:3] != clip.shape[1:3]  # with the flush's padding, at model size
    input_size = (clip.shape[2], clip.shape[1])  # (w, h): where the session brings its output back
    decoded = video_to_frames(st.codec.decode(latent, guide=frames_to_video(source))[0])[:23]
    assert np.abs(resize_frames(decoded, input_size).astype(int) - whole.astype(int)).max() <= 1
    unguided = video_to_frames(st.codec.decode(latent)[0])[:23]
    assert np.abs(resize_frames(unguided, input_size).astype(int) - whole.astype(int)).mean() > 1  # the guide matters


def _photo_with_orientation(path, orientation: int) -> np.ndarray:
    """Save a 60x30 JPEG carrying an EXIF orientation; return what a viewer shows for it."""
    from PIL import ImageOps

    arr = np.zeros((30, 60, 3), np.uint8)
    arr[:, :20] = (255, 0, 0)
    arr[:10, 20:] = (0, 0, 255)  # no symmetry: every one of the 8 orientations looks different
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = orientation
    im.save(path, exif=exif.tobytes(), quality=95)
    with Image.open(path) as j:
        return np.asarray(ImageOps.exif_transpose(j).convert("RGB"))


@pytest.mark.parametrize("orientation", [3, 6, 8, 2, 5])  # 180, 90 cw, 90 ccw, mirrored, transposed
def test_a_phone_photo_reference_is_upright(tmp_path, orientation: int) -> None:
    """A phone's JPEG stores the sensor's pixels and the rotation apart (EXIF): the reference is
    what a viewer shows, from a path or from the caller's PIL image (which is left as it was)."""
    path = tmp_path / "photo.jpg"
    shown = _photo_with_orientation(path, orientation)
    ref = load_reference_image(path)
    assert ref.shape == shown.shape
    np.testing.assert_array_equal(ref, shown)
    with Image.open(path) as im:
        np.testing.assert_array_equal(load_reference_image(im), shown)
        assert im.getexif()[0x0112] == orientation and im.size == (60, 30)


def test_a_reference_in_a_format_pillow_lacks_is_read_by_ffmpeg(tmp_path) -> None:
    """A phone's HEIC (here a DPX still, which FFmpeg writes too): the reference is its pixels; a video
    given as the reference is refused in one line, not taken for its first frame."""
    from video_clips import make_clip, write_dpx_still

    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[:, :10] = (10, 200, 30)
    np.testing.assert_array_equal(load_reference_image(write_dpx_still(tmp_path / "ref.dpx", rgb)), rgb)
    clip = make_clip(tmp_path / "clip.mp4", frames=5)
    with pytest.raises(StylizerError, match=r"cannot read reference image .*clip.mp4: not a photo \(5 frames"):
        load_reference_image(clip)
