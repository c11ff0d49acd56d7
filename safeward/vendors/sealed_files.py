"""Files a vendor gives us (signed agreements, questionnaire evidence): encrypted
as they stream in with the crypto app's stream encryption, hashed over the
plaintext, bound to their row by the associated data, and checked against the
hash whenever they are opened. No patient data (both stores declare none)."""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from safeward.crypto import streams
from safeward.crypto.errors import IntegrityError
from safeward.vendors.services import VendorError


class _Hashing:
    """A reader that hashes and counts what passes through it, and stops at the size limit."""

    def __init__(self, source: IO[bytes], limit: int, too_large: dict[str, list[str]]) -> None:
        self.source, self.digest, self.size = source, hashlib.sha256(), 0
        self.limit, self.too_large = limit, too_large

    def read(self, n: int = -1) -> bytes:
        block = self.source.read(n)
        self.digest.update(block)
        self.size += len(block)
        if self.size > self.limit:
            raise VendorError(self.too_large)
        return block


@dataclass(frozen=True)
class Sealed:
    storage_id: uuid.UUID
    path: Path
    size: int
    sha256: str


def write_encrypted(
    source: IO[bytes], *, folder: Path, ad_prefix: bytes, limit: int, too_large: dict[str, list[str]]
) -> Sealed:
    """Encrypt `source` into a new file under `folder`; the file is removed when
    this fails. The caller removes it if what follows (its row) fails."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    storage_id = uuid.uuid4()
    target = folder / f"{storage_id}.swf"
    hashing = _Hashing(source, limit, too_large)
    try:
        with target.open("xb") as handle:
            streams.encrypt_stream(hashing, handle, associated_data=ad_prefix + storage_id.bytes)  # type: ignore[arg-type]
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return Sealed(storage_id, target, hashing.size, hashing.digest.hexdigest())


def read_verified(*, folder: Path, ad_prefix: bytes, storage_id: uuid.UUID, sha256: str, field: str) -> bytes:
    """The file's plaintext, or VendorError on `field` when it is missing, does not
    decrypt or does not match its recorded hash."""
    plain = io.BytesIO()
    try:
        with (folder / f"{storage_id}.swf").open("rb") as source:
            streams.decrypt_stream(source, plain, associated_data=ad_prefix + storage_id.bytes)
    except (OSError, IntegrityError):
        raise VendorError({field: ["The stored file is missing or does not decrypt."]}) from None
    content = plain.getvalue()
    if hashlib.sha256(content).hexdigest() != sha256:
        raise VendorError({field: ["The stored file does not match its hash."]})
    return content
