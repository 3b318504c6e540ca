"""HTTPS for a phone on the LAN: browsers give the camera only to https pages (or localhost), so
`rtrdit serve --self-signed` makes a throwaway certificate for this machine's names and addresses.
The phone warns once ("not private"); the fingerprint printed by the server is what to compare."""

from __future__ import annotations

import datetime
import ipaddress
import socket
from pathlib import Path


def lan_addresses() -> list[str]:
    """This machine's non-loopback IPv4 addresses, the one a default route would use first (found
    by connecting a UDP socket, which sends nothing); empty when it has none."""
    found: list[str] = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            found.append(s.getsockname()[0])
    except OSError:
        pass
    try:
        found += [str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    except OSError:
        pass
    addresses = []
    for a in found:
        if a not in addresses and not ipaddress.ip_address(a).is_loopback and a != "0.0.0.0":
            addresses.append(a)
    return addresses


def self_signed_certificate(folder: Path, hosts: list[str], days: int = 30) -> tuple[Path, Path, str]:
    """Write ``cert.pem`` and ``key.pem`` (ECDSA P-256) for ``hosts`` (names or IP addresses) into
    ``folder``; returns their paths and the certificate's SHA-256 fingerprint (AA:BB:...)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    names: list[x509.GeneralName] = []
    for h in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            if h.isascii() and h:  # a certificate names hosts in ASCII (IDNA); skip a local name that is not
                names.append(x509.DNSName(h))
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rtrdit serve (self-signed)")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    key_path.touch(mode=0o600)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fingerprint = cert.fingerprint(hashes.SHA256()).hex(":").upper()
    return cert_path, key_path, fingerprint


__all__ = ["lan_addresses", "self_signed_certificate"]
