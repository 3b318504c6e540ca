"""Shared command-line plumbing of `rtrdit train STAGE`: arguments, config overrides, the
engine's start and stop, user errors as one line."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rtrdit.errors import first_line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--config FILE [--max-steps N] [--out DIR] [--resume]."""
    parser.add_argument("--config", required=True, help="YAML training config (configs/tiny/*.yaml)")
    parser.add_argument("--max-steps", type=int, default=None, help="override run.steps")
    parser.add_argument("--out", default=None, help="override run.out (output directory)")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in the output")


@contextlib.contextmanager
def session(args: argparse.Namespace, stage: str) -> Iterator[Any]:
    """Load the config, start the engine; turn config errors into CLIError; always shut down."""
    from rtrdit.cli import CLIError, output_folder
    from rtrdit.train.config import ConfigError, load_config
    from rtrdit.train.engine import Engine, setup_logging, shutdown

    try:
        cfg = load_config(args.config)
        if args.max_steps is not None:
            if args.max_steps < 0:
                raise ConfigError("--max-steps must be >= 0")
            cfg.run.steps = args.max_steps
        if args.out is not None:
            cfg.run.out = args.out
        output_folder(cfg.run.out, "--out" if args.out is not None else "run.out")
        import os

        setup_logging(int(os.environ.get("RANK", "0")))
        engine = Engine(cfg, stage, Path(cfg.run.out), resume=args.resume)
    except ConfigError as exc:
        shutdown()
        raise CLIError(str(exc)) from None
    try:
        yield engine
    except user_errors() as exc:
        raise CLIError(first_line(exc)) from None
    finally:
        shutdown()


def user_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean bad input (config, checkpoint, codec, dataset), reported as one line."""
    from rtrdit.model.loading import CheckpointError
    from rtrdit.train.config import ConfigError

    errors: list[type[BaseException]] = [ConfigError, CheckpointError, FileNotFoundError]
    try:
        from rtrdit.codecs.base import CodecError

        errors.append(CodecError)
    except ImportError:  # pragma: no cover
        pass
    try:
        from rtrdit.data.manifest import ManifestError

        errors.append(ManifestError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


__all__ = ["add_arguments", "session"]
