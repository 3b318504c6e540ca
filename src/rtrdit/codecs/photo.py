"""Photos in and out: a user's photo read upright and in sRGB (a phone's HEIC too), a still image
written atomically; a photo in, a photo out (`IMAGE_SUFFIXES`).

Failures raise :class:`~rtrdit.codecs.video.VideoError` with one readable line that names the file.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from rtrdit.codecs.video import VideoError, VideoInfo, _describe, probe, read_frames
from rtrdit.files import WriteError, atomic_path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")  # an output with one of these is a still image
_JPEG = {"quality": 95, "subsampling": 0}  # full-resolution colour: a style's coloured edges stay sharp
IMAGE_OPTIONS: dict[str, dict[str, int]] = {".jpg": _JPEG, ".jpeg": _JPEG, ".webp": {"quality": 95}}


def add_heif_to_pillow() -> None:
    """Let Pillow open HEIC/HEIF, an iPhone's photo format, through pillow-heif, so such a photo is read
    upright and in sRGB like a JPEG (FFmpeg, which read them before, drops their colour profile: a Display
    P3 photo came out duller). Idempotent; called where photos are opened, not at import."""
    try:
        import pillow_heif
    except ImportError:  # an install without it (it is a dependency): HEIC goes through FFmpeg, as before
        return
    pillow_heif.register_heif_opener()


@contextmanager
def open_photo(path: str | os.PathLike[str]) -> Iterator[Any]:
    """Pillow's ``Image.open`` for a user's own photo: a phone's 100 MP photo opens without Pillow's
    decompression-bomb warning (meant for untrusted uploads, which `serve` limits before decoding);
    past Pillow's hard limit (about 179 MP) a one-line VideoError instead of its exception."""
    from PIL import Image

    p = Path(path)
    add_heif_to_pillow()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(p)
    except Image.DecompressionBombError:
        most = 2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6
        raise VideoError(f"{p}: an image of more than {most:.0f} megapixels, more than this opens; "
                         "scale it down first") from None
    with im:
        yield im


def to_srgb(image: Any) -> Any:
    """A PIL image with an embedded colour profile (an iPhone's Display P3, Adobe RGB, a print CMYK) in
    sRGB, the colours the model was trained on and screens assume: read as they are, P3 colours came
    out duller. An image without a profile is taken as sRGB; an unusable profile leaves it as it is."""
    import io

    from PIL import ImageCms

    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "L", "LA", "CMYK"):
        return image
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
    base = image.convert(image.mode[:-1]) if alpha is not None else image
    try:
        out = ImageCms.profileToProfile(base, ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                                        ImageCms.createProfile("sRGB"), outputMode="RGB")
    except (OSError, ValueError, ImageCms.PyCMSError):  # a damaged profile, or one not for this mode
        return image
    if alpha is not None:
        out.putalpha(alpha)
    return out


def read_photo(path: str | os.PathLike[str]) -> np.ndarray:
    """A photo as uint8 (H, W, 3) sRGB, upright as a viewer shows it: Pillow for the formats it knows, a
    phone's HEIC too (EXIF orientation and colour profile applied, grey and alpha made RGB), FFmpeg for
    the rest (DPX, ...); ``VideoError`` for what neither reads or for a video."""
    from PIL import ImageOps, UnidentifiedImageError

    p = Path(path)
    try:
        with open_photo(p) as im:
            return np.asarray(to_srgb(ImageOps.exif_transpose(im)).convert("RGB"))
    except UnidentifiedImageError:
        pass  # not a format Pillow knows: FFmpeg's turn
    except FileNotFoundError:
        raise VideoError(f"{p}: no such file") from None
    except OSError as exc:  # a folder, a truncated or damaged image
        raise VideoError(f"{p}: not a readable image ({_describe(exc)})") from None
    try:
        info = probe(p)
    except VideoError:
        raise VideoError(f"{p}: not a readable image (a format neither Pillow nor FFmpeg reads)") from None
    if info.frames != 1:
        raise VideoError(f"{p}: not a photo ({info.frames} frames of {info.codec}: a video?)")
    return read_image(p)


def photo_info(path: str | os.PathLike[str]) -> VideoInfo | None:
    """A still image's facts from Pillow (its size upright, as `read_photo` reads it), for a photo the video
    reader refuses as too large (a phone's 108 or 200 MP mode, past ``MAX_PIXELS``); None when Pillow
    does not read it as one still image."""
    from PIL import UnidentifiedImageError

    p = Path(path)
    try:
        with open_photo(p) as im:
            if getattr(im, "n_frames", 1) != 1:
                return None
            w, h = im.size
            if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # EXIF orientations that turn it a quarter
                w, h = h, w
            return VideoInfo(str(p), w, h, 25.0, 1, (im.format or "image").lower(), 0.04, False, "sRGB")
    except (UnidentifiedImageError, OSError):
        return None


def read_image(path: str | os.PathLike[str], size: tuple[int, int] | None = None, mode: str = "crop") -> np.ndarray:
    """A still image (PNG, JPEG, WebP, ...; or a video's first frame) as uint8 (H, W, 3) RGB, e.g. a
    style reference; grey and alpha images come out as RGB (alpha dropped)."""
    return read_frames(path, size, mode, start=0, count=1)[0]


def write_image(path: str | os.PathLike[str], frame: np.ndarray) -> None:
    """Write one uint8 (H, W, 3) frame as the still image ``path``'s suffix names, atomically."""
    from PIL import Image

    path = Path(path)
    try:
        with atomic_path(path, suffix=path.suffix) as tmp:
            Image.fromarray(frame).save(tmp, **IMAGE_OPTIONS.get(path.suffix.lower(), {}))
    except WriteError as exc:
        raise VideoError(f"{path}: {exc}") from None
