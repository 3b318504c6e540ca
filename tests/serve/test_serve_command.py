"""`rtrdit serve` refuses bad or unsafe settings with one line and exit code 2 (before loading anything)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtrdit.cli import main


@pytest.mark.parametrize(("args", "message"), [
    (["--host", "0.0.0.0"], "give --token"),
    (["--port", "70000"], "--port"),
    (["--max-sessions", "0"], "--max-sessions"),
    (["--token", "short"], "at least 8"),
    (["--steps", "20"], "--steps"),
    (["--certfile", "cert.pem"], "both --certfile and --keyfile"),
    (["--devices", "cuda:7"], "not available"),
    (["--devices", "warp-drive"], "not a torch device"),
    (["--model", "/nonexistent/model"], "cannot load model"),
])
def test_bad_settings_fail_with_one_line(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rtrdit serve: error:") and message in err and "\n" not in err


def test_a_non_stylizer_dir_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--model", str(tmp_path), "--devices", "cpu"]) == 2
    assert "stylizer.json" in capsys.readouterr().err
