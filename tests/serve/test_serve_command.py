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
    (["--self-signed", "--certfile", "c.pem", "--keyfile", "k.pem"], "not both"),
    (["--devices", "cuda:7"], "not available"),
    (["--devices", "warp-drive"], "not a torch device"),
    (["--model", "/nonexistent/model"], "cannot load model"),
    (["--dtype", "int8"], "--dtype: invalid choice: 'int8'"),
])
def test_bad_settings_fail_with_one_line(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rtrdit serve: error:") and message in err and "\n" not in err


def test_a_non_stylizer_dir_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--model", str(tmp_path), "--devices", "cpu"]) == 2
    assert "stylizer.json" in capsys.readouterr().err


def test_every_device_gets_the_dtype_asked_for() -> None:
    import torch

    from rtrdit.commands.serve import load_stylizers

    assert load_stylizers("demo", ["cpu"])["cpu"].dit.dtype == torch.float32  # auto, on a CPU
    assert load_stylizers("demo", ["cpu"], dtype="bfloat16")["cpu"].dit.dtype == torch.bfloat16


def test_self_signed_certificate_names_every_host_and_keeps_its_key_private(tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    from rtrdit.serve.tls import self_signed_certificate

    cert_path, key_path, fingerprint = self_signed_certificate(tmp_path, ["localhost", "192.0.2.7", "::1", "phone.lan"])
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost", "phone.lan"]
    assert [str(a) for a in sans.get_values_for_type(x509.IPAddress)] == ["192.0.2.7", "::1"]
    assert fingerprint == cert.fingerprint(hashes.SHA256()).hex(":").upper()
    assert key_path.stat().st_mode & 0o777 == 0o600
