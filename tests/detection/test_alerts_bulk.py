"""`alerts_raise` writes in bulk (ADR 1114): one call with many findings
groups, escalates, merges and notifies exactly as one call per finding does
(the per-finding path it replaced), and its statements do not grow with the
number of findings."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from safeward.detection.models import Alert, AlertEvidence
from safeward.detection.services import Finding, alerts_raise
from safeward.detection.signals import alerts_raised

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)


def finding(subject: str, minute: int, event_id: int, *, severity: str = "medium", **detail) -> Finding:
    return Finding(
        rule="badge_unauthorised_entry",
        severity=severity,
        title=f"Entry by {subject}",
        subject=subject,
        evidence=[(event_id, T0 + dt.timedelta(minutes=minute))],
        group_minutes=60,
        detail=detail,
    )


def seed() -> None:
    """An open alert for person:1, a dismissed one for person:2 (never grown)."""
    alerts_raise([finding("person:1", 0, 1, area="a1"), finding("person:2", 0, 2)], now=NOW)
    Alert.objects.filter(group_key__endswith="person:2").update(status=Alert.Status.DISMISSED)


FINDINGS = [
    finding("person:1", 10, 11, area="a2"),  # grows the stored open alert, detail merged
    finding("person:3", 12, 12),  # new
    finding("person:3", 20, 13, severity="high"),  # grows the one just created, escalates
    finding("person:2", 21, 14),  # the dismissed alert is left alone: new
    finding("person:3", 200, 15),  # outside the group window: a second alert
    finding("person:1", 5, 16, severity="low"),  # earlier than the last seen: occurrences only
    finding("person:1", 30, 11),  # evidence already held: not twice
]


def snapshot(results: list[tuple[int, bool]]) -> tuple:
    ids = {pk: n for n, pk in enumerate(Alert.objects.order_by("pk").values_list("pk", flat=True))}
    alerts = [
        (
            a.group_key,
            a.status,
            a.severity,
            a.occurrences,
            a.first_event_id,
            a.last_event_id,
            a.first_event_at,
            a.last_event_at,
            a.detail,
            a.created_at,
            a.updated_at,
        )
        for a in Alert.objects.order_by("pk")
    ]
    evidence = sorted((ids[e.alert_id], e.event_id, e.occurred_at) for e in AlertEvidence.objects.all())
    return alerts, evidence, [(ids[pk], created) for pk, created in results]


def raised(calls: list[list[Finding]], capture) -> tuple:
    seed()
    results = []
    with capture(execute=False) as hooks, transaction.atomic():
        for batch in calls:
            results += alerts_raise(batch, now=NOW)
    return snapshot(results), hooks


def test_one_bulk_call_equals_one_call_per_finding(django_capture_on_commit_callbacks):
    bulk, bulk_hooks = raised([FINDINGS], django_capture_on_commit_callbacks)
    Alert.objects.all().delete()
    single, _ = raised([[f] for f in FINDINGS], django_capture_on_commit_callbacks)
    assert bulk[:2] == single[:2]
    alerts, _, results = bulk
    assert [r[1] for r in results] == [False, True, False, True, True, False, False]
    grown = alerts[0]
    assert (grown[3], grown[8]) == (4, {"area": "a2"})  # 1 + 3 occurrences, detail merged
    assert (grown[5], grown[7]) == (11, T0 + dt.timedelta(minutes=30))  # the minute-5 finding moved neither
    assert alerts[2][2:4] == ("high", 2)
    assert sorted(e for _, e, _ in bulk[1]) == [1, 2, 11, 12, 13, 14, 15, 16]
    # One signal for the batch after the commit, naming each alert touched once
    # (three new, one grown; ADR 1022).
    sent: list[list[tuple[int, bool]]] = []

    def receiver(sender, alerts, **kwargs):
        sent.append(list(alerts))

    alerts_raised.connect(receiver)
    try:
        for hook in bulk_hooks:
            hook()
    finally:
        alerts_raised.disconnect(receiver)
    assert len(bulk_hooks) == 1
    (touched,) = sent
    assert sorted(created for _, created in touched) == [False, True, True, True]
    assert len({alert_id for alert_id, _ in touched}) == 4


def test_statements_do_not_grow_with_the_findings():
    def statements(count: int, offset: int) -> int:
        batch = [finding(f"person:{offset + n}", n, offset + n) for n in range(count)]
        batch += [finding(f"person:{offset + n}", n + 1, offset + 10_000 + n) for n in range(count)]
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            alerts_raise(batch, now=NOW)
        return len(queries)

    assert statements(3, 100) == statements(300, 1_000)
