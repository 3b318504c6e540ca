"""Latent shards: encode is exact, killed half way (a real SIGKILL) and resumed to the same shards,
and ShardDataset gives batches of the right shapes mixing TV2V and RV2V at the chosen ratio."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from rtrdit.cli import main
from rtrdit.codecs import load_codec
from rtrdit.codecs.video import read_frames
from rtrdit.data.build import BuildConfig, build_dataset
from rtrdit.data.generators import make_generator, make_prompter
from rtrdit.data.manifest import read_manifest
from rtrdit.data.shards import EncodeConfig, ShardDataset, encode_manifest, shard_name


@pytest.fixture
def dataset(videos: Path, tmp_path: Path) -> Path:
    """8 rows: 4 clips of 9 frames at 64x64 (two per video), each as a TV2V and an RV2V row."""
    cfg = BuildConfig(out=tmp_path / "ds", videos=[videos], size=(64, 64), frames=9, clips_per_video=2,
                      val_fraction=0.5, seed=1)
    return build_dataset(cfg, make_generator("builtin"), make_prompter("builtin")).manifest


def _tensors(path: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    with safe_open(str(path), framework="pt") as f:
        return f.metadata(), {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open is not a dict


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 240.0) -> None:
    t0 = time.monotonic()
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"encode exited early: {proc.stderr.read() if proc.stderr else ''}")
        if time.monotonic() - t0 > timeout:
            proc.kill()
            raise AssertionError(f"{path} did not appear within {timeout} s")
        time.sleep(0.05)


@pytest.mark.slow
def test_build_validate_encode_kill_resume_load(dataset: Path, codec_dir: Path, minilm, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "validate", str(dataset)]) == 0
    rows = read_manifest(dataset)
    assert [r.mode for _, r in rows] == ["tv2v", "rv2v"] * 4
    out = tmp_path / "shards"
    cmd = [sys.executable, "-m", "rtrdit.cli", "data", "encode", str(dataset), "-o", str(out),
           "--codec", str(codec_dir), "--text-encoder", "minilm", "--shard-size", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}

    # Kill half way, deterministically: the reference image of line 6 (third shard) is a FIFO nobody
    # writes to, so encode blocks while reading it, after finishing shards 0 and 1 and in the middle of
    # shard 2. Then it gets a real SIGKILL.
    ref = dataset.parent / rows[5][1].reference
    saved = ref.with_name("saved.png")
    ref.rename(saved)
    os.mkfifo(ref)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(out / shard_name(1), proc)
        time.sleep(0.5)
        assert proc.poll() is None, "encode must still be running (blocked in shard 2)"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert sorted(p.name for p in out.glob("shard-*")) == [shard_name(0), shard_name(1)]
    assert not (out / "index.json").exists()
    before = {k: (out / shard_name(k)).stat() for k in (0, 1)}
    for k in (0, 1):  # what a kill leaves is complete
        meta, tensors = _tensors(out / shard_name(k))
        assert len(json.loads(meta["rows"])) == 2 and tensors
    # a temp file as a kill during a shard write would leave it: ignored and cleaned up
    (out / f".{shard_name(2)}.x1y2.part").write_bytes(b"\x00" * 100)
    ref.unlink()
    saved.rename(ref)

    done = subprocess.run(cmd + ["--no-progress"], env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "8 rows in 4 shards (2 encoded now, 2 already done)" in done.stdout
    for k in (0, 1):  # finished shards were not redone
        st = (out / shard_name(k)).stat()
        assert (st.st_ino, st.st_mtime_ns) == (before[k].st_ino, before[k].st_mtime_ns)
    assert not list(out.glob(".*.part"))

    # the resumed shards equal one uninterrupted encode
    clean = tmp_path / "clean"
    cfg = EncodeConfig(shard_size=2, codec=str(codec_dir), text_encoder="minilm")
    codec = load_codec(codec_dir)
    encode_manifest(dataset, clean, codec, minilm, cfg, progress=False)
    for k in range(4):
        meta_a, a = _tensors(out / shard_name(k))
        meta_b, b = _tensors(clean / shard_name(k))
        assert meta_a == meta_b and a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), (k, key)
    assert json.loads((out / "index.json").read_text())["shards"] == json.loads((clean / "index.json").read_text())["shards"]

    # latents are the codec's encoding of the clip; text is MiniLM's embedding of the prompt
    _, t0 = _tensors(out / shard_name(0))
    _, row = rows[0]
    video = torch.from_numpy(read_frames(dataset.parent / row.target)).permute(3, 0, 1, 2)[None].float() / 127.5 - 1
    with torch.no_grad():
        want = codec.encode(video)[0].half()
    assert torch.equal(t0["v0.target"][0], want)
    emb = minilm.encode([row.prompt])[0]
    n = len(t0["t0.text"])
    assert torch.allclose(t0["t0.text"].float(), emb[:n], atol=2e-3) and emb[n:].abs().sum() == 0

    # batches: right shapes, modes and references
    ds = ShardDataset(out, split="train", rv2v_ratio=0.5, seed=0, length=16)
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=0)
    modes = []
    for batch in loader:
        assert batch["target"].shape == (4, 16, 3, 8, 8) and batch["source"].shape == (4, 16, 3, 8, 8)
        assert batch["text"].shape == (4, minilm.max_tokens, 384)
        assert batch["reference"].shape == (4, 16, 1, 8, 8)
        for i, mode in enumerate(batch["mode"]):
            assert bool(batch["has_reference"][i]) == (mode == "rv2v")
            assert (batch["reference"][i].abs().sum() > 0) == (mode == "rv2v")
        modes += batch["mode"]
    assert set(modes) == {"tv2v", "rv2v"}


def test_mixing_ratio_windows_and_crops(dataset: Path, codec_dir: Path, minilm, tmp_path: Path) -> None:
    out = tmp_path / "shards"
    codec = load_codec(codec_dir)
    cfg = EncodeConfig(clip_frames=5, window_stride=4, shard_size=3, codec="c", text_encoder="minilm")
    report = encode_manifest(dataset, out, codec, minilm, cfg, progress=False)
    assert report.encoded == [0, 1, 2] and report.shards == 3
    # two windows (start frames 0 and 4) per 9-frame clip, each encoded on its own
    _, t = _tensors(out / shard_name(0))
    row = read_manifest(dataset)[0][1]
    frames = torch.from_numpy(read_frames(dataset.parent / row.source)).permute(3, 0, 1, 2)[None].float() / 127.5 - 1
    assert t["v0.source"].shape == (2, 16, 2, 8, 8)
    with torch.no_grad():
        assert torch.equal(t["v0.source"][1], codec.encode(frames[:, :, 4:9])[0].half())
    assert encode_manifest(dataset, out, codec, minilm, cfg, progress=False).skipped == [0, 1, 2]

    for ratio in (0.0, 1.0):
        ds = ShardDataset(out, rv2v_ratio=ratio, length=12)
        assert {ds[i]["mode"] for i in range(12)} == {"tv2v" if ratio == 0 else "rv2v"}
    ds = ShardDataset(out, rv2v_ratio=0.25, length=400)
    share = np.mean([ds[i]["mode"] == "rv2v" for i in range(400)])
    assert 0.18 < share < 0.32
    # random start: one latent frame out of the window; random crop of 32x16 pixels
    ds = ShardDataset(out, frames=1, crop=(32, 16), rv2v_ratio=0.5, length=40)
    item = ds[0]
    assert item["target"].shape == (16, 1, 2, 4) and item["reference"].shape == (16, 1, 2, 4)
    assert item["text"].shape == (minilm.max_tokens, 384)
    first = [ds[i]["target"] for i in range(40)]
    assert len({tuple(x.flatten()[:8].tolist()) for x in first}) > 10  # starts/crops/rows vary
    assert all(torch.equal(a, ds[i]["target"]) for i, a in enumerate(first[:5]))  # seeded
    ds.set_epoch(1)
    assert not all(torch.equal(a, ds[i]["target"]) for i, a in enumerate(first[:5]))
    with pytest.raises(ValueError, match="shorter than frames=9"):
        ShardDataset(out, frames=9)  # windows are 5 frames
    with pytest.raises(ValueError, match="smaller than crop"):
        ShardDataset(out, crop=(72, 64))
    only_tv2v = dataset.parent / "tv2v.jsonl"
    only_tv2v.write_text("".join(line for line in dataset.read_text().splitlines(True) if '"tv2v"' in line))
    encode_manifest(only_tv2v, tmp_path / "s2", codec, minilm, cfg, progress=False)
    assert ShardDataset(tmp_path / "s2", rv2v_ratio=0.0)[0]["mode"] == "tv2v"
    with pytest.raises(ValueError, match="no rv2v rows"):
        ShardDataset(tmp_path / "s2", rv2v_ratio=0.5)
    with pytest.raises(ValueError, match="different manifest or settings"):
        encode_manifest(dataset, tmp_path / "s2", codec, minilm, cfg, progress=False)


def test_encode_errors_are_one_line(dataset: Path, codec_dir: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(dataset.read_text().replace('"mode": "tv2v"', '"mode": "t2v"', 1))
    assert main(["data", "encode", str(bad), "-o", str(tmp_path / "o"), "--codec", str(codec_dir)]) == 2
    assert "bad.jsonl:1: unknown mode 't2v'" in capsys.readouterr().err
    assert main(["data", "encode", str(dataset), "-o", str(tmp_path / "o"), "--codec", str(tmp_path / "nope")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    assert main(["data", "encode", str(dataset), "-o", str(tmp_path / "o"), "--clip-frames", "6"]) == 2
    assert "1+4k" in capsys.readouterr().err
    (tmp_path / "afile").write_text("keep")
    assert main(["data", "encode", str(dataset), "-o", str(tmp_path / "afile"), "--codec", str(codec_dir)]) == 2
    assert "afile exists and is not a folder" in capsys.readouterr().err
    assert (tmp_path / "afile").read_text() == "keep"
    assert not (tmp_path / "o").exists()


def test_reference_swap_takes_a_same_style_reference_from_another_clip(videos: Path, codec_dir: Path, minilm,
                                                                        tmp_path: Path) -> None:
    """RV2V samples keep their target/source/text and, with probability reference_swap, take the
    reference of another clip of the same style (so the model cannot just copy the reference's content)."""
    cfg = BuildConfig(out=tmp_path / "ds", videos=[videos], size=(64, 64), frames=5, clips_per_video=2,
                      val_fraction=0.0, seed=1)
    manifest = build_dataset(cfg, make_generator("builtin"), make_prompter("builtin", ["thermal"])).manifest
    out = tmp_path / "shards"
    encode_manifest(manifest, out, load_codec(codec_dir), minilm,
                    EncodeConfig(shard_size=3, codec="c", text_encoder="minilm"), progress=False)
    own = ShardDataset(out, rv2v_ratio=1.0, length=40)
    swapped = ShardDataset(out, rv2v_ratio=1.0, length=40, reference_swap=1.0)
    half = ShardDataset(out, rv2v_ratio=1.0, length=200, reference_swap=0.5)
    refs = {tuple(own[i]["reference"].flatten()[:16].tolist()) for i in range(40)}
    assert len(refs) == 4  # four clips, one reference each
    for i in range(40):
        a, b = own[i], swapped[i]
        assert torch.equal(a["target"], b["target"]) and torch.equal(a["text"], b["text"])
        assert not torch.equal(a["reference"], b["reference"])  # always another clip's reference
        assert tuple(b["reference"].flatten()[:16].tolist()) in refs
    changed = np.mean([not torch.equal(own_ref["reference"], half[i]["reference"])
                       for i, own_ref in enumerate(ShardDataset(out, rv2v_ratio=1.0, length=200))])
    assert 0.35 < changed < 0.65
    with pytest.raises(ValueError, match="reference_swap"):
        ShardDataset(out, reference_swap=1.5)


def test_tv2v_samples_draw_among_their_styles_prompts(videos: Path, codec_dir: Path, minilm, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The built-in prompter gives each clip distinct styles and lists each style's paraphrases on the
    TV2V row; encode stores them all, and a TV2V sample uses any prompt of its own style (never another
    style's), every one of them over enough draws; paraphrases=False keeps the row's own prompt."""
    from rtrdit.data.stylizers import builtin_styles

    styles = builtin_styles()
    cfg = BuildConfig(out=tmp_path / "ds", videos=[videos], size=(64, 64), frames=5, clips_per_video=2,
                      styles_per_clip=2, rv2v=False, val_fraction=0.0, seed=1)
    manifest = build_dataset(cfg, make_generator("builtin"), make_prompter("builtin", ["thermal", "watercolor"])).manifest
    rows = [r for _, r in read_manifest(manifest)]
    clip_styles: dict[str, set[str]] = {}
    for r in rows:
        clip_styles.setdefault(r.source, set()).add(r.extra["style"])
        assert r.extra["prompts"] == list(styles[r.extra["style"]].prompts) and r.prompt in r.extra["prompts"]
    assert len(clip_styles) == 4 and all(s == {"thermal", "watercolor"} for s in clip_styles.values())
    out = tmp_path / "shards"
    encode_manifest(manifest, out, load_codec(codec_dir), minilm,
                    EncodeConfig(shard_size=3, codec="c", text_encoder="minilm"), progress=False)
    index = json.loads((out / "index.json").read_text())
    known: list[tuple[torch.Tensor, str, str]] = []  # (target latents, style, the row's own prompt)
    for shard in index["shards"]:
        _, tensors = _tensors(out / shard["file"])
        known += [(tensors[f"v{r['video']}.target"], r["style"], r["prompt"]) for r in shard["rows"]]
    emb = {p: minilm.encode([p])[0].float() for s in ("thermal", "watercolor") for p in styles[s].prompts}

    def draws(paraphrases: bool) -> list[tuple[str, str, str]]:
        ds = ShardDataset(out, rv2v_ratio=0.0, length=120, paraphrases=paraphrases)
        got = []
        for i in range(len(ds)):
            item = ds[i]
            style, own = next((s, p) for t, s, p in known if any(torch.equal(item["target"], w.float()) for w in t))
            prompt = min(emb, key=lambda p: float((item["text"] - emb[p]).abs().max()))
            assert float((item["text"] - emb[prompt]).abs().max()) < 1e-2
            got.append((style, own, prompt))
        return got

    drawn = draws(True)
    for style in ("thermal", "watercolor"):
        assert {p for s, _, p in drawn if s == style} == set(styles[style].prompts)
    assert all(p == own for _, own, p in draws(False))
    bad = manifest.parent / "bad.jsonl"  # beside the clips: paths are relative to the manifest
    bad.write_text(manifest.read_text().replace('"prompts": [', '"prompts": ["", ', 1))
    assert main(["data", "encode", str(bad), "-o", str(tmp_path / "o"), "--codec", str(codec_dir)]) == 2
    assert "bad.jsonl:1: 'prompts' must be a list of non-empty strings" in capsys.readouterr().err


def test_torchrun_encode_equals_one_process(dataset: Path, codec_dir: Path, tmp_path: Path) -> None:
    """Two processes under torchrun (gloo) each encode every other shard and the first writes the index:
    the shards and the index are those of a single process."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR",
                                                             "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    args = ["data", "encode", str(dataset), "--codec", str(codec_dir), "--text-encoder", "minilm",
            "--shard-size", "2", "--no-progress"]
    runs = {
        "one": [sys.executable, "-m", "rtrdit.cli", *args, "-o", str(tmp_path / "one")],
        "two": [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                "-m", "rtrdit.cli", *args, "-o", str(tmp_path / "two")],
    }
    done = {name: subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
            for name, cmd in runs.items()}
    for name, proc in done.items():
        assert proc.returncode == 0, (name, proc.stderr[-2000:])
    assert "8 rows in 4 shards (2 encoded now, 0 already done by this process of 2)" in done["two"].stdout
    assert done["two"].stdout.count("rows in") == 1  # one report, from the first process
    one, two = (json.loads((tmp_path / n / "index.json").read_text()) for n in ("one", "two"))
    assert one == two and len(one["shards"]) == 4
    for k in range(4):
        meta_a, a = _tensors(tmp_path / "one" / shard_name(k))
        meta_b, b = _tensors(tmp_path / "two" / shard_name(k))
        assert meta_a == meta_b and a.keys() == b.keys()
        assert all(torch.equal(a[key], b[key]) for key in a), k
