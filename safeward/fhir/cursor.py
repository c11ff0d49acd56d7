"""Opaque paging cursors for FHIR searchsets (ADR 0540).

A Bundle's `self` and `next` links must not echo the search criteria: a
name or a date of birth in a link ends up in the client's logs, a proxy's
access log and a browser history. Instead each link carries `_cursor=<token>`:
the criteria, the page and the page size sealed with the crypto app's
secret sealing (AES-GCM under the current data key, `encrypt_secret`), so the
token is unreadable and tamper-proof. It is short-lived (`CURSOR_LIFETIME`),
and bound to who searched (the access token, or the signed-in user): a
copied link is useless to anybody else, and dies with the token.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from safeward import clock
from safeward.clinical.scopes import bearer_token
from safeward.clinical.types import InvalidInput
from safeward.crypto.errors import CryptoError
from safeward.crypto.secrets import decrypt_secret, encrypt_secret

CURSOR_LIFETIME = dt.timedelta(minutes=10)
PURPOSE = "fhir.cursor"
MAX_CURSOR_CHARS = 6000
_INVALID = "The paging cursor is invalid, expired or not yours: run the search again."


def _principal(request: Any) -> str:
    token = bearer_token(request)
    if token is not None:
        return f"token:{token.pk}"
    return f"user:{request.user.pk}"


def cursor_issue(*, request: Any, resource_type: str, params: dict[str, str], page: int) -> str:
    """A sealed cursor for page `page` of this search by this caller."""
    expires = clock.now() + CURSOR_LIFETIME
    payload = {
        "v": 1,
        "type": resource_type,
        "who": _principal(request),
        "params": params,
        "page": page,
        "exp": int(expires.timestamp()),
    }
    return encrypt_secret(json.dumps(payload, separators=(",", ":")), purpose=PURPOSE)


def cursor_open(*, request: Any, resource_type: str, value: str) -> tuple[dict[str, str], int]:
    """The search parameters and page a cursor stands for; InvalidInput (a 400
    OperationOutcome) when it is damaged, expired, for another type or another caller."""
    if not value or len(value) > MAX_CURSOR_CHARS:
        raise InvalidInput({"_cursor": _INVALID})
    try:
        payload = json.loads(decrypt_secret(value, purpose=PURPOSE))
    except (CryptoError, ValueError, IndexError, UnicodeError):
        raise InvalidInput({"_cursor": _INVALID}) from None
    if (
        not isinstance(payload, dict)
        or payload.get("v") != 1
        or payload.get("type") != resource_type
        or payload.get("who") != _principal(request)
        or not isinstance(payload.get("exp"), int)
        or payload["exp"] <= int(clock.now().timestamp())
        or not isinstance(payload.get("page"), int)
        or not isinstance(payload.get("params"), dict)
    ):
        raise InvalidInput({"_cursor": _INVALID})
    params = {str(k): str(v) for k, v in payload["params"].items()}
    return params, int(payload["page"])
