"""Built-in classical stylizers: deterministic, weight-free targets for the demo dataset.

Every style is a pure function of one frame (numpy/OpenCV only, no randomness), and any
texture (paper, grain, hatching, halftone dots) is fixed in image space, so a static scene
gives identical output frames: the targets never flicker. Each style carries several
paraphrased prompts, like the captioner-written prompts of the paper (section 3.1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

FrameFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Style:
    """A named classical style: a per-frame RGB uint8 -> RGB uint8 function and its prompts."""

    name: str
    description: str
    prompts: tuple[str, ...]
    frame_fn: FrameFn

    def apply(self, frames: np.ndarray) -> np.ndarray:
        """Stylize one frame ``(H, W, 3)`` or a clip ``(T, H, W, 3)`` of uint8 RGB."""
        frames = np.asarray(frames)
        if frames.dtype != np.uint8 or frames.ndim not in (3, 4) or frames.shape[-1] != 3:
            raise ValueError(f"expected uint8 RGB frames (H, W, 3) or (T, H, W, 3), got {frames.dtype} {frames.shape}")
        if frames.ndim == 3:
            return self._one(frames)
        return np.stack([self._one(f) for f in frames]) if len(frames) else frames.copy()

    def _one(self, frame: np.ndarray) -> np.ndarray:
        out = self.frame_fn(np.ascontiguousarray(frame))
        assert out.shape == frame.shape and out.dtype == np.uint8, (self.name, out.shape, out.dtype)
        return out


# ----------------------------------------------------------------------------- helpers


def _scale(frame: np.ndarray) -> float:
    """Size factor relative to a 256-pixel short side, so filters look alike at any size."""
    return min(frame.shape[:2]) / 256.0


def _odd(x: float, lo: int = 3) -> int:
    k = max(lo, round(x))
    return k if k % 2 else k + 1


def _gray(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def _texture(h: int, w: int, seed: int, blur: float) -> np.ndarray:
    """A fixed (seeded by the style, not the frame) noise texture in [-1, 1], shape (H, W)."""
    noise = np.random.default_rng(seed).standard_normal((h, w)).astype(np.float32)
    if blur > 0:
        noise = cv2.GaussianBlur(noise, (0, 0), blur)
    return noise / max(float(np.abs(noise).max()), 1e-6)


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _dark_edges(gray: np.ndarray, s: float) -> np.ndarray:
    """Binary line mask (1 = line) from a median-smoothed adaptive threshold."""
    smooth = cv2.medianBlur(gray, _odd(5 * s))
    lines = cv2.adaptiveThreshold(smooth, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, _odd(9 * s), 2)
    return (lines == 0).astype(np.float32)


# ----------------------------------------------------------------------------- styles


def ink_wash(frame: np.ndarray) -> np.ndarray:
    """Chinese ink wash: a few soft grey ink tones, dark bled outlines, warm rice paper."""
    s = _scale(frame)
    h, w = frame.shape[:2]
    gray = cv2.bilateralFilter(_gray(frame), _odd(9 * s), 60, 60).astype(np.float32) / 255.0
    tones = np.round(gray * 4.0) / 4.0
    tones = cv2.GaussianBlur(tones, (0, 0), 1.5 * s + 0.5)  # ink bleeding between tone areas
    lines = cv2.GaussianBlur(_dark_edges(_gray(frame), s), (0, 0), 0.6 * s + 0.3)
    ink = np.clip(tones * (1.0 - 0.8 * lines), 0.0, 1.0)
    ink = 0.12 + 0.88 * ink  # ink never reaches pure black
    paper = np.array([242, 236, 218], np.float32) * (1.0 + 0.04 * _texture(h, w, 11, 2.0 * s + 0.5))[..., None]
    return _to_u8(paper * ink[..., None])


def pencil_sketch(frame: np.ndarray) -> np.ndarray:
    """Graphite pencil drawing: colour-dodge sketch with diagonal hatching in the shadows."""
    s = _scale(frame)
    h, w = frame.shape[:2]
    gray = _gray(frame).astype(np.float32)
    blur = cv2.GaussianBlur(255.0 - gray, (0, 0), 6.0 * s + 1.0)
    dodge = np.clip(gray * 255.0 / np.maximum(255.0 - blur, 1.0), 0, 255)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    period = max(3.0, 6.0 * s)
    hatch = (np.mod(xx + yy, period) < period * 0.35).astype(np.float32)  # fixed diagonal strokes
    shadow = np.clip((150.0 - gray) / 150.0, 0.0, 1.0)
    sketch = dodge * (1.0 - 0.45 * hatch * shadow)
    sketch = sketch * (1.0 + 0.03 * _texture(h, w, 23, 1.0))
    tint = np.array([0.97, 0.97, 1.0], np.float32)  # faint cool graphite
    return _to_u8(sketch[..., None] * tint)


# 16-colour PICO-8 palette: hard-edged retro colours
_PIXEL_PALETTE = np.array(
    [[0, 0, 0], [29, 43, 83], [126, 37, 83], [0, 135, 81], [171, 82, 54], [95, 87, 79], [194, 195, 199],
     [255, 241, 232], [255, 0, 77], [255, 163, 0], [255, 236, 39], [0, 228, 54], [41, 173, 255],
     [131, 118, 156], [255, 119, 168], [255, 204, 170]], np.float32)


def pixel_art(frame: np.ndarray) -> np.ndarray:
    """8-bit pixel art: big square pixels snapped to a fixed 16-colour retro palette."""
    h, w = frame.shape[:2]
    block = max(2, round(min(h, w) / 48))
    sw, sh = max(1, w // block), max(1, h // block)
    small = cv2.resize(frame, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float32)
    d = ((small[:, :, None, :] - _PIXEL_PALETTE[None, None]) ** 2).sum(-1)
    snapped = _PIXEL_PALETTE[d.argmin(-1)].astype(np.uint8)
    return cv2.resize(snapped, (w, h), interpolation=cv2.INTER_NEAREST)


def _bold_outlines(gray: np.ndarray, s: float) -> np.ndarray:
    """Line mask in [0, 1] of the main shape boundaries, drawn about 4 px wide at 256 px: Canny
    edges of a 3 px blur, so texture and noise draw no line, widened by a round brush, with edges
    anti-aliased over about a pixel, as an inked stroke's are (a hard mask's sub-pixel phase is
    what an 8x latent cannot know)."""
    smooth = cv2.GaussianBlur(gray.astype(np.float32), (0, 0), 3.0 * s)
    edges = cv2.Canny(_to_u8(smooth), 40, 120)
    brush = max(2, round(4 * s))
    mask = (cv2.dilate(edges, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (brush, brush))) > 0).astype(np.float32)
    return cv2.GaussianBlur(mask, (0, 0), s)


def _cartoon_colour(frame: np.ndarray) -> np.ndarray:
    """The frame with its texture flattened (three bilateral passes): cartoon's colours and outlines come from it."""
    color, d = frame, _odd(7 * _scale(frame))
    for _ in range(3):
        color = cv2.bilateralFilter(color, d, 50, 50)
    return color


def cartoon_outlines(frame: np.ndarray) -> np.ndarray:
    """Where cartoon inks its outlines on `frame`: the line mask in [0, 1] (1 = black), (H, W) float32.
    Lets an evaluation ask whether a model draws the lines, not just the colours."""
    return _bold_outlines(_gray(_cartoon_colour(frame)), _scale(frame))


def cartoon(frame: np.ndarray) -> np.ndarray:
    """Cel-shaded cartoon: flat posterized colours, boosted saturation and bold, anti-aliased black
    outlines around the shapes (not the speckles of a threshold, which neither read as outlines nor
    survive an 8x latent)."""
    color = _cartoon_colour(frame)
    hsv = cv2.cvtColor(color, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 1] = np.clip(hsv[..., 1] * 1.4, 0, 255)
    hsv[..., 2] = np.floor(hsv[..., 2] / 48.0) * 48.0 + 40.0
    flat = cv2.cvtColor(_to_u8(hsv), cv2.COLOR_HSV2RGB).astype(np.float32)
    lines = _bold_outlines(_gray(color), _scale(frame))
    return _to_u8(flat * (1.0 - lines[..., None]))


def watercolor(frame: np.ndarray) -> np.ndarray:
    """Watercolour: soft washed colour regions, pigment granulation and darker wet edges on paper."""
    s = _scale(frame)
    h, w = frame.shape[:2]
    bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    washed = cv2.cvtColor(cv2.stylization(bgr, sigma_s=40.0 * s + 10.0, sigma_r=0.45), cv2.COLOR_BGR2RGB)
    washed = washed.astype(np.float32)
    washed = 255.0 - 0.8 * (255.0 - washed)  # diluted pigment: lighter, less contrast
    gray = _gray(_to_u8(washed)).astype(np.float32)
    edge = np.abs(cv2.Laplacian(cv2.GaussianBlur(gray, (0, 0), 1.0 + s), cv2.CV_32F))
    edge = np.clip(edge / 12.0, 0.0, 1.0)
    grain = 1.0 + 0.06 * _texture(h, w, 37, 1.2 * s + 0.4)
    out = washed * (1.0 - 0.25 * edge[..., None]) * grain[..., None]
    paper = np.array([250, 247, 240], np.float32) / 255.0
    return _to_u8(out * paper)


def neon_edges(frame: np.ndarray) -> np.ndarray:
    """Neon glow: glowing saturated outlines in the scene's hues over a near-black background."""
    s = _scale(frame)
    gray = cv2.GaussianBlur(_gray(frame), (0, 0), 1.0 * s + 0.5)
    edges = cv2.Canny(gray, 40, 110)
    edges = cv2.dilate(edges, np.ones((2, 2), np.uint8)).astype(np.float32) / 255.0
    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
    hsv[..., 1] = 255
    hsv[..., 2] = 255
    hue = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).astype(np.float32)
    lit = hue * edges[..., None]
    glow = cv2.GaussianBlur(lit, (0, 0), 3.0 * s + 1.0)
    base = frame.astype(np.float32) * 0.08
    return _to_u8(base + lit + 2.5 * glow)


_SEPIA = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], np.float32)


def vintage_sepia(frame: np.ndarray) -> np.ndarray:
    """Vintage photograph: sepia toning, faded contrast, soft focus, vignette and film grain."""
    s = _scale(frame)
    h, w = frame.shape[:2]
    img = cv2.GaussianBlur(frame, (0, 0), 0.6 * s + 0.3).astype(np.float32)
    sep = img @ _SEPIA.T
    sep = 0.8 * np.clip(sep, 0, 255) + 30.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
    vignette = np.clip(1.0 - 0.35 * r2, 0.35, 1.0)
    grain = 1.0 + 0.05 * _texture(h, w, 41, 0.6 * s + 0.2)
    return _to_u8(sep * (vignette * grain)[..., None])


def thermal(frame: np.ndarray) -> np.ndarray:
    """Thermal camera: brightness mapped through an inferno heat palette, slightly blurred."""
    s = _scale(frame)
    gray = cv2.GaussianBlur(_gray(frame), (0, 0), 1.5 * s + 0.5)
    heat = cv2.applyColorMap(gray, cv2.COLORMAP_INFERNO)
    return cv2.cvtColor(heat, cv2.COLOR_BGR2RGB)


def blueprint(frame: np.ndarray) -> np.ndarray:
    """Architectural blueprint: thin white line drawing on Prussian blue with a fixed grid."""
    s = _scale(frame)
    h, w = frame.shape[:2]
    lines = _dark_edges(_gray(frame), s)
    step = max(4, round(16 * s))
    yy, xx = np.mgrid[0:h, 0:w]
    grid = ((xx % step == 0) | (yy % step == 0)).astype(np.float32)
    bg = np.array([18, 52, 120], np.float32)
    ink = np.array([235, 242, 255], np.float32)
    a = np.clip(lines * 0.95 + grid * 0.18, 0.0, 1.0)[..., None]
    return _to_u8(bg * (1.0 - a) + ink * a)


def halftone(frame: np.ndarray) -> np.ndarray:
    """Pop-art comic print: CMY halftone dots on a 16 px screen aligned to the DiT's tokens.

    One dot per ink in the middle of every 16x16 pixel cell at 256 px (the 8x autoencoder and the
    DiT's 2x2 patches make one token per cell), all inks at 0 degrees and with anti-aliased edges:
    finer or rotated screens cannot pass through the 8x latent (the demo model card measures this).
    """
    s = _scale(frame)
    h, w = frame.shape[:2]
    cell = max(4.0, 16.0 * s)
    smooth = cv2.GaussianBlur(frame, (0, 0), cell / 3.0).astype(np.float32) / 255.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5  # pixel centres
    u, v = xx / cell - 0.5, yy / cell - 0.5  # dot centres at the middle of each cell
    d = np.sqrt((u - np.round(u)) ** 2 + (v - np.round(v)) ** 2)  # distance to the dot centre, in cells
    out = np.empty_like(smooth)
    for c in range(3):
        coverage = 1.0 - smooth[..., c]  # ink amount of the complementary colour
        radius = np.sqrt(np.clip(coverage, 0, 1) / np.pi) * 1.05
        out[..., c] = np.clip((d - radius) * cell + 0.5, 0.0, 1.0)  # one-pixel anti-aliased edge
    return _to_u8(255.0 * out)


_STYLES: tuple[Style, ...] = (
    Style("ink_wash", "Chinese ink wash painting", (
        "a traditional Chinese ink wash painting",
        "ink and wash artwork on rice paper, soft grey tones",
        "sumi-e brush painting in black ink",
        "monochrome ink wash illustration with bleeding brush strokes",
    ), ink_wash),
    Style("pencil_sketch", "graphite pencil drawing with hatching", (
        "a pencil sketch",
        "graphite drawing on white paper with cross hatching",
        "hand-drawn black and white pencil illustration",
        "a detailed charcoal and pencil sketch",
    ), pencil_sketch),
    Style("pixel_art", "8-bit pixel art with a retro palette", (
        "8-bit pixel art",
        "retro video game graphics with chunky pixels",
        "low resolution pixel art with a limited color palette",
        "a scene rendered like a classic 16-color arcade game",
    ), pixel_art),
    Style("cartoon", "cel-shaded cartoon with bold outlines", (
        "a cartoon with bold black outlines",
        "cel-shaded animation style with flat colors",
        "colorful comic cartoon drawing",
        "an animated cartoon with posterized colors and thick ink lines",
    ), cartoon),
    Style("watercolor", "soft watercolour painting", (
        "a watercolor painting",
        "soft washed watercolor artwork on textured paper",
        "delicate aquarelle painting with flowing pigments",
        "a light watercolour illustration with wet edges",
    ), watercolor),
    Style("neon_edges", "glowing neon outlines on black", (
        "glowing neon outlines on a dark background",
        "a neon light drawing, cyberpunk glow",
        "bright luminous edges like neon tubes at night",
        "synthwave neon line art glowing in the dark",
    ), neon_edges),
    Style("vintage_sepia", "faded sepia photograph", (
        "an old sepia photograph",
        "vintage faded photo with film grain and vignette",
        "a nineteenth century sepia toned picture",
        "antique brown-tinted photograph with soft focus",
    ), vintage_sepia),
    Style("thermal", "thermal infrared camera", (
        "a thermal camera image",
        "infrared heat map visualization",
        "thermographic footage in inferno colors",
        "a heat vision view with glowing hot areas",
    ), thermal),
    Style("blueprint", "white-line architectural blueprint", (
        "an architectural blueprint",
        "technical drawing in white lines on blue paper",
        "a cyanotype blueprint with a grid",
        "engineering schematic sketch on blueprint paper",
    ), blueprint),
    Style("halftone", "pop-art halftone comic print", (
        "a pop art comic print with halftone dots",
        "retro comic book style with Ben-Day dots",
        "halftone printed illustration in cyan magenta and yellow",
        "a vintage newspaper comic with visible print dots",
    ), halftone),
)


def builtin_styles() -> dict[str, Style]:
    """All built-in styles by name, in a fixed order."""
    return {s.name: s for s in _STYLES}


def builtin_presets() -> tuple[tuple[str, str], ...]:
    """A (name, prompt) preset per built-in style, its first prompt: the one-tap styles of a model trained on
    them (`StylizerConfig.presets`), such as the demo."""
    return tuple((s.name.replace("_", " ").capitalize(), s.prompts[0]) for s in _STYLES)


def get_style(name: str) -> Style:
    """The built-in style ``name``; ``ValueError`` naming the known styles otherwise."""
    styles = builtin_styles()
    if name not in styles:
        raise ValueError(f"unknown style {name!r}; known styles: {', '.join(styles)}")
    return styles[name]
