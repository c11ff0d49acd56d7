"""The RSA key SafeWard signs OpenID Connect id_tokens with (RS256, ADR 0541).

Read by the settings before Django starts, so this module imports nothing
from Django. In production the key is a PEM file the operator provides
(`SAFEWARD_OIDC_KEY_FILE`, e.g. from the hospital's secret store); outside
production it is generated once into the crypto app's key folder
(`SAFEWARD_KEY_DIR/oidc-rs256.pem`, mode 0600), next to the file KEK.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_BITS = 3072
DEFAULT_NAME = "oidc-rs256.pem"


class SigningKeyError(Exception):
    """The key file is missing, unreadable or not an RSA private key (the message names the file)."""


def read_signing_key(path: Path) -> str:
    """The PEM text of an RSA private key file (at least 2048 bits)."""
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeError) as error:
        raise SigningKeyError(
            f"{path} cannot be read ({getattr(error, 'strerror', None) or 'not text'})."
        ) from None
    try:
        key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
    except (ValueError, TypeError):
        raise SigningKeyError(f"{path} does not hold an unencrypted PEM private key.") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise SigningKeyError(f"{path} must hold an RSA private key of at least 2048 bits (RS256).")
    return text


def load_or_create_signing_key(path: Path) -> str:
    """The key at `path`, created first (0600, atomically) when there is none."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        try:
            os.link(temporary, path)  # fails if another process made it first: theirs wins
        except FileExistsError:
            pass
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
    return read_signing_key(path)
