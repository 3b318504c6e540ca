"""Streaming speed of the Wan2.1 VAE architecture (random weights: speed does not depend on them) and a
check that streaming equals the whole-clip pass at full width. CPU by default; pass --device cuda.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/wan_vae_stream.py [--size 256] [--device cpu]
Writes benchmarks/wan_vae_stream.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import torch


def main() -> None:
    from diffusers import AutoencoderKLWan

    from rtrdit.codecs.wan_vae import WanVAE

    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--groups", type=int, default=3, help="4-frame groups after the first frame")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.manual_seed(0)
    codec = WanVAE(AutoencoderKLWan(base_dim=96).to(args.device))  # Wan2.1's real sizes
    frames = 1 + 4 * args.groups
    video = torch.rand(1, 3, frames, args.size, args.size, device=args.device) * 2 - 1
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)

    enc, dec = codec.stream_encoder(), codec.stream_decoder()
    sync()
    t = time.perf_counter()
    latents = [enc.push(video[:, :, :1])] + [enc.push(video[:, :, 1 + 4 * i : 5 + 4 * i]) for i in range(args.groups)]
    sync()
    t_enc = time.perf_counter() - t
    t = time.perf_counter()
    decoded = [dec.push(z) for z in latents]
    sync()
    t_dec = time.perf_counter() - t
    z = torch.cat(latents, 2)
    max_diff_enc = (codec.encode(video) - z).abs().max().item()
    max_diff_dec = (codec.decode(z) - torch.cat(decoded, 2)).abs().max().item()
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": (f"{platform.machine()} {os.cpu_count()} cpus" if args.device == "cpu"
                    else torch.cuda.get_device_name()),
        "load_average": os.getloadavg()[0],
        "device": args.device, "size": f"{args.size}x{args.size}", "frames": frames,
        "encode_ms_per_frame": round(t_enc / frames * 1000, 1),
        "decode_ms_per_frame": round(t_dec / frames * 1000, 1),
        "stream_vs_whole_max_abs_diff": {"encode": max_diff_enc, "decode": max_diff_dec},
    }
    print(json.dumps(result, indent=2))
    Path(__file__).with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
