"""`rtrdit train STAGE`: user errors are one line and exit 2, leaving no output behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtrdit.cli import main


@pytest.mark.parametrize("stage", ["teacher", "ode", "student", "distill"])
def test_missing_config_is_one_line(stage: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", stage, "--config", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "config file not found" in err
    assert not (tmp_path / "o").exists()


def test_an_output_that_is_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("keep")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data:\n  synthetic: 2\n")
    assert main(["train", "teacher", "--config", str(cfg), "--out", str(tmp_path / "afile")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "afile exists and is not a folder" in err, err
    assert (tmp_path / "afile").read_text() == "keep"


def test_unknown_key_and_bad_values_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("run:\n  stepz: 3\n")
    assert main(["train", "teacher", "--config", str(bad)]) == 2
    assert "unknown config key run.stepz" in capsys.readouterr().err
    bad.write_text(f"run:\n  parallel: zero3\n  out: {tmp_path / 'o'}\n")
    assert main(["train", "teacher", "--config", str(bad)]) == 2
    assert "run.parallel" in capsys.readouterr().err
    bad.write_text("distill:\n  t_min: 0.5\n  t_max: 0.4\n")
    assert main(["train", "distill", "--config", str(bad)]) == 2
    assert "t_min < t_max" in capsys.readouterr().err
    bad.write_text(f"data:\n  shards: {tmp_path / 'none'}\nrun:\n  out: {tmp_path / 'o2'}\n")
    assert main(["train", "teacher", "--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no dataset" in err
    assert not (tmp_path / "o2").exists()


@pytest.mark.parametrize(("yaml", "message"), [
    ("run:\n  steps: abc\n", "run.steps must be an integer, got 'abc'"),
    ("run:\n  steps: 2.5\n", "run.steps must be an integer"),
    ("run:\n  compile: maybe\n", "run.compile must be true or false"),
    ("run:\n  codec: 3\n", "run.codec must be a string"),
    ("optim:\n  betas: [0.9, x]\n", "optim.betas[1] must be a number"),
    ("optim:\n  lr: [1]\n", "optim.lr must be a number"),
    ("model:\n  overrides: 3\n", "model.overrides must be a mapping"),
])
def test_wrong_value_types_are_named(yaml: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml)
    assert main(["train", "teacher", "--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


def test_yaml_exponent_floats_are_numbers() -> None:
    from rtrdit.train.config import config_from_dict

    cfg = config_from_dict({"optim": {"lr": "1e-4", "betas": [0, "9.99e-1"]}, "run": {"steps": 10.0}})
    assert cfg.optim.lr == 1e-4 and cfg.optim.betas == [0.0, 0.999] and cfg.run.steps == 10  # YAML reads 1e-4 as text
    assert isinstance(cfg.run.steps, int)


def test_shipped_tiny_configs_parse() -> None:
    from rtrdit.train.config import load_config

    root = Path(__file__).resolve().parents[2] / "configs"
    for path in sorted(root.glob("*/*.yaml")):
        cfg = load_config(path)
        assert cfg.run.steps > 0, path


def test_unusable_checkpoint_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty-dit").mkdir()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"model:\n  init: {tmp_path / 'empty-dit'}\ndata:\n  synthetic: 2\n"
                   f"run:\n  out: {tmp_path / 'o'}\n  steps: 1\n")
    assert main(["train", "teacher", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "empty-dit" in err, err
    assert not (tmp_path / "o").exists()


def test_export_errors_are_one_line_and_leave_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`rtrdit train export`: no trained model, no codec named, a text width MiniLM cannot give, an
    existing output: one line each, exit 2, and no stylizer directory (or half of one) left."""
    import torch

    from rtrdit.model.config import get_config
    from rtrdit.model.dit import DiT

    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data:\n  synthetic: 2\nrun:\n  out: {tmp_path / 'run'}\n")
    out = tmp_path / "st"
    base = ["train", "export", "--config", str(cfg), "-o", str(out)]

    def fails(args: list[str], words: str) -> None:
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err, err
        assert not out.exists() and not (tmp_path / "st.partial").exists()

    fails(base, "no --codec given")
    fails([*base, "--codec", "tiny", "--text-encoder", "minilm"], "no DiT here")
    torch.manual_seed(0)
    DiT(get_config("tiny")).save_pretrained(str(tmp_path / "run" / "model"))  # 16-d text
    fails([*base, "--codec", "tiny", "--text-encoder", "minilm"], "minilm gives 384-d")
    fails([*base, "--codec", str(tmp_path / "nowhere"), "--text-encoder", "minilm"], "nowhere")
    fails([*base, "--codec", "tiny", "--text-encoder", str(tmp_path / "no-umt5")], "no-umt5")
    ok = [*base, "--codec", "tiny", "--text-encoder", str(tmp_path)]
    (tmp_path / "bad.json").write_text('[["Ink", ""]]')
    (tmp_path / "broken.json").write_text('[["Ink", ')
    fails([*ok, "--presets", str(tmp_path / "none.json")], "--presets")
    fails([*ok, "--presets", str(tmp_path / "broken.json")], "not valid JSON")
    fails([*ok, "--presets", str(tmp_path / "bad.json")], "[name, prompt] pair of non-empty texts")
    out.mkdir()
    assert main(ok) == 2
    assert "already exists" in capsys.readouterr().err and not any(out.iterdir())
    assert main([*ok, "--overwrite", "--size", "96x64", "--presets", "builtin"]) == 0
    assert (out / "dit" / "config.json").is_file() and (out / "autoencoder" / "config.json").is_file()
    import json

    from rtrdit.data.stylizers import builtin_presets
    from rtrdit.stream.stylizer import StylizerConfig

    saved = json.loads((out / "stylizer.json").read_text())
    assert saved["area"] == 96 * 64 and saved["text_encoder"] == str(tmp_path.resolve())
    assert saved["presets"][0] == ["Ink wash", "a traditional Chinese ink wash painting"] and len(saved["presets"]) == 10
    assert StylizerConfig.from_dict(saved).presets == builtin_presets()
    (tmp_path / "mine.json").write_text('[["Mine", "my own style"]]')
    assert main([*ok, "--overwrite", "--presets", str(tmp_path / "mine.json")]) == 0
    assert json.loads((out / "stylizer.json").read_text())["presets"] == [["Mine", "my own style"]]
    assert not (tmp_path / "st.old").exists() and not (tmp_path / "st.partial").exists()


def test_export_overwrite_keeps_the_old_directory_when_the_swap_fails(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """`--overwrite` renames the old stylizer aside and removes it only once the new one is in place."""
    import os

    from rtrdit.train import export

    out, part = tmp_path / "st", tmp_path / "st.partial"
    out.mkdir()
    (out / "stylizer.json").write_text("old")
    part.mkdir()
    (part / "stylizer.json").write_text("new")
    real = os.replace

    def flaky(src: os.PathLike[str], dst: os.PathLike[str]) -> None:
        if Path(src) == part:
            raise OSError("disk went away")
        real(src, dst)

    monkeypatch.setattr(export.os, "replace", flaky)
    with pytest.raises(OSError, match="disk went away"):
        export.replace_directory(part, out)
    assert (out / "stylizer.json").read_text() == "old" and not (tmp_path / "st.old").exists()
    monkeypatch.setattr(export.os, "replace", real)
    export.replace_directory(part, out)
    assert (out / "stylizer.json").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["st"]


def test_export_area_uses_both_codecs_spatial_factor() -> None:
    """`trained_defaults` turns latent sizes into pixels with one factor; both codecs must have it."""
    from rtrdit.codecs.tiny_ae import TinyAEConfig
    from rtrdit.codecs.wan_vae import WanVAE
    from rtrdit.train.export import SPATIAL_FACTOR

    assert TinyAEConfig.spatial_factor == WanVAE.spatial_factor == SPATIAL_FACTOR


def test_decoder_errors_are_one_line_and_leave_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`rtrdit train decoder`: no dataset, a bad row, no stylizer, a missing or corrupt clip (found before
    any streaming), an existing output: one line each, exit 2."""
    data = tmp_path / "data"
    data.mkdir()
    out = tmp_path / "dec"
    base = ["train", "decoder", "--model", "demo", "--data", str(data), "--out", str(out)]

    def fails(args: list[str], words: str) -> None:
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err, err
        assert not (tmp_path / "dec.partial").exists()

    fails(base, "manifest.jsonl: no such file")
    (data / "manifest.jsonl").write_text('{"source": "a.mp4", "target": "b.mp4", "mode": "t2v", "prompt": "x"}\n')
    fails(base, "manifest.jsonl:1:")
    (data / "manifest.jsonl").write_text('{"source": "a.mp4", "target": "b.mp4", "mode": "tv2v", "prompt": "x", '
                                         '"split": "train"}\n')
    fails([*base[:3], str(tmp_path / "nowhere"), *base[4:]], "cannot load the stylizer")
    fails(base, "manifest.jsonl:1: source: no such file")
    for name in ("a.mp4", "b.mp4"):
        (data / name).write_bytes(b"not a video")
    fails(base, "manifest.jsonl:1: source: unreadable video")
    assert not out.exists()
    out.mkdir()
    fails(base, "already exists")
