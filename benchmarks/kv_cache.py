"""Per-chunk DiT cost with the streaming KV cache vs recomputing the window without one.

For streams of 10, 100 and 1000 chunks, prints the mean forward time of the last 5 chunks
(one denoising forward per chunk plus the clean-context pass, as in streaming) with the
cache, and the time of one block-causal forward over the window (reference + W frames)
that a cache-less streamer would run for each chunk. The cached cost must stay flat.

    python benchmarks/kv_cache.py [--configs tiny,small] [--window 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from rtrdit.model.cache import KVCache
from rtrdit.model.config import get_config
from rtrdit.model.dit import DiT

SIZES = {"tiny": (8, 8), "small": (32, 32)}  # latent h, w (small: 256x256 video)


def bench(name: str, window: int, lengths: list[int]) -> list[dict]:
    cfg = get_config(name).replace(attention="block_causal", chunk_frames=1)
    torch.manual_seed(0)
    m = DiT(cfg).eval()
    h, w = SIZES[name]
    text = torch.randn(1, cfg.text_len, cfg.text_dim)
    ref = torch.randn(1, 16, 1, h, w)
    x = torch.randn(1, 16, 1, h, w)
    rows = []
    with torch.inference_mode():
        cache = KVCache(m, 1, (h, w), window_frames=window)
        cache.set_text(m, text)
        cache.set_reference(m, ref)
        times: list[float] = []
        for c in range(max(lengths)):
            t0 = time.perf_counter()
            m.forward_chunk(x, x, 500.0, cache, c)
            m.forward_chunk(x, x, 0.0, cache, c)
            times.append(time.perf_counter() - t0)
            if c + 1 in lengths:
                n = c + 1
                frames = min(n, window)
                seq = torch.randn(1, 16, frames, h, w)
                t1 = time.perf_counter()
                for _ in range(3):
                    m(seq, seq, 500.0, text, reference_latent=ref)
                    m(seq, seq, 0.0, text, reference_latent=ref)
                nocache = (time.perf_counter() - t1) / 3
                rows.append({
                    "config": name, "chunks": n, "window": window,
                    "cached_ms": 1000 * sum(times[-5:]) / len(times[-5:]),
                    "recompute_window_ms": 1000 * nocache,
                    "cache_mb": cache.memory_bytes() / 2**20,
                })
                print(f"{name:6s} chunks={n:5d} cached={rows[-1]['cached_ms']:8.2f} ms "
                      f"recompute={rows[-1]['recompute_window_ms']:8.2f} ms cache={rows[-1]['cache_mb']:.2f} MB",
                      flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="tiny,small")
    ap.add_argument("--window", type=int, default=8)
    ap.add_argument("--lengths", default="10,100,1000")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    lengths = [int(x) for x in a.lengths.split(",")]
    rows = [r for name in a.configs.split(",") for r in bench(name, a.window, lengths)]
    if a.json:
        meta = {"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
                "threads": a.threads, "torch": torch.__version__}
        with open(a.json, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
