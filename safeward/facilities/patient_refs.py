"""Opaque, short-lived references to a patient found by the visitor desk's
REST lookup (ADR 1115).

The REST sign-in registers a visit against the patient the desk looked up, as
the page does, without handing the desk the patient's id: the lookup answers
each match with a `patient_ref`, the patient's id, who looked up (the user and
their SafeWard session) and an expiry sealed with the crypto app's secret
sealing (AES-GCM under the current data key, `encrypt_secret`). The reference
is unreadable and tamper-proof, travels in JSON bodies only (never a URL), dies
after `REF_LIFETIME`, and is useless from another user's or another session's
hands, or with a bearer token (which has no desk session). The sign-in then
checks the patient again through the gateway (`visitor_patient_visit`).
"""

from __future__ import annotations

import datetime as dt
import json

from safeward import clock
from safeward.clinical.types import SessionContext
from safeward.crypto.errors import CryptoError
from safeward.crypto.secrets import decrypt_secret, encrypt_secret
from safeward.identity.models import User

REF_LIFETIME = dt.timedelta(minutes=10)
PURPOSE = "facilities.visitor_patient_ref"
MAX_REF_CHARS = 1000
INVALID = "This patient reference is invalid, expired or not from this desk session: find the patient again."


class RefInvalid(Exception):
    """A reference that is damaged, expired, or issued to another user or session."""


def _principal(actor: User, session: SessionContext) -> str:
    return f"user:{actor.pk}:session:{session.session_id}"


def ref_issue(*, actor: User, session: SessionContext, patient_id: str) -> str:
    """A sealed reference to `patient_id` for this user in this desk session."""
    payload = {
        "v": 1,
        "who": _principal(actor, session),
        "patient": patient_id,
        "exp": int((clock.now() + REF_LIFETIME).timestamp()),
    }
    return encrypt_secret(json.dumps(payload, separators=(",", ":")), purpose=PURPOSE)


def ref_open(*, actor: User, session: SessionContext, value: str) -> str:
    """The patient id a reference stands for; RefInvalid when it is damaged,
    expired, or was issued to another user or session (or none)."""
    if not value or len(value) > MAX_REF_CHARS or session.session_id is None:
        raise RefInvalid(INVALID)
    try:
        payload = json.loads(decrypt_secret(value, purpose=PURPOSE))
    except (CryptoError, ValueError, IndexError, UnicodeError):
        raise RefInvalid(INVALID) from None
    if (
        not isinstance(payload, dict)
        or payload.get("v") != 1
        or payload.get("who") != _principal(actor, session)
        or not isinstance(payload.get("exp"), int)
        or payload["exp"] <= int(clock.now().timestamp())
        or not isinstance(payload.get("patient"), str)
    ):
        raise RefInvalid(INVALID)
    return str(payload["patient"])
