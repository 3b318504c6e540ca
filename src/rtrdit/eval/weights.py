"""The pretrained files the paper's metrics need, their expected names under ``--weights DIR``
and where each is published (nothing is downloaded: a missing file is one clear error line), and
the two helpers every loader uses: a safe file reader and a strict, named-key state-dict load."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rtrdit.errors import first_line
from rtrdit.eval.metrics.base import EvalError

if TYPE_CHECKING:  # pragma: no cover
    import torch


@dataclass(frozen=True)
class WeightFile:
    """One expected file or folder under the weights directory."""

    name: str  # path relative to the weights directory
    what: str
    source: str  # where it is published


OPENCLIP_L14 = WeightFile(
    "vit_large_patch14_clip_224.openai/open_clip_model.safetensors",
    "OpenAI CLIP ViT-L/14 for open_clip",
    "https://huggingface.co/timm/vit_large_patch14_clip_224.openai (open_clip_model.safetensors)",
)
OPENAI_CLIP_L14_HF = WeightFile(
    "clip-vit-large-patch14/model.safetensors",
    "OpenAI CLIP ViT-L/14 in Hugging Face layout (accepted instead of the open_clip file)",
    "https://huggingface.co/openai/clip-vit-large-patch14 (model.safetensors)",
)
AESTHETIC_HEAD = WeightFile(
    "sa_0_4_vit_l_14_linear.pth",
    "LAION aesthetic predictor head for CLIP ViT-L/14",
    "https://github.com/LAION-AI/aesthetic-predictor (sa_0_4_vit_l_14_linear.pth)",
)
CSD = WeightFile(
    "csd_vit_l.pth",
    "CSD ViT-L style model checkpoint",
    "https://huggingface.co/tomg-group-umd/CSD-ViT-L (pytorch_model.bin; save it as csd_vit_l.pth)",
)
MUSIQ_SPAQ = WeightFile(
    "musiq_spaq_ckpt-358bb6af.pth",
    "MUSIQ trained on SPAQ (pyiqa)",
    "https://huggingface.co/chaofengc/IQA-PyTorch-Weights (musiq_spaq_ckpt-358bb6af.pth)",
)

ALL = (OPENCLIP_L14, AESTHETIC_HEAD, CSD, MUSIQ_SPAQ)


def require(weights: Path | None, file: WeightFile) -> Path:
    """The path of ``file`` under ``weights``; raises EvalError naming the file and its source if
    the directory was not given or the file is missing."""
    if weights is None:
        raise EvalError(f"this metric needs --weights DIR containing {file.name} ({file.what}; {file.source})")
    path = Path(weights) / file.name
    if not path.exists():
        raise EvalError(f"missing weights file {path} ({file.what}; published at {file.source})")
    return path


def read_checkpoint(path: Path, what: str) -> Any:
    """The tensors of a weights file: safetensors, or a torch pickle read with ``weights_only=True``
    (never arbitrary objects); EvalError (one line naming ``what`` and the file) if unreadable."""
    import torch

    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - damaged, foreign or unsafe file: one line for the user
        raise EvalError(f"cannot read the {what} {path}: {first_line(exc)}") from None


def load_strict(module: torch.nn.Module, state: dict[str, torch.Tensor], what: str, prefix: str = "") -> None:
    """Load ``state`` into ``module`` in float32, refusing missing and leftover keys and wrong shapes
    with one line that names the first offending keys (as ``prefix + key``, the file's names)."""
    expected = set(module.state_dict())
    missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or extra:
        keys = [prefix + k for k in (missing or extra)[:4]]
        what_is = f"missing {', '.join(keys)}" if missing else f"unexpected {', '.join(keys)}"
        raise EvalError(f"{what} do not match the model: {what_is}")
    try:
        module.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    except RuntimeError as exc:
        raise EvalError(f"{what} have tensors of the wrong shape: {str(exc).splitlines()[-1].strip()}") from None
