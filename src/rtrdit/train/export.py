"""`rtrdit train export`: package a trained generator (stage 3's `OUT/model/`, or any causal DiT folder) as a
stylizer directory that `Stylizer.from_pretrained(DIR)` and `rtrdit stylize / serve / bench --model DIR` load:
`stylizer.json` (the generator's K timesteps, resolution, cache window), `dit/`, and a copy of our autoencoder
when that is the codec; a Wan VAE and a umT5 encoder are referenced by absolute path (too large to copy).
Defaults come from the training config and its shards' index, so the stylizer matches what was trained."""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from rtrdit.stream.stylizer import CONFIG_NAME, StylizerConfig, demo_dir

DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
MINILM_DIM = 384  # the text width of the "minilm" encoder
SPATIAL_FACTOR = 8  # pixels per latent cell of both codecs (Wan VAE and our autoencoder; a test holds them to it)


class ExportError(ValueError):
    """A stylizer directory cannot be written from these inputs (one readable line)."""


def export_stylizer(model: str | os.PathLike[str], out: str | os.PathLike[str], config: StylizerConfig,
                    dtype: torch.dtype = torch.bfloat16, overwrite: bool = False) -> Path:
    """Write ``out`` (stylizer.json, dit/, autoencoder/ for our codec) from the DiT folder ``model``.

    ``config.codec`` / ``config.text_encoder`` name what to load: ``"tiny"`` or an autoencoder directory is
    copied in, a Wan VAE path and a umT5 path are stored absolute, ``"minilm"`` as is. The directory
    appears complete or not at all (written beside it, then renamed)."""
    from rtrdit.codecs.base import codec_kind
    from rtrdit.model.loading import load_dit

    out = Path(out)
    if out.exists() and not overwrite:
        raise ExportError(f"{out} already exists (use --overwrite or another output)")
    if not (Path(model) / "config.json").is_file():
        raise ExportError(f"{model}: no DiT here (missing config.json; train the stage first or give --model)")
    kind, codec_path = codec_kind(config.codec)  # checked before the (maybe large) DiT is read
    if config.text_encoder != "minilm" and not Path(config.text_encoder).exists():
        raise ExportError(f"text encoder: no such file or directory {config.text_encoder}")
    dit = load_dit(model, attention="block_causal", dtype=dtype)
    if config.text_encoder == "minilm" and dit.config.text_dim != MINILM_DIM:
        raise ExportError(f"the DiT takes {dit.config.text_dim}-d text but minilm gives {MINILM_DIM}-d "
                          "(give --text-encoder: the umT5 directory it was trained with)")
    text = "minilm" if config.text_encoder == "minilm" else str(Path(config.text_encoder).resolve())
    part = out.with_name(out.name + ".partial")
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    try:
        dit.save_pretrained(str(part / "dit"))
        if kind == "tiny":
            shutil.copytree(codec_path or demo_dir() / "autoencoder", part / "autoencoder")
            codec = "autoencoder"
        else:
            codec = str(Path(config.codec).resolve())
        final = StylizerConfig.from_dict({**config.to_dict(), "codec": codec, "text_encoder": text})
        (part / CONFIG_NAME).write_text(json.dumps(final.to_dict(), indent=2) + "\n")
        replace_directory(part, out)
    except BaseException:
        shutil.rmtree(part, ignore_errors=True)
        raise
    return out


def replace_directory(part: Path, out: Path) -> None:
    """Rename the finished ``part`` to ``out``; an old ``out`` is renamed aside first and removed only after,
    so a failed rename puts it back and ``out`` is never half-written."""
    old = out.with_name(out.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        os.replace(out, old)
    try:
        os.replace(part, out)
    except BaseException:
        if old.exists():
            os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def trained_defaults(cfg: Any) -> dict[str, Any]:
    """What the training config and its shards' index say: the generator's timesteps, the codec and text
    encoder the latents were made with, the training resolution (area) and clip length (cache window)."""
    from rtrdit.train.rollout import generator_times

    out: dict[str, Any] = {"timesteps": tuple(generator_times(cfg.distill.timesteps, cfg.distill.shift)),
                           "shift": cfg.distill.shift, "steps": len(cfg.distill.timesteps)}
    index_path = Path(cfg.data.shards) / "index.json"
    if index_path.is_file():
        index = json.loads(index_path.read_text(encoding="utf-8"))
        enc = index.get("config", {})
        out.update({k: enc[k] for k in ("codec", "text_encoder") if enc.get(k)})
        rows = [r for s in index.get("shards", []) for r in s.get("rows", [])]
        if rows:
            _, frames, h, w = rows[0]["latent_shape"]
            out.update(area=h * w * SPATIAL_FACTOR**2, window_frames=int(frames))
    return out


def read_presets(given: str | None) -> tuple[tuple[str, str], ...]:
    """``--presets``: nothing, ``builtin`` (a preset per built-in style) or a JSON file's [name, prompt] pairs;
    ExportError in one line for a file that is missing or not such a list."""
    from rtrdit.data.stylizers import builtin_presets

    if given is None:
        return ()
    if given == "builtin":
        return builtin_presets()
    try:
        pairs = json.loads(Path(given).read_text())
    except OSError as exc:
        raise ExportError(f"--presets {given}: cannot read it ({exc.strerror or exc})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ExportError(f"--presets {given}: not valid JSON ({exc})") from None
    if not isinstance(pairs, list) or not pairs:
        raise ExportError(f"--presets {given}: must be a non-empty JSON list of [name, prompt] pairs")
    try:  # each pair checked as stylizer.json's are
        return StylizerConfig.from_dict({"presets": pairs}).presets
    except ValueError as exc:
        raise ExportError(f"--presets {given}: {exc}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="the distillation config the model was trained with")
    parser.add_argument("-o", "--out", required=True, help="stylizer directory to write")
    parser.add_argument("--model", default=None, help="DiT folder to package (default: the config's run.out/model)")
    parser.add_argument("--codec", default=None,
                        help="'tiny', an autoencoder or Wan VAE path (default: the one the shards were encoded with)")
    parser.add_argument("--text-encoder", default=None,
                        help="'minilm' or a umT5 path (default: the one the shards were encoded with)")
    parser.add_argument("--size", default=None, metavar="WxH",
                        help="resolution the model runs at, kept as an area (default: the training clips')")
    parser.add_argument("--window", type=int, default=None,
                        help="latent frames in the rolling cache (default: the training clips' latent frames)")
    parser.add_argument("--switch-keep", type=int, default=1,
                        help="self-attention frames kept across a style switch (default 1, the paper's)")
    parser.add_argument("--presets", default=None, metavar="builtin|FILE",
                        help="one-tap styles `rtrdit serve`'s page offers for this model: 'builtin' (one per built-in "
                             "style, for a model trained on them) or a JSON file of [name, prompt] pairs")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="bfloat16", help="stored weight type")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output directory")


def run(args: argparse.Namespace) -> int:
    from rtrdit.cli import CLIError
    from rtrdit.commands.data_build import parse_size
    from rtrdit.errors import first_line
    from rtrdit.train.config import load_config

    try:
        cfg = load_config(args.config)
        found = trained_defaults(cfg)
        given = {"codec": args.codec, "text_encoder": args.text_encoder, "window_frames": args.window}
        if args.size is not None:
            w, h = parse_size(args.size)
            given["area"] = w * h
        settings = {**found, **{k: v for k, v in given.items() if v is not None}}
        for key, flag in (("codec", "--codec"), ("text_encoder", "--text-encoder")):
            if key not in settings:
                raise ExportError(f"no {flag} given and {cfg.data.shards}/index.json does not name one")
        config = StylizerConfig(switch_keep_frames=args.switch_keep, presets=read_presets(args.presets), **settings)
        out = export_stylizer(args.model or Path(cfg.run.out) / "model", args.out, config, DTYPES[args.dtype],
                              overwrite=args.overwrite)
    except ValueError as exc:  # ConfigError, CodecError, CheckpointError and ExportError are ValueErrors
        raise CLIError(first_line(exc)) from None
    print(f"wrote {out} (load it with --model {out})")
    return 0


__all__ = ["ExportError", "add_arguments", "export_stylizer", "read_presets", "replace_directory", "run",
           "trained_defaults"]
