"""`rtrdit eval benchmark`: the paper's protocol (5 s, 24 fps, resized, seeded random pairings)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rtrdit.codecs.video import read_frames
from rtrdit.codecs.video_writer import write_video
from rtrdit.data.stylizers import builtin_styles
from rtrdit.eval.benchmark import find_clips, make_tasks, prepare_clip, resample_indices
from rtrdit.eval.metrics.base import EvalError


def test_resample_25_to_24_fps_keeps_time_and_drops_one_frame_in_25() -> None:
    idx = resample_indices(src_frames=200, src_fps=25.0, fps=24.0, seconds=5.0)
    assert len(idx) == 120 and idx[0] == 0
    assert all(abs(j / 25.0 - i / 24.0) < 1 / 25.0 for i, j in enumerate(idx))  # never more than a frame off
    assert len(set(idx)) == 120 and idx[-1] == 123  # 5 s of 25 fps source, 4 of 124 frames dropped
    assert resample_indices(src_frames=30, src_fps=24.0, fps=24.0, seconds=5.0) == list(range(30))  # short clip
    assert resample_indices(120, 12.0, 24.0, 1.0) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9,
                                                       10, 10, 11, 11]


def test_prepare_clip_cuts_resamples_and_resizes(tmp_path: Path) -> None:
    frames = np.stack([np.full((48, 80, 3), (10 * i) % 250, np.uint8) for i in range(30)])
    write_video(tmp_path / "c.mp4", frames, 25)
    clip = prepare_clip(tmp_path / "c.mp4", size=(32, 24), fps=24.0, seconds=1.0)
    assert clip.shape == (24, 24, 32, 3)
    src = read_frames(tmp_path / "c.mp4", size=(32, 24))
    idx = resample_indices(len(src), 25.0, 24.0, 1.0)
    assert np.array_equal(clip, src[idx])


def test_pairings_are_random_but_seeded() -> None:
    clips = [Path(f"clip{i}.mp4") for i in range(12)]
    styles = list(builtin_styles().values())
    a, b = make_tasks(clips, styles, "tv2v", seed=0), make_tasks(clips, styles, "tv2v", seed=0)
    assert a == b
    assert a != make_tasks(clips, styles, "tv2v", seed=1)
    assert len({t.style for t in a}) > 1  # not one style for all
    assert all(t.prompt in builtin_styles()[t.style].prompts for t in a)
    both = make_tasks(clips, styles, "both", seed=0)
    assert [t.mode for t in both] == ["tv2v"] * 12 + ["rv2v"] * 12
    assert all(t.prompt is None for t in both if t.mode == "rv2v")


def test_find_clips_errors(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="does not exist"):
        find_clips(tmp_path / "nope", None)
    with pytest.raises(EvalError, match="no videos"):
        find_clips(tmp_path, None)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny stylizer (tiny DiT, tiny autoencoder, MiniLM) saved like a real model folder."""
    import torch

    from rtrdit.codecs.text import load_text_encoder
    from rtrdit.codecs.tiny_ae import TinyAutoencoder
    from rtrdit.model.config import get_config
    from rtrdit.model.dit import DiT
    from rtrdit.stream.stylizer import Stylizer, StylizerConfig

    torch.manual_seed(0)
    text = load_text_encoder("minilm")
    dit = DiT(get_config("tiny", text_dim=text.dim, text_len=text.max_tokens))
    path = tmp_path_factory.mktemp("model")
    Stylizer(dit, TinyAutoencoder(), text, StylizerConfig(area=64 * 48)).save_pretrained(path)
    return path


@pytest.mark.slow
def test_benchmark_runs_a_model_over_clips_and_styles_and_writes_the_table(
        tmp_path: Path, tiny_model: Path, weights_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    import torch
    from eval_helpers import csd_state, panning_clip

    from rtrdit.cli import main

    weights = tmp_path / "weights"  # tiny CLIP, a LAION-layout head and a CSD checkpoint
    weights.mkdir()
    (weights / "vit_large_patch14_clip_224.openai").symlink_to(weights_dir / "vit_large_patch14_clip_224.openai")
    torch.save({"weight": torch.full((1, 16), 0.1), "bias": torch.tensor([5.0])}, weights / "sa_0_4_vit_l_14_linear.pth")
    torch.save({"model_state_dict": csd_state()}, weights / "csd_vit_l.pth")

    clips = tmp_path / "clips"
    clips.mkdir()
    for i in range(2):
        write_video(clips / f"c{i}.mp4", panning_clip(frames=16, size=(80, 64), seed=i), 25)
    out = tmp_path / "bench"
    args = ["eval", "benchmark", "--clips", str(clips), "--out", str(out), "--model", str(tiny_model),
            "--mode", "both", "--seconds", "0.5", "--size", "64x48", "--seed", "3", "--weights", str(weights)]
    assert main(args) == 0
    report = json.loads((out / "report.json").read_text())
    assert [v["mode"] for v in report["videos"]] == ["tv2v", "tv2v", "rv2v", "rv2v"]
    assert all(v["frames"] == 12 for v in report["videos"])  # 0.5 s at 24 fps
    assert set(report["mean"]) == {"clip_t", "csd", "clip_f", "aq", "warp", "psnr", "ssim", "time"}
    tv, rv = report["by_mode"]["tv2v"], report["by_mode"]["rv2v"]
    assert tv["clip_t"] is not None and tv["csd"] is None  # CLIP-T scores TV2V videos, CSD RV2V ones
    assert rv["csd"] is not None and rv["clip_t"] is None
    assert 0.4 < report["mean"]["aq"] < 0.6  # (5 + 0.1 * sum of a unit vector) / 10
    assert report["protocol"]["fps"] == 24.0 and report["protocol"]["size"] == [64, 48]
    assert all(v["values"]["time"] > 0 for v in report["videos"])
    table = (out / "table.md").read_text()
    assert "### TV2V (text-guided)" in table and "### RV2V (reference-guided)" in table
    assert "| **RTR-DiT (ours)** (2 videos) |" in table
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        f"{m}_per_frame.png" for m in ("aq", "clip_f", "clip_t", "csd", "psnr", "ssim", "warp")]
    rows = [json.loads(line) for line in (out / "list.jsonl").read_text().splitlines()]
    assert all((out / r["pred"]).is_file() and (out / r["target"]).is_file() for r in rows)
    assert all((out / r["reference"]).is_file() for r in rows if r["mode"] == "rv2v")
    assert read_frames(out / rows[0]["source"]).shape == (12, 48, 64, 3)

    # the written list re-evaluates to the same numbers
    capsys.readouterr()
    assert main(["eval", "--list", str(out / "list.jsonl"), "--metrics", "warp,psnr,ssim,time",
                 "--json", str(tmp_path / "again.json")]) == 0
    again = json.loads((tmp_path / "again.json").read_text())
    for key in ("warp", "psnr", "ssim", "time"):
        assert again["mean"][key] == pytest.approx(report["mean"][key])


def test_benchmark_fails_in_one_line_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rtrdit.cli import main

    clips = tmp_path / "clips"
    clips.mkdir()
    write_video(clips / "c.mp4", np.zeros((4, 32, 32, 3), np.uint8), 24)
    cases = [
        (["--model", str(tmp_path / "no-model")], "cannot load the model"),
        (["--metrics", "clip_f", "--weights", str(tmp_path)], "open_clip_model.safetensors"),
        (["--styles", "ink_wash,nope"], "unknown style 'nope'"),
        (["--mode", "rv2v", "--metrics", "clip_t"], "clip_t needs prompts"),
        (["--size", "64by48"], "WIDTHxHEIGHT"),
    ]
    for extra, message in cases:
        out = tmp_path / "out"
        assert main(["eval", "benchmark", "--clips", str(clips), "--out", str(out), *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert message in err[-1] and "Traceback" not in "\n".join(err)
        assert not (out / "videos").exists() or not any((out / "videos").iterdir())
