"""Memory over a long file: `render_file` (the code behind `rtrdit stylize`) on a generated 10-minute clip.

Writes a 256x256, 24 fps source clip of --minutes minutes (a camera move over a shipped photo, looped;
written frame by frame, never held in memory), stylizes it with the demo model and a style schedule that
switches between prompts and reference images every two minutes, and records this process's resident
memory at every minute of input processed. Bounded memory means a flat trace after the first minute.

    python benchmarks/long_stylize.py [--minutes 10] [--size 256] [--json out.json] [--markdown out.md]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rtrdit.codecs.video import probe
from rtrdit.codecs.video_writer import VideoWriter
from rtrdit.data.build import package_images
from rtrdit.data.stylizers import get_style
from rtrdit.stream.bench import camera_loop, current_rss_mb, ping_pong_index
from rtrdit.stream.render import render_file
from rtrdit.stream.schedule import StyleChange
from rtrdit.stream.stylizer import Stylizer

FPS = 24.0


def write_source(path: Path, minutes: float, size: int) -> int:
    """A looped camera move (played back and forth) written straight to an MP4."""
    loop = camera_loop((size, size))
    total = round(minutes * 60 * FPS)
    with VideoWriter(path, FPS) as w:
        for i in range(total):
            w.write(loop[ping_pong_index(i, len(loop))])
    return total


def schedule(tmp: Path, minutes: float, size: int) -> list[StyleChange]:
    """Prompt, reference, prompt, ... every two minutes (references: a shipped photo, built-in styles)."""
    from PIL import Image

    from rtrdit.codecs.photo import read_image

    photo = read_image(package_images()[-1], (size, size))
    refs = []
    for style in ("pixel_art", "watercolor"):
        p = tmp / f"ref_{style}.png"
        Image.fromarray(get_style(style).apply(photo[None])[0]).save(p)
        refs.append(str(p))
    styles = [("a traditional Chinese ink wash painting", None), (None, refs[0]), ("a pencil sketch", None),
              (None, refs[1]), ("a cartoon with bold black outlines", None)]
    out = []
    for k, t in enumerate(np.arange(0.0, minutes * 60, 120.0)):
        prompt, reference = styles[k % len(styles)]
        out.append(StyleChange(float(t), prompt=prompt, reference=reference))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--model", default="demo")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--markdown", type=Path)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        src = tmp / "long.mp4"
        t0 = time.perf_counter()
        total = write_source(src, args.minutes, args.size)
        print(f"source: {total} frames ({probe(src).duration:.0f} s) written in {time.perf_counter() - t0:.0f} s")
        st = Stylizer.from_pretrained(args.model)
        per_minute = int(60 * FPS)
        trace: list[dict[str, float]] = [{"minute": 0.0, "rss_mb": current_rss_mb(), "wall_s": 0.0}]
        start = time.perf_counter()

        def progress(done: int) -> None:
            if done // per_minute > len(trace) - 1:
                trace.append({"minute": float(done // per_minute), "rss_mb": current_rss_mb(),
                              "wall_s": time.perf_counter() - start})
                print(f"  minute {done // per_minute:>3}: rss {trace[-1]['rss_mb']:.0f} MB, "
                      f"{done / trace[-1]['wall_s']:.1f} fps", flush=True)

        res = render_file(st, src, tmp / "out.mp4", schedule(tmp, args.minutes, args.size), progress=progress)
    after_first = [r["rss_mb"] for r in trace if r["minute"] >= 1] or [trace[-1]["rss_mb"]]
    result = {
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}",
        "minutes": args.minutes, "size": args.size, "frames": res.frames, "fps": res.fps, "seconds": res.seconds,
        "trace": trace, "rss_min_after_first_minute_mb": min(after_first), "rss_max_after_first_minute_mb": max(after_first),
    }
    print(json.dumps({k: v for k, v in result.items() if k != "trace"}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.markdown:
        lines = ["| minute of input | resident memory (MB) | wall time (s) |", "| ---: | ---: | ---: |"]
        lines += [f"| {r['minute']:.0f} | {r['rss_mb']:.0f} | {r['wall_s']:.0f} |" for r in trace]
        args.markdown.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
