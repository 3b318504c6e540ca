"""Stylization-data speed on this machine: each built-in style's ms per frame at 256x256, `data build`
seconds per clip, and `data encode` rows per second (tiny autoencoder, MiniLM) at 256x256 x 33 frames.

The tiny autoencoder is untrained here (same architecture and compute as the shipped one).
Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/data_pipeline.py  (writes benchmarks/data_pipeline.json)
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
    from rtrdit.codecs.tiny_ae import TinyAutoencoder
    from rtrdit.codecs.video import read_frames
    from rtrdit.data.build import BuildConfig, build_dataset
    from rtrdit.data.generators import BuiltinStylizer, StylePrompter
    from rtrdit.data.shards import EncodeConfig, encode_manifest
    from rtrdit.data.stylizers import builtin_styles

    results: dict = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, torch threads {torch.get_num_threads()}",
        "load_average": os.getloadavg()[0],  # shared machine: numbers under load are pessimistic
        "style_ms_per_frame_256": {},
    }
    frames = read_frames(VIDEOS / "dog.mp4", size=(256, 256), count=24)
    for name, style in builtin_styles().items():
        style.apply(frames[:2])
        t = time.perf_counter()
        style.apply(frames)
        results["style_ms_per_frame_256"][name] = round(1000 * (time.perf_counter() - t) / len(frames), 2)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = BuildConfig(out=Path(tmp) / "ds", videos=[VIDEOS / "dog.mp4", VIDEOS / "woman-running.mp4"],
                          size=(256, 256), frames=33, clips_per_video=3, package_images=True, clips_per_image=2)
        t = time.perf_counter()
        report = build_dataset(cfg, BuiltinStylizer(), StylePrompter())
        build_s = time.perf_counter() - t
        results["build"] = {"clips": report.clips, "rows": report.rows, "seconds": round(build_s, 2),
                            "seconds_per_clip": round(build_s / report.clips, 3), "size": "256x256", "frames": 33}
        torch.manual_seed(0)
        codec = TinyAutoencoder().eval()
        text = CachedTextEncoder(load_text_encoder("minilm"))
        t = time.perf_counter()
        enc = encode_manifest(report.manifest, Path(tmp) / "shards", codec, text,
                              EncodeConfig(shard_size=8), progress=False)
        enc_s = time.perf_counter() - t
        size = sum(p.stat().st_size for p in (Path(tmp) / "shards").glob("shard-*"))
        results["encode"] = {"codec": "tiny (untrained)", "text": "minilm", "rows": enc.rows,
                             "seconds": round(enc_s, 2), "rows_per_second": round(enc.rows / enc_s, 2),
                             "shard_bytes_per_row": size // enc.rows}
    out = Path(__file__).with_suffix(".json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
