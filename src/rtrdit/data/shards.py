"""Precomputed training data: VAE latents and text embeddings in safetensors shards, and the
PyTorch dataset that mixes TV2V and RV2V samples over them (paper, sections 3.1 and 4.1).

Shard ``k`` holds manifest rows ``[k*S, (k+1)*S)``; a source/target pair shared by a TV2V and an RV2V
row, or a repeated prompt, is stored once. A shard is written to a temporary file and renamed, and
carries its rows and the encode fingerprint in its header, so a file that exists is complete: a
killed ``encode`` resumes by skipping the shards already there. ``index.json`` is written last.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rtrdit.data.manifest import ManifestError, ManifestRow, read_manifest
from rtrdit.errors import one_line
from rtrdit.files import atomic_path, atomic_write_text

INDEX = "index.json"
_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


@dataclass
class EncodeConfig:
    """How ``rtrdit data encode`` turns a manifest into shards."""

    size: tuple[int, int] | None = None  # (width, height) frames are resized/cropped to; None: as stored
    clip_frames: int | None = None  # frames per encoded window (1+4k); None: the whole row (cut to 1+4k)
    window_stride: int | None = None  # frames between window starts; None: one window from frame 0
    shard_size: int = 64  # manifest rows per shard
    dtype: str = "float16"  # storage dtype of latents and text embeddings
    codec: str = ""  # names recorded in the fingerprint (what made the latents)
    text_encoder: str = ""

    def check(self) -> None:
        if self.size is not None and (self.size[0] % 8 or self.size[1] % 8 or min(self.size) < 8):
            raise ValueError(f"encode size must be multiples of 8, got {self.size[0]}x{self.size[1]}")
        if self.clip_frames is not None and (self.clip_frames < 1 or (self.clip_frames - 1) % 4):
            raise ValueError(f"clip frames must be 1+4k, got {self.clip_frames}")
        if self.window_stride is not None and (self.window_stride < 4 or self.window_stride % 4):
            raise ValueError(f"window stride must be a positive multiple of 4 frames, got {self.window_stride}")
        if self.shard_size < 1:
            raise ValueError(f"shard size must be >= 1, got {self.shard_size}")
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(_DTYPES)}, got {self.dtype!r}")


@dataclass
class EncodeReport:
    """What an encode run did."""

    index: Path
    rows: int = 0
    shards: int = 0
    encoded: list[int] = field(default_factory=list)  # shard numbers written by this run
    skipped: list[int] = field(default_factory=list)  # shard numbers already complete


def shard_name(k: int) -> str:
    return f"shard-{k:05d}.safetensors"


def _fingerprint(manifest: Path, cfg: EncodeConfig) -> str:
    h = hashlib.sha256(manifest.read_bytes())
    h.update(json.dumps(asdict(cfg), sort_keys=True).encode())
    return h.hexdigest()[:32]


def _save_shard(path: Path, tensors: dict[str, Tensor], meta: dict[str, str]) -> None:
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=meta)


def read_shard_meta(path: Path) -> dict[str, Any] | None:
    """The header of a finished shard (``fingerprint`` and ``rows``), or None if unreadable."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        return {"fingerprint": meta.get("fingerprint"), "rows": json.loads(meta.get("rows", "null"))}
    except Exception:  # noqa: BLE001 - an unreadable or foreign shard is simply not reusable
        return None


def _windows(frames: int, cfg: EncodeConfig) -> tuple[int, list[int]]:
    """Window length (1+4k) and start frames for a row of ``frames`` frames."""
    length = cfg.clip_frames if cfg.clip_frames is not None else 1 + 4 * ((frames - 1) // 4)
    if frames < length:
        raise ValueError(f"clip has {frames} frames, fewer than the {length} frames of a window")
    if cfg.window_stride is None:
        return length, [0]
    return length, list(range(0, frames - length + 1, cfg.window_stride))


def _video_tensor(frames: np.ndarray) -> Tensor:
    """(T, H, W, 3) uint8 -> [1, 3, T, H, W] float in [-1, 1]."""
    return torch.from_numpy(np.array(frames, copy=True)).permute(3, 0, 1, 2).unsqueeze(0).float().div(127.5).sub(1.0)


def _text_tokens(emb: Tensor) -> int:
    """Number of leading token rows that are not zero padding (at least 1)."""
    nonzero = emb.abs().sum(-1) > 0
    idx = torch.nonzero(nonzero).flatten()
    return int(idx.max()) + 1 if len(idx) else 1


def _paraphrases(row: ManifestRow) -> list[str]:
    """The other prompts of a TV2V row that describe the same target (manifest key ``prompts``,
    written by the built-in prompter), without the row's own prompt; training draws among them."""
    extra = row.extra.get("prompts")
    if row.mode != "tv2v" or extra is None:
        return []
    if not isinstance(extra, list) or not all(isinstance(p, str) and p.strip() for p in extra):
        raise ValueError(f"'prompts' must be a list of non-empty strings, got {extra!r}")
    return [p for p in dict.fromkeys(extra) if p != row.prompt]


class _ShardWriter:
    """Encodes the rows of one shard, storing each video pair, prompt and reference once."""

    def __init__(self, codec: Any, text: Any, cfg: EncodeConfig, base: Path, device: str) -> None:
        self.codec, self.text, self.cfg, self.base, self.device = codec, text, cfg, base, device
        self.dtype = _DTYPES[cfg.dtype]
        self.tensors: dict[str, Tensor] = {}
        self.rows: list[dict[str, Any]] = []
        self.videos: dict[tuple[str, str], int] = {}
        self.prompts: dict[str, int] = {}

    @torch.inference_mode()
    def _encode(self, frames: np.ndarray) -> Tensor:
        z = self.codec.encode(_video_tensor(frames).to(self.device))
        return z[0].float().cpu().to(self.dtype)

    def _read(self, path: Path) -> np.ndarray:
        from rtrdit.codecs.video import read_frames

        frames = read_frames(path, size=self.cfg.size, mode="crop")
        h, w = frames.shape[1:3]
        if h % 8 or w % 8:
            raise ValueError(f"{path}: frames are {w}x{h}, not multiples of 8 (pass an encode size)")
        return frames

    def add(self, line: int, row: ManifestRow) -> None:
        paths = row.resolve(self.base)
        key = (row.source, row.target)
        if key not in self.videos:
            src, tgt = self._read(paths["source"]), self._read(paths["target"])  # type: ignore[arg-type]
            if src.shape != tgt.shape:
                raise ValueError(f"source is {src.shape[2]}x{src.shape[1]}x{len(src)} frames, "
                                 f"target {tgt.shape[2]}x{tgt.shape[1]}x{len(tgt)}")
            length, starts = _windows(len(src), self.cfg)
            j = len(self.videos)
            self.tensors[f"v{j}.source"] = torch.stack([self._encode(src[s:s + length]) for s in starts])
            self.tensors[f"v{j}.target"] = torch.stack([self._encode(tgt[s:s + length]) for s in starts])
            self.videos[key] = j
        j = self.videos[key]
        entry: dict[str, Any] = {"line": line, "mode": row.mode, "split": row.split, "video": j,
                                 "text": self._text_id(row.prompt), "prompt": row.prompt,
                                 "windows": int(self.tensors[f"v{j}.source"].shape[0]),
                                 "latent_shape": list(self.tensors[f"v{j}.source"].shape[1:])}
        paraphrases = _paraphrases(row)
        if paraphrases:
            entry["texts"] = [entry["text"], *(self._text_id(p) for p in paraphrases)]
        if row.mode == "rv2v":
            ref = self._reference(paths["reference"], self.tensors[f"v{j}.source"].shape[-2:])  # type: ignore[arg-type]
            entry["reference"] = f"r{len(self.rows)}.reference"
            self.tensors[entry["reference"]] = ref
        if "style" in row.extra:
            entry["style"] = row.extra["style"]
        self.rows.append(entry)

    def _text_id(self, prompt: str) -> int:
        """Index of the prompt's stored embedding, encoding it the first time it is seen."""
        if prompt not in self.prompts:
            with torch.inference_mode():
                emb = self.text.encode([prompt])[0].float().cpu()
            t = len(self.prompts)
            self.tensors[f"t{t}.text"] = emb[:_text_tokens(emb)].to(self.dtype)
            self.prompts[prompt] = t
        return self.prompts[prompt]

    def _reference(self, path: Path, latent_hw: torch.Size) -> Tensor:
        from rtrdit.codecs.photo import read_photo
        from rtrdit.codecs.video import resize_frame

        img = read_photo(path)  # upright, as a viewer shows it
        h, w = int(latent_hw[0]) * 8, int(latent_hw[1]) * 8
        img = resize_frame(img, (w, h), "crop")
        return self._encode(img[None])  # [16, 1, h, w]


def encode_manifest(
    manifest: str | os.PathLike[str],
    out: str | os.PathLike[str],
    codec: Any,
    text_encoder: Any,
    cfg: EncodeConfig,
    device: str = "cpu",
    progress: bool = True,
    overwrite: bool = False,
    on_shard: Callable[[int], None] | None = None,
    rank: int = 0,
    world: int = 1,
    barrier: Callable[[], None] | None = None,
) -> EncodeReport:
    """Encode every row of ``manifest`` into shards under ``out``; shards already finished by an
    earlier run with the same manifest and settings are skipped. ``codec`` is a LatentCodec and
    ``text_encoder`` a TextEncoder (see docs/architecture.md). Under torchrun each of the ``world``
    processes encodes every world-th shard and process 0 writes the index once all are done
    (``barrier`` waits for them), which gives the same shards and index as one process."""
    from tqdm import tqdm

    cfg.check()
    manifest = Path(manifest)
    rows = read_manifest(manifest)
    base = manifest.parent
    for line, row in rows:  # fail before any work on a missing file or a bad paraphrase list
        for key, p in row.resolve(base).items():
            if p is not None and not p.exists():
                raise ManifestError(f"{manifest}:{line}: {key}: no such file {p}")
        try:
            _paraphrases(row)
        except ValueError as exc:
            raise ManifestError(f"{manifest}:{line}: {exc}") from None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fp = _fingerprint(manifest, cfg)
    wait = barrier or (lambda: None)
    n_shards = (len(rows) + cfg.shard_size - 1) // cfg.shard_size
    if rank == 0:  # the folder is checked and cleaned once, before any process writes to it
        for stale in out.glob(".shard-*.part"):  # leftovers of a killed run
            stale.unlink(missing_ok=True)
        existing = sorted(out.glob("shard-*.safetensors"))
        if overwrite:
            for p in existing:
                p.unlink()
            (out / INDEX).unlink(missing_ok=True)
        else:
            for p in existing:
                meta = read_shard_meta(p)
                if meta is None or meta["fingerprint"] != fp:
                    raise ValueError(f"{out} holds shards from a different manifest or settings ({p.name}); "
                                     "use another output folder or --overwrite")
    wait()
    report = EncodeReport(out / INDEX, rows=len(rows), shards=n_shards)
    mine = range(rank, n_shards, world)
    total = sum(len(rows[k * cfg.shard_size:(k + 1) * cfg.shard_size]) for k in mine)
    bar = tqdm(total=total, unit="row", desc="encode", disable=not progress or rank != 0, dynamic_ncols=True)
    try:
        for k in mine:
            chunk = rows[k * cfg.shard_size:(k + 1) * cfg.shard_size]
            path = out / shard_name(k)
            meta = read_shard_meta(path) if path.exists() else None
            if meta is not None and meta["fingerprint"] == fp:
                report.skipped.append(k)
                bar.update(len(chunk))
                continue
            writer = _ShardWriter(codec, text_encoder, cfg, base, device)
            for line, row in chunk:
                try:
                    writer.add(line, row)
                except (ValueError, OSError) as exc:
                    raise ManifestError(f"{manifest}:{line}: {one_line(exc)}") from None
                bar.update(1)
            _save_shard(path, writer.tensors, {"fingerprint": fp, "rows": json.dumps(writer.rows)})
            report.encoded.append(k)
            if on_shard is not None:
                on_shard(k)
    finally:
        bar.close()
    wait()  # every shard is on disk
    if rank != 0:
        return report
    index_shards: list[dict[str, Any]] = []
    for k in range(n_shards):
        meta = read_shard_meta(out / shard_name(k))
        if meta is None or meta["fingerprint"] != fp:
            raise ValueError(f"{out / shard_name(k)}: missing or unreadable after encoding")
        index_shards.append({"file": shard_name(k), "rows": meta["rows"]})
    first = _first_tensors(out / index_shards[0]["file"])
    index = {
        "version": 1,
        "fingerprint": fp,
        "manifest": str(manifest),
        "config": asdict(cfg),
        "text_tokens": int(getattr(text_encoder, "max_tokens", first["text"].shape[0])),
        "text_dim": int(first["text"].shape[-1]),
        "latent_channels": int(first["video"].shape[1]),
        "rows": len(rows),
        "shards": index_shards,
    }
    atomic_write_text(out / INDEX, json.dumps(index, indent=1))
    return report


def _first_tensors(path: Path) -> dict[str, Tensor]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return {"text": f.get_tensor("t0.text"), "video": f.get_tensor("v0.source")}


# ----------------------------------------------------------------------------- dataset


@dataclass(frozen=True)
class _Sample:
    shard: str
    row: dict[str, Any]


def _by_style(pool: list[_Sample]) -> dict[str, list[_Sample]]:
    """Samples grouped by their style label (rows without one are left out)."""
    out: dict[str, list[_Sample]] = {}
    for s in pool:
        if s.row.get("style") is not None:
            out.setdefault(s.row["style"], []).append(s)
    return out


class ShardDataset(torch.utils.data.Dataset):
    """Training samples from encoded shards, mixing TV2V and RV2V rows at ``rv2v_ratio``.

    Each item draws (from ``seed``, the epoch and the index) the mode, a row of that mode, an encoded
    window (random start frame), optionally a run of ``frames`` (1+4k) video frames inside it (random
    latent start) and a random ``crop=(width, height)`` (pixels, multiples of 8). With probability
    ``reference_swap`` an RV2V sample takes its reference from another clip of the same style, so the
    model learns the reference's style rather than copying its content. With ``paraphrases`` a TV2V
    row that stores its style's other prompts (``texts``) uses one of them, drawn uniformly, so every
    prompt of a style is learnt from every clip of it. Yields the dict of
    docs/architecture.md: target/source ``[16, F, h, w]``, text ``[L, D]``, reference ``[16, 1, h, w]``
    (zeros for TV2V), has_reference, mode. Frames/size are fixed per dataset, so default collation
    batches them.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str | None = None,
        rv2v_ratio: float = 0.5,
        frames: int | None = None,
        crop: tuple[int, int] | None = None,
        seed: int = 0,
        length: int | None = None,
        reference_swap: float = 0.0,
        paraphrases: bool = True,
    ) -> None:
        self.root = Path(root)
        index_path = self.root / INDEX
        if not index_path.is_file():
            raise FileNotFoundError(f"{index_path}: no index (run `rtrdit data encode` to the end first)")
        self.index = json.loads(index_path.read_text(encoding="utf-8"))
        if not 0.0 <= rv2v_ratio <= 1.0:
            raise ValueError(f"rv2v_ratio must be in [0, 1], got {rv2v_ratio}")
        if frames is not None and (frames < 1 or (frames - 1) % 4):
            raise ValueError(f"frames must be 1+4k, got {frames}")
        if crop is not None and (crop[0] % 8 or crop[1] % 8 or min(crop) < 8):
            raise ValueError(f"crop must be multiples of 8, got {crop}")
        samples = [_Sample(s["file"], r) for s in self.index["shards"] for r in s["rows"]
                   if split is None or r.get("split") == split]
        self.pools = {m: [s for s in samples if s.row["mode"] == m] for m in ("tv2v", "rv2v")}
        if not samples:
            raise ValueError(f"{self.root}: no rows" + (f" in split {split!r}" if split else ""))
        for mode, share in (("rv2v", rv2v_ratio), ("tv2v", 1.0 - rv2v_ratio)):
            if share > 0 and not self.pools[mode]:
                raise ValueError(f"{self.root}: no {mode} rows" + (f" in split {split!r}" if split else "")
                                 + f" but its share is {share:g}")
        if not 0.0 <= reference_swap <= 1.0:
            raise ValueError(f"reference_swap must be in [0, 1], got {reference_swap}")
        self.rv2v_ratio = rv2v_ratio
        self.reference_swap = reference_swap
        self.paraphrases = paraphrases
        self.rv2v_by_style = _by_style(self.pools["rv2v"]) if reference_swap > 0 else {}
        self.latent_frames = None if frames is None else 1 + (frames - 1) // 4
        self.crop = None if crop is None else (crop[0] // 8, crop[1] // 8)
        for smp in samples:  # fail now, not in the middle of an epoch
            _, nf, h, w = smp.row["latent_shape"]
            where = f"{smp.shard} (manifest line {smp.row['line']})"
            if self.latent_frames is not None and nf < self.latent_frames:
                raise ValueError(f"{where}: clips of {1 + 4 * (nf - 1)} frames are shorter than frames={frames}")
            if self.crop is not None and (self.crop[0] > w or self.crop[1] > h):
                raise ValueError(f"{where}: latents of {w * 8}x{h * 8} pixels are smaller than crop={crop}")
        self.seed = seed
        self.epoch = 0
        self.text_tokens = int(self.index["text_tokens"])
        self._length = length if length is not None else len(samples)

    def set_epoch(self, epoch: int) -> None:
        """Draw different modes/rows/windows/crops next epoch (call before each epoch)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, i: int) -> dict[str, Any]:
        from safetensors import safe_open

        if not 0 <= i < self._length:
            raise IndexError(i)
        rng = np.random.default_rng([self.seed, self.epoch, i])
        mode = "rv2v" if rng.random() < self.rv2v_ratio else "tv2v"
        pool = self.pools[mode]
        s = pool[int(rng.integers(len(pool)))]
        row = s.row
        texts = row.get("texts", []) if self.paraphrases else []
        text_id = texts[int(rng.integers(len(texts)))] if len(texts) > 1 else row["text"]
        with safe_open(str(self.root / s.shard), framework="pt") as f:
            w = int(rng.integers(row["windows"]))
            target = f.get_slice(f"v{row['video']}.target")[w].float()
            source = f.get_slice(f"v{row['video']}.source")[w].float()
            text = f.get_tensor(f"t{text_id}.text").float()
            reference = f.get_tensor(row["reference"]).float() if mode == "rv2v" else None
        others = [o for o in self.rv2v_by_style.get(row.get("style"), [])  # same style, another clip
                  if (o.shard, o.row["video"]) != (s.shard, row["video"])] if mode == "rv2v" else []
        if others and rng.random() < self.reference_swap:
            o = others[int(rng.integers(len(others)))]
            with safe_open(str(self.root / o.shard), framework="pt") as f:
                reference = f.get_tensor(o.row["reference"]).float()
        c, nf, h, wd = target.shape
        if self.latent_frames is not None:
            t0 = int(rng.integers(nf - self.latent_frames + 1))
            target, source = target[:, t0:t0 + self.latent_frames], source[:, t0:t0 + self.latent_frames]
        if self.crop is not None:
            cw, ch = self.crop
            y0, x0 = int(rng.integers(h - ch + 1)), int(rng.integers(wd - cw + 1))
            target, source = target[..., y0:y0 + ch, x0:x0 + cw], source[..., y0:y0 + ch, x0:x0 + cw]
            if reference is not None:
                reference = reference[..., y0:y0 + ch, x0:x0 + cw]
        padded = torch.zeros(self.text_tokens, text.shape[-1])
        n = min(len(text), self.text_tokens)
        padded[:n] = text[:n]
        if reference is None:
            reference = torch.zeros(c, 1, *target.shape[-2:])
        return {"target": target.contiguous(), "source": source.contiguous(), "text": padded,
                "reference": reference.contiguous(), "has_reference": torch.tensor(mode == "rv2v"),
                "mode": mode}
