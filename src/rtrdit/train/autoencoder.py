"""`rtrdit train autoencoder`: train the fast streaming autoencoder on video clips.

Random short clips (1+4k frames, random crops and flips) are reconstructed with an L1 + MSE
loss. With ``--styled`` a share of them are restyled by the built-in stylizers, so the latent
space also holds what the DiT must output (the styles' palettes, edges and strokes); with
``--color-permute`` a share have their RGB channels permuted, so colours that a few training
videos lack (the saturated greens of a cartoon, the thermal palette) are still represented.
Latents are kept normalised by running per-channel statistics, with a little noise added
during training so the decoder tolerates imperfect (diffusion-made) latents. Held-out
clips are reconstructed whole at the end and their PSNR written to ``report.json``/``report.md``.
Checkpoints are atomic, so a killed run resumes (``--resume``) losing at most one interval.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rtrdit.cli import CLIError
from rtrdit.codecs.base import frames_to_video
from rtrdit.files import atomic_path, atomic_write_text

if TYPE_CHECKING:
    import numpy as np
    import torch

    from rtrdit.codecs.tiny_ae import TinyAutoencoder

VIDEO_EXTS = {".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v"}
CHECKPOINT_NAME = "checkpoint.pt"
DEFAULT_HOLDOUT = "woman-running.mp4"
_PERMUTATIONS = ((0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))  # every RGB order but the identity


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--videos", nargs="+", required=True, metavar="DIR_OR_FILE",
                        help="video files, or folders of video files, to train on")
    parser.add_argument("--out", required=True, help="output folder: weights, config.json, report.json/.md")
    parser.add_argument("--steps", type=int, default=4000, help="optimisation steps (default 4000)")
    parser.add_argument("--minutes", type=float, default=None,
                        help="stop after this many minutes (the learning-rate schedule follows the clock)")
    parser.add_argument("--size", type=int, default=256, help="frames are resized (centre crop) to SIZE x SIZE")
    parser.add_argument("--crop", type=int, default=128, help="random training crop (0 = whole frame)")
    parser.add_argument("--frames", type=int, default=9, help="frames per training clip, 1 + 4k (default 9)")
    parser.add_argument("--batch", type=int, default=4, help="clips per step (default 4)")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak Adam learning rate")
    parser.add_argument("--latent-noise", type=float, default=0.05,
                        help="std of noise added to normalised latents during training")
    parser.add_argument("--holdout", nargs="*", default=None, metavar="NAME",
                        help=f"file names kept out of training for the PSNR report (default {DEFAULT_HOLDOUT} "
                             "when present, else the last clip)")
    parser.add_argument("--max-frames", type=int, default=300, help="frames read per clip at most")
    parser.add_argument("--eval-frames", type=int, default=117, help="frames of each held-out clip to evaluate (1 + 4k)")
    parser.add_argument("--styled", type=float, default=0.0, metavar="FRACTION",
                        help="share of training clips restyled by a random built-in style (default 0)")
    parser.add_argument("--styled-frames", type=int, default=45, metavar="N",
                        help="frames of each training clip restyled per style, once at the start (default 45)")
    parser.add_argument("--color-permute", type=float, default=0.0, metavar="FRACTION",
                        help="share of training clips with their RGB channels randomly permuted (default 0)")
    parser.add_argument("--init", default=None, help="start from this tiny-autoencoder folder")
    parser.add_argument("--freeze-encoder", action="store_true",
                        help="train the decoder only: the encoder and latent statistics of --init stay as they "
                             "are, so a DiT trained on its latents needs no retraining")
    parser.add_argument("--resume", action="store_true", help=f"continue from OUT/{CHECKPOINT_NAME}")
    parser.add_argument("--checkpoint-every", type=float, default=120.0, help="seconds between checkpoints")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)


@dataclass
class Clip:
    name: str
    frames: np.ndarray  # (T, H, W, 3) uint8


def find_videos(specs: list[str]) -> list[Path]:
    """Expand folders into their video files (sorted); a missing path is a user error."""
    out: list[Path] = []
    for spec in specs:
        p = Path(spec)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in VIDEO_EXTS)
            if not found:
                raise CLIError(f"no video files in folder {p}")
            out += found
        elif p.is_file():
            out.append(p)
        else:
            raise CLIError(f"no such video file or folder: {p}")
    return out


def load_clips(paths: list[Path], size: int, max_frames: int) -> list[Clip]:
    """Decode each clip once, resized to ``size`` x ``size`` (centre crop)."""
    from rtrdit.codecs.video import VideoError, read_frames

    clips = []
    for p in paths:
        try:
            frames = read_frames(p, size=(size, size), mode="crop", count=max_frames)
        except VideoError as exc:
            raise CLIError(str(exc)) from None
        clips.append(Clip(p.name, frames))
    return clips


def styled_clips(clips: list[Clip], frames: int, gen: torch.Generator) -> list[Clip]:
    """Each clip's random window of ``frames`` frames restyled by every built-in style (named
    ``clip:style``); styled at the clip's full size, as the dataset's targets are."""
    import torch

    from rtrdit.data.stylizers import builtin_styles

    out = []
    for clip in clips:
        n = min(frames, len(clip.frames))
        t0 = int(torch.randint(0, len(clip.frames) - n + 1, (1,), generator=gen))
        window = clip.frames[t0:t0 + n]
        out += [Clip(f"{clip.name}:{name}", style.apply(window)) for name, style in sorted(builtin_styles().items())]
    return out


def sample_batch(clips: list[Clip], batch: int, frames: int, crop: int, gen: torch.Generator,
                 styled: list[Clip] | None = None, styled_fraction: float = 0.0,
                 color_permute: float = 0.0) -> torch.Tensor:
    """Random clips of ``frames`` frames, random crop and horizontal flip -> [B, 3, T, c, c];
    each drawn from ``styled`` with probability ``styled_fraction``, and its RGB channels put in
    another order with probability ``color_permute``."""
    import torch

    out = []
    for _ in range(batch):
        pool = styled if styled and bool(torch.rand((), generator=gen) < styled_fraction) else clips
        weights = torch.tensor([float(len(c.frames) - frames + 1) for c in pool])
        f = pool[int(torch.multinomial(weights, 1, generator=gen))].frames
        t0 = int(torch.randint(0, len(f) - frames + 1, (1,), generator=gen))
        h, w = f.shape[1:3]
        c = crop or h
        y = int(torch.randint(0, h - c + 1, (1,), generator=gen))
        x = int(torch.randint(0, w - c + 1, (1,), generator=gen))
        v = frames_to_video(f[t0:t0 + frames, y:y + c, x:x + c])
        if bool(torch.rand((), generator=gen) < 0.5):
            v = v.flip(-1)
        if color_permute > 0 and bool(torch.rand((), generator=gen) < color_permute):
            order = _PERMUTATIONS[int(torch.randint(0, len(_PERMUTATIONS), (1,), generator=gen))]
            v = v[:, list(order)]
        out.append(v)
    return torch.cat(out)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of two videos in [-1, 1] (peak-to-peak 2)."""
    mse = float((a.clamp(-1, 1) - b).pow(2).mean())
    return 10 * math.log10(4.0 / max(mse, 1e-12))


def train_step(model: TinyAutoencoder, opt: torch.optim.Optimizer, video: torch.Tensor,
               latent_noise: float, momentum: float = 0.02, train_encoder: bool = True) -> tuple[float, float]:
    """One optimisation step; updates the running latent statistics (``momentum`` 1 replaces
    them by this batch's) unless the encoder is frozen (``train_encoder`` False: the latent
    space stays fixed and only the decoder learns). Returns (loss, psnr)."""
    import torch

    frames = video.transpose(1, 2)
    frames = torch.cat([frames[:, :1].expand(-1, 3, -1, -1, -1), frames], 1)
    with torch.set_grad_enabled(train_encoder):
        raw = model.encoder(frames, {})
    if train_encoder:
        with torch.no_grad():
            mean = raw.mean(dim=(0, 1, 3, 4))
            std = raw.std(dim=(0, 1, 3, 4)).clamp_min(1e-3)
            model.latents_mean.lerp_(mean, momentum)
            model.latents_std.lerp_(std, momentum)
    z = (raw - model.latents_mean.view(1, 1, -1, 1, 1)) / model.latents_std.view(1, 1, -1, 1, 1)
    if latent_noise > 0:
        z = z + latent_noise * torch.randn_like(z)
    rec = model.decode_groups(z, {})[:, 3:]
    err = rec - frames[:, 3:]
    mse = err.pow(2).mean()
    loss = err.abs().mean() + mse
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item(), 10 * math.log10(4.0 / max(mse.item(), 1e-12))


def evaluate(model: TinyAutoencoder, clips: list[Clip], max_frames: int) -> list[dict]:
    """Whole-clip (streaming-equivalent) reconstruction PSNR and latent statistics per clip."""
    results = []
    model.eval()
    for clip in clips:
        t = min(len(clip.frames), max_frames)
        t = 1 + (t - 1) // 4 * 4
        video = frames_to_video(clip.frames[:t])
        latent = model.encode(video)
        rec = model.decode(latent)
        ch_std = latent.std(dim=(0, 2, 3, 4))
        results.append({"clip": clip.name, "frames": t, "psnr": round(psnr(rec, video), 3),
                        "latent_mean": round(float(latent.mean()), 4), "latent_std": round(float(latent.std()), 4),
                        "latent_channel_std": [round(float(ch_std.min()), 4), round(float(ch_std.max()), 4)]})
    return results


def evaluate_styled(model: TinyAutoencoder, clips: list[Clip], max_frames: int) -> dict[str, float]:
    """Mean whole-clip reconstruction PSNR of the held-out clips restyled by each built-in style."""
    from rtrdit.data.stylizers import builtin_styles

    out = {}
    for name, style in sorted(builtin_styles().items()):
        restyled = [Clip(c.name, style.apply(c.frames[:max_frames])) for c in clips]
        scores = [r["psnr"] for r in evaluate(model, restyled, max_frames)]
        out[name] = round(sum(scores) / len(scores), 3) if scores else float("nan")
    return out


def write_report(out: Path, report: dict) -> None:
    """``report.json`` and a short ``report.md`` (both written atomically)."""
    atomic_write_text(out / "report.json", json.dumps(report, indent=2) + "\n")
    lines = [
        "# Tiny autoencoder reconstruction report", "",
        (f"Trained {report['steps']} steps in {report['train_seconds'] / 60:.1f} min on "
         f"{', '.join(report['train_clips'])} at {report['size']}x{report['size']} "
         f"(crops {report['crop'] or report['size']}, {report['frames']} frames, batch {report['batch']})."), "",
        "Each clip is encoded and decoded whole at the training size (equal to streaming it); the latent",
        "columns describe the normalised latents (target: mean 0, std 1).", "",
        "| clip | split | frames | PSNR (dB) | latent mean | latent std | per-channel std (min-max) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for split in ("heldout", "train"):
        for r in report[split]:
            lo, hi = r["latent_channel_std"]
            lines.append(f"| {r['clip']} | {split} | {r['frames']} | {r['psnr']:.2f} | "
                         f"{r['latent_mean']:.3f} | {r['latent_std']:.3f} | {lo:.2f}-{hi:.2f} |")
    if report["heldout"]:
        lines += ["", f"Mean held-out PSNR: **{report['heldout_psnr']:.2f} dB**."]
    if report.get("heldout_styled"):
        lines += ["", "Held-out clips restyled by each built-in style (the DiT's outputs live there):", "",
                  "| style | PSNR (dB) |", "| --- | --- |"]
        lines += [f"| {name} | {v:.2f} |" for name, v in report["heldout_styled"].items()]
    lines += [""] + [f"Starting weights made by: `{c}`" for c in report.get("init_commands", [])]
    lines += [f"Command: `{report['command']}`"]
    atomic_write_text(out / "report.md", "\n".join(lines) + "\n")


def _argv(args: argparse.Namespace) -> list[str]:
    """The options of this run, for the report (paths as given)."""
    out = ["--videos", *args.videos, "--out", args.out]
    for key in ("steps", "minutes", "size", "crop", "frames", "batch", "lr", "latent_noise", "styled",
                "styled_frames", "color_permute", "init", "seed"):
        value = getattr(args, key)
        unused = (key.startswith("styled") and not args.styled) or (key == "color_permute" and not value)
        if value is not None and not unused:
            out += [f"--{key.replace('_', '-')}", str(value)]
    if args.freeze_encoder:
        out.append("--freeze-encoder")
    if args.holdout is not None:
        out += ["--holdout", *args.holdout]
    return out


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from rtrdit.codecs.tiny_ae import TinyAEConfig, TinyAutoencoder

    if args.frames < 5 or (args.frames - 1) % 4:
        raise CLIError(f"--frames must be 1 + 4k with k >= 1, got {args.frames}")
    if args.size % 8 or args.size <= 0 or (args.crop and (args.crop % 8 or args.crop > args.size)):
        raise CLIError("--size and --crop must be positive multiples of 8, with --crop <= --size")
    if args.steps <= 0 or args.batch <= 0:
        raise CLIError("--steps and --batch must be positive")
    if not 0.0 <= args.styled <= 1.0 or args.styled_frames < args.frames:
        raise CLIError(f"--styled must be in [0, 1] and --styled-frames at least --frames ({args.frames})")
    if not 0.0 <= args.color_permute <= 1.0:
        raise CLIError(f"--color-permute must be in [0, 1], got {args.color_permute}")
    if args.freeze_encoder and not args.init:
        raise CLIError("--freeze-encoder needs --init: the trained autoencoder whose encoder to keep")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out is not a folder: {out}")
    paths = find_videos(args.videos)
    names = [p.name for p in paths]
    holdout = args.holdout
    if holdout is None:
        holdout = [DEFAULT_HOLDOUT] if DEFAULT_HOLDOUT in names and len(paths) > 1 else names[-1:] if len(paths) > 1 else []
    missing = [h for h in holdout if h not in names]
    if missing:
        raise CLIError(f"--holdout names no given video: {', '.join(missing)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    clips = load_clips(paths, args.size, args.max_frames)
    held = [c for c in clips if c.name in holdout]
    train = [c for c in clips if c.name not in holdout and len(c.frames) >= args.frames]
    if not train:
        raise CLIError(f"no training clip has at least {args.frames} frames")
    styled = styled_clips(train, args.styled_frames, gen) if args.styled > 0 else []

    if args.init:
        try:
            model = TinyAutoencoder.from_pretrained(args.init)
        except (FileNotFoundError, ValueError) as exc:
            raise CLIError(str(exc)) from None
    else:
        model = TinyAutoencoder(TinyAEConfig())
    opt = torch.optim.Adam((model.decoder if args.freeze_encoder else model).parameters(), lr=args.lr)
    step, spent = 0, 0.0
    ckpt = out / CHECKPOINT_NAME
    if args.resume and ckpt.is_file():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optim"])
        step, spent = int(state["step"]), float(state["seconds"])
    out.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        model.config.extra = {"trained_steps": step, "train_seconds": round(spent, 1)}
        model.save_pretrained(out)
        with atomic_path(ckpt) as tmp:
            torch.save({"model": model.state_dict(), "optim": opt.state_dict(),
                        "step": torch.tensor(step), "seconds": torch.tensor(spent)}, tmp)

    limit = args.minutes * 60 if args.minutes else None

    def progress() -> float:
        return max(step / args.steps, spent / limit if limit else 0.0)

    model.train()
    bar = tqdm(total=args.steps, initial=step, desc="autoencoder", unit="step", dynamic_ncols=True)
    last_ckpt = time.monotonic()
    ema_loss = ema_psnr = None
    while progress() < 1.0:
        t0 = time.monotonic()
        p = progress()
        warm = min(1.0, (step + 1) / 100)
        for g in opt.param_groups:
            g["lr"] = args.lr * warm * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * p)))
        video = sample_batch(train, args.batch, args.frames, args.crop, gen, styled, args.styled, args.color_permute)
        # running latent statistics: a plain average over the first 50 steps, then an EMA
        loss, ps = train_step(model, opt, video, args.latent_noise, momentum=max(0.02, 1 / (step + 1)),
                              train_encoder=not args.freeze_encoder)
        step += 1
        spent += time.monotonic() - t0
        ema_loss = loss if ema_loss is None else 0.95 * ema_loss + 0.05 * loss
        ema_psnr = ps if ema_psnr is None else 0.95 * ema_psnr + 0.05 * ps
        bar.update(1)
        bar.set_postfix(loss=f"{ema_loss:.4f}", psnr=f"{ema_psnr:.2f}")
        if time.monotonic() - last_ckpt > args.checkpoint_every:
            save()
            last_ckpt = time.monotonic()
    bar.close()
    save()

    heldout = evaluate(model, held, args.eval_frames)
    train_eval = evaluate(model, train, args.eval_frames)
    report = {
        "steps": step, "train_seconds": round(spent, 1), "size": args.size, "crop": args.crop,
        "frames": args.frames, "batch": args.batch, "lr": args.lr, "latent_noise": args.latent_noise,
        "train_clips": [c.name for c in train], "heldout": heldout, "train": train_eval,
        "heldout_psnr": round(sum(r["psnr"] for r in heldout) / len(heldout), 3) if heldout else None,
        "train_psnr": round(sum(r["psnr"] for r in train_eval) / len(train_eval), 3),
        "final_train_loss": round(ema_loss, 5) if ema_loss is not None else None,
        "command": "rtrdit train autoencoder " + " ".join(_argv(args)),
    }
    if styled:
        report["heldout_styled"] = evaluate_styled(model, held, args.eval_frames)
    if args.init and (Path(args.init) / "report.json").is_file():  # how the starting weights were made
        before = json.loads((Path(args.init) / "report.json").read_text())
        report["init_commands"] = [*before.get("init_commands", []), before["command"]]
    write_report(out, report)
    print(f"saved {out} after {step} steps; held-out PSNR "
          + (", ".join(f"{r['clip']} {r['psnr']:.2f} dB" for r in heldout) or "(no held-out clip)"))
    return 0
