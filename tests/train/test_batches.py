"""The data side of training: random-latent dataset format, the resumable batch plan."""

from __future__ import annotations

import pytest
import torch

from rtrdit.train.batches import BatchPlan, RandomLatentDataset, collate, dataset_modes
from rtrdit.train.config import ConfigError


def test_random_dataset_has_the_shard_format_and_is_deterministic() -> None:
    ds = RandomLatentDataset(4, frames=3, hw=(8, 8), text_tokens=5, text_dim=16)
    s = ds[0]
    assert s["target"].shape == (16, 3, 8, 8) and s["source"].shape == (16, 3, 8, 8)
    assert s["text"].shape == (5, 16) and s["reference"].shape == (16, 1, 8, 8)
    assert s["mode"] in ("tv2v", "rv2v") and s["has_reference"].dtype == torch.bool
    assert torch.equal(ds[0]["target"], RandomLatentDataset(4, text_tokens=5, text_dim=16)[0]["target"])
    tv = [ds[i] for i in range(4) if ds[i]["mode"] == "tv2v"]
    assert tv and all(not bool(s["has_reference"]) and not s["reference"].any() for s in tv)
    assert sorted(set(dataset_modes(ds))) == ["rv2v", "tv2v"]


def test_plan_batches_are_mode_pure_cover_the_data_and_split_across_ranks() -> None:
    ds = RandomLatentDataset(12, text_dim=16)
    modes = tuple(dataset_modes(ds))
    one = BatchPlan(modes, 4, world=1, micro=4, seed=3)
    seen = []
    for step in range(3):  # one epoch: 6 + 6 samples in batches of 4 -> 1 + 1 (+ remainder dropped)
        idx = one.global_indices(step)
        assert len({modes[i] for i in idx}) == 1
        seen += idx
    assert one.global_indices(0) == BatchPlan(modes, 4, world=1, micro=4, seed=3).global_indices(0)
    # two ranks with accumulation use exactly the global batch of one process
    two = BatchPlan(modes, 4, world=2, micro=1, seed=3)
    assert two.accum == 2
    keys = sorted(k for a in range(2) for r in range(2) for k in two.micro_keys(a, r))
    assert keys == one.micro_keys(0, 0) == [0, 1, 2, 3]
    assert two.global_indices(5) == one.global_indices(5)


def test_plan_refuses_impossible_batches() -> None:
    with pytest.raises(ConfigError, match="multiple"):
        BatchPlan(("tv2v",) * 8, 3, world=2, micro=1, seed=0)
    with pytest.raises(ConfigError, match="at least"):
        BatchPlan(("tv2v", "rv2v"), 2, world=1, micro=2, seed=0)


def test_collate_pads_text_and_drops_reference_for_tv2v() -> None:
    ds = RandomLatentDataset(4, text_dim=16, rv2v_fraction=0.0)
    a, b = ds[0], ds[1]
    b = {**b, "text": b["text"][:3]}
    batch = collate([a, b], torch.device("cpu"))
    assert batch["text"].shape == (2, 8, 16) and not batch["text"][1, 3:].any()
    assert batch["reference"] is None and batch["mode"] == "tv2v"


class RedrawnDataset(RandomLatentDataset):
    """Random latents whose mode is redrawn every epoch, like ShardDataset (set_epoch + mode_of)."""

    def __init__(self, n: int) -> None:
        super().__init__(n, text_dim=16)
        self.epoch = 0
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        g = torch.Generator().manual_seed(1000 + epoch)
        self.modes = ["rv2v" if bool(b) else "tv2v" for b in torch.rand(self.n, generator=g) < 0.5]

    def mode_of(self, i: int) -> str:
        return self.modes[i]


def test_plan_follows_modes_redrawn_every_epoch() -> None:
    from rtrdit.train.batches import epoch_modes, load_micro_batch

    ds = RedrawnDataset(16)
    modes = epoch_modes(ds)
    assert callable(modes)
    plan = BatchPlan(modes, 4, world=1, micro=4, seed=0)
    assert plan.per_epoch and plan.epoch_length() == 3
    for step in range(12):  # four epochs
        batch, _ = load_micro_batch(ds, plan, step, 0, 0, torch.device("cpu"))
        assert ds.epoch == step // 3  # the dataset was moved to the step's epoch before loading
        idx = plan.global_indices(step)
        assert {ds.mode_of(i) for i in idx} == {batch["mode"]}
