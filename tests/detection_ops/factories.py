"""Alerts, evidence and access reviews made directly (the detection worker
makes them in production). Synthetic data only."""

from __future__ import annotations

import datetime as dt
import uuid

import factory

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.detection.models import AccessReview, Alert, AlertEvidence


def _now() -> dt.datetime:
    return clock.now()


class AlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Alert

    rule = "mass_access"
    severity = "high"
    title = factory.LazyAttribute(lambda a: f"{a.rule} by {a.subject_username or 'unknown'}")
    subject_user_id = None
    subject_username = ""
    patient_id = ""
    group_key = factory.LazyAttribute(lambda a: f"{a.rule}:{a.subject_user_id}:{uuid.uuid4().hex[:8]}")
    first_event_id = 1
    last_event_id = 1
    first_event_at = factory.LazyFunction(_now)
    last_event_at = factory.LazyFunction(_now)
    created_at = factory.LazyFunction(_now)
    updated_at = factory.LazyFunction(_now)


def alert_about(
    user, *, rule: str = "mass_access", severity: str = "high", events: int = 2, **kwargs
) -> Alert:
    """An alert about `user` with `events` real audit events as its evidence."""
    recorded = [
        audit_record(
            action=Action.READ,
            actor=user,
            resource_type="Patient",
            resource_id=f"p{n}",
            patient_id=f"pt-{uuid.uuid4().hex[:12]}",
            purpose=PurposeOfUse.TREATMENT,
        )
        for n in range(events)
    ]
    alert: Alert = AlertFactory(  # type: ignore[assignment]  # factory_boy returns the model instance
        rule=rule,
        severity=severity,
        subject_user_id=user.pk,
        subject_username=user.username,
        patient_id=recorded[0].patient_id if recorded else "",
        first_event_id=recorded[0].pk if recorded else 1,
        last_event_id=recorded[-1].pk if recorded else 1,
        occurrences=max(events, 1),
        **kwargs,
    )
    for event in recorded:
        AlertEvidence.objects.create(alert=alert, event_id=event.pk, occurred_at=event.occurred_at)
    return alert


class AccessReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccessReview

    event_id = factory.Sequence(lambda n: 10_000 + n)
    occurred_at = factory.LazyFunction(_now)
    user_id = 0
    username = "someone"
    patient_id = factory.LazyFunction(lambda: f"pt-{uuid.uuid4().hex[:12]}")
