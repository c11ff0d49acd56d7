"""The rate limit of the questionnaire link page (ADR 1215).

Two counters in the shared cache over a fixed window: requests for one link
(keyed by the SHA-256 of its token, as stored) and requests from one client
address (keyed by a hash of it) across links. Over either limit the page
answers 429 with Retry-After until the window ends. The refusal is audited once
per counter and window, not per request, so a flood does not flood the trail."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, Outcome
from safeward.vendors.link_code import LINK_ACTOR, RESOURCE
from safeward.vendors.models import Questionnaire


@dataclass(frozen=True)
class Limited:
    counter: str  # "link" or "address"
    retry_after: int  # seconds until the window ends


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _count(key: str, timeout: int) -> int:
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1


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
    over = None
    for counter, (key, limit) in limits.items():
        if _count(key, window + 60) > limit and over is None:
            over = counter
    if over is None:
        return None
    retry_after = window - into
    if cache.add(f"{limits[over][0]}:audited", 1, timeout=window + 60):
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
