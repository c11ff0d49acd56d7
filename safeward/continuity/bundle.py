"""The backup file: a framed bundle streamed through the crypto app's
streaming AEAD, and its signed manifest.

Plaintext layout inside the encrypted stream (``SWBK1``): for each member a
frame ``name length (2 bytes) | name``, then chunks ``length (4 bytes) |
bytes`` ending with a zero-length chunk. Members: ``database`` (a
PostgreSQL custom-format dump or an SQLite online-backup file) and
``documents/<file>`` (the clinical document store, already encrypted). The
stream is written in constant memory: pg_dump's output goes straight through
the AEAD into the backup file.

The encrypted file is ``backup-<stamp>-<id>.swb`` with associated data
``continuity.backup|<id bytes>`` (so one backup does not open as another);
beside it ``<file>.manifest.json`` holds what was backed up (table row
counts, key versions, audit chain head, member hashes) and the SHA-256 and
size of the encrypted file, signed with the audit signer (Ed25519). The KEK
is never in either: the dump holds the keyring table (keys wrapped by the
KEK), so a backup is unreadable without the KEK.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import struct
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from safeward.continuity import conf

MAGIC = b"SWBK1"
AD_PREFIX = b"continuity.backup|"
CHUNK = 1 << 20
MANIFEST_FORMAT = "safeward-backup-manifest/1"


class BackupError(Exception):
    """A backup or its manifest cannot be trusted or read; the message says why."""


def associated_data(backup_id: uuid.UUID) -> bytes:
    return AD_PREFIX + backup_id.bytes


def backup_id_of(path: Path) -> uuid.UUID:
    try:
        return uuid.UUID("-".join(path.stem.split("-")[-5:]))
    except ValueError:
        raise BackupError(f"{path.name} is not named like a SafeWard backup") from None


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + ".manifest.json")


# --- framing -------------------------------------------------------------------------------------
Member = tuple[str, Callable[[], Iterable[bytes]]]


class _FrameReader(io.RawIOBase):
    """A readable stream of the framed members, produced lazily; records each
    member's plaintext SHA-256 and size in `hashes` as it goes."""

    def __init__(self, members: Iterable[Member]) -> None:
        self._parts = self._generate(members)
        self._buffer = b""
        self.hashes: dict[str, dict[str, Any]] = {}

    def _generate(self, members: Iterable[Member]) -> Iterator[bytes]:
        yield MAGIC
        for name, chunks in members:
            encoded = name.encode("utf-8")
            yield struct.pack(">H", len(encoded)) + encoded
            digest, size = hashlib.sha256(), 0
            for chunk in chunks():
                if not chunk:
                    continue
                digest.update(chunk)
                size += len(chunk)
                yield struct.pack(">I", len(chunk)) + chunk
            yield struct.pack(">I", 0)
            self.hashes[name] = {"sha256": digest.hexdigest(), "size": size}

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._parts)
            except StopIteration:
                return 0
        count = min(len(target), len(self._buffer))
        target[:count] = self._buffer[:count]
        self._buffer = self._buffer[count:]
        return count


def read_exact(source: IO[bytes], count: int) -> bytes:
    data = b""
    while len(data) < count:
        part = source.read(count - len(data))
        if not part:
            raise BackupError("the backup bundle ends in the middle of a frame")
        data += part
    return data


def iter_members(source: IO[bytes]) -> Iterator[tuple[str, Iterator[bytes]]]:
    """Members of a decrypted bundle: (name, chunks). Consume each member's
    chunks before asking for the next member."""
    if read_exact(source, len(MAGIC)) != MAGIC:
        raise BackupError("the decrypted stream is not a SafeWard backup bundle")
    while True:
        head = source.read(2)
        if not head:
            return
        if len(head) != 2:
            raise BackupError("the backup bundle ends in the middle of a frame")
        name = read_exact(source, struct.unpack(">H", head)[0]).decode("utf-8")

        def chunks() -> Iterator[bytes]:
            while True:
                length = struct.unpack(">I", read_exact(source, 4))[0]
                if length == 0:
                    return
                yield read_exact(source, length)

        yield name, chunks()


def file_chunks(path: Path) -> Callable[[], Iterable[bytes]]:
    def produce() -> Iterator[bytes]:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk

    return produce


def write_encrypted(
    members: Iterable[Member], target: Path, *, backup_id: uuid.UUID
) -> dict[str, dict[str, Any]]:
    """Frame the members and encrypt them into `target` (created 0600); returns
    the members' plaintext hashes."""
    from safeward.crypto.streams import encrypt_stream

    reader = _FrameReader(members)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        encrypt_stream(io.BufferedReader(reader, CHUNK), handle, associated_data=associated_data(backup_id))
        handle.flush()
        os.fsync(handle.fileno())
    return reader.hashes


def file_digest(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


# --- manifest ------------------------------------------------------------------------------------
def canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def sign_manifest(body: dict[str, Any]) -> dict[str, Any]:
    from safeward.audit.signing import get_signer

    key_id, signature = get_signer().sign(canonical(body))
    return {"body": body, "key_id": key_id, "signature": base64.b64encode(signature).decode("ascii")}


def write_manifest(path: Path, signed: dict[str, Any]) -> None:
    target = manifest_path(path)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_text(json.dumps(signed, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    temporary.chmod(0o600)
    temporary.replace(target)


def read_manifest(path: Path) -> dict[str, Any]:
    target = manifest_path(path)
    try:
        loaded = json.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"no manifest beside {path.name} ({target.name} is missing)") from None
    except (ValueError, UnicodeDecodeError):
        raise BackupError(f"{target.name} is not valid JSON") from None
    if not isinstance(loaded, dict) or not isinstance(loaded.get("body"), dict):
        raise BackupError(f"{target.name} is not a SafeWard backup manifest")
    return loaded


def verify_manifest(path: Path, *, public_key_pem: str | None = None) -> dict[str, Any]:
    """Check the manifest's signature and the encrypted file's hash and size
    against it; returns the manifest body or raises BackupError. With
    `public_key_pem` it needs neither the database nor the keyring."""
    signed = read_manifest(path)
    body: dict[str, Any] = signed["body"]
    try:
        signature = base64.b64decode(str(signed.get("signature", "")), validate=True)
    except ValueError:
        raise BackupError("the manifest's signature is not base64") from None
    data = canonical(body)
    if public_key_pem is not None:
        from safeward.crypto.signing import verify_offline

        try:
            verify_offline(public_key_pem, data, signature)
        except Exception:
            raise BackupError("the manifest's signature does not verify under the given public key") from None
    else:
        from safeward.audit.signing import get_signer

        try:
            good = get_signer().verify(str(signed.get("key_id", "")), data, signature)
        except Exception:
            good = False
        if not good:
            raise BackupError("the manifest's signature does not verify: the manifest was altered or forged")
    if body.get("format") != MANIFEST_FORMAT:
        raise BackupError("the manifest is of an unknown format")
    if body.get("file") != path.name or body.get("backup_id") != str(backup_id_of(path)):
        raise BackupError("the manifest belongs to another backup file")
    if not path.exists():
        raise BackupError(f"the backup file {path.name} is missing")
    sha, size = file_digest(path)
    if size != body.get("size_bytes") or sha != body.get("sha256"):
        raise BackupError("the backup file does not match its manifest (altered, truncated or replaced)")
    return body


# --- key rotation --------------------------------------------------------------------------------
def _replace_reencrypted(new: Path, target: Path) -> None:
    """Key rotation moved a backup to the new data key: the file's hash
    changed, so its manifest is updated and signed again."""
    signed = read_manifest(target)
    body = dict(signed["body"])
    sha, size = file_digest(new)
    body["sha256"], body["size_bytes"] = sha, size
    new.replace(target)
    write_manifest(target, sign_manifest(body))


def backup_files_store() -> Any:
    from safeward.crypto.phi import PhiCategory
    from safeward.crypto.stores import FileStreamStore

    return FileStreamStore(
        label="continuity backups",
        directory=conf.backup_dir,
        pattern="backup-*.swb",
        associated_data=lambda path: associated_data(backup_id_of(path)),
        stream_prefixes=(AD_PREFIX,),
        writers=(__name__,),
        replace=_replace_reencrypted,
        # A whole-database copy: everything the database holds (PHI fields still sealed inside).
        phi_categories=(
            PhiCategory.IDENTIFIER,
            PhiCategory.DEMOGRAPHIC,
            PhiCategory.CONTACT,
            PhiCategory.FINANCIAL,
            PhiCategory.ENCOUNTER,
            PhiCategory.CLINICAL,
            PhiCategory.ACCESS_RECORD,
        ),
    )
