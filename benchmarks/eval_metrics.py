"""Weight-free metrics on the shared camera clips under the paper's protocol (5 s, 24 fps, 832x640):
warping error of the source itself, of the built-in stylizers' outputs, of a flickering copy and of
shuffled frames; PSNR/SSIM of the stylized clips against themselves after H.264 coding; and the
cost per frame of each metric on this CPU. Records benchmarks/eval_metrics.{json,md}.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/eval_metrics.py [--clips dog.mp4 music.mp4] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from rtrdit.codecs.video import read_frames
from rtrdit.codecs.video_writer import write_video
from rtrdit.data.stylizers import get_style
from rtrdit.eval.benchmark import prepare_clip
from rtrdit.eval.metrics.psnr import psnr
from rtrdit.eval.metrics.ssim import ssim
from rtrdit.eval.metrics.warp import FlowWarper

HERE = Path(__file__).resolve().parent
VIDEOS = HERE.parent.parent / "shared" / "videos"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", nargs="+", default=["dog.mp4", "music.mp4", "pexels-cottonbro-studio-6649832-960x506-25fps.mp4"])
    ap.add_argument("--styles", nargs="+", default=["cartoon", "pencil_sketch", "halftone"])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--size", default="832x640")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    rows = []
    timing: dict[str, list[float]] = {"flow": [], "warp (given the flow)": [], "ssim": [], "psnr": []}
    for name in args.clips:
        src = prepare_clip(VIDEOS / name, (w, h), 24.0, args.seconds)
        rng = np.random.default_rng(0)
        gain = np.array([1 + 0.1 * (-1) ** t for t in range(len(src))])
        variants = {
            "source (identity)": src,
            "flicker +-10%": np.clip(src * gain[:, None, None, None], 0, 255).astype(np.uint8),
            "shuffled frames": src[rng.permutation(len(src))],
        }
        for style in args.styles:
            variants[f"style {style}"] = get_style(style).apply(src)
        warper = FlowWarper()
        t0 = time.perf_counter()
        motions = [warper.motion(src[i - 1], src[i]) for i in range(1, len(src))]  # flow of the source, once
        timing["flow"].append((time.perf_counter() - t0) / max(1, len(motions)))
        for label, pred in variants.items():
            t0 = time.perf_counter()
            warp = float(np.mean([warper.error(m, pred[i], pred[i + 1]) for i, m in enumerate(motions)]))
            timing["warp (given the flow)"].append((time.perf_counter() - t0) / max(1, len(motions)))
            row = {"clip": name, "variant": label, "frames": len(src), "warp": warp}
            if label.startswith("style"):  # PSNR/SSIM of the target after an H.264 round trip
                with tempfile.TemporaryDirectory() as tmp:
                    write_video(Path(tmp) / "t.mp4", pred, 24.0)
                    coded = read_frames(Path(tmp) / "t.mp4")
                t0 = time.perf_counter()
                row["psnr"] = float(np.mean([psnr(a, b) for a, b in zip(coded, pred, strict=True)]))
                timing["psnr"].append((time.perf_counter() - t0) / len(src))
                t0 = time.perf_counter()
                row["ssim"] = float(np.mean([ssim(a, b) for a, b in zip(coded, pred, strict=True)]))
                timing["ssim"].append((time.perf_counter() - t0) / len(src))
            rows.append(row)
            print(json.dumps(row), flush=True)
    ms = {k: 1000 * float(np.median(v)) for k, v in timing.items() if v}
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}",
        "threads": os.environ.get("OMP_NUM_THREADS"),
        "protocol": {"seconds": args.seconds, "fps": 24, "size": [w, h]},
        "ms_per_frame": ms,
        "rows": rows,
    }
    (HERE / "eval_metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Weight-free metrics on the shared clips", "",
        f"{result['date']}, {result['machine']}, OMP_NUM_THREADS={result['threads']}; protocol "
        f"{args.seconds:g} s, 24 fps, {w}x{h} (crop). Warping error: DIS flow on the source, MSE in 0..1 on "
        "non-occluded pixels. PSNR/SSIM: built-in stylizer target vs its H.264-coded copy.", "",
        "| clip | variant | warp | PSNR | SSIM |", "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        p = f"{r['psnr']:.2f}" if "psnr" in r else "-"
        s = f"{r['ssim']:.4f}" if "ssim" in r else "-"
        lines.append(f"| {r['clip'][:30]} | {r['variant']} | {r['warp']:.5f} | {p} | {s} |")
    lines += ["", "Cost per frame on this CPU: " + ", ".join(f"{k} {v:.1f} ms" for k, v in ms.items()), ""]
    (HERE / "eval_metrics.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
