"""Downtime kits: a ward's census and what each patient needs on paper,
as a PDF encrypted to the ward's downtime workstation (Tink hybrid
encryption to the unit's public keyset; the private keyset lives only on the
workstation, see offline.py), written to the unit's downtime folder."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string

from safeward.continuity.offline import MAGIC

KIT_SUFFIX = ".swk"


def kit_root() -> Path:
    value = getattr(settings, "SAFEWARD_DOWNTIME_KIT_DIR", None)
    return Path(value) if value else Path(settings.VAR_DIR) / "downtime-kits"


def kit_max_age_minutes() -> int:
    return max(1, int(getattr(settings, "SAFEWARD_DOWNTIME_KIT_MAX_AGE_MINUTES", 30)))


def new_unit_keyset() -> tuple[str, str, str]:
    """(private keyset JSON for the workstation, public keyset JSON for the server, fingerprint)."""
    import tink
    from tink import hybrid, secret_key_access

    hybrid.register()
    handle = tink.new_keyset_handle(
        hybrid.hybrid_key_templates.DHKEM_X25519_HKDF_SHA256_HKDF_SHA256_AES_256_GCM
    )
    private = tink.json_proto_keyset_format.serialize(handle, secret_key_access.TOKEN)
    public = tink.json_proto_keyset_format.serialize_without_secret(handle.public_keyset_handle())
    return private, public, hashlib.sha256(public.encode("utf-8")).hexdigest()


def render_pdf(kit: Any) -> bytes:
    from weasyprint import HTML

    html = render_to_string("continuity/kit_pdf.html", {"kit": kit})
    pdf: bytes = HTML(string=html).write_pdf()
    return pdf


def encrypt_kit(pdf: bytes, *, public_keyset: str, header: dict[str, Any]) -> bytes:
    import tink
    from tink import hybrid

    hybrid.register()
    line = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("ascii")
    context = MAGIC + line
    encrypt = tink.json_proto_keyset_format.parse_without_secret(public_keyset).primitive(
        hybrid.HybridEncrypt
    )
    sealed: bytes = encrypt.encrypt(pdf, context)
    return context + b"\n" + sealed


def write_atomically(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = folder / name
    temporary = folder / f".{name}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(target)
    return target


def kit_file_name(ward_code: str) -> str:
    return f"downtime-kit-{ward_code}{KIT_SUFFIX}"


def header_for(kit: Any, generated_at: dt.datetime) -> dict[str, Any]:
    return {
        "ward_code": kit.ward_code,
        "generated_at": generated_at.isoformat(),
        "patients": len(kit.patients),
    }
