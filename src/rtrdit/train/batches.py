"""Training data: the sample dict of `rtrdit.data.shards.ShardDataset`, a random-latent dataset of
the same format, and a deterministic, resumable plan of global batches.

Each global batch holds samples of one mode (all TV2V or all RV2V), so one DiT forward serves it
(the reference is per batch) and every rank uses the same parameters in a step. Which samples a
step uses is a pure function of (seed, step): the data position of a checkpoint is its step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from rtrdit.train.config import ConfigError, DataSection
from rtrdit.train.randomness import generator

log = logging.getLogger("rtrdit.train")

Sample = dict[str, Any]


class SampleDataset(Protocol):
    """Map-style dataset of sample dicts (target, source, text, reference, has_reference, mode)."""

    def __len__(self) -> int: ...
    def __getitem__(self, i: int) -> Sample: ...


class RandomLatentDataset:
    """A real dataset of random latents in the ShardDataset format, sample i drawn from (seed, i).

    The target is a fixed function of the source plus noise, so a model can learn something."""

    def __init__(self, n: int, frames: int = 3, hw: Sequence[int] = (8, 8), text_tokens: int = 8,
                 text_dim: int = 16, rv2v_fraction: float = 0.5, seed: int = 0) -> None:
        self.n, self.frames, self.hw = n, frames, tuple(hw)
        self.text_tokens, self.text_dim, self.seed = text_tokens, text_dim, seed
        self.modes = ["rv2v" if (i + 0.5) / n < rv2v_fraction else "tv2v" for i in range(n)] if n else []

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Sample:
        if not 0 <= i < self.n:
            raise IndexError(i)
        g = generator("random-latents", self.seed, i)
        h, w = self.hw
        source = torch.randn(16, self.frames, h, w, generator=g)
        target = 0.5 * source.flip(0) + 0.5 * torch.randn(16, self.frames, h, w, generator=g)
        text = torch.randn(self.text_tokens, self.text_dim, generator=g)
        rv2v = self.modes[i] == "rv2v"
        reference = target[:, :1].clone() if rv2v else torch.zeros(16, 1, h, w)
        return {"target": target, "source": source, "text": text, "reference": reference,
                "has_reference": torch.tensor(rv2v), "mode": self.modes[i]}


def dataset_modes(ds: SampleDataset) -> list[str]:
    """The mode of every sample: the dataset's `modes` attribute or `mode_of(i)` method if it has
    one (cheap), else read from every sample (loads the whole dataset once)."""
    modes = getattr(ds, "modes", None)
    if modes is not None:
        return list(modes)
    mode_of = getattr(ds, "mode_of", None)
    if callable(mode_of):
        return [str(mode_of(i)) for i in range(len(ds))]
    log.info("reading the mode of all %d samples (the dataset has no cheap mode_of)", len(ds))
    return [ds[i]["mode"] for i in range(len(ds))]


def epoch_modes(ds: SampleDataset) -> tuple[str, ...] | Callable[[int], tuple[str, ...]]:
    """Modes for the batch plan: per epoch when the dataset redraws its samples each epoch and
    can tell a sample's mode cheaply (`set_epoch` + `mode_of`), else fixed (epoch 0's draw)."""
    if callable(getattr(ds, "set_epoch", None)) and callable(getattr(ds, "mode_of", None)):
        def modes(epoch: int) -> tuple[str, ...]:
            current = getattr(ds, "epoch", 0)
            ds.set_epoch(epoch)  # type: ignore[attr-defined]
            try:
                return tuple(str(ds.mode_of(i)) for i in range(len(ds)))  # type: ignore[attr-defined]
            finally:
                ds.set_epoch(current)  # type: ignore[attr-defined]

        return modes
    return tuple(dataset_modes(ds))


def open_dataset(cfg: DataSection, text_dim: int, rank: int = 0, barrier: Any = None) -> SampleDataset:
    """The dataset a config names: synthetic random latents, existing shards, or shards built now
    with the built-in stylizers when `build_if_missing` (rank 0 builds, the others wait)."""
    if cfg.synthetic > 0:
        return RandomLatentDataset(cfg.synthetic, cfg.synthetic_frames, cfg.synthetic_hw,
                                   cfg.synthetic_text_tokens, text_dim, cfg.synthetic_rv2v_fraction)
    shards = Path(cfg.shards)
    present = (shards / "index.json").is_file()
    if not present and not cfg.build_if_missing:
        raise ConfigError(f"no dataset at {shards} (index.json missing); run `rtrdit data build` and "
                          "`rtrdit data encode`, or set data.build_if_missing / data.synthetic")
    if rank == 0 and not present:
        log.warning("dataset %s is absent: building the small built-in dataset there", shards)
        build_small_dataset(cfg)
    if barrier is not None:
        barrier()
    from rtrdit.data.shards import ShardDataset

    ds = ShardDataset(shards, split=cfg.split, seed=cfg.seed, reference_swap=cfg.reference_swap,
                      paraphrases=cfg.paraphrases)
    dim = int(ds[0]["text"].shape[-1])
    if dim != text_dim:
        raise ConfigError(f"the dataset's text embeddings are {dim}-d but the DiT takes {text_dim}-d "
                          "(set model.overrides.text_dim)")
    return ds


def build_small_dataset(cfg: DataSection) -> None:
    """The tiny configs' dataset, made with rtrdit.data from photos shipped in installed packages:
    clips animated with pans and zooms, targets from the built-in stylizers (TV2V and RV2V rows),
    encoded with the shipped tiny autoencoder and MiniLM into `cfg.shards`."""
    from rtrdit.codecs.base import load_codec
    from rtrdit.codecs.text import load_text_encoder
    from rtrdit.data.build import BuildConfig, build_dataset
    from rtrdit.data.generators import BuiltinStylizer, StylePrompter
    from rtrdit.data.shards import EncodeConfig, encode_manifest

    shards = Path(cfg.shards)
    raw = shards.with_name(shards.name + "-raw")
    if not (raw / "manifest.jsonl").is_file():
        build_dataset(BuildConfig(out=raw, package_images=True, size=(cfg.build_size[0], cfg.build_size[1]),
                                  frames=cfg.build_frames, clips_per_image=cfg.build_clips_per_image,
                                  val_fraction=0.0, seed=cfg.seed), BuiltinStylizer(), StylePrompter())
    encode_manifest(raw / "manifest.jsonl", shards, load_codec("tiny"), load_text_encoder("minilm"),
                    EncodeConfig(codec="tiny", text_encoder="minilm"), progress=False)


@dataclass(frozen=True)
class BatchPlan:
    """Which sample indices every process uses at every step.

    A global batch of `global_batch` samples is split in `accum` micro-steps, each over
    `world` ranks of `micro` samples: rank r, micro-step a uses the slice
    [(a * world + r) * micro, ... + micro). Keys (positions in the global batch) seed the noise."""

    modes: tuple[str, ...] | Callable[[int], tuple[str, ...]]  # fixed, or per epoch
    global_batch: int
    world: int
    micro: int
    seed: int

    def __post_init__(self) -> None:
        if self.global_batch % (self.world * self.micro):
            raise ConfigError(f"batch_size {self.global_batch} is not a multiple of world_size x "
                              f"micro_batch_size = {self.world} x {self.micro}")
        object.__setattr__(self, "_memo", {})  # epoch -> its batches (the last few)
        first = self.modes_at(0)
        object.__setattr__(self, "_size", len(first))
        counts = {m: first.count(m) for m in set(first)}
        if not any(c >= self.global_batch for c in counts.values()):
            raise ConfigError(f"the dataset has {counts or 'no samples'}; each mode needs at least "
                              f"batch_size={self.global_batch} samples")

    def modes_at(self, epoch: int) -> tuple[str, ...]:
        return tuple(self.modes(epoch)) if callable(self.modes) else self.modes

    @property
    def per_epoch(self) -> bool:
        """Whether the dataset redraws its samples every epoch (call set_epoch before loading)."""
        return callable(self.modes)

    @property
    def accum(self) -> int:
        return self.global_batch // (self.world * self.micro)

    def _epoch(self, epoch: int) -> list[list[int]]:
        memo: dict[int, list[list[int]]] = self._memo  # type: ignore[attr-defined]
        if epoch not in memo:
            if len(memo) > 4:
                memo.clear()
            memo[epoch] = self._make_epoch(epoch)
        return memo[epoch]

    def _make_epoch(self, epoch: int) -> list[list[int]]:
        g = generator("epoch", self.seed, epoch)
        batches: list[list[int]] = []
        modes = self.modes_at(epoch)
        for mode in sorted(set(modes)):
            idx = [i for i, m in enumerate(modes) if m == mode]
            perm = [idx[j] for j in torch.randperm(len(idx), generator=g).tolist()]
            batches += [perm[k:k + self.global_batch] for k in range(0, len(perm) - self.global_batch + 1,
                                                                       self.global_batch)]
        order = torch.randperm(len(batches), generator=g).tolist()
        return [batches[j] for j in order]

    def epoch_length(self) -> int:
        """Global batches per epoch: exact for fixed modes; for modes redrawn every epoch a bound
        every draw reaches (mode-pure batches lose at most one batch to the split by mode)."""
        if not self.per_epoch:
            return len(self._epoch(0))
        return max(1, self._size // self.global_batch - 1)  # type: ignore[attr-defined]

    def global_indices(self, step: int) -> list[int]:
        """The global batch of a step (epochs of mode-pure batches, each epoch reshuffled)."""
        epoch, k = divmod(step, self.epoch_length())
        batches = self._epoch(epoch)
        if k >= len(batches):
            raise ConfigError(f"epoch {epoch} of the dataset has too few samples of each mode for "
                              f"batch_size={self.global_batch}")
        return batches[k]

    def position(self, step: int) -> dict[str, int]:
        epoch, k = divmod(step, self.epoch_length())
        return {"epoch": epoch, "batch": k}

    def micro_keys(self, accum_i: int, rank: int) -> list[int]:
        start = (accum_i * self.world + rank) * self.micro
        return list(range(start, start + self.micro))


def collate(samples: list[Sample], device: torch.device) -> dict[str, Any]:
    """Stack sample dicts into a batch (text zero-padded to the longest prompt)."""
    n_text = max(s["text"].shape[0] for s in samples)
    text = torch.stack([torch.nn.functional.pad(s["text"], (0, 0, 0, n_text - s["text"].shape[0]))
                        for s in samples])
    has_ref = bool(samples[0]["has_reference"])
    if any(bool(s["has_reference"]) != has_ref for s in samples):
        raise ValueError("a batch mixes samples with and without a reference")
    out: dict[str, Any] = {
        "target": torch.stack([s["target"] for s in samples]).float().to(device),
        "source": torch.stack([s["source"] for s in samples]).float().to(device),
        "text": text.float().to(device),
        "reference": torch.stack([s["reference"] for s in samples]).float().to(device) if has_ref else None,
        "mode": samples[0]["mode"],
    }
    for extra in ("trajectory",):
        if extra in samples[0]:
            out[extra] = torch.stack([s[extra] for s in samples]).float().to(device)
    return out


def load_micro_batch(ds: SampleDataset, plan: BatchPlan, step: int, accum_i: int, rank: int,
                     device: torch.device) -> tuple[dict[str, Any], list[int]]:
    """The micro-batch of (step, accumulation index, rank) and its sample keys."""
    indices = plan.global_indices(step)
    if plan.per_epoch:
        ds.set_epoch(plan.position(step)["epoch"])  # type: ignore[attr-defined]
    keys = plan.micro_keys(accum_i, rank)
    return collate([ds[indices[k]] for k in keys], device), keys


__all__ = [
    "BatchPlan",
    "RandomLatentDataset",
    "SampleDataset",
    "collate",
    "dataset_modes",
    "epoch_modes",
    "load_micro_batch",
    "open_dataset",
]
