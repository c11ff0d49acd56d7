"""Open a downtime kit with SafeWard stopped: no Django, no database.

    python -m safeward.continuity.offline KIT.swk --key unit-key.json --out kit.pdf

Needs only Python and the `tink` package (installed with SafeWard on the
downtime workstation). A kit file is ``SWKIT1\\n``, one JSON header line
(ward, generation time), then the Tink hybrid ciphertext (HPKE X25519,
AES-256-GCM) of the PDF; the header is the ciphertext's context info, so it
cannot be altered either. The key file is the unit's private keyset, written
by `safeward continuity kit-key` onto the workstation (keep it there, 0600).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

MAGIC = b"SWKIT1\n"


class KitError(Exception):
    pass


def split_kit(data: bytes) -> tuple[dict[str, Any], bytes, bytes]:
    """(header, header bytes, ciphertext) of a kit file."""
    if not data.startswith(MAGIC):
        raise KitError("not a SafeWard downtime kit (bad magic)")
    rest = data[len(MAGIC) :]
    line, newline, ciphertext = rest.partition(b"\n")
    if not newline:
        raise KitError("the kit's header is truncated")
    try:
        header = json.loads(line)
    except ValueError:
        raise KitError("the kit's header is not JSON") from None
    return header, MAGIC + line, ciphertext


def open_kit(data: bytes, private_keyset_json: str) -> tuple[dict[str, Any], bytes]:
    """Decrypt a kit; returns (header, PDF bytes) or raises KitError."""
    import tink
    from tink import hybrid, secret_key_access

    hybrid.register()
    header, context, ciphertext = split_kit(data)
    try:
        handle = tink.json_proto_keyset_format.parse(private_keyset_json, secret_key_access.TOKEN)
        decrypt = handle.primitive(hybrid.HybridDecrypt)
        return header, decrypt.decrypt(ciphertext, context)
    except tink.TinkError:
        raise KitError(
            "the kit does not open with this key (another unit's key, or an altered file)"
        ) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Open a SafeWard downtime kit offline.")
    parser.add_argument("kit", help="The .swk kit file.")
    parser.add_argument("--key", required=True, help="The unit's private keyset file (JSON).")
    parser.add_argument("--out", help="Where to write the PDF (default: the kit's name with .pdf).")
    args = parser.parse_args(argv)
    try:
        data = Path(args.kit).read_bytes()
        key = Path(args.key).read_text(encoding="utf-8")
    except OSError as error:
        print(f"error: {error.strerror}: {error.filename}", file=sys.stderr)
        return 2
    try:
        header, pdf = open_kit(data, key)
    except KitError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    out = Path(args.out) if args.out else Path(args.kit).with_suffix(".pdf")
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pdf)
    print(
        f"Kit of ward {header.get('ward_code', '?')} generated {header.get('generated_at', '?')}: "
        f"{header.get('patients', '?')} patients, written to {out}. Print it, then delete the PDF."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
