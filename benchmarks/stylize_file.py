"""Throughput of `rtrdit stylize` on files of several kinds: `render_file` with the demo model.

Makes its own clips from a shared video (`../shared/videos/dog.mp4`): the file as it is (512x512), scaled
to 1920x1080 SDR, and the same 1080p frames carried as HLG HDR (as a phone records, read tone-mapped);
stylizes each with a text style and prints frames per second of wall time, the whole file included
(reading, the DiT, writing). Also times the x264 presets on the stylized 1080p frames, a GIF output
(256 colours a frame), an animated WebP output, and a 5-second part from near the end of a 2-minute 1080p file (`--start`): the
render of the part, against decoding the file up to the part, which reading it without a seek costs.

    python benchmarks/stylize_file.py [--frames 60] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rtrdit.codecs.video import iter_frames, read_frames
from rtrdit.codecs.video_writer import VideoWriter
from rtrdit.stream.render import PRESET, plan_render, render
from rtrdit.stream.stylizer import Stylizer

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "videos" / "dog.mp4"


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b) ** 2)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60, help="frames per clip (default 60)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    from video_clips import make_hdr_clip, sdr_nits  # the test suite's HDR encoder

    stylizer = Stylizer.from_pretrained("demo")
    results: dict[str, object] = {"host": platform.node(), "cpus": os.cpu_count(), "preset": PRESET, "fps": {}}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        hd = list(iter_frames(SOURCE, size=(1920, 1080), count=args.frames))
        clips = {"512x512 SDR": d / "sd.mp4", "1920x1080 SDR": d / "hd.mp4", "1920x1080 HLG": d / "hlg.mp4"}
        with VideoWriter(clips["512x512 SDR"], 24) as w:
            for frame in iter_frames(SOURCE, count=args.frames):
                w.write(frame)
        with VideoWriter(clips["1920x1080 SDR"], 24) as w:
            for frame in hd:
                w.write(frame)
        make_hdr_clip(clips["1920x1080 HLG"], [sdr_nits(f) for f in hd], "hlg", fps=24)
        for name, path in clips.items():
            plan = plan_render(path, d / "out.mp4", prompt="ink wash painting")
            result = render(stylizer, plan)
            results["fps"][name] = round(result.fps, 2)  # type: ignore[index]
            print(f"{name}: {result.fps:.2f} fps ({result.frames} frames in {result.seconds:.1f} s)", flush=True)
        stylized = read_frames(d / "out.mp4")
        presets = {}
        for preset in ("fast", "veryfast"):
            t0 = time.perf_counter()
            with VideoWriter(d / f"{preset}.mp4", 24, preset=preset) as w:
                for frame in stylized:
                    w.write(frame)
            ms = (time.perf_counter() - t0) / len(stylized) * 1000
            presets[preset] = {"ms_per_frame": round(ms, 1), "kb": (d / f"{preset}.mp4").stat().st_size // 1024,
                               "psnr_db": round(_psnr(read_frames(d / f"{preset}.mp4"), stylized), 2)}
            print(f"x264 {preset} at 1080p: {presets[preset]}", flush=True)
        results["x264_1080p"] = presets
        render(stylizer, plan_render(clips["512x512 SDR"], d / "sd_out.mp4", prompt="ink wash painting"))
        plan = plan_render(clips["512x512 SDR"], d / "out.gif", prompt="ink wash painting")
        result = render(stylizer, plan)
        mb_per_s = (d / "out.gif").stat().st_size / 1e6 / plan.info.duration
        gif_db = _psnr(read_frames(d / "out.gif"), read_frames(d / "sd_out.mp4"))  # the same stylized frames
        results["gif_512x512"] = {"fps": round(result.fps, 2), "mb_per_second_of_video": round(mb_per_s, 2),
                                  "psnr_db_vs_mp4": round(gif_db, 2)}
        print(f"GIF 512x512: {results['gif_512x512']}", flush=True)
        plan = plan_render(clips["512x512 SDR"], d / "out.webp", prompt="ink wash painting")
        result = render(stylizer, plan)
        mb_per_s = (d / "out.webp").stat().st_size / 1e6 / plan.info.duration
        webp_db = _psnr(read_frames(d / "out.webp"), read_frames(d / "sd_out.mp4"))
        results["webp_512x512"] = {"fps": round(result.fps, 2), "mb_per_second_of_video": round(mb_per_s, 2),
                                   "psnr_db_vs_mp4": round(webp_db, 2)}
        print(f"animated WebP 512x512: {results['webp_512x512']}", flush=True)
        results["part_of_2min_1080p"] = _part(stylizer, d, hd)
        print(f"5 s from 1:50 of a 2-minute 1080p file: {results['part_of_2min_1080p']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


def _part(stylizer: Stylizer, d: Path, frames: list[np.ndarray]) -> dict[str, float]:
    """Seconds to render 5 s from 1:50 of a 2-minute 1080p file (key frames 10 s apart, as cameras and
    encoders make them), and seconds to decode the file up to there."""
    long = d / "long.mp4"
    with VideoWriter(long, 24, preset="ultrafast") as w:
        for i in range(24 * 120):
            w.write(frames[i % len(frames)])
    t0 = time.perf_counter()
    render(stylizer, plan_render(long, d / "part.mp4", prompt="ink wash painting", start=110, duration=5))
    part = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in iter_frames(long, count=24 * 110, size=(256, 144), mode="stretch"):
        pass
    return {"render_s": round(part, 1), "decode_to_start_s": round(time.perf_counter() - t0, 1)}


if __name__ == "__main__":
    main()
