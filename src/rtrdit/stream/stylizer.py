"""`Stylizer`: a causal DiT, its latent codec and text encoder, ready to open sessions.

A stylizer directory holds ``stylizer.json`` (a `StylizerConfig`), the DiT in ``dit/``
(any layout `rtrdit.load_dit` reads), and the codec and text encoder named by the config:
a sub-directory of the stylizer, a path, or a built-in name (``"tiny"``, ``"minilm"``).
``Stylizer.from_pretrained("demo")`` loads the small model shipped in the package.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from rtrdit.codecs.video_writer import CRF, check_crf
from rtrdit.files import atomic_write_text
from rtrdit.model.dit import DiT
from rtrdit.stream.sampler import default_timesteps
from rtrdit.stream.session import Session, StylizerError

if TYPE_CHECKING:  # pragma: no cover
    from rtrdit.stream.render import RenderResult

CONFIG_NAME = "stylizer.json"


@dataclass(frozen=True)
class StylizerConfig:
    """Inference settings of a stylizer (stored as stylizer.json)."""

    area: int = 256 * 256  # pixels the model runs at; the input's aspect ratio is kept
    steps: int = 2  # K denoising steps per chunk (the paper's K = 2)
    shift: float = 5.0  # flow schedule shift used to place the K timesteps
    timesteps: tuple[float, ...] | None = None  # explicit timesteps in (0, 1] (overrides steps/shift)
    window_frames: int = 8  # latent frames kept in the rolling self-attention cache
    cache_policy: str = "anchored"  # "anchored" (reference-preserving) or "naive" (the ablation)
    switch_keep_frames: int = 1  # self-attention frames kept across a style switch (paper: 1; 0 = clean start)
    codec: str = "autoencoder"  # sub-directory, path, or built-in codec name
    text_encoder: str = "minilm"  # "minilm" or a path to a umT5 directory
    # (name, prompt) one-tap styles a client offers (`rtrdit serve`'s page): the styles this model knows; () lets
    # the client offer its own
    presets: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StylizerConfig:
        if not isinstance(d, dict):
            raise TypeError(f"a stylizer config is a JSON object, got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown stylizer config field(s): {', '.join(sorted(unknown))}")
        if d.get("timesteps") is not None:
            d = {**d, "timesteps": tuple(float(t) for t in d["timesteps"])}
        if isinstance(d.get("presets"), list):
            d = {**d, "presets": tuple(tuple(p) if isinstance(p, list) else p for p in d["presets"])}
        return cls(**d)

    def __post_init__(self) -> None:
        for p in self.presets:
            if not (isinstance(p, tuple) and len(p) == 2 and all(isinstance(x, str) and x.strip() for x in p)):
                raise ValueError(f"each preset is a [name, prompt] pair of non-empty texts, got {p!r}")
        if not 0 <= self.switch_keep_frames <= self.window_frames:
            raise ValueError(f"switch_keep_frames must be in [0, window_frames={self.window_frames}], "
                             f"got {self.switch_keep_frames}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["timesteps"] = list(self.timesteps) if self.timesteps is not None else None
        d["presets"] = [list(p) for p in self.presets]
        return d


def demo_dir() -> Path:
    """Where the shipped demo model lives inside the package."""
    return Path(__file__).resolve().parent.parent / "weights" / "demo"


class Stylizer:
    """A loaded model: open one `session` per video stream."""

    def __init__(self, dit: DiT, codec: Any, text_encoder: Any, config: StylizerConfig | None = None,
                 device: str | torch.device = "cpu") -> None:
        if dit.config.attention != "block_causal":
            dit = _as_causal(dit)
        self.device = torch.device(device)
        self.dit = dit.to(self.device).eval()
        self.codec = codec
        self.text_encoder = text_encoder
        self.config = config or StylizerConfig()
        if text_encoder.dim != dit.config.text_dim:
            raise ValueError(f"text encoder dim {text_encoder.dim} != DiT text_dim {dit.config.text_dim}")

    # ------------------------------------------------------------- loading
    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike[str] = "demo", device: str | torch.device = "cpu",
                        dtype: str | torch.dtype | None = None, **overrides: Any) -> Stylizer:
        """Load "demo" or a stylizer directory on `device` ("cpu", "cuda", "auto", ...) with the DiT in `dtype`
        (None: bfloat16 on a recent GPU, float16 on an older one, float32 on a CPU; `devices.resolve_dtype`);
        `overrides` replace StylizerConfig fields. A device this machine lacks is a StylizerError."""
        from rtrdit.codecs import load_codec
        from rtrdit.codecs.text import CachedTextEncoder, load_text_encoder
        from rtrdit.devices import DeviceError, resolve_device, resolve_dtype
        from rtrdit.model.loading import load_dit

        try:
            device = resolve_device(device)
            dtype = resolve_dtype(dtype, device)
        except DeviceError as exc:
            raise StylizerError(str(exc)) from None
        path = demo_dir() if str(name_or_path) == "demo" else Path(name_or_path)
        cfg_file = path / CONFIG_NAME
        if str(name_or_path) != "demo" and not path.is_dir():
            raise StylizerError(f"model folder not found: {path} (give \"demo\" or a stylizer folder with {CONFIG_NAME})")
        if not cfg_file.is_file():
            hint = " (the demo model has not been trained into this checkout yet)" if str(name_or_path) == "demo" else ""
            raise StylizerError(f"missing {CONFIG_NAME} in {path}{hint}")
        try:
            config = StylizerConfig.from_dict(json.loads(cfg_file.read_text()))
        except (ValueError, TypeError) as exc:  # bad JSON (a ValueError), fields or values
            raise StylizerError(f"cannot read {cfg_file}: {exc}") from None
        if overrides:
            config = dataclasses.replace(config, **overrides)
        dit = load_dit(path / "dit", device=device, dtype=dtype, attention="block_causal")
        codec = load_codec(_resolve(path, config.codec), device=device)
        text = CachedTextEncoder(load_text_encoder(_resolve(path, config.text_encoder), device=device,
                                                   max_tokens=dit.config.text_len))
        return cls(dit, codec, text, config, device)

    def save_pretrained(self, path: str | os.PathLike[str]) -> None:
        """Write stylizer.json and dit/; the codec and text encoder are referenced by name,
        or saved as sub-directories when they can save themselves."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.dit.save_pretrained(str(path / "dit"))
        config = self.config
        if hasattr(self.codec, "save_pretrained"):
            self.codec.save_pretrained(path / "autoencoder")
            config = dataclasses.replace(config, codec="autoencoder")
        atomic_write_text(path / CONFIG_NAME, json.dumps(config.to_dict(), indent=2))

    # ------------------------------------------------------------- sessions
    def session(self, prompt: str | None = None, reference: Any = None, seed: int = 0,
                steps: int | None = None, size: tuple[int, int] | None = None) -> Session:
        """Open a stream styled by a prompt, a reference image (path, PIL image or array), or both."""
        return Session(self, prompt, reference, seed, steps, size)

    def stylize_file(self, source: str | os.PathLike[str], output: str | os.PathLike[str], prompt: str | None = None,
                     reference: Any = None, *, schedule: Any = None, seed: int = 0, steps: int | None = None,
                     size: tuple[int, int] | None = None, compare: bool = False,
                     progress: Callable[[int], None] | None = None, start: float = 0.0,
                     duration: float | None = None, crf: int = CRF) -> RenderResult:
        """`rtrdit stylize` from Python: a video file into ``output`` (its suffix picks the container; the
        source's frame times and audio kept; written atomically), or a photo into an image. ``schedule``
        (a JSON file or a list of ``StyleChange``) switches style at its times; ``compare`` adds the
        side-by-side output and, for a video, the contact sheet; ``start``/``duration`` (seconds) stylize
        that part of a video only; ``crf`` is the video's quality (0 lossless to 51, `VideoWriter`).
        ``source`` may be "-" (standard input) or an http(s) URL, copied beside
        ``output`` first (a URL that is a camera's motion JPEG: `stream.spool.LiveContent`, a VideoError, says to
        use `stylize_stream`); ``reference`` an http(s) URL too. Bad input: StylizerError or VideoError."""
        from rtrdit.stream.render import plan_render, render
        from rtrdit.stream.spool import local_input, local_reference

        check_crf(crf)
        # "-" (standard input) or an http(s) URL: copied first; a reference image at a URL: downloaded
        with local_reference(reference) as ref, local_input(source, output) as local:
            plan = plan_render(local, output, prompt, ref, schedule, compare, start, duration)
            return render(self, plan, seed=seed, steps=steps, size=size, progress=progress, crf=crf)

    def stylize_stream(self, source: str, output: str | os.PathLike[str], prompt: str | None = None,
                       reference: Any = None, *, schedule: Any = None, listen: bool = False,
                       timeout: float | None = None, reconnect: bool = False, duration: float | None = None, seed: int = 0,
                       steps: int | None = None, size: tuple[int, int] | None = None, compare: bool = False,
                       lag: float | None = None, start: float = 0.0, progress: Callable[[int, int], None] | None = None,
                       stop: threading.Event | None = None, crf: int = CRF) -> RenderResult:
        """`rtrdit stylize URL` from Python: a live stream (rtmp://, rtsp://, udp://, tcp://, an .m3u8 playlist, any
        http(s) URL read as it comes: a camera's motion JPEG; ``pipe:``: this process's standard input;
        ``listen``: wait for its sender to connect to the URL) stylized as it arrives into ``output`` (a
        video file, written when it ends; ``-``; or a URL it is sent on to) until the stream ends, nothing comes
        for ``timeout`` seconds, ``duration`` seconds of it have passed, or ``stop`` is set (or Ctrl-C/SIGTERM
        in the main thread; the frames already received are stylized first). Frames the stylizer is more than ``lag`` seconds (default `stream.live.LAG`) late
        for are dropped (``extra["dropped"]``), but none of a finished playlist (video on demand), which may
        also begin at ``start`` seconds. ``reconnect``: a stream that drops is connected to
        again (waited for, when listening) and the output goes on across the gap. ``compare`` (an output file)
        adds the side-by-side video and the contact sheet; ``crf`` is the output's quality. ``progress(done, dropped)``. Bad input: StylizerError, VideoError or `stream.live.LiveError`."""
        from rtrdit.stream.live import LAG, TIMEOUT, plan_live, render_live
        from rtrdit.stream.spool import local_reference

        check_crf(crf)  # before the stream is waited for
        with local_reference(reference) as ref:
            lag = LAG if lag is None else lag
            changes = plan_live(source, output, prompt, ref, schedule, duration, listen, compare, lag, start,
                                reconnect=reconnect)
            return render_live(self, source, output, changes, listen=listen, reconnect=reconnect,
                               timeout=TIMEOUT if timeout is None else timeout, duration=duration, seed=seed,
                               steps=steps, size=size, compare=compare, lag=lag, start=start, crf=crf,
                               progress=progress, stop=stop)

    def timesteps(self, steps: int | None = None) -> list[float]:
        """The denoising times per chunk: the model's distilled ones, or a shifted grid of ``steps``."""
        if steps is None and self.config.timesteps is not None:
            return list(self.config.timesteps)
        return default_timesteps(steps or self.config.steps, self.config.shift)

    @property
    def codec_dtype(self) -> torch.dtype:
        p = next(iter(self.codec.parameters()), None) if hasattr(self.codec, "parameters") else None
        return p.dtype if p is not None else torch.float32

    @torch.no_grad()
    def encode_prompt(self, prompt: str) -> Tensor:
        """Text embeddings [1, L, D] of a prompt (wrap the encoder in CachedTextEncoder to
        encode a repeated prompt once)."""
        return self.text_encoder.encode([prompt]).to(self.device, self.dit.dtype)

    @torch.no_grad()
    def encode_reference(self, image: np.ndarray, size: tuple[int, int]) -> Tensor:
        """Reference latent [1, 16, 1, h, w] of an RGB image, centre-cropped to `size` (w, h)."""
        from rtrdit.codecs.video import resize_frame

        img = resize_frame(image, size, mode="crop")
        x = torch.from_numpy(np.array(img)).to(self.device)  # a writable copy (PIL arrays are read-only)
        x = x.permute(2, 0, 1)[None, :, None].to(self.codec_dtype) / 127.5 - 1.0
        return self.codec.encode(x).to(self.dit.dtype)


def _resolve(root: Path, spec: str) -> str:
    p = Path(spec)
    if not p.is_absolute() and (root / p).exists():
        return str(root / p)
    return spec


def _as_causal(dit: DiT) -> DiT:
    """The same module under the block-causal mask (streaming needs a causal model)."""
    dit.config = dit.config.replace(attention="block_causal")
    return dit


__all__ = ["Stylizer", "StylizerConfig", "StylizerError", "demo_dir"]
