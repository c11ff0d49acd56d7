"""Fixtures for the detection tests: audit events written the way the
gateway and the sign-in code write them, at controlled times, and the
worker run over them."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.audit import context
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, Outcome, PurposeOfUse
from safeward.detection.models import Alert
from safeward.detection.services import detect_pending
from tests.clinical.conftest import new_patient, relate

__all__ = ["access", "alerts", "login", "new_patient", "relate", "run"]

# Monday 2 November 2026, 09:00 UTC (the settings' time zone is UTC in tests).
START = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def at(frozen_clock):
    """at(hours=.., minutes=..) moves the clock to START + that offset."""

    def move(**offset: float) -> clock.FrozenClock:
        frozen_clock._now = START + dt.timedelta(**offset)
        return frozen_clock

    return move


def access(user, patient_id: str, *, action: Action = Action.READ, emergency: bool = False, flags=()):
    """A permitted chart access as the gateway records it."""
    detail: dict = {"decision": "permit"}
    if emergency:
        detail["emergency"] = True
    if flags:
        detail["patient_flags"] = list(flags)
    return audit_record(
        action=action,
        actor=user,
        resource_type="Chart",
        resource_id=patient_id,
        patient_id=patient_id,
        purpose=PurposeOfUse.EMERGENCY if emergency else PurposeOfUse.TREATMENT,
        fields=["given_name"],
        detail=detail,
    )


def login(
    *,
    username: str,
    user=None,
    ok: bool = False,
    ip: str = "198.51.100.7",
    zone: str = "",
    detail: dict | None = None,
):
    """A sign-in event as identity records it (failure: DENIED with the username only)."""
    token = context.bind(
        context.AuditContext(client_ip=ip, network_zone=zone, request_id="req", source="web")
    )
    try:
        return audit_record(
            action=Action.LOGIN,
            outcome=Outcome.SUCCESS if ok else Outcome.DENIED,
            actor=user if ok or user is not None else None,
            actor_username="" if (ok or user is not None) else username,
            resource_type="UserSession" if ok else "",
            detail=detail if detail is not None else ({"mfa": True} if ok else {"stage": "password"}),
        )
    finally:
        context.reset(token)


def run() -> int:
    return detect_pending()


def alerts(rule: str, **filters) -> list[Alert]:
    return list(Alert.objects.filter(rule=rule, **filters).order_by("id"))
