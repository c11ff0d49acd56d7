"""Small secrets at rest: MFA seeds, webhook keys, API credentials.

    token = encrypt_secret("JBSWY3DPEHPK3PXP", purpose="mfa")   # "sws1.AQ..." (text, fits any column)
    decrypt_secret(token, purpose="mfa")                          # "JBSWY3DPEHPK3PXP"

The token is ``"sws1." + base64url(header | nonce | ciphertext)`` sealed under
the primary data key, with the purpose as associated data: a token made for
one purpose does not open for another. Tokens rotate with the data keys
(``safeward keys reencrypt`` rewrites the stores registered in
``safeward.crypto.registry``; a purpose no registered store owns is refused).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TypeGuard

from safeward.crypto.errors import IntegrityError
from safeward.crypto.keyring import header_key_id, keyring
from safeward.crypto.registry import require_secret_purpose

PREFIX = "sws1."
MAX_SECRET_CHARS = 4096
_PURPOSE = re.compile(r"^[a-z][a-z0-9_.:-]{0,63}$")

__all__ = ["decrypt_secret", "encrypt_secret", "is_secret_token", "reseal_secret", "secret_key_id"]


def _associated_data(purpose: str) -> bytes:
    if not isinstance(purpose, str) or not _PURPOSE.match(purpose):
        raise ValueError("purpose must be a short lowercase identifier such as 'mfa' or 'webhook'")
    return b"secret|v1|" + purpose.encode("ascii")


def _decode(token: str) -> bytes:
    if not isinstance(token, str) or not token.startswith(PREFIX):
        raise IntegrityError("the stored secret is not a SafeWard secret token")
    try:
        return base64.urlsafe_b64decode(token[len(PREFIX) :].encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise IntegrityError("the stored secret token is damaged") from None


def _encode(blob: bytes) -> str:
    return PREFIX + base64.urlsafe_b64encode(blob).decode("ascii")


def encrypt_secret(text: str, *, purpose: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"a secret must be text, not {type(text).__name__}")
    if len(text) > MAX_SECRET_CHARS:
        raise ValueError(f"a secret is limited to {MAX_SECRET_CHARS} characters")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a secret must be valid Unicode text") from None
    associated_data = _associated_data(purpose)
    require_secret_purpose(purpose)
    return _encode(keyring().seal(data, associated_data=associated_data))


def decrypt_secret(token: str, *, purpose: str) -> str:
    """Raises IntegrityError for a damaged token or one made for another purpose."""
    return keyring().open(_decode(token), associated_data=_associated_data(purpose)).decode("utf-8")


def is_secret_token(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and value.startswith(PREFIX)


def secret_key_id(token: str) -> int:
    return header_key_id(_decode(token))


def reseal_secret(token: str, *, purpose: str) -> str | None:
    """The token moved to the primary data key, or None if it is already there."""
    blob = keyring().reseal(_decode(token), associated_data=_associated_data(purpose))
    return None if blob is None else _encode(blob)
