"""The issue's GPU check in one command: stream a camera clip through the full Wan2.1-T2V-1.3B config
(random weights, bf16 on CUDA, K=2, rolling KV cache, anchored reference) at 832x480 and report fps and
latency with the Wan2.1 VAE and with our fast autoencoder as the codec.

Speed does not depend on the weight values, so the DiT and the Wan VAE are random-initialised at their
real sizes; the umT5 text encoder (not downloadable here) is replaced by a fixed random prompt embedding
of umT5's shape, which a real stream encodes once per prompt anyway. The autoencoder is the shipped one.

Run on a GPU machine:  python benchmarks/gpu_stream.py --device cuda --json benchmarks/gpu_stream.json
A CPU smoke run (tests/test_gpu_stream_script.py): --config tiny --size 64x64 --seconds 0.5 --vae-base-dim 8
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from rtrdit.cli import DTYPE_CHOICES


class FixedTextEncoder:
    """A stand-in for umT5 with its output shape: every prompt maps to one seeded random embedding."""

    def __init__(self, dim: int, tokens: int, seed: int = 0) -> None:
        self.dim = dim
        self.max_tokens = tokens
        self._embedding = torch.randn(1, tokens, dim, generator=torch.Generator().manual_seed(seed))

    def encode(self, prompts: list[str]) -> torch.Tensor:
        return self._embedding.expand(len(prompts), -1, -1).clone()


def make_codec(name: str, device: str, vae_base_dim: int) -> Any:
    """``wan``: the Wan2.1 VAE architecture, random weights; ``tiny``: the shipped fast autoencoder."""
    from rtrdit.codecs import load_codec
    from rtrdit.stream.stylizer import demo_dir

    if name == "wan":
        from diffusers import AutoencoderKLWan

        from rtrdit.codecs.wan_vae import WanVAE

        torch.manual_seed(0)
        return WanVAE(AutoencoderKLWan(base_dim=vae_base_dim).to(device).eval())
    if name == "tiny":
        return load_codec(str(demo_dir() / "autoencoder"), device=device)
    raise SystemExit(f"unknown codec {name!r} (wan, tiny)")


def run(config: str, size: tuple[int, int], seconds: float, codecs: list[str], device: str,
        vae_base_dim: int, window_frames: int, dtype_name: str = "auto") -> dict[str, Any]:
    """One streaming benchmark per codec on the same random DiT (its weights in ``dtype_name``: auto is
    what `Stylizer.from_pretrained` picks there); returns the report."""
    from rtrdit.devices import resolve_dtype
    from rtrdit.model.config import get_config
    from rtrdit.model.dit import DiT
    from rtrdit.stream.bench import run_benchmark
    from rtrdit.stream.stylizer import Stylizer, StylizerConfig

    torch.manual_seed(0)
    cfg = get_config(config, attention="block_causal", chunk_frames=1)
    dtype = resolve_dtype(dtype_name, torch.device(device))
    dit = DiT(cfg).to(device=device, dtype=dtype).eval()
    text = FixedTextEncoder(cfg.text_dim, cfg.text_len)
    settings = StylizerConfig(area=size[0] * size[1], steps=2, window_frames=window_frames)
    results: dict[str, Any] = {}
    for name in codecs:
        codec = make_codec(name, device, vae_base_dim)
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        res = run_benchmark(Stylizer(dit, codec, text, settings, device=device), size, seconds).to_dict()
        if device.startswith("cuda"):
            res["peak_gpu_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        results[name] = res
        del codec
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": torch.cuda.get_device_name() if device.startswith("cuda")
        else f"{platform.machine()} {os.cpu_count()} cpus",
        "torch": torch.__version__, "config": config, "parameters": sum(p.numel() for p in dit.parameters()),
        "dtype": str(dtype).removeprefix("torch."), "size": f"{size[0]}x{size[1]}", "steps": 2,
        "window_frames": window_frames, "vae_base_dim": vae_base_dim, "codecs": results,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="wan2.1-t2v-1.3b", help="DiT preset (default the 1.3B sizes)")
    ap.add_argument("--size", default="832x480", help="WxH of the camera stream (default 832x480)")
    ap.add_argument("--seconds", type=float, default=10.0, help="seconds of 24 fps video per codec")
    ap.add_argument("--codecs", default="wan,tiny", help="comma-separated: wan, tiny")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--vae-base-dim", type=int, default=96, help="Wan VAE width (96 = Wan2.1's)")
    ap.add_argument("--dtype", default="auto", choices=DTYPE_CHOICES,
                    help="the DiT's weights (auto: bfloat16 on a recent GPU, float32 on a CPU)")
    ap.add_argument("--window-frames", type=int, default=8, help="latent frames in the rolling cache")
    ap.add_argument("--json", help="also write the report here")
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    report = run(args.config, (w, h), args.seconds, [c.strip() for c in args.codecs.split(",") if c.strip()],
                 args.device, args.vae_base_dim, args.window_frames, args.dtype)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return report


if __name__ == "__main__":
    main()
