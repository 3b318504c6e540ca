"""The streaming stylizer: `Stylizer` holds a model, `Session` restyles one stream.

Follow a frame (paper, sec. 3.4): `push` buffers camera frames, the codec's stream encoder
turns the first frame alone and then every 4 frames into one latent frame, every
`chunk_frames` latent frames are denoised in K steps through the session's KV cache
(`rtrdit.stream.sampler`), and the codec's stream decoder turns them back into frames at
the input's size. A style switch (`set_style`) takes effect at the first chunk that starts
after it: the cross-attention cache is re-initialised, the self-attention cache keeps only
its most recent frame, a new reference is anchored at the front.

Everything a session does is a function of the frames, the style events and the seed, so
the output does not depend on how the input was split into `push` calls.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from rtrdit.codecs.base import video_to_frames
from rtrdit.data.manifest import RV2V_PROMPT
from rtrdit.model.cache import KVCache
from rtrdit.stream.sampler import sample_chunk

if TYPE_CHECKING:
    from rtrdit.stream.stylizer import Stylizer


class StylizerError(ValueError):
    """Bad input to the stylizer (frames, reference image, prompt, size): one readable line."""


def processing_size(width: int, height: int, area: int, multiple: int = 16) -> tuple[int, int]:
    """The size the model runs at for a (width, height) input: about `area` pixels, the
    input's aspect ratio, both sides multiples of `multiple` (VAE x patch)."""
    if width <= 0 or height <= 0:
        raise StylizerError(f"frame size must be positive, got {width}x{height}")
    scale = math.sqrt(area / (width * height))
    w = max(multiple, round(width * scale / multiple) * multiple)
    h = max(multiple, round(height * scale / multiple) * multiple)
    return w, h


EXIF_ORIENTATION = 0x0112  # the EXIF tag a phone photo's rotation or mirroring is stored in


def load_reference_image(reference: Any) -> np.ndarray:
    """A reference image as uint8 RGB (H, W, 3), from a path, a PIL image or an array of
    any mode (grayscale, alpha: composited on white; 16-bit: scaled to 8 bits, not clipped), upright
    as a viewer shows it (a phone photo's EXIF orientation applied), in sRGB (its colour profile applied)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    from rtrdit.codecs.photo import open_photo, read_photo, to_srgb
    from rtrdit.codecs.video import VideoError

    if isinstance(reference, (str, bytes)) or hasattr(reference, "__fspath__"):
        try:
            with open_photo(reference) as im:
                im.load()
                reference = ImageOps.exif_transpose(im)
        except VideoError as exc:  # too large to open
            why = str(exc).removeprefix(f"{reference}: ")
            raise StylizerError(f"cannot read reference image {reference}: {why}") from None
        except FileNotFoundError:
            raise StylizerError(f"reference image not found: {reference}") from None
        except UnidentifiedImageError:  # a format Pillow lacks (DPX...): FFmpeg reads it
            try:
                reference = read_photo(reference)
            except VideoError as exc:
                why = str(exc).removeprefix(f"{reference}: ")
                raise StylizerError(f"cannot read reference image {reference}: {why}") from None
        except OSError as exc:
            raise StylizerError(f"cannot read reference image {reference}: {exc}") from None
    if isinstance(reference, Image.Image) and reference.getexif().get(EXIF_ORIENTATION, 1) != 1:
        reference = ImageOps.exif_transpose(reference)  # a caller's PIL image: a copy, the caller's kept
    if isinstance(reference, Image.Image):
        reference = to_srgb(reference)  # an iPhone's Display P3 photo: its colours as a screen shows them
    if isinstance(reference, Image.Image) and reference.mode.startswith("I"):
        # 16-bit grayscale (PNG, TIFF; "I;16" or, from older Pillow, "I"): PIL's own conversion to RGB would
        # clip every value above 255 to white
        gray = np.asarray(reference)
        wide = reference.mode != "I" or gray.max(initial=0) > 255
        reference = np.clip(gray, 0, 65535).astype(np.uint16 if wide else np.uint8)  # uint16: scaled below
    if isinstance(reference, Image.Image):
        if reference.mode in ("RGBA", "LA", "PA") or (reference.mode == "P" and "transparency" in reference.info):
            rgba = reference.convert("RGBA")
            bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            reference = Image.alpha_composite(bg, rgba)
        reference = np.asarray(reference.convert("RGB"))
    arr = np.asarray(reference)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise StylizerError(f"reference image must be HxW, HxWx3 or HxWx4, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        if arr.dtype.kind not in "buif":
            raise StylizerError(f"reference image must hold numbers, got an array of {arr.dtype}")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise StylizerError("reference image has NaN or infinite values")
        if arr.dtype == np.bool_:
            arr = arr * 255.0  # a mask: white where True
        elif arr.dtype == np.uint16:
            arr = arr / 257.0  # the full 16-bit range onto 0..255
        elif np.issubdtype(arr.dtype, np.floating) and arr.max(initial=0) <= 1.0:
            arr = arr * 255.0
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    if arr.shape[2] == 4:
        alpha = arr[..., 3:].astype(np.float32) / 255.0
        arr = (arr[..., :3] * alpha + 255.0 * (1 - alpha)).round().astype(np.uint8)
    return np.ascontiguousarray(arr)


def _whole_number(name: str, value: Any) -> int:
    """``value`` as an int, refusing floats, strings and bools (a silent round would hide a bug)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise StylizerError(f"{name} must be a whole number, got {value!r}")
    return int(value)


def _steps(steps: Any) -> int:
    """A denoising step count K: a whole number >= 1."""
    k = _whole_number("steps", steps)
    if k < 1:
        raise StylizerError(f"steps must be >= 1, got {k}")
    return k


def _model_size(stylizer: Stylizer, size: Any) -> tuple[int, int]:
    """A (width, height) the model can run at: positive multiples of the latent cell x patch."""
    if isinstance(size, (str, bytes)) or not hasattr(size, "__len__") or len(size) != 2:
        raise StylizerError(f"size must be a (width, height) pair, got {size!r}")
    w, h = (_whole_number("size", v) for v in size)
    p = stylizer.dit.config.patch_size
    mw, mh = stylizer.codec.spatial_factor * p[2], stylizer.codec.spatial_factor * p[1]
    if w <= 0 or h <= 0 or w % mw or h % mh:
        raise StylizerError(f"size {w}x{h} must be positive multiples of {mw}x{mh}")
    return w, h


def load_style(prompt: str | None, reference: Any) -> tuple[str, np.ndarray | None]:
    """A style checked and ready: (the prompt, or the RV2V prompt for a reference alone; the reference
    image as uint8 RGB or None). Bad prompts and images are a StylizerError."""
    if prompt is not None:
        if not isinstance(prompt, str):
            raise StylizerError(f"the prompt must be a string, got {type(prompt).__name__}")
        if not prompt.strip():
            raise StylizerError("the prompt is empty")
        if len(prompt) > 2000:
            raise StylizerError(f"the prompt is too long ({len(prompt)} characters, at most 2000)")
    if prompt is None and reference is None:
        raise StylizerError("give a prompt, a reference image, or both")
    ref = load_reference_image(reference) if reference is not None else None
    return (prompt.strip() if prompt is not None else RV2V_PROMPT, ref)


class Session:
    """One stream: push frames, switch style, flush. Not thread-safe; one per client."""

    def __init__(self, stylizer: Stylizer, prompt: str | None, reference: Any, seed: int,
                 steps: int | None, size: tuple[int, int] | None) -> None:
        self.stylizer = stylizer
        self.seed = _whole_number("seed", seed)
        self.timesteps = stylizer.timesteps(None if steps is None else _steps(steps))
        self._size = None if size is None else _model_size(stylizer, size)
        self._pending_style = load_style(prompt, reference)
        self._style_events: list[tuple[int, Any, Any]] = []
        self._frame_size: tuple[int, int] | None = None  # input (w, h)
        self._proc_size: tuple[int, int] | None = None  # model (w, h)
        self._encoder: Any = None
        self._decoder: Any = None
        self._cache: KVCache | None = None
        self._pushed = 0  # frames pushed
        self._encoded_upto = 0  # frames given to the encoder
        self._raw: list[np.ndarray] = []  # frames waiting for a complete encoder unit
        self._returned = 0
        self._latent_src: list[Tensor] = []  # source latent frames not yet denoised
        self._guided = bool(getattr(stylizer.codec, "guided", False))  # the decoder reads the source frames
        self._guide: list[Tensor] = []  # their source frames [1, 3, H, W], for a guided decoder
        self._chunk_start_video = 0  # video frame index where the next chunk starts
        self._next_latent = 0
        self._closed = False
        self._last_frame: np.ndarray | None = None

    # ----------------------------------------------------------------- style
    def set_style(self, prompt: str | None = None, reference: Any = None) -> None:
        """Switch style mid-stream: it applies from the first chunk that starts after the
        frames pushed so far."""
        self._check_open()
        style = load_style(prompt, reference)
        self._style_events.append((self._pushed, *style))

    def set_steps(self, steps: int) -> None:
        """Change the number of denoising steps K from the next chunk on."""
        self._check_open()
        self.timesteps = self.stylizer.timesteps(_steps(steps))

    # --------------------------------------------------------------- frames
    def push(self, frames: np.ndarray) -> np.ndarray:
        """Add frames uint8 (T, H, W, 3); return the stylized frames finished so far."""
        self._check_open()
        frames = self._check_frames(frames)
        if frames.shape[0] == 0:
            return self._empty()
        self._pushed += frames.shape[0]
        self._last_frame = frames[-1].copy()
        return self._process(frames, final=False)

    def flush(self) -> np.ndarray:
        """End the stream and return the remaining frames (padding the last chunk)."""
        self._check_open()
        out = self._process(None, final=True) if self._pushed > self._returned else self._empty()
        self._closed = True
        return out

    @property
    def frames_pushed(self) -> int:
        return self._pushed

    @property
    def frames_returned(self) -> int:
        return self._returned

    def memory_bytes(self) -> int:
        """Bytes held by the session's KV cache (bounded by the window)."""
        return self._cache.memory_bytes() if self._cache is not None else 0

    # ------------------------------------------------------------- internals
    def _check_open(self) -> None:
        if self._closed:
            raise StylizerError("this session was flushed; start a new one")

    def _empty(self) -> np.ndarray:
        w, h = self._frame_size or (0, 0)
        return np.zeros((0, h, w, 3), np.uint8)

    def _check_frames(self, frames: np.ndarray) -> np.ndarray:
        arr = np.asarray(frames)
        if not (arr.ndim == 4 or arr.ndim == 3) or arr.shape[-1] != 3:
            raise StylizerError(f"frames must be uint8 (T, H, W, 3) or one (H, W, 3) frame, got shape {arr.shape}")
        if arr.ndim == 3:
            arr = arr[None]
        if arr.dtype != np.uint8:
            raise StylizerError(f"frames must be uint8, got {arr.dtype}")
        h, w = arr.shape[1:3]
        if self._frame_size is None:
            if h < 8 or w < 8:
                raise StylizerError(f"frames of {w}x{h} are too small (at least 8x8)")
            self._start(w, h)
        elif (w, h) != self._frame_size:
            fw, fh = self._frame_size
            raise StylizerError(f"frame size changed mid-stream: {w}x{h}, the stream is {fw}x{fh}")
        return arr

    def _start(self, w: int, h: int) -> None:
        st = self.stylizer
        self._frame_size = (w, h)
        self._proc_size = self._size or processing_size(w, h, st.config.area)
        pw, ph = self._proc_size
        f = st.codec.spatial_factor
        self._encoder = st.codec.stream_encoder()
        self._decoder = st.codec.stream_decoder()
        self._cache = KVCache(st.dit, 1, (ph // f, pw // f), st.config.window_frames, st.config.cache_policy)
        prompt, ref = self._pending_style
        self._apply_style(prompt, ref, switch=False)

    def _apply_style(self, prompt: str, ref_image: np.ndarray | None, switch: bool) -> None:
        st, cache = self.stylizer, self._cache
        assert cache is not None and self._proc_size is not None
        text = st.encode_prompt(prompt)
        ref = st.encode_reference(ref_image, self._proc_size) if ref_image is not None else None
        if switch:
            cache.switch(st.dit, text, ref, st.config.switch_keep_frames)
        else:
            cache.set_text(st.dit, text)
            cache.set_reference(st.dit, ref)

    def _to_model(self, frames: np.ndarray) -> Tensor:
        assert self._proc_size is not None
        if self._proc_size != self._frame_size:
            frames = resize_frames(frames, self._proc_size)
        x = torch.from_numpy(np.ascontiguousarray(frames)).to(self.stylizer.device)
        x = x.permute(3, 0, 1, 2)[None].float() / 127.5 - 1.0  # [1, 3, T, H, W]
        return x.to(self.stylizer.codec_dtype)

    def _from_model(self, video: Tensor) -> np.ndarray:
        frames = video_to_frames(video[0])
        if self._proc_size != self._frame_size:
            assert self._frame_size is not None
            frames = resize_frames(frames, self._frame_size)
        return frames

    def _process(self, frames: np.ndarray | None, final: bool) -> np.ndarray:
        cf = self.stylizer.dit.config.chunk_frames
        if frames is not None:
            self._raw.extend(frames)
        if final and self._last_frame is not None:
            # Complete the last group of frames by repeating the last frame.
            short = (-(self._encoded_upto + len(self._raw) - 1)) % self.stylizer.codec.temporal_factor
            self._raw.extend([self._last_frame] * short)
        out: list[np.ndarray] = []
        with torch.inference_mode():
            self._encode_ready()
            if final and self._latent_src:
                while len(self._latent_src) % cf:  # complete the last chunk likewise
                    self._latent_src.append(self._latent_src[-1])
            while len(self._latent_src) >= cf:
                chunk = torch.stack(self._latent_src[:cf], dim=2)
                del self._latent_src[:cf]
                out.append(self._denoise_and_decode(chunk))
        result = np.concatenate(out) if out else self._empty()
        result = result[: self._pushed - self._returned]
        self._returned += result.shape[0]
        return result

    def _encode_ready(self) -> None:
        """Feed the encoder in its own units (the first frame alone, then groups of 4), so
        the arithmetic, and hence the output, is the same however frames were pushed."""
        tf = self.stylizer.codec.temporal_factor
        while True:
            unit = 1 if self._encoded_upto == 0 else tf
            if len(self._raw) < unit:
                return
            group, self._raw = self._raw[:unit], self._raw[unit:]
            video = self._to_model(np.stack(group))
            lat = self._encoder.push(video)
            self._latent_src.extend(lat.unbind(2))
            if self._guided:
                self._guide.extend(video.unbind(2))
            self._encoded_upto += unit

    def _denoise_and_decode(self, source: Tensor) -> np.ndarray:
        st, cache = self.stylizer, self._cache
        assert cache is not None
        start = self._next_latent
        video_start = 0 if start == 0 else 1 + (start - 1) * st.codec.temporal_factor
        due = [e for e in self._style_events if e[0] <= video_start]
        if due:
            _, prompt, ref = due[-1]
            self._style_events = [e for e in self._style_events if e[0] > video_start]
            self._apply_style(prompt, ref, switch=True)
        gen = torch.Generator().manual_seed((self.seed * 1_000_003 + start) % 2**64)  # torch's own wrap: any int seed
        clean = sample_chunk(st.dit, cache, source.to(st.dit.dtype), self.timesteps, start, gen)
        self._next_latent += source.shape[2]
        if not self._guided:
            return self._from_model(self._decoder.push(clean.to(st.codec_dtype)))
        n = source.shape[2] * st.codec.temporal_factor - (st.codec.temporal_factor - 1 if start == 0 else 0)
        guide, self._guide = self._guide[:n], self._guide[n:]
        guide += guide[-1:] * (n - len(guide))  # the padded end of a flushed stream
        return self._from_model(self._decoder.push(clean.to(st.codec_dtype), guide=torch.stack(guide, 2)))


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize (T, H, W, 3) frames to `size` (w, h), as a session does on the way in and out (the
    whole frame, no crop; area filter when shrinking)."""
    import cv2

    w, h = size
    interp = cv2.INTER_AREA if w * h < frames.shape[1] * frames.shape[2] else cv2.INTER_LINEAR
    return np.stack([cv2.resize(f, (w, h), interpolation=interp) for f in frames])
