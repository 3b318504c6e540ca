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
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and __version__ in capsys.readouterr().out
    assert main([]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_subcommand_has_help(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    assert "usage: rtrdit " + command in capsys.readouterr().out


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
