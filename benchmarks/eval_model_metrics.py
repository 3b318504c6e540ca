"""Per-frame CPU cost of the network metrics (CLIP-T/F, AQ, CSD, IQ) at the paper's frame size (832x640),
through the same code as `rtrdit eval`, with random weights at the real sizes (OpenAI CLIP ViT-L/14,
CSD ViT-L, MUSIQ-SPAQ: cost does not depend on the weights' values) and with the tests' tiny models.
Records benchmarks/eval_model_metrics.{json,md}.

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/eval_model_metrics.py [--frames 3] [--sizes real tiny]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from rtrdit.eval.metrics.clip_backbone import ClipModel, clip_from_state_dict, vision_shape, vision_tower
from rtrdit.eval.metrics.csd import CSDModel
from rtrdit.eval.metrics.iq import frame_scores, import_musiq, load_musiq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "eval"))


def random_clip(size: str) -> torch.nn.Module:
    """A random open_clip CLIP: OpenAI ViT-L/14's sizes ("real") or the tests' tiny one."""
    import open_clip

    if size == "tiny":
        from eval_helpers import tiny_open_clip

        return tiny_open_clip()
    return open_clip.model.CLIP(
        768, vision_cfg=open_clip.model.CLIPVisionCfg(layers=24, width=1024, patch_size=14, image_size=224),
        text_cfg=open_clip.model.CLIPTextCfg(width=768, heads=12, layers=12), quick_gelu=True)


def random_musiq(size: str) -> torch.nn.Module:
    """A random pyiqa MUSIQ: SPAQ's sizes ("real") or the tests' tiny one."""
    if size == "tiny":
        from eval_helpers import tiny_musiq

        return tiny_musiq()
    return import_musiq()(pretrained=False).eval()


def per_frame_ms(fn: Callable[[np.ndarray], object], frames: np.ndarray) -> float:
    """Milliseconds per frame of ``fn(frames)`` after one warm-up frame."""
    fn(frames[:1])
    t0 = time.perf_counter()
    fn(frames)
    return 1000 * (time.perf_counter() - t0) / len(frames)


def measure(size: str, frames: np.ndarray, tmp: Path) -> dict[str, float]:
    """Per-frame milliseconds of each metric's network part for one model size."""
    out: dict[str, float] = {}
    with torch.no_grad():
        state = {k: v.contiguous() for k, v in random_clip(size).state_dict().items()}
        import open_clip

        clip = ClipModel(model=clip_from_state_dict(state), tokenizer=open_clip.tokenizer.SimpleTokenizer(), device="cpu")
        out["clip_t / clip_f (OpenAI preprocessing + image tower)"] = per_frame_ms(
            lambda f: clip.embed_images(f, "openai", 4), frames)  # noqa: F821 - run before the del below
        head = torch.nn.Linear(clip.embed_dim, 1)
        out["aq (VBench preprocessing + image tower + head)"] = per_frame_ms(
            lambda f: head(clip.embed_images(f, "vbench", 4)), frames)  # noqa: F821
        t0 = time.perf_counter()
        clip.embed_texts(["an ink wash painting"])
        out["clip_t text (once per video)"] = 1000 * (time.perf_counter() - t0)
        visual = {k.removeprefix("visual."): v for k, v in state.items() if k.startswith("visual.") and k != "visual.proj"}
        del clip, state
        shape = vision_shape(visual)
        tower = vision_tower(shape, None)
        tower.load_state_dict(visual)
        csd = CSDModel(vision=tower.eval(), style_head=torch.randn(shape.width, 768 if size == "real" else 16), device="cpu")
        out["csd (OpenAI preprocessing + tower + style head)"] = per_frame_ms(lambda f: csd.embed(f, 4), frames)  # noqa: F821 - run before the del below
        del csd, tower, visual
        path = tmp / f"musiq_{size}.pth"
        torch.save(random_musiq(size).state_dict(), path)
        scorer = load_musiq(path)
        out["iq (resize to 393x512 + MUSIQ)"] = per_frame_ms(lambda f: frame_scores(f, scorer), frames)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--sizes", nargs="+", default=["real", "tiny"], choices=["real", "tiny"])
    args = ap.parse_args()
    import tempfile

    frames = np.random.default_rng(0).integers(0, 256, (args.frames, 640, 832, 3), dtype=np.uint8)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            results[size] = measure(size, frames, Path(tmp))
            print(size, json.dumps(results[size], indent=1), flush=True)
    meta = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": platform.machine(),
            "cpus": os.cpu_count(), "load": round(os.getloadavg()[0], 1), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "frames": args.frames, "frame_size": "832x640"}
    (HERE / "eval_model_metrics.json").write_text(json.dumps({"meta": meta, "ms_per_frame": results}, indent=2) + "\n")
    lines = ["# Network metrics: CPU cost per frame", "",
             f"{meta['date']}, {meta['machine']} {meta['cpus']} cpus, load {meta['load']} (a training run shared the "
             f"machine), torch {meta['torch']} on {meta['threads']} thread(s), nice 19; {args.frames} random 832x640 "
             "frames after one warm-up frame, batches of 4. `real`: random weights at OpenAI CLIP ViT-L/14, CSD ViT-L "
             "and MUSIQ-SPAQ sizes (cost does not depend on the values); `tiny`: the tests' models.", "",
             "| metric (network part) | " + " | ".join(f"{s} ms/frame" for s in results) + " |",
             "|---|" + "---:|" * len(results)]
    for key in next(iter(results.values())):
        lines.append(f"| {key} | " + " | ".join(f"{results[s][key]:.1f}" for s in results) + " |")
    lines += ["", "A 5 s, 24 fps clip has 120 frames: multiply by 120 for one video. clip_t, clip_f and aq each "
              "embed the frames themselves (the CLIP model is loaded once and shared, the embeddings are not)."]
    (HERE / "eval_model_metrics.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
