"""The `rtrdit` entry point: version, help, and every subcommand's parser builds."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

import pytest

from rtrdit import __version__
from rtrdit.cli import COMMANDS, main, sigterm_as_interrupt


def test_version_and_help(capsys) -> None:
    assert main(["--version"]) == 0 and __version__ in capsys.readouterr().out
    assert main([]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_subcommand_has_help(command: str, capsys) -> None:
    assert main([command, "--help"]) == 0
    assert "usage: rtrdit " + command in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["bench", "--seconds", "nan"], "rtrdit bench: error: argument --seconds: must be a finite number > 0, got 'nan'"),
    (["bench", "--seconds", "inf"], "argument --seconds: must be a finite number > 0"),  # once an OverflowError
    (["bench", "--threads", "-1"], "argument --threads: must be a whole number >= 1, got '-1'"),
    (["eval", "benchmark", "--clips", "c", "--out", "o", "--fps", "inf"], "rtrdit eval benchmark: error: argument --fps"),
    (["eval", "benchmark", "--clips", "c", "--out", "o", "--max-clips", "0"], "argument --max-clips"),  # once an empty table
    (["serve", "--idle-timeout", "nan"], "argument --idle-timeout"),  # once a server whose sessions never expired
    (["stylize", "in.mp4", "-o", "out.mp4", "--steps", "x"], "argument --steps: must be a whole number >= 1, got 'x'"),
    (["stylize"], "the following arguments are required: input, -o/--output (see rtrdit stylize --help)"),
    (["nonsense"], "rtrdit: error: argument COMMAND: invalid choice: 'nonsense'"),
])
def test_bad_options_are_one_line_and_exit_2(argv: list[str], message: str, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "usage:" not in err, err
    assert not any(tmp_path.iterdir())


def test_help_imports_no_torch() -> None:
    """`rtrdit --help` stays instant: nothing heavy is imported at import time."""
    code = "import sys; from rtrdit.cli import main; main([]); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False")


def test_sigterm_handling_is_scoped_to_the_command() -> None:
    """The SIGTERM handler lives only while a command runs, and never replaces one an embedding
    program installed (main() may be called from a notebook or a server)."""
    assert threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with sigterm_as_interrupt():
            assert callable(signal.getsignal(signal.SIGTERM))
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL

        def theirs(signum, frame) -> None:
            pass

        signal.signal(signal.SIGTERM, theirs)
        with sigterm_as_interrupt():
            assert signal.getsignal(signal.SIGTERM) is theirs
        assert signal.getsignal(signal.SIGTERM) is theirs
    finally:
        signal.signal(signal.SIGTERM, before)


@pytest.mark.parametrize("module", ["rtrdit", "rtrdit.cli"])
def test_python_dash_m_reports_errors_in_one_line(module: str, tmp_path) -> None:
    """`python -m rtrdit.cli` (how the tests and torchrun start it) used to print a traceback for every
    user error: the commands raise rtrdit.cli.CLIError, which its __main__ copy did not catch."""
    r = subprocess.run([sys.executable, "-m", module, "stylize", str(tmp_path / "none.mp4"), "-o",
                        str(tmp_path / "o.mp4"), "--prompt", "x"], capture_output=True, text=True, check=False)
    assert r.returncode == 2 and r.stderr.strip() == f"rtrdit stylize: error: {tmp_path / 'none.mp4'}: no such file"


def test_output_into_a_closed_pipe_is_no_traceback() -> None:
    """`rtrdit data styles | head -1`: the reader leaves early; the command stops quietly with SIGPIPE's
    status (141, as `yes | head` does) instead of a BrokenPipeError traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "rtrdit", "data", "styles"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the command writes: its first write meets a closed pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 128 + signal.SIGPIPE
    assert err == ""
