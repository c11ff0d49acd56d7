"""The keyring's control tests (issue 18; contract: safeward/compliance.py;
ADR 0920). They read the keyring table and ciphertext headers only: no value
is decrypted and no key material is read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.conf import settings

from safeward.compliance import Check, control
from safeward.crypto import selectors


@control(
    "crypto.phi_fields_encrypted",
    title="PHI fields encrypted at rest",
    maps=(
        "hipaa:164.312(a)(2)(iv)",
        "hipaa:164.312(c)(1)",
        "iso27001-2022:A.8.24",
        "iso27001-2022:A.5.34",
        "csf2:PR.DS-01",
        "hicp:4.M.C",
    ),
)
def phi_fields_encrypted(now: dt.datetime) -> Iterator[Check]:
    """Every encrypted field declares the kind of patient data it holds (a
    PhiCategory), and a sample of its stored values (the newest by primary
    key, SAFEWARD_CONTROL_CIPHERTEXT_SAMPLE per column) are all SafeWard
    ciphertext under a data key the keyring holds. Judged from the headers
    only: nothing is decrypted."""
    for sample in selectors.encrypted_field_samples(limit=settings.SAFEWARD_CONTROL_CIPHERTEXT_SAMPLE):
        yield Check(
            "field",
            sample.label,
            sample.label,
            passed=sample.ok,
            evidence={
                "phi_category": sample.phi_category or None,
                "sampled": sample.sampled,
                "not_ciphertext": sample.not_ciphertext,
                "unknown_key": sample.unknown_key,
            },
        )


@control(
    "crypto.keys_rotated",
    title="No key older than its rotation period",
    maps=(
        "hipaa:164.312(a)(2)(iv)",
        "iso27001-2022:A.8.24",
        "csf2:PR.DS-01",
        "hicp:4.M.C",
    ),
)
def keys_rotated(now: dt.datetime) -> Iterator[Check]:
    """The primary key of each purpose (the one that encrypts, indexes or
    signs new values) is younger than its rotation period
    (SAFEWARD_KEY_ROTATION_DAYS_DATA, _BLIND_INDEX, _SIGNING). Older keys
    that only decrypt are shown as passing while they are not primary: they
    were rotated."""
    periods: dict[str, int] = settings.SAFEWARD_KEY_ROTATION_DAYS
    for key in selectors.keys_in_service():
        period = periods.get(key.purpose)
        age_days = (now - key.created_at).days
        primary = key.state == "primary"
        yield Check(
            "key",
            f"{key.key_id:08x}",
            f"{key.purpose} key v{key.version}",
            passed=not primary or period is None or now - key.created_at <= dt.timedelta(days=period),
            evidence={
                "purpose": key.purpose,
                "version": key.version,
                "state": key.state,
                "created_at": key.created_at.isoformat(),
                "age_days": age_days,
                "rotation_days": period,
                "demoted_at": key.demoted_at.isoformat() if key.demoted_at else None,
            },
        )
