"""The pretrained files the paper's metrics need, their expected names under ``--weights DIR``
and where each is published (nothing is downloaded: a missing file is one clear error line)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rtrdit.eval.metrics.base import EvalError


@dataclass(frozen=True)
class WeightFile:
    """One expected file or folder under the weights directory."""

    name: str  # path relative to the weights directory
    what: str
    source: str  # where it is published


CLIP_L14 = WeightFile(
    "clip-vit-large-patch14",
    "OpenAI CLIP ViT-L/14 in Hugging Face layout (config.json, model.safetensors, tokenizer files)",
    "https://huggingface.co/openai/clip-vit-large-patch14",
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

ALL = (CLIP_L14, AESTHETIC_HEAD, CSD, MUSIQ_SPAQ)


def require(weights: Path | None, file: WeightFile, inside: tuple[str, ...] = ()) -> Path:
    """The path of ``file`` under ``weights``; raises EvalError naming the file and its source if
    the directory was not given or the file (or one of the ``inside`` files of a folder) is missing."""
    if weights is None:
        raise EvalError(f"this metric needs --weights DIR containing {file.name} ({file.what}; {file.source})")
    path = Path(weights) / file.name
    if not path.exists():
        raise EvalError(f"missing weights file {path} ({file.what}; published at {file.source})")
    for sub in inside:
        if not (path / sub).exists():
            raise EvalError(f"missing weights file {path / sub} (part of {file.what}; published at {file.source})")
    return path
