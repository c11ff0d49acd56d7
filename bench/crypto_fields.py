"""Field encryption and decryption against the raw AEAD primitive on the same bytes.

    .venv/bin/python bench/crypto_fields.py [--values 20000] [--rounds 5] [--size 64]

"raw" is cryptography's AESGCMSIV.encrypt/decrypt with a fresh nonce and the
same padded bytes and associated data; "field" is what a model save and a
gateway reveal do per value: validation and encoding of the plain value,
associated data from model, field and row id, key lookup, header, padding,
AEAD (EncryptedTextField -> Sealed -> keyring). Rounds alternate so both see
the same machine load; the ratio is field / raw per round, median reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crypto_common import configure, machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size", type=int, default=64, help="plaintext characters per value")
    args = parser.parse_args()
    configure()

    from safeward.crypto.fields import Sealed
    from safeward.crypto.keyring import _pad, keyring
    from tests.crypto.testapp.models import Record

    field = Record._meta.get_field("family_name")
    field.plain_max_length = max(field.plain_max_length, args.size)
    texts = [("x" * (args.size - 8)) + f"{i:08d}" for i in range(args.values)]
    records = [Record() for _ in range(args.values)]
    key = keyring().primary()
    aead = key.aead
    ads = [field.associated_data(r.pk) for r in records]
    plain = [_pad(t.encode()) for t in texts]

    def raw_encrypt() -> list[tuple[bytes, bytes]]:
        out = []
        for data, ad in zip(plain, ads, strict=True):
            nonce = os.urandom(12)
            out.append((nonce, aead.encrypt(nonce, data, key.header + ad)))
        return out

    def raw_decrypt(sealed: list[tuple[bytes, bytes]]) -> None:
        for (nonce, blob), ad in zip(sealed, ads, strict=True):
            aead.decrypt(nonce, blob, key.header + ad)

    def field_encrypt() -> list[bytes]:
        out = []
        for record, text in zip(records, texts, strict=True):
            out.append(field.get_prep_value(field.seal_for(record, text)))
        return out

    def field_decrypt(blobs: list[bytes]) -> None:
        for record, blob in zip(records, blobs, strict=True):
            Sealed(field, record, ciphertext=blob).reveal()

    def timed(fn, *a):
        start = time.perf_counter()
        result = fn(*a)
        return time.perf_counter() - start, result

    rows = {"raw encrypt": [], "field encrypt": [], "raw decrypt": [], "field decrypt": []}
    for _ in range(args.rounds):
        t, raw_sealed = timed(raw_encrypt)
        rows["raw encrypt"].append(t)
        t, blobs = timed(field_encrypt)
        rows["field encrypt"].append(t)
        rows["raw decrypt"].append(timed(raw_decrypt, raw_sealed)[0])
        rows["field decrypt"].append(timed(field_decrypt, blobs)[0])

    print(f"# {machine()}")
    print(f"# {args.values} values of {args.size} characters, {args.rounds} alternating rounds (median)")
    for name, times in rows.items():
        per = statistics.median(times) / args.values * 1e6
        print(f"{name:<14} {per:8.2f} µs/value  {args.values / statistics.median(times):>10,.0f} values/s")
    for op in ("encrypt", "decrypt"):
        ratios = [f / r for f, r in zip(rows[f"field {op}"], rows[f"raw {op}"], strict=True)]
        print(f"overhead {op}: field/raw = {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
