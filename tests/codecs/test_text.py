"""Text encoders: MiniLM from its PyPI package, a tiny umT5 (transformers and original .pth layouts), the cache."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch

from rtrdit.codecs.base import CodecError
from rtrdit.codecs.text import (
    UMT5_PTH,
    UMT5_TOKENIZER_SUBDIR,
    CachedTextEncoder,
    HFTextEncoder,
    TextEncoder,
    load_text_encoder,
    minilm_dir,
)

PROMPTS = ["a watercolor painting of a dog running", "pencil sketch of a city at night",
           "oil painting in the style of van gogh", "a cartoon cat", "anime style portrait with bright colors"]


@pytest.fixture(scope="module")
def minilm() -> HFTextEncoder:
    enc = load_text_encoder("minilm")
    assert isinstance(enc, HFTextEncoder)
    return enc


def test_minilm_shapes_padding_and_determinism(minilm: HFTextEncoder) -> None:
    assert isinstance(minilm, TextEncoder) and (minilm.dim, minilm.max_tokens) == (384, 32)
    out = minilm.encode(["a watercolor painting", "a &amp; b", "a pencil sketch of a busy street"])
    torch.testing.assert_close(out[1], minilm.encode(["a & b"])[0], rtol=1e-4, atol=1e-5)  # HTML unescaped
    out = minilm.encode(["a watercolor painting", "a  watercolor painting ", "a pencil sketch of a busy street"])
    assert out.shape == (3, 32, 384) and out.dtype == torch.float32
    torch.testing.assert_close(out[0], out[1], rtol=0, atol=1e-6)  # same prompt (whitespace aside) -> same
    assert (out[0] - out[2]).abs().max() > 0.5  # a different prompt -> different embeddings
    real = out.abs().sum(-1) > 0
    n = len(minilm.tokenizer("a watercolor painting")["input_ids"])  # with [CLS] and [SEP]
    assert 5 <= n < 32 and real[0].tolist() == [True] * n + [False] * (32 - n)  # zero after the prompt
    # a prompt encoded alone equals the same prompt inside a padded batch
    alone = minilm.encode(["a pencil sketch of a busy street"])[0]
    torch.testing.assert_close(alone, out[2], rtol=1e-4, atol=1e-5)
    long = minilm.encode(["word " * 100])
    assert bool((long.abs().sum(-1) > 0).all())  # truncated to max_tokens, nothing dropped silently


def test_minilm_matches_sentence_transformers(minilm: HFTextEncoder) -> None:
    """Mean-pooled and normalised, our per-token output is the published sentence embedding."""
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(minilm_dir()), device="cpu").encode(PROMPTS[:2], convert_to_tensor=True)
    tokens = minilm.encode(PROMPTS[:2])
    mask = (tokens.abs().sum(-1) > 0).float()
    pooled = (tokens * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    pooled = torch.nn.functional.normalize(pooled, dim=-1)
    torch.testing.assert_close(pooled, reference.cpu().float(), rtol=1e-4, atol=1e-4)


def test_cache_encodes_a_repeated_prompt_once(minilm: HFTextEncoder) -> None:
    cached = CachedTextEncoder(minilm, max_entries=2)
    assert isinstance(cached, TextEncoder) and (cached.dim, cached.max_tokens) == (384, 32)
    first = cached.encode(["a cartoon cat", "a cartoon cat", "a pencil sketch"])
    assert cached.misses == 2
    again = cached.encode(["a pencil sketch", "a cartoon cat"])
    assert cached.misses == 2  # both served from the cache
    torch.testing.assert_close(again, torch.stack([first[2], first[0]]), rtol=0, atol=0)
    torch.testing.assert_close(first, minilm.encode(["a cartoon cat", "a cartoon cat", "a pencil sketch"]),
                               rtol=1e-4, atol=1e-5)
    cached.encode(["a third prompt"])  # over max_entries: the least recently used ("a pencil sketch") goes
    cached.encode(["a cartoon cat"])
    assert cached.misses == 3
    cached.encode(["a pencil sketch"])
    assert cached.misses == 4
    with pytest.raises(CodecError, match="list of prompts"):
        cached.encode("a single string")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- tiny umT5


def _tokenizer_files(folder: Path) -> None:
    """A tiny SentencePiece tokenizer with T5's special ids (pad 0, eos 1, unk 2)."""
    import sentencepiece as spm

    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(PROMPTS * 20), model_writer=buf, vocab_size=60, model_type="unigram",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, hard_vocab_limit=False, minloglevel=2,
    )
    (folder / "spiece.model").write_bytes(buf.getvalue())
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "T5Tokenizer", "extra_ids": 0}))


def _tiny_umt5(vocab: int):
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    cfg = UMT5Config(vocab_size=vocab, d_model=32, d_kv=8, d_ff=48, num_layers=2, num_heads=4,
                     relative_attention_num_buckets=32, relative_attention_max_distance=128,
                     feed_forward_proj="gated-gelu", is_encoder_decoder=False, use_cache=False, dropout_rate=0.0)
    model = UMT5EncoderModel(cfg).eval()
    with torch.no_grad():  # random norms and biases too, so a mis-mapped weight changes the output
        for name, p in model.named_parameters():
            p.copy_(torch.randn_like(p) * 0.3 + (1.0 if "norm" in name else 0.0))
    return model


def _to_original_layout(model) -> dict[str, torch.Tensor]:
    """The inverse of Wan's key mapping (../shared/reference/wan-checkpoints.md), bf16 like the release."""
    sd = model.state_dict()
    out = {"token_embedding.weight": sd["shared.weight"], "norm.weight": sd["encoder.final_layer_norm.weight"]}
    names = {"norm1": "layer.0.layer_norm", "attn.q": "layer.0.SelfAttention.q", "attn.k": "layer.0.SelfAttention.k",
             "attn.v": "layer.0.SelfAttention.v", "attn.o": "layer.0.SelfAttention.o",
             "pos_embedding.embedding": "layer.0.SelfAttention.relative_attention_bias",
             "norm2": "layer.1.layer_norm", "ffn.gate.0": "layer.1.DenseReluDense.wi_0",
             "ffn.fc1": "layer.1.DenseReluDense.wi_1", "ffn.fc2": "layer.1.DenseReluDense.wo"}
    for i in range(model.config.num_layers):
        for orig, hf in names.items():
            out[f"blocks.{i}.{orig}.weight"] = sd[f"encoder.block.{i}.{hf}.weight"]
    return {k: v.to(torch.bfloat16).clone() for k, v in out.items()}


def _reference(model, tokenizer, prompts: list[str], max_tokens: int) -> torch.Tensor:
    batch = tokenizer(prompts, padding="max_length", max_length=max_tokens, truncation=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    return hidden * batch["attention_mask"][..., None]


def test_umt5_transformers_layout(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    _tokenizer_files(tmp_path / "umt5")
    tok = AutoTokenizer.from_pretrained(str(tmp_path / "umt5"))
    model = _tiny_umt5(len(tok))
    model.save_pretrained(str(tmp_path / "umt5"))
    enc = load_text_encoder(str(tmp_path / "umt5"))
    assert (enc.dim, enc.max_tokens) == (32, 512)
    out = enc.encode(["a cartoon cat", "pencil sketch of a dog at night"])
    assert out.shape == (2, 512, 32) and out.dtype == torch.float32
    n_tokens = len(tok("a cartoon cat")["input_ids"])  # includes </s>
    real = out.abs().sum(-1) > 0
    assert real[0, :n_tokens].all() and not real[0, n_tokens:].any()  # zero-padded to 512 like Wan
    torch.testing.assert_close(out, _reference(model, tok, ["a cartoon cat", "pencil sketch of a dog at night"], 512))


def test_umt5_truncated_weights_are_one_line(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    _tokenizer_files(tmp_path / "umt5")
    _tiny_umt5(len(AutoTokenizer.from_pretrained(str(tmp_path / "umt5")))).save_pretrained(str(tmp_path / "umt5"))
    weights = tmp_path / "umt5" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:2000])  # a download cut short
    with pytest.raises(CodecError, match="umT5 .*umt5: cannot load") as err:
        load_text_encoder(str(tmp_path / "umt5"))
    assert "\n" not in str(err.value)


def test_umt5_original_pth_layout_matches_transformers(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    release = tmp_path / "Wan2.1-T2V-1.3B"
    _tokenizer_files(release / UMT5_TOKENIZER_SUBDIR)
    tok = AutoTokenizer.from_pretrained(str(release / UMT5_TOKENIZER_SUBDIR))
    model = _tiny_umt5(len(tok))
    torch.save(_to_original_layout(model), release / UMT5_PTH)
    bf16_model = model.to(torch.bfloat16).float()  # the release stores bf16 weights
    for spec in (release, release / UMT5_PTH):  # the release folder or the .pth file itself
        enc = load_text_encoder(str(spec), max_tokens=64)
        out = enc.encode(PROMPTS[:3])
        assert out.shape == (3, 64, 32)
        torch.testing.assert_close(out, _reference(bf16_model, tok, PROMPTS[:3], 64), rtol=1e-4, atol=1e-4)


def test_umt5_missing_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(CodecError, match="no such file or directory"):
        load_text_encoder(str(tmp_path / "nowhere"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CodecError, match=r"umT5 tokenizer: missing .*google/umt5-xxl/tokenizer\.json"):
        load_text_encoder(str(empty))
    _tokenizer_files(empty / UMT5_TOKENIZER_SUBDIR)
    with pytest.raises(CodecError, match=f"missing .*{UMT5_PTH}"):
        load_text_encoder(str(empty))
    (empty / "config.json").write_text("{}")
    with pytest.raises(CodecError, match="missing .*model.safetensors"):
        load_text_encoder(str(empty))
    (empty / "config.json").unlink()
    (empty / UMT5_PTH).write_bytes(b"not a checkpoint")
    with pytest.raises(CodecError, match="cannot read umT5 checkpoint"):
        load_text_encoder(str(empty))
