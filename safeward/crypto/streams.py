"""Files and exports, encrypted as streams in constant memory.

    with open("scan.pdf", "rb") as src, open("scan.pdf.sw", "wb") as dst:
        encrypt_stream(src, dst, associated_data=b"clinical.document|" + doc.id.bytes)
    with open("scan.pdf.sw", "rb") as src, open("out.pdf", "wb") as dst:
        decrypt_stream(src, dst, associated_data=b"clinical.document|" + doc.id.bytes)

Format: ``b"SWF1" | key id (4 bytes)`` followed by Google Tink's streaming
AEAD (AES-256-GCM-HKDF, 1 MiB segments: each segment authenticated with its
position and a last-segment flag), keyed with an HKDF subkey of the data
key. Tink's associated data is the 8-byte header plus the caller's
``associated_data``, so a file encrypted for one document does not open
as another, and the key id cannot be edited. A truncated, extended,
reordered or altered file raises ``IntegrityError``; data already written
to ``dst`` before the failure must be discarded by the caller
(``decrypt_stream`` writes segment by segment, so check its result before
using ``dst``; ``decrypt_to_path`` does that for you).

Memory: one segment (1 MiB) plus a 64 KiB copy buffer, whatever the size.
Files rotate with the data keys through ``reencrypt_stream`` (segment by
segment, never as plaintext on disk); the key id in the header tells which key one needs.
"""

from __future__ import annotations

import os
import struct
import tempfile
from pathlib import Path
from typing import IO, Any

import tink
from tink import cleartext_keyset_handle, streaming_aead
from tink.proto import aes_gcm_hkdf_streaming_pb2, common_pb2, tink_pb2

from safeward.crypto.errors import IntegrityError
from safeward.crypto.keyring import LoadedKey, Purpose, keyring
from safeward.crypto.registry import require_stream_kind

MAGIC = b"SWF1"
HEADER_BYTES = len(MAGIC) + 4
SEGMENT_BYTES = 1 << 20
COPY_BYTES = 64 * 1024
_TYPE_URL = "type.googleapis.com/google.crypto.tink.AesGcmHkdfStreamingKey"

__all__ = ["decrypt_stream", "decrypt_to_path", "encrypt_stream", "reencrypt_stream", "stream_key_id"]

streaming_aead.register()
_primitives: dict[int, Any] = {}


def _primitive(key: LoadedKey) -> Any:
    """Tink's StreamingAead over a key derived from the data key (cached per key id)."""
    primitive = _primitives.get(key.key_id)
    if primitive is None:
        params = aes_gcm_hkdf_streaming_pb2.AesGcmHkdfStreamingParams(
            ciphertext_segment_size=SEGMENT_BYTES, derived_key_size=32, hkdf_hash_type=common_pb2.SHA256
        )
        proto_key = aes_gcm_hkdf_streaming_pb2.AesGcmHkdfStreamingKey(
            version=0, params=params, key_value=key.subkey(b"stream")
        )
        keyset = tink_pb2.Keyset(
            primary_key_id=key.key_id,
            key=[
                tink_pb2.Keyset.Key(
                    key_data=tink_pb2.KeyData(
                        type_url=_TYPE_URL,
                        value=proto_key.SerializeToString(),
                        key_material_type=tink_pb2.KeyData.SYMMETRIC,
                    ),
                    status=tink_pb2.ENABLED,
                    key_id=key.key_id,
                    output_prefix_type=tink_pb2.RAW,
                )
            ],
        )
        handle = cleartext_keyset_handle.from_keyset(keyset)
        primitive = _primitives[key.key_id] = handle.primitive(streaming_aead.StreamingAead)
    return primitive


class _KeepOpen:
    """Tink closes the stream it writes to; the caller owns `dst`, so it stays open."""

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target

    def write(self, data: bytes) -> int:
        return self._target.write(data) or len(data)

    def flush(self) -> None:
        self._target.flush()

    def close(self) -> None:
        self._target.flush()

    @property
    def closed(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False


def _check_ad(associated_data: bytes) -> bytes:
    if not isinstance(associated_data, bytes) or not associated_data:
        raise ValueError("associated_data must be non-empty bytes naming what the file belongs to")
    return associated_data


def encrypt_stream(src: IO[bytes], dst: IO[bytes], *, associated_data: bytes) -> int:
    """Encrypt everything `src` yields into `dst`; returns the plaintext byte count.
    `associated_data` must start with the prefix of a registered file store
    (safeward.crypto.registry), so key rotation moves the file and retirement counts it."""
    require_stream_kind(_check_ad(associated_data))
    key = keyring().primary(Purpose.DATA)
    header = MAGIC + struct.pack(">I", key.key_id)
    dst.write(header)
    total = 0
    with _primitive(key).new_encrypting_stream(_KeepOpen(dst), header + _check_ad(associated_data)) as sink:
        while chunk := src.read(COPY_BYTES):
            sink.write(chunk)
            total += len(chunk)
    return total


def stream_key_id(src: IO[bytes]) -> int:
    """Read the header of an encrypted stream; returns the key id (src advances 8 bytes)."""
    header = src.read(HEADER_BYTES)
    if len(header) != HEADER_BYTES or header[: len(MAGIC)] != MAGIC:
        raise IntegrityError("the file is not a SafeWard encrypted stream (bad or truncated header)")
    return int(struct.unpack(">I", header[len(MAGIC) :])[0])


def decrypt_stream(src: IO[bytes], dst: IO[bytes], *, associated_data: bytes) -> int:
    """Decrypt `src` into `dst`; returns the plaintext byte count or raises
    IntegrityError (then discard what was written to `dst`)."""
    key_id = stream_key_id(src)
    key = keyring().get(key_id)
    if key.purpose != Purpose.DATA:
        raise IntegrityError("the file names a key that is not a data key")
    header = MAGIC + struct.pack(">I", key_id)
    total = 0
    try:
        with _primitive(key).new_decrypting_stream(src, header + _check_ad(associated_data)) as source:
            while chunk := source.read(COPY_BYTES):
                dst.write(chunk)
                total += len(chunk)
    except tink.TinkError:
        raise IntegrityError(
            "the encrypted file failed authentication: it was truncated, reordered or altered, "
            "or belongs to something else"
        ) from None
    return total


def decrypt_to_path(src: IO[bytes], path: str | os.PathLike[str], *, associated_data: bytes) -> int:
    """Decrypt into a file that appears at `path` only when the whole stream verified."""
    target = Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".swdec-")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            total = decrypt_stream(src, handle, associated_data=associated_data)
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return total


def reencrypt_stream(src: IO[bytes], dst: IO[bytes], *, associated_data: bytes) -> int:
    """Move an encrypted stream to the primary data key, segment by segment in
    constant memory (plaintext never touches disk). Each segment is verified
    before it is re-encrypted; on IntegrityError discard `dst`."""
    key_id = stream_key_id(src)
    key = keyring().get(key_id)
    header = MAGIC + struct.pack(">I", key_id)
    primary = keyring().primary(Purpose.DATA)
    new_header = MAGIC + struct.pack(">I", primary.key_id)
    dst.write(new_header)
    total = 0
    try:
        with (
            _primitive(key).new_decrypting_stream(src, header + _check_ad(associated_data)) as source,
            _primitive(primary).new_encrypting_stream(_KeepOpen(dst), new_header + associated_data) as sink,
        ):
            while chunk := source.read(COPY_BYTES):
                sink.write(chunk)
                total += len(chunk)
    except tink.TinkError:
        raise IntegrityError("the encrypted file failed authentication and was not re-encrypted") from None
    return total
