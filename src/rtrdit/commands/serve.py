"""`rtrdit serve`: live stylization for a browser or phone over WebRTC, or WebSocket where WebRTC fails;
encoders such as OBS publish over WHIP (/whip/NAME) and anyone watches at /watch/NAME (WHEP).

    rtrdit serve                                  # http://127.0.0.1:8000, the demo model
    rtrdit serve --model DIR --max-sessions 4
    rtrdit serve --host 0.0.0.0 --token SECRET --self-signed                           # a phone on the LAN
    rtrdit serve --host 0.0.0.0 --token SECRET --certfile cert.pem --keyfile key.pem   # ... with your certificate
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
from pathlib import Path
from typing import Any

from rtrdit.cli import add_dtype_option, positive_float, positive_int
from rtrdit.errors import first_line

WILDCARDS = ("0.0.0.0", "::", "")  # --host values that listen on every interface


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free port)")
    parser.add_argument("--model", default="demo", help="'demo' (the shipped model) or a stylizer directory")
    parser.add_argument("--max-sessions", type=positive_int, default=4, help="concurrent streams at most (default 4)")
    parser.add_argument("--token", help="secret clients must give (?token=... or 'Authorization: Bearer ...'), "
                                        "at least 8 characters; required when binding to anything but localhost")
    parser.add_argument("--devices", default="auto",
                        help="comma-separated torch devices, one worker each (default auto: every CUDA GPU, else cpu)")
    add_dtype_option(parser)
    parser.add_argument("--steps", type=positive_int, help="denoising steps per chunk (default: the model's)")
    parser.add_argument("--idle-timeout", type=positive_float, default=30.0,
                        help="free a session after this many seconds without frames or messages (default 30)")
    parser.add_argument("--certfile", type=Path, help="TLS certificate (phones need HTTPS for the camera)")
    parser.add_argument("--keyfile", type=Path, help="TLS private key for --certfile")
    parser.add_argument("--self-signed", action="store_true",
                        help="serve HTTPS with a throwaway certificate made for this machine's names and LAN "
                             "addresses (the phone warns once; compare the printed fingerprint)")
    parser.add_argument("--insecure", action="store_true", help="allow a non-local --host without --token")


def _devices(spec: str) -> list[str]:
    import torch

    from rtrdit.cli import CLIError, device_arg

    if spec == "auto":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        return [f"cuda:{i}" for i in range(n)] or ["cpu"]
    devices = [device_arg(d.strip(), flag="--devices") for d in spec.split(",") if d.strip()]
    if not devices:
        raise CLIError("--devices is empty")
    if len(set(devices)) != len(devices):
        raise CLIError("--devices lists a device twice")
    return devices


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_args(args: argparse.Namespace) -> None:
    """Refuse bad or unsafe settings before anything heavy is loaded."""
    from rtrdit.cli import CLIError

    if not 0 <= args.port <= 65535:
        raise CLIError(f"--port must be 0..65535, got {args.port}")
    if args.steps is not None and args.steps > 8:
        raise CLIError(f"--steps must be from 1 to 8, got {args.steps}")
    if args.token is not None and len(args.token) < 8:
        raise CLIError("--token must be at least 8 characters")
    if not _is_local(args.host) and args.token is None and not args.insecure:
        raise CLIError(f"--host {args.host} is reachable from other machines: give --token (or --insecure)")
    if (args.certfile is None) != (args.keyfile is None):
        raise CLIError("give both --certfile and --keyfile")
    if args.self_signed and args.certfile is not None:
        raise CLIError("give --self-signed or --certfile/--keyfile, not both")
    for f in (args.certfile, args.keyfile):
        if f is not None and not f.is_file():
            raise CLIError(f"file not found: {f}")


def load_stylizers(model: str, devices: list[str], steps: int | None = None, dtype: str = "auto") -> dict[str, Any]:
    """One stylizer per device, its DiT in ``dtype`` (CLIError with one line when the model cannot be loaded)."""
    from rtrdit.cli import CLIError
    from rtrdit.stream.stylizer import Stylizer

    overrides = {"steps": steps} if steps is not None else {}
    out = {}
    for d in devices:
        try:
            out[d] = Stylizer.from_pretrained(model, device=d, dtype=dtype, **overrides)
        except (ValueError, OSError) as exc:
            raise CLIError(f"cannot load model {model!r}: {first_line(exc)}") from None
    return out


def _certificate_hosts(host: str) -> list[str]:
    """The names and addresses a phone or this machine may reach the server by."""
    from rtrdit.serve.tls import lan_addresses

    hosts = ["localhost", "127.0.0.1", "::1", socket.gethostname(), *lan_addresses()]
    return hosts if host in WILDCARDS else [host, *hosts]


def run(args: argparse.Namespace) -> int:
    import tempfile

    import uvicorn

    from rtrdit.cli import CLIError
    from rtrdit.serve.app import create_app
    from rtrdit.serve.scheduler import Limits, Scheduler
    from rtrdit.serve.tls import lan_addresses, self_signed_certificate

    check_args(args)
    devices = _devices(args.devices)
    stylizers = load_stylizers(args.model, devices, args.steps, args.dtype)
    limits = Limits()
    scheduler = Scheduler(stylizers, max_sessions=args.max_sessions, idle_timeout=args.idle_timeout, limits=limits)
    app = create_app(scheduler, token=args.token)
    try:
        sock = socket.create_server((args.host, args.port), family=socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    except OSError as exc:
        raise CLIError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="rtrdit-tls-") as tls_dir:  # a --self-signed key never outlives the server
        certfile, keyfile, fingerprint = args.certfile, args.keyfile, None
        if args.self_signed:
            certfile, keyfile, fingerprint = self_signed_certificate(Path(tls_dir), _certificate_hosts(args.host))
        scheme = "https" if certfile else "http"
        config = uvicorn.Config(app, log_level="warning",
                                ws_max_size=max(limits.max_text_bytes, limits.max_frame_bytes) + 1024,
                                ssl_certfile=str(certfile) if certfile else None,
                                ssl_keyfile=str(keyfile) if keyfile else None, ws_ping_interval=10, ws_ping_timeout=10)
        server = uvicorn.Server(config)
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"rtrdit serve: {scheme}://{host}:{port}/ on {', '.join(devices)} (model {args.model}; Ctrl-C stops)",
              file=sys.stderr, flush=True)
        if args.host in WILDCARDS:
            query = f"?token={args.token}" if args.token else ""
            for address in lan_addresses():
                print(f"rtrdit serve: on the LAN: {scheme}://{address}:{port}/{query}", file=sys.stderr, flush=True)
        token_note = " with the --token as Bearer token" if args.token else ""
        print(f"rtrdit serve: WHIP encoders (OBS) publish to {scheme}://{host}:{port}/whip/NAME{token_note}; "
              f"watch at {scheme}://{host}:{port}/watch/NAME", file=sys.stderr, flush=True)
        if fingerprint:
            print(f"rtrdit serve: self-signed certificate, SHA-256 {fingerprint}", file=sys.stderr, flush=True)
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled after a graceful shutdown
            pass
    print("rtrdit serve: stopped", file=sys.stderr)
    return 0
