"""Files the demo server needs on first run: a self-signed TLS certificate for
loopback and a persistent secret key. Both are private to the owner (0600)
inside a private folder (0700), and reused on later runs."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from safeward import clock

DEFAULT_NAMES: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
CERTIFICATE_DAYS = 365
# Regenerate when fewer days than this remain.
RENEW_DAYS = 7
SECRET_KEY_MIN_LENGTH = 50


@dataclass(frozen=True)
class TLSFiles:
    certificate: Path
    key: Path
    created: bool


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically with mode 0600 (never world-readable,
    not even for a moment)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _subject_alternative_names(names: Sequence[str]) -> list[x509.GeneralName]:
    result: list[x509.GeneralName] = []
    for name in names:
        try:
            result.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            result.append(x509.DNSName(name))
    return result


def _certificate_fits(path: Path, names: Sequence[str]) -> bool:
    try:
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
        alternative = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    if certificate.not_valid_after_utc - clock.now() < dt.timedelta(days=RENEW_DAYS):
        return False
    return set(_subject_alternative_names(names)) <= set(alternative)


def ensure_certificate(tls_dir: Path, names: Sequence[str] = DEFAULT_NAMES) -> TLSFiles:
    """A self-signed certificate (ECDSA P-256) for `names`; the existing one
    is kept while it is valid for them and not close to expiry."""
    certificate_path = tls_dir / "cert.pem"
    key_path = tls_dir / "key.pem"
    if key_path.exists() and _certificate_fits(certificate_path, names):
        key_path.chmod(0o600)
        return TLSFiles(certificate_path, key_path, created=False)

    key = ec.generate_private_key(ec.SECP256R1())
    now = clock.now()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SafeWard demo hospital"),
            x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERTIFICATE_DAYS))
        .add_extension(x509.SubjectAlternativeName(_subject_alternative_names(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    tls_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    write_private(certificate_path, certificate.public_bytes(serialization.Encoding.PEM))
    return TLSFiles(certificate_path, key_path, created=True)


def ensure_secret_key(path: Path) -> bool:
    """A persistent Django secret key for the demo; returns True when it was
    created now. A short or empty file is replaced."""
    try:
        existing = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        existing = ""
    if len(existing) >= SECRET_KEY_MIN_LENGTH:
        path.chmod(0o600)
        return False
    write_private(path, (secrets.token_urlsafe(64) + "\n").encode("ascii"))
    return True
