"""`rtrdit train STAGE`: the autoencoder, the paper's three training stages, and the export of the result."""

from __future__ import annotations

import argparse

from rtrdit.cli import add_group

STAGES: dict[str, tuple[str, str]] = {
    "autoencoder": ("rtrdit.train.autoencoder", "train the fast streaming autoencoder on videos"),
    "teacher": ("rtrdit.train.teacher", "stage 1: bidirectional teacher with flow matching"),
    "ode": ("rtrdit.train.ode_pairs", "sample teacher ODE trajectories into shards for stage 2"),
    "student": ("rtrdit.train.student", "stage 2: causal few-step student regressed onto teacher ODE pairs"),
    "distill": ("rtrdit.train.distill", "stage 3: Self Forcing + DMD + adversarial post-training"),
    "decoder": ("rtrdit.train.decoder", "fine-tune our autoencoder's decoder on the trained generator's latents"),
    "export": ("rtrdit.train.export", "package the trained generator as a stylizer directory (--model DIR)"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_group(parser, STAGES)


def run(args: argparse.Namespace) -> int:
    return int(args._run(args) or 0)
