"""The rate limit of the questionnaire link page (ADR 1215).

Two counters in the shared cache over a fixed window: requests for one link
(keyed by the SHA-256 of its token, as stored) and requests from one client
address (keyed by a hash of it) across links. Over either limit the page
answers 429 with Retry-After until the window ends. The refusal is audited once
per counter and window, not per request, so a flood does not flood the trail.

Each count is one atomic increment (ADR 1216), so a burst cannot overshoot a
limit: Redis's INCR, or with the database cache a counter row incremented and
read back by one statement (the database cache's own increment is a read then a
write); the mechanism is identity's (`identity.counters`, shared with the login
throttles since ADR 0203). The request that makes a counter exactly one over its limit is the one
that audits."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, Outcome
from safeward.identity.counters import counter_hit
from safeward.vendors.link_code import LINK_ACTOR, RESOURCE
from safeward.vendors.models import Questionnaire


@dataclass(frozen=True)
class Limited:
    counter: str  # "link" or "address"
    retry_after: int  # seconds until the window ends


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def hit(*, token: str, address: str) -> Limited | None:
    """Count one request for the link `token` from `address`; the refusal if
    either counter is over its limit (audited on the window's first refusal)."""
    window = settings.SAFEWARD_VENDOR_LINK_WINDOW_SECONDS
    now = int(clock.now().timestamp())
    bucket, into = divmod(now, window)
    token_sha256 = _digest(token)
    limits = {
        "link": (f"sw:vlink:link:{bucket}:{token_sha256[:32]}", settings.SAFEWARD_VENDOR_LINK_PER_LINK),
        "address": (
            f"sw:vlink:addr:{bucket}:{_digest(address)[:32]}",
            settings.SAFEWARD_VENDOR_LINK_PER_ADDRESS,
        ),
    }
    over, first_refusal = None, False
    for counter, (key, limit) in limits.items():
        hits = counter_hit(key=key, timeout=window + 60)
        if hits > limit and over is None:
            over, first_refusal = counter, hits == limit + 1
    if over is None:
        return None
    retry_after = window - into
    if first_refusal:
        questionnaire_id = (
            Questionnaire.objects.filter(token_sha256=token_sha256).values_list("pk", flat=True).first()
        )
        with transaction.atomic():
            audit_record(
                action=Action.ACCESS_DENIED,
                outcome=Outcome.DENIED,
                actor_username=LINK_ACTOR,
                resource_type=RESOURCE,
                resource_id=questionnaire_id or "",
                detail={
                    "event": "questionnaire_link_throttled",
                    "counter": over,
                    "limit": limits[over][1],
                    "window_seconds": window,
                },
            )
    return Limited(over, retry_after)
