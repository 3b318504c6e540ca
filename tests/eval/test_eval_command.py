"""`rtrdit eval` end to end on real video files: reports, and one-line errors with no output left."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from eval_helpers import crossfade_clip, panning_clip

from rtrdit.cli import main
from rtrdit.codecs.video_writer import write_video


@pytest.fixture
def videos(tmp_path: Path) -> Path:
    """src/ and pred/ folders: 'still' follows the source, 'flicker' flickers."""
    clip = panning_clip(frames=8, step=2, size=(96, 64))
    for sub in ("src", "pred"):
        (tmp_path / sub).mkdir()
    write_video(tmp_path / "src" / "still.mp4", clip, 24)
    write_video(tmp_path / "src" / "flicker.mp4", clip, 24)
    write_video(tmp_path / "pred" / "still.mp4", clip, 24)
    gain = np.array([1 + 0.25 * (-1) ** t for t in range(len(clip))])
    write_video(tmp_path / "pred" / "flicker.mp4", np.clip(clip * gain[:, None, None, None], 0, 255).astype(np.uint8), 24)
    return tmp_path


def test_weight_free_metrics_write_json_markdown_and_plots(videos: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = videos / "out"
    rc = main(["eval", "--pred", str(videos / "pred"), "--source", str(videos / "src"), "--target", str(videos / "src"),
               "--metrics", "warp,psnr,ssim", "--json", str(out / "r.json"), "--markdown", str(out / "t.md"),
               "--plots", str(out / "plots"), "--name", "Demo"])
    assert rc == 0
    data = json.loads((out / "r.json").read_text())
    per_video = {v["name"]: v["values"] for v in data["videos"]}
    assert set(per_video) == {"still", "flicker"}
    assert per_video["still"]["warp"] < 0.2 * per_video["flicker"]["warp"]
    assert per_video["still"]["psnr"] > per_video["flicker"]["psnr"]
    assert data["mean"]["ssim"] == pytest.approx((per_video["still"]["ssim"] + per_video["flicker"]["ssim"]) / 2)
    assert all(v["frames"] == 8 for v in data["videos"])
    assert "| **Demo** (2 videos) |" in (out / "t.md").read_text()
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["psnr_per_frame.png", "ssim_per_frame.png",
                                                               "warp_per_frame.png"]
    assert "| **Demo** (2 videos) |" in capsys.readouterr().out


def test_clip_metrics_and_list_file_with_prompts_and_times(videos: Path, weights_dir: Path) -> None:
    write_video(videos / "fade.mp4", crossfade_clip(frames=6), 24)
    rows = [{"pred": "pred/still.mp4", "source": "src/still.mp4", "prompt": "ink wash", "seconds": 7.2},
            {"pred": "fade.mp4", "prompt": "pixel art", "seconds": 3.0}]
    (videos / "list.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    rc = main(["eval", "--list", str(videos / "list.jsonl"), "--metrics", "clip_t,clip_f,time",
               "--weights", str(weights_dir), "--json", str(videos / "r.json")])
    assert rc == 0
    data = json.loads((videos / "r.json").read_text())
    assert [v["mode"] for v in data["videos"]] == ["tv2v", "tv2v"]
    assert data["videos"][0]["values"]["time"] == pytest.approx(0.12)
    assert data["mean"]["time"] == pytest.approx((7.2 + 3.0) / 2 / 60)
    assert len(data["videos"][1]["per_frame"]["clip_f"]) == 5
    assert -1 <= data["mean"]["clip_t"] <= 1


def test_aq_and_iq_from_a_weights_folder(videos: Path, weights_dir: Path, tmp_path: Path) -> None:
    import torch
    from eval_helpers import tiny_musiq

    from rtrdit.eval.weights import AESTHETIC_HEAD, MUSIQ_SPAQ, OPENCLIP_L14

    weights = tmp_path / "w"
    weights.mkdir()
    top = OPENCLIP_L14.name.split("/")[0]
    (weights / top).symlink_to(weights_dir / top)
    torch.save({"weight": torch.zeros(1, 16), "bias": torch.tensor([6.0])}, weights / AESTHETIC_HEAD.name)
    torch.save(tiny_musiq().state_dict(), weights / MUSIQ_SPAQ.name)
    rc = main(["eval", "--pred", str(videos / "pred"), "--metrics", "aq,iq", "--weights", str(weights),
               "--json", str(videos / "r.json")])
    assert rc == 0
    data = json.loads((videos / "r.json").read_text())
    assert data["mean"]["aq"] == pytest.approx(0.6)
    assert all(len(v["per_frame"]["iq"]) == 8 and np.isfinite(v["values"]["iq"]) for v in data["videos"])
    assert data["videos"][0]["values"]["iq"] != pytest.approx(data["videos"][1]["values"]["iq"])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--metrics", "clip_f", "--weights", "{w}"], "missing weights file {w}/vit_large_patch14_clip_224.openai/open_clip_model.safetensors"),
        (["--metrics", "csd", "--ref", "{img}", "--weights", "{w}"], "csd_vit_l.pth"),
        (["--metrics", "aq", "--weights", "{w}"], "missing weights file {w}/sa_0_4_vit_l_14_linear.pth"),
        (["--metrics", "iq", "--weights", "{w}"], "missing weights file {w}/musiq_spaq_ckpt-358bb6af.pth"),
        (["--metrics", "warp"], "warp needs --source"),
        (["--metrics", "psnr", "--source", "{src}"], "psnr needs --target"),
        (["--metrics", "clip_t", "--weights", "{w}"], "clip_t needs --prompt"),
        (["--metrics", "nope"], "unknown metric 'nope'"),
        (["--metrics", "time"], "time needs a timing"),
        (["--metrics", "warp", "--source", "{src}", "--device", "gpu0"], "not a torch device"),
    ],
)
def test_user_errors_are_one_line_and_write_nothing(videos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   extra: list[str], message: str) -> None:
    from PIL import Image

    Image.new("RGB", (32, 32), "red").save(tmp_path / "ref.png")
    fill = {"w": str(tmp_path / "empty"), "img": str(tmp_path / "ref.png"), "src": str(videos / "src")}
    (tmp_path / "empty").mkdir()
    out = tmp_path / "o" / "r.json"
    rc = main(["eval", "--pred", str(videos / "pred"), *[a.format(**fill) for a in extra], "--json", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err[-1].startswith("rtrdit eval: error: ") and message.format(**fill) in err[-1]
    assert "Traceback" not in "\n".join(err)
    assert not out.exists()


def test_missing_pred_and_bad_flag_combinations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--pred", str(tmp_path / "nothing.mp4"), "--metrics", "psnr"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["eval", "--metrics", "psnr"]) == 2
    assert "--pred" in capsys.readouterr().err
    (tmp_path / "x.mp4").write_bytes(b"not a video")
    assert main(["eval", "--pred", str(tmp_path / "x.mp4"), "--metrics", "warp", "--source", str(tmp_path / "x.mp4")]) == 2
    err = capsys.readouterr().err
    assert "x.mp4: not a readable video" in err.strip().splitlines()[-1] and "Traceback" not in err


def test_benchmark_output_that_is_a_file_is_refused(videos: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("keep")
    assert main(["eval", "benchmark", "--clips", str(videos / "src"), "--out", str(tmp_path / "afile")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"rtrdit eval: error: --out {tmp_path / 'afile'} exists and is not a folder"
    assert (tmp_path / "afile").read_text() == "keep"


@pytest.mark.parametrize(("flag", "path", "message"), [
    ("--json", "{dir}", "--json {dir} is a folder, not a file name"),
    ("--json", "{file}/r.json", "--json {file}/r.json: {file} is a file, not a folder"),
    ("--markdown", "{dir}", "--markdown {dir} is a folder, not a file name"),
    ("--markdown", "{file}/new/t.md", "--markdown {file}/new/t.md: {file} is a file, not a folder"),
    ("--plots", "{file}", "--plots {file} exists and is not a folder"),
    ("--plots", "{file}/p", "--plots {file}/p: {file} is a file, not a folder"),
])
def test_report_paths_in_the_way_are_refused_before_scoring(videos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           flag: str, path: str, message: str) -> None:
    """An unwritable report path is one line up front (it was a traceback after the whole evaluation)."""
    fill = {"dir": str(tmp_path / "adir"), "file": str(tmp_path / "afile")}
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("keep")
    rc = main(["eval", "--pred", str(videos / "pred"), "--source", str(videos / "src"), "--metrics", "warp",
               flag, path.format(**fill)])
    assert rc == 2
    assert capsys.readouterr().err.strip() == f"rtrdit eval: error: {message.format(**fill)}"  # no scoring progress
    assert (tmp_path / "afile").read_text() == "keep" and not any((tmp_path / "adir").iterdir())


def test_benchmark_subcommand_parses_next_to_eval_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "benchmark", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--clips" in out and "--seed" in out


def test_default_metrics_follow_the_inputs(videos: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = videos / "r.json"
    assert main(["eval", "--pred", str(videos / "pred"), "--source", str(videos / "src"), "--json", str(out)]) == 0
    assert [m["name"] for m in json.loads(out.read_text())["metrics"]] == ["warp"]
    capsys.readouterr()
    assert main(["eval", "--pred", str(videos / "pred"), "--source", str(videos / "src"), "--metrics", ""]) == 2
    assert "no metrics given" in capsys.readouterr().err  # an empty list is an error, not the default
    assert main(["eval", "--pred", str(videos / "pred")]) == 2
    assert "nothing to measure" in capsys.readouterr().err


def test_videos_of_different_lengths_are_scored_on_the_cut_and_said_so(videos: Path, capsys: pytest.CaptureFixture[str]
                                                                        ) -> None:
    """A prediction that dropped frames (or a source that is longer) is scored up to the shorter one's end, and
    one note names which ran out; equal lengths get no note."""
    clip = panning_clip(frames=8, step=2, size=(96, 64))
    write_video(videos / "pred" / "still.mp4", clip[:5], 24)  # 3 frames short of its source and target
    out = videos / "r.json"
    assert main(["eval", "--pred", str(videos / "pred"), "--source", str(videos / "src"), "--target", str(videos / "src"),
                 "--metrics", "warp,psnr", "--json", str(out)]) == 0
    err = capsys.readouterr().err
    assert "note: still: the prediction ends after 5 frames, the source and target go on; scored the first 5" in err
    assert "note: flicker" not in err
    frames = {v["name"]: v["frames"] for v in json.loads(out.read_text())["videos"]}
    assert frames == {"still": 5, "flicker": 8}
    write_video(videos / "pred" / "still.mp4", clip, 24)
    write_video(videos / "src" / "still.mp4", clip[:7], 24)  # one frame short, read after the prediction
    assert main(["eval", "--pred", str(videos / "pred"), "--source", str(videos / "src"), "--metrics", "warp"]) == 0
    assert "note: still: the source ends after 7 frames, the prediction goes on; scored the first 7" in (
        capsys.readouterr().err)


def test_a_part_is_scored_against_the_same_part_of_its_source(tmp_path: Path) -> None:
    """`rtrdit stylize --start 1 --duration 1` makes a part; `eval --start 1` (or "start" in a --list row)
    scores it against that part of its source and target, not against their first second."""
    from video_clips import make_clip

    whole = make_clip(tmp_path / "whole.mkv", frames=36, size=(48, 40), fps=12, codec="ffv1")
    part = make_clip(tmp_path / "part.mkv", frames=12, size=(48, 40), fps=12, codec="ffv1", first=12)
    psnr = {}
    for start in ("0", "1", "0:01"):
        out = tmp_path / f"r{start.replace(':', '_')}.json"
        assert main(["eval", "--pred", str(part), "--target", str(whole), "--metrics", "psnr", "--start", start,
                     "--json", str(out)]) == 0
        psnr[start] = json.loads(out.read_text())["videos"][0]["values"]["psnr"]
    assert psnr["1"] == psnr["0:01"] > 60 and psnr["0"] < 20, psnr  # the same frames (lossless), against others
    (tmp_path / "list.jsonl").write_text(json.dumps({"pred": "part.mkv", "target": "whole.mkv", "start": 1}) + "\n")
    assert main(["eval", "--list", str(tmp_path / "list.jsonl"), "--metrics", "psnr", "--json",
                 str(tmp_path / "l.json")]) == 0
    assert json.loads((tmp_path / "l.json").read_text())["videos"][0]["values"]["psnr"] == psnr["1"]
