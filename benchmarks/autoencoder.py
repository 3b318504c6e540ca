"""Speed of the tiny autoencoder: encode + decode milliseconds per frame on this CPU.

Measures the whole-clip pass and the live streaming pass (4 frames pushed at a time) at
256x256 by default, for each requested thread count, and records the numbers (with the load
average and OMP_WAIT_POLICY, since the machine may be shared) in
benchmarks/autoencoder_results.{json,md}; each run is appended to the earlier ones (--fresh to reset).

    .venv/bin/python benchmarks/autoencoder.py [--size 256] [--threads 1 2] [--repeats 7]
    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/autoencoder.py   # better on a busy machine
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

from rtrdit.codecs.tiny_ae import DEMO_WEIGHTS, TinyAutoencoder, load_tiny_ae

HERE = Path(__file__).resolve().parent


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def time_whole(model: TinyAutoencoder, video: torch.Tensor, repeats: int) -> tuple[float, float]:
    """Median ms per frame of (encode, decode) over a whole clip."""
    enc, dec = [], []
    t = video.shape[2]
    for _ in range(repeats):
        t0 = time.perf_counter()
        z = model.encode(video)
        t1 = time.perf_counter()
        model.decode(z)
        t2 = time.perf_counter()
        enc.append((t1 - t0) / t * 1e3)
        dec.append((t2 - t1) / t * 1e3)
    return statistics.median(enc), statistics.median(dec)


def time_stream(model: TinyAutoencoder, video: torch.Tensor, repeats: int) -> float:
    """Median ms per frame of encode + decode when frames arrive 4 at a time (live use)."""
    runs = []
    t = video.shape[2]
    for _ in range(repeats):
        enc, dec = model.stream_encoder(), model.stream_decoder()
        t0 = time.perf_counter()
        dec.push(enc.push(video[:, :, :1]))
        for i in range(1, t, 4):
            dec.push(enc.push(video[:, :, i:i + 4]))
        runs.append((time.perf_counter() - t0) / t * 1e3)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--frames", type=int, default=33, help="frames per clip (1 + 4k)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no-record", action="store_true", help="print only, do not write the results files")
    ap.add_argument("--fresh", action="store_true", help="drop earlier recorded runs")
    args = ap.parse_args()

    shipped = (DEMO_WEIGHTS / "model.safetensors").is_file()
    model = load_tiny_ae() if shipped else TinyAutoencoder().eval()
    gen = torch.Generator().manual_seed(0)
    video = torch.rand(1, 3, args.frames, args.size, args.size, generator=gen) * 2 - 1
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        with torch.inference_mode():
            time_whole(model, video, 2)  # warm-up
            load_before = os.getloadavg()[0]
            enc, dec = time_whole(model, video, args.repeats)
            stream = time_stream(model, video, args.repeats)
            load_after = os.getloadavg()[0]
        row = {"threads": threads, "encode_ms_per_frame": round(enc, 2), "decode_ms_per_frame": round(dec, 2),
               "encode_decode_ms_per_frame": round(enc + dec, 2), "stream_ms_per_frame": round(stream, 2),
               "load_average": round((load_before + load_after) / 2, 2),
               "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default")}
        rows.append(row)
        print(f"threads={threads}: encode {enc:.2f} + decode {dec:.2f} = {enc + dec:.2f} ms/frame "
              f"(whole clip), streaming {stream:.2f} ms/frame, load average {row['load_average']}")

    params = sum(p.numel() for p in model.parameters())
    run = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{cpu_name()}, {os.cpu_count()} logical CPUs (shared with other jobs)",
        "torch": torch.__version__, "size": args.size, "frames": args.frames,
        "weights": "shipped demo" if shipped else "random init", "parameters": params, "results": rows,
    }
    if args.no_record:
        return
    path = HERE / "autoencoder_results.json"
    runs = [] if args.fresh or not path.is_file() else json.loads(path.read_text())["runs"]
    runs.append(run)
    path.write_text(json.dumps({"runs": runs}, indent=2) + "\n")
    lines = [
        "# Tiny autoencoder speed", "",
        "Encode + decode milliseconds per frame; median over repeats. The machine is shared with other",
        "jobs: the load average says how busy it was, and OMP_WAIT_POLICY=PASSIVE stops OpenMP threads",
        "spinning against each other when the cores are busy.", "",
    ]
    for r0 in runs:
        lines += [
            f"## {r0['date']}", "",
            f"{r0['machine']}, torch {r0['torch']}, {r0['size']}x{r0['size']}, {r0['frames']}-frame clip, "
            f"{r0['parameters'] / 1e6:.2f} M parameters ({r0['weights']} weights).", "",
            "| threads | OMP_WAIT_POLICY | encode | decode | encode+decode (whole clip) | streaming, 4-frame pushes | load avg |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        lines += [f"| {r['threads']} | {r['omp_wait_policy']} | {r['encode_ms_per_frame']} | {r['decode_ms_per_frame']} | "
                  f"{r['encode_decode_ms_per_frame']} | {r['stream_ms_per_frame']} | {r['load_average']} |"
                  for r in r0["results"]]
        lines.append("")
    lines += ["Reproduce: `.venv/bin/python benchmarks/autoencoder.py`."]
    (HERE / "autoencoder_results.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
