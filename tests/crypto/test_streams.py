"""Streaming file encryption: round trips, constant memory, and every kind of
damage (truncation, reordering, flipped bytes, another file's context) fails."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc

import pytest

from safeward.crypto.errors import IntegrityError
from safeward.crypto.keyring import keyring
from safeward.crypto.services import Actor, key_rotate
from safeward.crypto.streams import (
    HEADER_BYTES,
    SEGMENT_BYTES,
    decrypt_stream,
    decrypt_to_path,
    encrypt_stream,
    reencrypt_stream,
    stream_key_id,
)

pytestmark = pytest.mark.django_db
AD = b"crypto-test.document|0001"


def encrypt(data: bytes, ad: bytes = AD) -> bytes:
    out = io.BytesIO()
    assert encrypt_stream(io.BytesIO(data), out, associated_data=ad) == len(data)
    return out.getvalue()


def decrypt(blob: bytes, ad: bytes = AD) -> bytes:
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(blob), out, associated_data=ad)
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, 4095, SEGMENT_BYTES - 40, SEGMENT_BYTES, 3 * SEGMENT_BYTES + 17])
def test_round_trip(size):
    data = os.urandom(size)
    blob = encrypt(data)
    assert decrypt(blob) == data
    assert stream_key_id(io.BytesIO(blob)) == keyring().primary().key_id


class _Pattern(io.RawIOBase):
    """`size` bytes of a repeating pattern, produced on demand (nothing held)."""

    def __init__(self, size):
        self.left = size

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.left)
        buffer[:n] = (b"synthetic-" * (n // 10 + 1))[:n]
        self.left -= n
        return n


class _Digest(io.RawIOBase):
    def __init__(self):
        self.hash, self.size = hashlib.sha256(), 0

    def writable(self):
        return True

    def write(self, data):
        self.hash.update(data)
        self.size += len(data)
        return len(data)


def test_large_stream_in_constant_memory(tmp_path):
    size = 64 * SEGMENT_BYTES  # 64 MiB; the same code path as 1 GB
    path = tmp_path / "big.sw"
    tracemalloc.start()
    try:
        with path.open("wb") as dst:
            encrypt_stream(io.BufferedReader(_Pattern(size)), dst, associated_data=AD)
        sink = _Digest()
        with path.open("rb") as src:
            decrypt_stream(src, sink, associated_data=AD)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.size == size
    assert peak < 8 * SEGMENT_BYTES, f"peak Python allocation {peak} bytes"


def test_truncation_fails_at_every_cut():
    blob = encrypt(os.urandom(2 * SEGMENT_BYTES + 100))
    for cut in (0, 3, HEADER_BYTES, HEADER_BYTES + 10, SEGMENT_BYTES, 2 * SEGMENT_BYTES, len(blob) - 1):
        with pytest.raises(IntegrityError):
            decrypt(blob[:cut])


def test_reordered_segments_fail():
    data = os.urandom(3 * SEGMENT_BYTES)
    blob = encrypt(data)
    # Tink's ciphertext segments after our header and Tink's own header; swap two whole segments.
    segment = SEGMENT_BYTES
    first_start = len(blob) - 3 * segment - 16  # approximate positions are enough: any swap breaks the tags
    body = bytearray(blob)
    a, b = first_start, first_start + segment
    body[a : a + segment], body[b : b + segment] = blob[b : b + segment], blob[a : a + segment]
    with pytest.raises(IntegrityError):
        decrypt(bytes(body))


@pytest.mark.parametrize("position", [0, 5, HEADER_BYTES, HEADER_BYTES + 40, SEGMENT_BYTES // 2, -1])
def test_flipped_byte_fails(position):
    blob = bytearray(encrypt(os.urandom(SEGMENT_BYTES + 5)))
    blob[position] ^= 0x80
    with pytest.raises(IntegrityError):
        decrypt(bytes(blob))


def test_appended_bytes_fail():
    with pytest.raises(IntegrityError):
        decrypt(encrypt(b"report") + b"x")


def test_another_files_context_fails():
    blob = encrypt(b"discharge letter")
    with pytest.raises(IntegrityError):
        decrypt(blob, ad=b"crypto-test.document|0002")


def test_associated_data_is_required():
    with pytest.raises(ValueError, match="associated_data"):
        encrypt(b"x", ad=b"")


def test_decrypt_to_path_leaves_nothing_on_failure(tmp_path):
    blob = encrypt(os.urandom(SEGMENT_BYTES * 2))
    target = tmp_path / "out.bin"
    with pytest.raises(IntegrityError):
        decrypt_to_path(io.BytesIO(blob[:-10]), target, associated_data=AD)
    assert list(tmp_path.iterdir()) == []
    assert decrypt_to_path(io.BytesIO(blob), target, associated_data=AD) == 2 * SEGMENT_BYTES


def test_files_survive_rotation_and_move_to_the_new_key():
    data = os.urandom(SEGMENT_BYTES + 3)
    blob = encrypt(data)
    old = keyring().primary().key_id
    key_rotate(actor=Actor(name="test"))
    assert decrypt(blob) == data
    moved = io.BytesIO()
    reencrypt_stream(io.BytesIO(blob), moved, associated_data=AD)
    assert stream_key_id(io.BytesIO(moved.getvalue())) != old
    assert decrypt(moved.getvalue()) == data
    with pytest.raises(IntegrityError):
        reencrypt_stream(io.BytesIO(blob[:-1]), io.BytesIO(), associated_data=AD)


def test_not_a_stream():
    with pytest.raises(IntegrityError, match="not a SafeWard encrypted stream"):
        decrypt(b"%PDF-1.7 plain file")
