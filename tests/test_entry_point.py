"""The `rtrdit` entry point: version, help, and every subcommand's parser builds."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rtrdit import __version__
from rtrdit.cli import COMMANDS, main


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
