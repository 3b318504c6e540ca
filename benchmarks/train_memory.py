"""Per-GPU memory estimate of the three stages for Wan2.1-T2V-1.3B under our FSDP2 settings,
computed from parameter counts (no GPU needed), printed and recorded as Markdown.

    python benchmarks/train_memory.py [--gpus 8] [--frames 81] [--size 832x480] [--out benchmarks/train_memory.md]

Settings of configs/wan2.1-1.3b/*.yaml: FSDP2 `fully_shard` per block (+ cross-attention units) and
root, fp32 master weights sharded over the GPUs, bf16 compute (params gathered one unit at a time,
the next one prefetched), fp32 gradients reduce-scattered, AdamW (two fp32 states), fp32 EMA,
micro-batch 1, per-block activation checkpointing.

Activations: with checkpointing each block keeps its bf16 input (tokens x dim x 2 B); backward
recomputes one block at a time, whose saved tensors we count from the block's code at ~99 B per
token and model dim (norms and modulation in fp32, q/k/v + RMS-norm + RoPE copies, attention
output, cross-attention, the 5.8x-wide FFN before and after GELU); flash/efficient SDPA keeps no
N^2 matrix. Allocator slack, CUDA context and NCCL buffers are not included (add ~2-4 GiB).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

GIB = 1024**3
SAVED_PER_TOKEN_DIM = 99  # bytes a block saves for backward per (token x dim), bf16 compute


def counts() -> dict[str, int]:
    from rtrdit.model.config import get_config
    from rtrdit.model.dit import DiT
    from rtrdit.train.gan import GANHead

    cfg = get_config("wan2.1-t2v-1.3b")
    with torch.device("meta"):
        dit = DiT(cfg)
        head = GANHead(cfg.dim, 3, 4)
    block = sum(p.numel() for p in dit.blocks[0].parameters())
    total = sum(p.numel() for p in dit.parameters())
    return {"dit": total, "block": block, "root": total - block * cfg.num_layers,
            "gan_head": sum(p.numel() for p in head.parameters()), "dim": cfg.dim, "layers": cfg.num_layers}


def estimate(gpus: int, frames: int, size: tuple[int, int], chunk_frames: int = 3) -> tuple[dict[str, int], list[tuple[str, dict[str, float]]]]:
    c = counts()
    n, dim, layers = c["dit"], c["dim"], c["layers"]
    f = 1 + (frames - 1) // 4
    tokens_frame = (size[1] // 16) * (size[0] // 16)  # VAE /8, patch /2
    tokens = (f + 1) * tokens_frame  # + the reference image's tokens (RV2V)
    act_in = layers * tokens * dim * 2  # checkpointed block inputs, one sample
    peak = SAVED_PER_TOKEN_DIM * tokens * dim  # one block recomputed in backward
    gathered = 2 * c["block"] * 2 + c["root"] * 2 + c["block"] * 4  # bf16 unit + prefetch, root, fp32 grad
    trained = n * (4 + 4 + 8) / gpus  # params, grads, AdamW m and v
    ema = n * 4 / gpus
    frozen = n * 4 / gpus
    rows: list[tuple[str, dict[str, float]]] = []
    rows.append(("teacher (flow matching)", {
        "weights+grads+AdamW (sharded)": trained, "EMA (sharded)": ema, "gathered units": gathered,
        "checkpointed activations": act_in, "recomputed block": peak}))
    rows.append(("ODE pairs (teacher, CFG)", {
        "weights (sharded)": frozen, "gathered units": gathered,
        "one block forward, 2 samples, no grad": 2 * peak / 3}))
    rows.append(("student (ODE regression)", rows[0][1]))
    chunk_tokens = chunk_frames * tokens_frame
    cache_fp32 = layers * 2 * tokens * dim * 4
    gen_graph = layers * (f * tokens_frame) * dim * 2  # exit-step block inputs of every chunk
    gen_peak = SAVED_PER_TOKEN_DIM * chunk_tokens * dim + 2 * tokens * dim * 2 * 2  # + attended K/V
    critic = (n + c["gan_head"]) * (4 + 4 + 8) / gpus
    rows.append(("distill: generator update", {
        "generator weights+grads+AdamW+EMA": trained + ema, "fake score+GAN head+grads+AdamW": critic,
        "real score (frozen)": frozen, "gathered units (x3 models)": 3 * gathered,
        "KV cache of the rollout (fp32)": cache_fp32, "exit-step graphs (all chunks)": gen_graph,
        "GAN term through the fake score": act_in, "recomputed block": max(peak, gen_peak)}))
    rows.append(("distill: fake-score update", {
        "generator weights+grads+AdamW+EMA": trained + ema, "fake score+GAN head+grads+AdamW": critic,
        "real score (frozen)": frozen, "gathered units (x3 models)": 3 * gathered,
        "fake score on [fake; real], checkpointed (the no-grad rollout's cache is freed by then)": 2 * act_in,
        "recomputed block (2 samples)": 2 * peak}))
    info = {"latent_frames": f, "tokens": tokens, "tokens_per_frame": tokens_frame, **c}
    return info, rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gpus", type=int, default=8)
    p.add_argument("--frames", type=int, default=81)
    p.add_argument("--size", default="832x480")
    p.add_argument("--out", default=str(Path(__file__).with_name("train_memory.md")))
    args = p.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    info, rows = estimate(args.gpus, args.frames, (w, h))
    lines = [f"# Per-GPU memory estimate: Wan2.1-T2V-1.3B training on {args.gpus} GPUs (FSDP2)", "",
             f"Computed by `benchmarks/train_memory.py` on {time.strftime('%Y-%m-%d', time.gmtime())} from parameter counts: "
             f"DiT {info['dit'] / 1e9:.3f} B parameters (one block {info['block'] / 1e6:.1f} M, outside the blocks "
             f"{info['root'] / 1e6:.1f} M, GAN head {info['gan_head'] / 1e6:.1f} M); clips of {args.frames} frames at "
             f"{w}x{h} = {info['latent_frames']} latent frames x {info['tokens_per_frame']} tokens "
             f"(+1 reference frame) = {info['tokens']} tokens; micro-batch 1. Not measured on a GPU.", "",
             "| stage | item | GiB |", "| --- | --- | ---: |"]
    for name, items in rows:
        for k, v in items.items():
            lines.append(f"| {name} | {k} | {v / GIB:.2f} |")
        lines.append(f"| **{name}** | **total** | **{sum(items.values()) / GIB:.1f}** |")
    lines += ["", "Add ~2-4 GiB for the CUDA context, NCCL buffers and allocator slack. The rollout's KV cache is "
              "allocated in the DiT's parameter dtype (fp32 under FSDP2); in bf16 it would take half."]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
