"""Pluggable makers of training pairs: target generators (source clip + prompt -> stylized clip) and
prompters (source clip -> style prompt), the roles Kling and Qwen3-VL play in the paper (section 3.1).

Both are plain callables, so a user plugs in a Python function (``python:package.module:function``),
a command run once per clip (``command:TEMPLATE`` with ``{source}``, ``{target}``, ``{prompt}``,
``{style}`` placeholders), or the built-in classical stylizers (``builtin``). See docs/data.md.
"""

from __future__ import annotations

import importlib
import random
import shlex
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class GeneratorError(RuntimeError):
    """An external generator or prompter failed; one line naming the clip and the cause."""


@dataclass(frozen=True)
class TargetJob:
    """One target to make: read ``source``, write the stylized clip to ``target`` (same frame count;
    a different size is resized by the builder), following ``prompt`` (``style`` names the built-in
    style when the prompt came from one, else None)."""

    source: Path
    target: Path
    prompt: str
    style: str | None = None


@dataclass(frozen=True)
class StylePrompt:
    """A prompt for a source clip, with the built-in style it belongs to (None for free text) and
    the style's paraphrases: every prompt that describes the same target, which training draws among."""

    prompt: str
    style: str | None = None
    paraphrases: tuple[str, ...] = ()


class TargetGenerator(Protocol):
    def __call__(self, job: TargetJob) -> None: ...


class Prompter(Protocol):
    def __call__(self, source: Path, rng: random.Random) -> StylePrompt: ...


# ----------------------------------------------------------------------------- built-ins


class BuiltinStylizer:
    """Target generator applying the built-in classical style named by the job, frame by frame."""

    def __call__(self, job: TargetJob) -> None:
        from rtrdit.codecs.video import iter_frames, probe
        from rtrdit.codecs.video_writer import VideoWriter
        from rtrdit.data.stylizers import get_style

        if job.style is None:
            raise GeneratorError(f"{job.source}: the builtin generator needs a built-in style, "
                                 "but the prompt has none (use the builtin prompter)")
        style = get_style(job.style)
        fps = probe(job.source).fps
        with VideoWriter(job.target, fps) as writer:
            for frame in iter_frames(job.source):
                writer.write(style.apply(frame))


class StylePrompter:
    """Prompter drawing a built-in style and one of its paraphrased prompts with the given rng.
    Styles are drawn without replacement per source clip (a clip gets distinct styles until all are
    used), so asking for as many styles per clip as there are styles balances the dataset exactly."""

    def __init__(self, styles: Sequence[str] | None = None) -> None:
        from rtrdit.data.stylizers import builtin_styles, get_style

        names = list(styles) if styles else list(builtin_styles())
        self.styles = [get_style(n) for n in names]
        self._source: Path | None = None
        self._left: list[Any] = []

    def __call__(self, source: Path, rng: random.Random) -> StylePrompt:
        if source != self._source or not self._left:
            self._source = source
            self._left = list(self.styles)
            rng.shuffle(self._left)
        style = self._left.pop()
        return StylePrompt(rng.choice(style.prompts), style.name, tuple(style.prompts))


# ----------------------------------------------------------------------------- external


def _fill(template: str, fields: dict[str, str]) -> list[str]:
    """Split a command template like a shell would, then fill placeholders inside each argument,
    so a prompt with spaces stays one argument and is never interpreted by a shell."""
    try:
        args = shlex.split(template)
    except ValueError as exc:
        raise GeneratorError(f"bad command template {template!r} ({exc})") from None
    if not args:
        raise GeneratorError("empty command template")
    try:
        return [a.format(**fields) for a in args]
    except (KeyError, IndexError, ValueError) as exc:
        raise GeneratorError(f"bad placeholder in command template {template!r} ({exc}); "
                             f"known: {', '.join('{' + k + '}' for k in fields)}") from None


def _check_program(template: str) -> None:
    """Fail before any clip is made when the template's program is not installed."""
    program = shlex.split(template)[0]
    if "{" not in program and shutil.which(program) is None:
        raise GeneratorError(f"command not found: {program}")


def _run(args: list[str], what: str, timeout: float | None) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise GeneratorError(f"{what}: command not found: {args[0]}") from None
    except subprocess.TimeoutExpired:
        raise GeneratorError(f"{what}: command timed out after {timeout} s: {args[0]}") from None
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no error output"])[-1]
        raise GeneratorError(f"{what}: command exited with {done.returncode}: {tail}")
    return done.stdout


class CommandGenerator:
    """Target generator running a command per clip, e.g.
    ``my_model --in {source} --out {target} --prompt {prompt}``; it must write ``{target}``."""

    def __init__(self, template: str, timeout: float | None = None) -> None:
        self.template = template
        self.timeout = timeout
        _fill(template, {"source": "", "target": "", "prompt": "", "style": ""})  # fail early
        _check_program(template)

    def __call__(self, job: TargetJob) -> None:
        fields = {"source": str(job.source), "target": str(job.target), "prompt": job.prompt,
                  "style": job.style or ""}
        _run(_fill(self.template, fields), str(job.source), self.timeout)
        if not job.target.is_file() or job.target.stat().st_size == 0:
            raise GeneratorError(f"{job.source}: command finished but wrote no {job.target}")


class CommandPrompter:
    """Prompter running a captioning command per clip (``{source}`` placeholder); each non-empty
    stdout line is a candidate prompt and one is drawn with the rng."""

    def __init__(self, template: str, timeout: float | None = None) -> None:
        self.template = template
        self.timeout = timeout
        _fill(template, {"source": ""})
        _check_program(template)

    def __call__(self, source: Path, rng: random.Random) -> StylePrompt:
        out = _run(_fill(self.template, {"source": str(source)}), str(source), self.timeout)
        prompts = [line.strip() for line in out.splitlines() if line.strip()]
        if not prompts:
            raise GeneratorError(f"{source}: captioning command printed no prompt")
        return StylePrompt(rng.choice(prompts), None)


class CallablePrompter:
    """Wraps ``fn(source: Path) -> str | list[str]`` (e.g. a captioning model) as a prompter."""

    def __init__(self, fn: Callable[[Path], str | Sequence[str]]) -> None:
        self.fn = fn

    def __call__(self, source: Path, rng: random.Random) -> StylePrompt:
        out = self.fn(source)
        prompts = [out] if isinstance(out, str) else list(out)
        prompts = [p.strip() for p in prompts if isinstance(p, str) and p.strip()]
        if not prompts:
            raise GeneratorError(f"{source}: prompter returned no prompt")
        return StylePrompt(rng.choice(prompts), None)


def load_callable(ref: str) -> Callable[..., object]:
    """Import ``package.module:function`` (a function or any callable object)."""
    module, _, name = ref.partition(":")
    if not module or not name:
        raise GeneratorError(f"expected 'package.module:function', got {ref!r}")
    try:
        obj: object = importlib.import_module(module)
    except ImportError as exc:
        raise GeneratorError(f"cannot import {module!r} ({exc})") from None
    for part in name.split("."):
        if not hasattr(obj, part):
            raise GeneratorError(f"{module!r} has no attribute {name!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise GeneratorError(f"{ref!r} is not callable")
    return obj


def make_generator(spec: str) -> TargetGenerator:
    """``builtin`` | ``python:pkg.mod:fn`` (called with a :class:`TargetJob`) | ``command:TEMPLATE``."""
    if spec == "builtin":
        return BuiltinStylizer()
    if spec.startswith("python:"):
        fn = load_callable(spec[len("python:"):])
        return fn  # type: ignore[return-value]
    if spec.startswith("command:"):
        return CommandGenerator(spec[len("command:"):])
    raise GeneratorError(f"unknown generator {spec!r} (expected builtin, python:MODULE:FUNCTION or command:TEMPLATE)")


def make_prompter(spec: str, styles: Sequence[str] | None = None) -> Prompter:
    """``builtin`` (built-in style prompts, limited to ``styles``) | ``python:pkg.mod:fn``
    (``fn(source) -> str | list[str]``) | ``command:TEMPLATE`` (prints prompts)."""
    if spec == "builtin":
        try:
            return StylePrompter(styles)
        except ValueError as exc:
            raise GeneratorError(str(exc)) from None
    if spec.startswith("python:"):
        return CallablePrompter(load_callable(spec[len("python:"):]))  # type: ignore[arg-type]
    if spec.startswith("command:"):
        return CommandPrompter(spec[len("command:"):])
    raise GeneratorError(f"unknown prompter {spec!r} (expected builtin, python:MODULE:FUNCTION or command:TEMPLATE)")
