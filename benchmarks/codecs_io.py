"""Video I/O and text-encoder speed on this machine: decode (+resize) fps of the shared camera clips,
H.264 write fps, MiniLM prompt latency, and the probe frame count checked against a full decode.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/codecs_io.py  (writes benchmarks/codecs_io.json)
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "videos"


def main() -> None:
    import torch

    from rtrdit.codecs.text import CachedTextEncoder, load_text_encoder
    from rtrdit.codecs.video import iter_frames, probe
    from rtrdit.codecs.video_writer import VideoWriter

    results: dict = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, torch threads {torch.get_num_threads()}",
        "load_average": os.getloadavg()[0],  # this machine is shared: numbers under load are pessimistic
        "videos": [],
    }
    for path in sorted(VIDEOS.glob("*.mp4")):
        info = probe(path)
        t = time.perf_counter()
        n = sum(1 for _ in iter_frames(path))
        native = time.perf_counter() - t
        t = time.perf_counter()
        frames = [f for _, f in zip(range(64), iter_frames(path, size=(256, 256)))]
        resized = time.perf_counter() - t
        row = {"file": path.name, "size": f"{info.width}x{info.height}", "fps": info.fps,
               "probe_frames": info.frames, "decoded_frames": n,
               "decode_fps_native": round(n / native, 1), "decode_resize256_fps": round(len(frames) / resized, 1)}
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            with VideoWriter(Path(tmp) / "o.mp4", info.fps) as w:
                for f in frames:
                    w.write(f)
            row["write256_fps"] = round(len(frames) / (time.perf_counter() - t), 1)
        results["videos"].append(row)
        print(row)
    enc = load_text_encoder("minilm")
    prompts = ["a watercolor painting of a dog", "pencil sketch, high contrast", "van gogh starry night style"]
    enc.encode(prompts[:1])
    t = time.perf_counter()
    for p in prompts * 5:
        enc.encode([p])
    results["minilm_ms_per_prompt"] = round((time.perf_counter() - t) / 15 * 1000, 2)
    cached = CachedTextEncoder(enc)
    cached.encode(prompts)
    t = time.perf_counter()
    for p in prompts * 50:
        cached.encode([p])
    results["cached_ms_per_prompt"] = round((time.perf_counter() - t) / 150 * 1000, 3)
    print({k: v for k, v in results.items() if k != "videos"})
    out = Path(__file__).with_suffix(".json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
