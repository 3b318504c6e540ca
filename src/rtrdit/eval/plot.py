"""Line plots drawn with PIL (matplotlib is not a dependency): per-frame metric curves as PNG."""

from __future__ import annotations

import io
import math

from PIL import Image, ImageDraw, ImageFont

PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 x 10^k) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(s * mag for s in (1, 2, 5, 10) if s * mag >= raw)
    first = math.ceil(lo / step) * step
    ticks, t = [], first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    return ticks


def _label(v: float) -> str:
    return f"{v:.4g}"


def rolling_mean(ys: list[float], window: int) -> list[float]:
    """Centred moving average over the finite values in each window (NaN where there are none)."""
    half = window // 2
    out = []
    for i in range(len(ys)):
        vals = [v for v in ys[max(0, i - half) : i + half + 1] if math.isfinite(v)]
        out.append(sum(vals) / len(vals) if vals else float("nan"))
    return out


def line_plot(series: dict[str, list[float]], title: str, xlabel: str, ylabel: str,
              size: tuple[int, int] = (960, 540), smooth_above: int = 100) -> bytes:
    """PNG bytes of one curve per entry of ``series`` (x = index), with axes, ticks and a legend.
    Non-finite values leave gaps; series longer than ``smooth_above`` are drawn faint with their
    rolling mean on top, so drift along a long stream stands out from frame-to-frame noise."""
    w, h = size
    left, right, top, bottom = 80, 200, 56, 60
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=14)
    small = ImageFont.load_default(size=12)
    vals = [v for ys in series.values() for v in ys if math.isfinite(v)]
    n = max((len(ys) for ys in series.values()), default=1)
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    if hi - lo < 1e-12:
        pad = max(abs(hi) * 0.01, 1e-3)
        lo, hi = lo - pad, hi + pad
    pad = (hi - lo) * 0.05
    lo, hi = lo - pad, hi + pad
    x0, x1, y0, y1 = left, w - right, top, h - bottom

    def px(i: float) -> float:
        return x0 + (x1 - x0) * (i / max(1, n - 1))

    def py(v: float) -> float:
        return y1 - (y1 - y0) * (v - lo) / (hi - lo)

    d.rectangle([x0, y0, x1, y1], outline=(0, 0, 0))
    for t in nice_ticks(lo, hi):
        y = py(t)
        d.line([x0 - 4, y, x1, y], fill=(225, 225, 225))
        d.line([x0 - 4, y, x0, y], fill=(0, 0, 0))
        d.text((x0 - 8, y), _label(t), fill=(0, 0, 0), font=small, anchor="rm")
    for t in nice_ticks(0, max(1, n - 1)):
        x = px(t)
        d.line([x, y1, x, y1 + 4], fill=(0, 0, 0))
        d.text((x, y1 + 8), _label(t), fill=(0, 0, 0), font=small, anchor="mt")
    d.text(((x0 + x1) / 2, 20), title, fill=(0, 0, 0), font=font, anchor="mm")
    d.text(((x0 + x1) / 2, h - 18), xlabel, fill=(0, 0, 0), font=font, anchor="mm")
    d.text((x0, y0 - 8), ylabel, fill=(0, 0, 0), font=small, anchor="lb")
    def curve(ys: list[float], color: tuple[int, int, int], width: int) -> None:
        run: list[tuple[float, float]] = []
        for i, v in enumerate(ys + [float("nan")]):
            if math.isfinite(v):
                run.append((px(i), py(v)))
                continue
            if len(run) == 1:
                d.ellipse([run[0][0] - 2, run[0][1] - 2, run[0][0] + 2, run[0][1] + 2], fill=color)
            elif run:
                d.line(run, fill=color, width=width)
            run = []

    for k, (name, ys) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        if len(ys) > smooth_above:  # long stream: faint raw curve under its rolling mean
            curve(ys, tuple(int(c + 0.65 * (255 - c)) for c in color), 1)  # type: ignore[arg-type]
            curve(rolling_mean(ys, max(3, len(ys) // 25)), color, 2)
        else:
            curve(ys, color, 2)
        if k < 20:
            ly = y0 + 8 + 18 * k
            d.line([x1 + 12, ly, x1 + 36, ly], fill=color, width=3)
            d.text((x1 + 42, ly), name[:22], fill=(0, 0, 0), font=small, anchor="lm")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
