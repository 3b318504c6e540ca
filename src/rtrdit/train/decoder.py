"""`rtrdit train decoder`: fine-tune our autoencoder's decoder on the latents the trained generator makes.

The generator was trained on latents from the encoder, but what the decoder meets in a stream are the
generator's own outputs, a little off that manifold (blurred strokes, seams on the 8 px latent cells).
Every train row of a dataset (`rtrdit data build`) is streamed through the stylizer exactly as a user's
video would be, its latents are kept, and the decoder alone learns to turn them into the row's target
(L1 + MSE on random crops). The encoder is frozen, so the latent space, the encoded shards and the DiT
stay valid. The result is an autoencoder folder for `rtrdit train export --codec DIR`; val rows, when
the dataset has them, give `decoder_report.json` (and README.md) their PSNR before and after (whole frames).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from rtrdit.cli import CLIError

if TYPE_CHECKING:
    from rtrdit.data.manifest import ManifestRow

REPORT_NAME = "decoder_report.json"  # beside the autoencoder's own report.json


@dataclass
class Example:
    """One streamed row: the generator's latent [C, F, h, w], the target frames (T, H, W, 3) uint8 and the
    source frames the session encoded for them (same layout; a guided decoder reads them)."""

    latent: torch.Tensor
    target: np.ndarray
    mode: str
    source: np.ndarray


class LatentTap:
    """A codec that is ``codec`` in every way, except that its stream decoders also keep what they decode
    and its stream encoders the source frames they are given (at the model's size)."""

    def __init__(self, codec: Any) -> None:
        self._codec = codec
        self.latents: list[torch.Tensor] = []
        self.sources: list[torch.Tensor] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._codec, name)

    def clear(self) -> None:
        self.latents.clear()
        self.sources.clear()

    def stream_encoder(self) -> Any:
        inner, kept = self._codec.stream_encoder(), self.sources

        class Tap:
            def push(self, video: torch.Tensor) -> torch.Tensor:
                kept.append(video.detach().float().cpu())
                return inner.push(video)

        return Tap()

    def stream_decoder(self) -> Any:
        inner, kept = self._codec.stream_decoder(), self.latents

        class Tap:
            def push(self, latent: torch.Tensor, **kw: Any) -> torch.Tensor:
                kept.append(latent.detach().float().cpu())
                return inner.push(latent, **kw)

        return Tap()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="stylizer directory (rtrdit train export) whose codec is ours")
    parser.add_argument("--data", required=True, help="dataset folder with manifest.jsonl (rtrdit data build)")
    parser.add_argument("--out", required=True, help="autoencoder folder to write (must not exist)")
    parser.add_argument("--steps", type=int, default=3000, help="optimisation steps (default 3000)")
    parser.add_argument("--minutes", type=float, default=None, help="stop earlier after this many minutes")
    parser.add_argument("--batch", type=int, default=4, help="rows per step (default 4)")
    parser.add_argument("--crop", type=int, default=16, help="random latent crop, in latent cells (0 = whole)")
    parser.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (default 1e-4)")
    parser.add_argument("--max-val", type=int, default=None, help="val rows of the report at most (default all)")
    parser.add_argument("--guide-channels", type=int, default=0,
                        help="give the decoder a source-guide branch of this width (0: keep the codec's decoder "
                             "as it is); it then also reads the source frames at full resolution")
    parser.add_argument("--guide-lr", type=float, default=1e-3,
                        help="Adam learning rate of a new guide branch, trained from scratch (default 1e-3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (the stylizer streams and the decoder trains there)")


def stream_examples(stylizer: Any, data: Path, rows: list[ManifestRow], seed: int) -> list[Example]:
    """Stream each manifest row through ``stylizer`` (a random paraphrase of a TV2V row's prompt, the row's
    reference for RV2V) and pair the latents it decoded with the row's target at the processing size."""
    from tqdm import tqdm

    from rtrdit.codecs.base import video_to_frames
    from rtrdit.codecs.photo import read_image
    from rtrdit.codecs.video import read_frames
    from rtrdit.stream.session import processing_size
    from rtrdit.stream.stylizer import Stylizer

    tap = LatentTap(stylizer.codec)
    tapped = Stylizer(stylizer.dit, tap, stylizer.text_encoder, stylizer.config, stylizer.device)
    rng = np.random.default_rng(seed)
    out = []
    for row in tqdm(rows, desc="streaming rows", unit="row", dynamic_ncols=True, leave=False):
        paths = row.resolve(data)
        source = read_frames(paths["source"])
        size = processing_size(source.shape[2], source.shape[1], stylizer.config.area)
        target = read_frames(paths["target"], size)
        if row.mode == "rv2v":
            sess = tapped.session(reference=read_image(paths["reference"]), seed=seed)
        else:
            prompts = row.extra.get("prompts") or [row.prompt]
            sess = tapped.session(prompt=prompts[int(rng.integers(len(prompts)))], seed=seed)
        tap.clear()
        sess.push(source)
        sess.flush()
        latent = torch.cat(tap.latents, 2)[0]
        seen = video_to_frames(torch.cat(tap.sources, 2)[0])  # the frames the session encoded
        t = 1 + 4 * (latent.shape[1] - 1)
        seen = np.concatenate([seen[:t], seen[-1:].repeat(max(0, t - len(seen)), 0)])  # + a padded last chunk
        out.append(Example(latent, target, row.mode, seen))
    return out


@torch.no_grad()
def evaluate(model: Any, examples: list[Example]) -> dict[str, float]:
    """Mean PSNR (dB) of the decoded latents against the targets, per mode and over all."""
    from rtrdit.codecs.base import frames_to_video, video_to_frames
    from rtrdit.eval.metrics.psnr import psnr

    scores: dict[str, list[float]] = {}
    for ex in examples:
        decoded = model.decode(ex.latent[None], guide=frames_to_video(ex.source))
        value = psnr(video_to_frames(decoded[0]), ex.target[: 1 + 4 * (ex.latent.shape[1] - 1)])
        scores.setdefault(ex.mode, []).append(value)
        scores.setdefault("all", []).append(value)
    return {k: round(float(np.mean(v)), 3) for k, v in scores.items()}


def decoder_step(model: Any, opt: torch.optim.Optimizer, batch: list[Example], crop: int,
                 gen: torch.Generator) -> float:
    """One L1 + MSE step of the decoder on the same random crop of each example; returns the loss."""
    from rtrdit.codecs.base import frames_to_video

    _, f, h, w = batch[0].latent.shape
    ch, cw = (min(crop, h), min(crop, w)) if crop else (h, w)
    y = int(torch.randint(0, h - ch + 1, (1,), generator=gen))
    x = int(torch.randint(0, w - cw + 1, (1,), generator=gen))
    s = model.spatial_factor
    lat = torch.stack([ex.latent[:, :, y:y + ch, x:x + cw] for ex in batch])
    frames = 1 + 4 * (f - 1)
    box = (slice(None, frames), slice(y * s, (y + ch) * s), slice(x * s, (x + cw) * s))
    tgt = torch.cat([frames_to_video(ex.target[box]) for ex in batch])
    guide = torch.cat([frames_to_video(ex.source[box]) for ex in batch]) if model.guided else None
    device = model.latents_mean.device
    err = model._decode(lat.to(device), None if guide is None else guide.to(device)) - tgt.to(device)
    loss = err.abs().mean() + err.pow(2).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.item())


def _readme(args: argparse.Namespace, report: dict) -> str:
    """What this folder is and how it was made, for whoever finds it beside a stylizer."""
    before, after = report["val_psnr_before"], report["val_psnr_after"]
    scores = ", ".join(f"{k} {before[k]:.2f} -> {after[k]:.2f} dB" for k in after) or "no val rows in the dataset"
    command = (f"rtrdit train decoder --model {args.model} --data {args.data} --out {args.out} --steps {args.steps} "
               f"--batch {args.batch} --crop {args.crop} --lr {args.lr} --seed {args.seed}"
               + (f" --guide-channels {args.guide_channels} --guide-lr {args.guide_lr}" if args.guide_channels else ""))
    return "\n".join([
        "# Our autoencoder, its decoder tuned on a generator's latents",
        "",
        f"The encoder is the one of `{args.model}`'s codec, unchanged (same latent space); the decoder was",
        f"fine-tuned for {report['steps']} steps (L1 + MSE, Adam {args.lr}) to turn the latents that stylizer's",
        f"generator makes on the {report['train_rows']} train rows of `{args.data}` into their targets.",
        f"Held-out PSNR of the generator's outputs ({report['val_rows']} val rows): {scores}.",
        "",
        f"Made by: `{command}`",
        "",
    ])


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rtrdit.codecs.tiny_ae import TinyAutoencoder
    from rtrdit.data.manifest import ManifestError, check_row, read_manifest
    from rtrdit.errors import first_line
    from rtrdit.stream.stylizer import Stylizer
    from rtrdit.train.export import replace_directory

    out, data = Path(args.out), Path(args.data)
    if out.exists():
        raise CLIError(f"{out} already exists (give a new --out)")
    if args.steps <= 0 or args.batch <= 0 or args.crop < 0 or args.lr <= 0 or args.guide_lr <= 0:
        raise CLIError("--steps, --batch, --lr and --guide-lr must be positive and --crop at least 0")
    manifest = data / "manifest.jsonl"
    if not manifest.is_file():
        raise CLIError(f"{manifest}: no such file (build the dataset with `rtrdit data build`)")
    try:
        numbered = read_manifest(manifest)
    except ManifestError as exc:
        raise CLIError(first_line(exc)) from None
    train_rows = [r for _, r in numbered if (r.split or "train") == "train"]
    val_rows = [r for _, r in numbered if r.split == "val"]
    if not train_rows:
        raise CLIError(f"{manifest}: no train rows")
    try:
        stylizer = Stylizer.from_pretrained(args.model, device=args.device)
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot load the stylizer {args.model}: {first_line(exc)}") from None
    if not isinstance(stylizer.codec, TinyAutoencoder):
        raise CLIError(f"{args.model}: its codec is not our autoencoder (only that decoder can be tuned here)")
    if args.guide_channels:
        try:
            codec = stylizer.codec.with_guide(args.guide_channels)
        except ValueError as exc:
            raise CLIError(f"--guide-channels {args.guide_channels}: {first_line(exc)}") from None
        stylizer = Stylizer(stylizer.dit, codec, stylizer.text_encoder, stylizer.config, stylizer.device)
    for line, row in numbered:  # every clip readable before minutes of streaming
        problems = check_row(row, data)
        if problems:
            raise CLIError(f"{manifest}:{line}: {problems[0]}")
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    if val_rows and args.max_val is not None:  # evenly spread over the val rows
        keep = min(args.max_val, len(val_rows))
        val_rows = [val_rows[int(i)] for i in np.linspace(0, len(val_rows) - 1, keep).round()] if keep else []
    try:
        train = stream_examples(stylizer, data, train_rows, args.seed)
        val = stream_examples(stylizer, data, val_rows, args.seed)
    except (OSError, ValueError, KeyError) as exc:
        raise CLIError(f"{data}: cannot stream a row ({first_line(exc)})") from None
    model = stylizer.codec.float().train()
    model.encoder.requires_grad_(False)
    before = evaluate(model, val) if val else {}
    rest = [p for name, p in model.decoder.named_parameters() if not name.startswith("guide.")]
    groups = [{"params": rest, "lr": args.lr}]
    if model.guided:  # the new branch starts from scratch, at its own rate
        groups.append({"params": model.decoder.guide.parameters(), "lr": args.guide_lr})
    opt = torch.optim.Adam(groups)
    bar = tqdm(total=args.steps, desc="decoder", unit="step", dynamic_ncols=True)
    t0, step, ema = time.monotonic(), 0, None
    while step < args.steps and (args.minutes is None or time.monotonic() - t0 < args.minutes * 60):
        idx = torch.randint(len(train), (args.batch,), generator=gen).tolist()
        loss = decoder_step(model, opt, [train[i] for i in idx], args.crop, gen)
        ema = loss if ema is None else 0.98 * ema + 0.02 * loss
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{ema:.4f}")
    bar.close()
    model.eval()
    report = {"steps": step, "train_seconds": round(time.monotonic() - t0, 1), "train_rows": len(train),
              "val_rows": len(val), "val_psnr_before": before, "val_psnr_after": evaluate(model, val) if val else {},
              "model": str(args.model), "data": str(data), "lr": args.lr, "batch": args.batch, "crop": args.crop}
    if args.guide_channels:
        report |= {"guide_channels": args.guide_channels, "guide_lr": args.guide_lr}
    part = out.with_name(out.name + ".partial")
    shutil.rmtree(part, ignore_errors=True)
    try:
        model.config.extra = {**model.config.extra, "decoder_tuned_steps": step}
        model.save_pretrained(part)
        (part / REPORT_NAME).write_text(json.dumps(report, indent=2) + "\n")
        (part / "README.md").write_text(_readme(args, report))
        replace_directory(part, out)
    except BaseException:
        shutil.rmtree(part, ignore_errors=True)
        raise
    if val:
        print(f"saved {out} after {step} steps; val PSNR {before['all']:.2f} -> {report['val_psnr_after']['all']:.2f} dB")
    else:
        print(f"saved {out} after {step} steps (no val rows to report)")
    return 0


__all__ = ["Example", "add_arguments", "decoder_step", "evaluate", "run", "stream_examples"]
