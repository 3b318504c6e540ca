"""Each stage runs a few steps on the tiny config with finite losses and hands its model on."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from train_helpers import load_weights, tiny_config, tiny_dict

from rtrdit.model.loading import load_dit
from rtrdit.train.batches import RandomLatentDataset, collate
from rtrdit.train.ema import EMA
from rtrdit.train.engine import Engine
from rtrdit.train.teacher import teacher_loss, train_teacher


def _log(out: Path) -> list[dict[str, float]]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def _finite(rows: list[dict[str, float]], *keys: str) -> None:
    for k in keys:
        vals = [r[k] for r in rows if k in r]
        assert vals, f"no {k} logged"
        assert all(math.isfinite(v) for v in vals), (k, vals)


def test_three_stages_chain_with_finite_losses(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from rtrdit.train.distill import train_distill
    from rtrdit.train.student import train_student

    train_teacher(Engine(tiny_config(tmp_path, "teacher"), "teacher", tmp_path / "teacher"))
    rows = _log(tmp_path / "teacher")
    assert [r["step"] for r in rows] == [1, 2, 3]
    _finite(rows, "loss", "grad_norm")
    teacher = load_dit(tmp_path / "teacher" / "model")
    assert teacher.config.attention == "bidirectional"

    train_student(Engine(tiny_config(tmp_path, "student"), "student", tmp_path / "student"))
    index = json.loads((tmp_path / "ode" / "index.json").read_text())
    assert len(index["files"]) == 4 and len(index["times"]) == 2
    _finite(_log(tmp_path / "student"), "loss")
    student = load_dit(tmp_path / "student" / "model")
    assert student.config.attention == "block_causal"

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="rtrdit.train"):
        train_distill(Engine(tiny_config(tmp_path, "distill"), "distill", tmp_path / "distill"))
    assert not any(r.levelno >= logging.WARNING for r in caplog.records)  # every init was found
    rows = _log(tmp_path / "distill")
    _finite(rows, "gen_loss", "dmd", "gan_g", "critic_loss", "fake_score", "gan_d")
    assert sum("gen_loss" in r for r in rows) == 2  # steps 0 and 2 (critic_updates_per_generator=2)
    gen = load_weights(tmp_path / "distill" / "model")
    assert any(not torch.equal(gen[k], v) for k, v in load_weights(tmp_path / "student" / "model").items())
    assert (tmp_path / "distill" / "checkpoints" / "step_00000003" / "model_critic.safetensors").is_file()


def test_distill_starts_fresh_with_a_warning_when_earlier_stages_are_absent(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from rtrdit.train.distill import train_distill

    cfg = tiny_config(tmp_path, "distill", run={"steps": 1}, distill={"gan_weight": 0.0, "gan_disc_weight": 0.0})
    with caplog.at_level(logging.WARNING, logger="rtrdit.train"):
        train_distill(Engine(cfg, "distill", tmp_path / "distill"))
    text = caplog.text
    assert "fresh initialisation" in text and "student" in text
    _finite(_log(tmp_path / "distill"), "dmd", "fake_score")


def test_teacher_overfits_one_pair() -> None:
    torch.manual_seed(0)
    from rtrdit.model.config import get_config
    from rtrdit.model.dit import DiT

    model = DiT(get_config("tiny"))
    batch = collate([RandomLatentDataset(1, text_dim=16)[0]], torch.device("cpu"))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)

    def loss() -> torch.Tensor:  # the same pair, noise and time every step
        return teacher_loss(model, batch, [0], ("overfit",), 5.0, 0.0, 0.0)

    first = float(loss().detach())
    for _ in range(150):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert float(loss().detach()) < first / 10


def test_learning_rate_warms_up_holds_then_decays_to_zero(tmp_path: Path) -> None:
    """optim.warmup_steps / decay_steps: the logged learning rate of each step follows warm-up, stable, decay."""
    cfg = tiny_config(tmp_path, "teacher", optim={"lr": 1e-3, "warmup_steps": 2, "decay_steps": 3},
                      run={"steps": 6})
    train_teacher(Engine(cfg, "teacher", tmp_path / "teacher"))
    lrs = [r["lr"] for r in _log(tmp_path / "teacher")]
    assert lrs == pytest.approx([1e-3 * f for f in (0.5, 1.0, 1.0, 1.0, 2 / 3, 1 / 3)])


def test_distillation_decays_over_its_generator_updates(tmp_path: Path) -> None:
    """3 steps with a generator update every 2nd: 2 updates (steps 0 and 2), so a 2-update decay gives 1, 1/2."""
    from rtrdit.train.distill import train_distill

    cfg = tiny_config(tmp_path, "distill", optim={"lr": 1e-3, "decay_steps": 2})  # fresh networks (warned)
    train_distill(Engine(cfg, "distill", tmp_path / "distill"))
    assert [r["gen_lr"] for r in _log(tmp_path / "distill") if "gen_lr" in r] == pytest.approx([1e-3, 5e-4])


def test_negative_decay_steps_is_refused() -> None:
    from rtrdit.train.config import ConfigError, config_from_dict

    with pytest.raises(ConfigError, match="decay"):
        config_from_dict(tiny_dict(Path("unused"), "teacher", optim={"decay_steps": -1}))


def test_gradient_accumulation_equals_the_full_micro_batch(tmp_path: Path) -> None:
    a = tiny_config(tmp_path, "a", run={"micro_batch_size": 2, "steps": 2, "ema_decay": 0.0})
    b = tiny_config(tmp_path, "b", run={"micro_batch_size": 1, "steps": 2, "ema_decay": 0.0})
    train_teacher(Engine(a, "teacher", tmp_path / "a"))
    train_teacher(Engine(b, "teacher", tmp_path / "b"))
    wa, wb = load_weights(tmp_path / "a" / "model"), load_weights(tmp_path / "b" / "model")
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-5, atol=1e-6)


def test_ema_copies_before_start_then_averages() -> None:
    lin = torch.nn.Linear(2, 1)
    ema = EMA(lin, decay=0.5, start=1)
    with torch.no_grad():
        lin.weight.fill_(2.0)
    ema.update(lin, 0)
    assert torch.equal(ema.shadow["weight"], lin.weight.detach())
    with torch.no_grad():
        lin.weight.fill_(4.0)
    ema.update(lin, 1)
    assert torch.allclose(ema.shadow["weight"], torch.full_like(lin.weight, 3.0))


@pytest.mark.slow
def test_shipped_tiny_configs_run_from_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """configs/tiny/*.yaml as shipped (relative paths, here under tmp_path): the dataset is built
    with rtrdit.data from packaged photos, then every stage finds the previous one's output."""
    from rtrdit.train.config import load_config
    from rtrdit.train.distill import train_distill
    from rtrdit.train.student import train_student

    configs = Path(__file__).resolve().parents[2] / "configs" / "tiny"
    monkeypatch.chdir(tmp_path)
    for stage, fn in (("teacher", train_teacher), ("student", train_student), ("distill", train_distill)):
        cfg = load_config(configs / f"{stage}.yaml")
        cfg.run.steps, cfg.run.progress, cfg.run.tensorboard = 2, False, stage == "teacher"
        cfg.run.sample_every, cfg.run.codec = 2, "tiny"  # the shipped demo autoencoder decodes samples
        fn(Engine(cfg, stage, Path(cfg.run.out)))
        rows = _log(Path(cfg.run.out))
        assert rows and all(math.isfinite(v) for r in rows for v in r.values())
        videos = sorted((Path(cfg.run.out) / "samples").glob("step_00000002_*.mp4"))
        assert videos, stage
        from rtrdit.codecs.video import probe

        assert probe(str(videos[0])).frames == 9
    assert (tmp_path / "runs/tiny/data/shards/index.json").is_file()
    assert any((tmp_path / "runs/tiny/teacher/tensorboard").iterdir())
    assert load_dit(tmp_path / "runs/tiny/distill/model").config.attention == "block_causal"
    _exported_stylizer_streams_like_the_distilled_dit(configs / "distill.yaml", tmp_path)


def _exported_stylizer_streams_like_the_distilled_dit(config: Path, root: Path) -> None:
    """`rtrdit train export` packages stage 3's generator with what the config and its shards say (K
    timesteps, codec, MiniLM, 64x64 area, 3-frame window); the packaged stylizer streams exactly what a
    stylizer built by hand from the distilled DiT streams."""
    import numpy as np

    from rtrdit.cli import main
    from rtrdit.codecs import load_codec
    from rtrdit.codecs.text import CachedTextEncoder, load_text_encoder
    from rtrdit.stream.stylizer import Stylizer
    from rtrdit.train.rollout import generator_times

    assert main(["train", "export", "--config", str(config), "-o", "stylizer", "--dtype", "float32"]) == 0
    st = Stylizer.from_pretrained(root / "stylizer")
    assert st.config.timesteps == tuple(generator_times([1000.0, 500.0], 5.0))
    assert (st.config.area, st.config.window_frames, st.config.switch_keep_frames) == (64 * 64, 3, 1)
    assert st.config.codec == "autoencoder" and (root / "stylizer" / "autoencoder" / "config.json").is_file()
    by_hand = Stylizer(load_dit(root / "runs/tiny/distill/model"), load_codec("tiny"),
                       CachedTextEncoder(load_text_encoder("minilm", max_tokens=32)), st.config)
    yy, xx = np.mgrid[0:64, 0:64]
    frames = np.stack([np.stack([(xx * 4 + 9 * i) % 256, (yy * 4) % 256, (xx + yy + 5 * i) % 256], -1)
                       for i in range(9)]).astype(np.uint8)

    def stream(s: Stylizer) -> np.ndarray:
        sess = s.session(prompt="ink wash painting", seed=0)
        return np.concatenate([sess.push(frames), sess.flush()])

    a, b = stream(st), stream(by_hand)
    assert a.shape == frames.shape and np.array_equal(a, b)
    _tuned_decoder_fits_the_generators_latents(root, frames)


def _tuned_decoder_fits_the_generators_latents(root: Path, frames: np.ndarray) -> None:
    """`rtrdit train decoder` on the exported stylizer: the encoder (so the latent space) is bit-identical,
    the decoder turns the generator's own latents into frames nearer the targets than before, and a
    second run into the same folder is refused."""
    import json

    from rtrdit.cli import main
    from rtrdit.codecs import load_codec
    from rtrdit.codecs.base import frames_to_video
    from rtrdit.data.manifest import read_manifest
    from rtrdit.stream.stylizer import Stylizer
    from rtrdit.train.decoder import evaluate, stream_examples

    args = ["train", "decoder", "--model", "stylizer", "--data", "runs/tiny/data/shards-raw", "--out", "decoder",
            "--steps", "40", "--lr", "1e-3", "--crop", "0"]
    assert main(args) == 0
    assert main(args) == 2 and not (root / "decoder.partial").exists()
    old, new = load_codec(str(root / "stylizer" / "autoencoder")), load_codec(str(root / "decoder"))
    video = frames_to_video(frames)
    assert torch.equal(old.encode(video), new.encode(video))
    st = Stylizer.from_pretrained(root / "stylizer")
    rows = [row for _, row in read_manifest(root / "runs/tiny/data/shards-raw/manifest.jsonl")][:6]
    examples = stream_examples(st, root / "runs/tiny/data/shards-raw", rows, seed=0)
    before, after = evaluate(old, examples)["all"], evaluate(new, examples)["all"]
    assert after > before + 0.5, (before, after)
    report = json.loads((root / "decoder" / "decoder_report.json").read_text())
    assert report["steps"] == 40 and report["train_rows"] > 0

    # --guide-channels: the decoder gains a source-guide branch, trained with it; the encoder stays
    assert main([*args[:7], "guided", *args[8:], "--guide-channels", "4"]) == 0
    guided = load_codec(str(root / "guided"))
    assert guided.guided and not new.guided and torch.equal(guided.encode(video), old.encode(video))
    assert guided.decoder.guide.out.weight.abs().sum() > 0  # trained away from its zero start
    assert "--guide-channels 4 --guide-lr 0.001" in (root / "guided" / "README.md").read_text()
    assert evaluate(guided, examples)["all"] > before + 0.5
    assert main([*args[:7], "bad", *args[8:], "--guide-channels", "-1"]) == 2 and not (root / "bad").exists()
    assert main([*args[:7], "bad", *args[8:], "--guide-lr", "0"]) == 2 and not (root / "bad").exists()


@pytest.mark.parametrize("stage", ["teacher", "distill"])
def test_activation_checkpointing_does_not_change_training(tmp_path: Path, stage: str) -> None:
    from rtrdit.train.distill import train_distill

    fn = {"teacher": train_teacher, "distill": train_distill}[stage]
    for name, ckpt in (("plain", False), ("ckpt", True)):
        cfg = tiny_config(tmp_path / name, stage, model={"gradient_checkpointing": ckpt},
                          distill={"critic_updates_per_generator": 2})
        fn(Engine(cfg, stage, tmp_path / name / stage))
    a, b = load_weights(tmp_path / "plain" / stage / "model"), load_weights(tmp_path / "ckpt" / stage / "model")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=k)


def test_bf16_autocast_runs_on_cpu_only_when_asked(tmp_path: Path) -> None:
    """run.mixed_precision: "auto" keeps a CPU run in fp32, "bf16" autocasts it; both train alike."""
    x = torch.ones(4, 4)
    for mp, dtype in (("auto", torch.float32), ("fp32", torch.float32), ("bf16", torch.bfloat16)):
        engine = Engine(tiny_config(tmp_path / mp, "teacher", run={"mixed_precision": mp}), "teacher",
                        tmp_path / mp / "teacher")
        with engine.autocast():
            assert (x @ x).dtype == dtype, mp
        train_teacher(engine)
    fp32 = [r["loss"] for r in _log(tmp_path / "fp32" / "teacher")]
    bf16 = [r["loss"] for r in _log(tmp_path / "bf16" / "teacher")]
    assert fp32 == [r["loss"] for r in _log(tmp_path / "auto" / "teacher")]
    assert fp32 != bf16 and bf16 == pytest.approx(fp32, rel=0.05)


def test_compiled_training_matches_eager(tmp_path: Path) -> None:
    """run.compile: the teacher and the block-causal student train through torch.compile to the
    weights of the eager run (one mode, so one graph each)."""
    from torch._dynamo.utils import counters

    from rtrdit.train.student import train_student

    data = {"synthetic_rv2v_fraction": 0.0}
    for stage, fn in (("teacher", train_teacher), ("student", train_student)):
        for name, on in (("eager", False), ("compiled", True)):
            counters.clear()
            cfg = tiny_config(tmp_path / name, stage, data=data, run={"compile": on, "steps": 2},
                              student={"teacher": str(tmp_path / "eager" / "teacher" / "model"),
                                       "ode_dir": str(tmp_path / "ode")})
            fn(Engine(cfg, stage, tmp_path / name / stage))
            assert (counters["stats"]["unique_graphs"] > 0) == on, (stage, name)
        a = load_weights(tmp_path / "eager" / stage / "model")
        b = load_weights(tmp_path / "compiled" / stage / "model")
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=f"{stage} {k}")
