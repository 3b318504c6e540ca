"""Load and save the DiT: the original Wan2.1 release, diffusers' layout, and our own.

- ``original``: ``config.json`` with Wan's keys (``dim``, ``num_heads``, ``in_dim`` ...) and
  ``diffusion_pytorch_model.safetensors`` (possibly sharded with an ``.index.json``); the
  parameter names are Wan's, which our DiT uses as they are.
- ``diffusers``: ``config.json`` of ``WanTransformer3DModel`` and the same weight file name,
  with diffusers' names (``attn1``, ``to_q``, ``scale_shift_table`` ... and norm2/norm3 swapped).
- ``rtrdit``: ``config.json`` with ``"format": "rtrdit"`` and our DiTConfig, ``model.safetensors``.

A base Wan checkpoint (16 input channels, no reference adapter) is widened on load: the
source half of the patch embedding gets zeros, so with a zero source the model reproduces
the base model exactly, and the adapter starts from the target half of the patch embedding.
The model is built on the meta device and takes the checkpoint's tensors as its own
(``assign=True``), so a large model is never held twice. Any other missing, unexpected or
mis-shaped key is refused with its name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rtrdit.model.config import DiTConfig
from rtrdit.model.dit import DiT

WEIGHTS_NAME = "model.safetensors"
WAN_WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"
CONFIG_NAME = "config.json"
FORMAT = "rtrdit"

# diffusers name fragment -> original Wan fragment (applied in order; norm2/norm3 swap via a placeholder)
_DIFFUSERS_TO_WAN: list[tuple[str, str]] = [
    ("condition_embedder.time_embedder.linear_1", "time_embedding.0"),
    ("condition_embedder.time_embedder.linear_2", "time_embedding.2"),
    ("condition_embedder.text_embedder.linear_1", "text_embedding.0"),
    ("condition_embedder.text_embedder.linear_2", "text_embedding.2"),
    ("condition_embedder.time_proj", "time_projection.1"),
    (".attn1.", ".self_attn."),
    (".attn2.", ".cross_attn."),
    (".to_out.0.", ".o."),
    (".to_q.", ".q."),
    (".to_k.", ".k."),
    (".to_v.", ".v."),
    (".ffn.net.0.proj.", ".ffn.0."),
    (".ffn.net.2.", ".ffn.2."),
    (".norm2.", ".norm__swap."),
    (".norm3.", ".norm2."),
    (".norm__swap.", ".norm3."),
]


class CheckpointError(ValueError):
    """A checkpoint that does not fit the model: names the offending keys or files."""


def _diffusers_to_wan_key(key: str) -> str:
    if key == "proj_out.weight" or key == "proj_out.bias":
        return key.replace("proj_out", "head.head")
    if key == "scale_shift_table":
        return "head.modulation"
    new = key
    if new.startswith("blocks.") and new.endswith(".scale_shift_table"):
        new = new[: -len("scale_shift_table")] + "modulation"
    for src, dst in _DIFFUSERS_TO_WAN:
        new = new.replace(src, dst)
    return new


def detect_layout(path: str | os.PathLike[str]) -> str:
    """'rtrdit', 'diffusers' or 'original', from the directory's config.json."""
    cfg = _read_config(Path(path))
    if cfg.get("format") == FORMAT:
        return "rtrdit"
    if cfg.get("_class_name") == "WanTransformer3DModel" or "num_attention_heads" in cfg:
        return "diffusers"
    if "dim" in cfg and "num_heads" in cfg:
        return "original"
    raise CheckpointError(f"{Path(path) / CONFIG_NAME}: not a Wan, diffusers-Wan or rtrdit DiT config")


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_dir():
        raise CheckpointError(f"model directory not found: {path}")
    f = path / CONFIG_NAME
    if not f.is_file():
        raise CheckpointError(f"missing {CONFIG_NAME} in {path}")
    try:
        return json.loads(f.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{f}: invalid JSON ({exc})") from None


def config_from_dir(path: str | os.PathLike[str], **overrides: Any) -> DiTConfig:
    """The DiTConfig of a checkpoint directory in any of the three layouts."""
    path = Path(path)
    raw = _read_config(path)
    layout = detect_layout(path)
    if layout == "rtrdit":
        fields = {k: v for k, v in raw.items() if k != "format"}
        cfg = DiTConfig.from_dict(fields)
    elif layout == "diffusers":
        heads, hd = raw.get("num_attention_heads", 12), raw.get("attention_head_dim", 128)
        in_ch = raw.get("in_channels", 16)
        cfg = DiTConfig(
            dim=heads * hd, ffn_dim=raw.get("ffn_dim", 8960), num_heads=heads, num_layers=raw.get("num_layers", 30),
            latent_channels=raw.get("out_channels") or in_ch, text_dim=raw.get("text_dim", 4096),
            freq_dim=raw.get("freq_dim", 256), eps=raw.get("eps", 1e-6),
            patch_size=tuple(raw.get("patch_size", (1, 2, 2))), qk_norm=raw.get("qk_norm") is not None,
            cross_attn_norm=bool(raw.get("cross_attn_norm", True)),
        )
    else:
        cfg = DiTConfig(
            dim=raw["dim"], ffn_dim=raw["ffn_dim"], num_heads=raw["num_heads"], num_layers=raw["num_layers"],
            latent_channels=raw.get("out_dim", 16), text_dim=raw.get("text_dim", 4096),
            text_len=raw.get("text_len", 512), freq_dim=raw.get("freq_dim", 256), eps=raw.get("eps", 1e-6),
            patch_size=tuple(raw.get("patch_size", (1, 2, 2))), qk_norm=bool(raw.get("qk_norm", True)),
            cross_attn_norm=bool(raw.get("cross_attn_norm", True)),
        )
    return cfg.replace(**overrides) if overrides else cfg


def _weight_files(path: Path, layout: str) -> list[Path]:
    name = WEIGHTS_NAME if layout == "rtrdit" else WAN_WEIGHTS_NAME
    single = path / name
    if single.is_file():
        return [single]
    index = path / f"{name}.index.json"
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        missing = [s for s in shards if not (path / s).is_file()]
        if missing:
            raise CheckpointError(f"missing weight shard(s) in {path}: {', '.join(missing)}")
        return [path / s for s in shards]
    raise CheckpointError(f"missing {name} in {path}")


def _read_state_dict(files: list[Path]) -> dict[str, Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    sd: dict[str, Tensor] = {}
    for f in files:
        try:
            sd.update(load_file(str(f)))
        except (SafetensorError, OSError) as exc:  # truncated download, not a safetensors file
            raise CheckpointError(f"cannot read {f} (damaged or not safetensors: {exc})") from None
    return sd


def _fit_state_dict(model: DiT, sd: dict[str, Tensor], base_wan: bool) -> list[str]:
    """Widen a base checkpoint's patch embedding and check every key and shape.
    Returns the keys left for the model to initialise itself (the adapter of a base Wan)."""
    cfg = model.config
    expected = {k: v.shape for k, v in model.state_dict().items()}
    w = sd.get("patch_embedding.weight")
    if w is not None and cfg.source_conditioning and w.shape[1] == cfg.latent_channels:
        sd["patch_embedding.weight"] = torch.cat([w, torch.zeros_like(w)], dim=1)
    allowed_missing = {k for k in expected if k.startswith("ref_adapter.")} if base_wan else set()
    missing = sorted(set(expected) - set(sd) - allowed_missing)
    unexpected = sorted(set(sd) - set(expected))
    mismatched = sorted(
        f"{k} {list(sd[k].shape)} != {list(shape)}"
        for k, shape in expected.items()
        if k in sd and tuple(sd[k].shape) != tuple(shape)
    )
    problems = []
    for label, items in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", mismatched)):
        if items:
            shown = ", ".join(items[:8]) + (f", ... ({len(items)} in all)" if len(items) > 8 else "")
            problems.append(f"{label}: {shown}")
    if problems:
        raise CheckpointError("checkpoint does not fit the DiT config; " + "; ".join(problems))
    return sorted(allowed_missing - set(sd))


def load_dit(
    path: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
    **overrides: Any,
) -> DiT:
    """Load a DiT from a directory in the original Wan, diffusers or rtrdit layout.

    ``overrides`` replace DiTConfig fields that do not change weights (``attention``,
    ``chunk_frames``, ...); ``dtype`` casts the weights (default: as stored)."""
    path = Path(path)
    layout = detect_layout(path)
    cfg = config_from_dir(path, **overrides)
    sd = _read_state_dict(_weight_files(path, layout))
    if layout == "diffusers":
        sd = {_diffusers_to_wan_key(k): v for k, v in sd.items()}
    with torch.device("meta"):
        model = DiT(cfg)
    to_init = _fit_state_dict(model, sd, base_wan=layout != "rtrdit")
    if dtype is not None:
        sd = {k: v.to(dtype) for k, v in sd.items()}
    model.load_state_dict(sd, strict=False, assign=True)
    if to_init:  # a base Wan checkpoint: the adapter starts from the target half of the patch embedding
        assert model.ref_adapter is not None
        model.ref_adapter.to_empty(device="cpu")
        model.ref_adapter.reset_parameters()
        model.ref_adapter.init_from_patch_embedding(model.patch_embedding, cfg.latent_channels)
        model.ref_adapter.to(model.dtype)
    return model.to(device)


def save_pretrained(model: DiT, path: str | os.PathLike[str]) -> None:
    """Write ``config.json`` + ``model.safetensors`` (our layout) atomically into ``path``."""
    from safetensors.torch import save_file

    from rtrdit.files import atomic_path, atomic_write_text

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path / WEIGHTS_NAME) as tmp:
        save_file(sd, str(tmp), metadata={"format": "pt"})
    atomic_write_text(path / CONFIG_NAME, json.dumps({"format": FORMAT, **model.config.to_dict()}, indent=2))


def parameter_summary(model: DiT) -> str:
    """'1.42B parameters' style summary for logs."""
    n = sum(p.numel() for p in model.parameters())
    for unit, div in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= div:
            return f"{n / div:.2f}{unit} parameters"
    return f"{n} parameters"


__all__ = ["CheckpointError", "config_from_dir", "detect_layout", "load_dit", "parameter_summary", "save_pretrained"]
