"""The affected-patient set of a breach, computed from evidence (ADR 1402):
every patient whose record a compromised account, OAuth client or session
successfully touched inside the window (the audit trail's events and their
per-patient index, ADR 0208), and every patient an exported file whose
SHA-256 matches names (the export manifests). Never typed in.

The index paths: `audit_event_actor_time` (actor_id, occurred_at) for the
events, then `audit_link_event` (event_id) for the several patients a search
page or worklist disclosed; both bounded by time so a partitioned trail
prunes to the window's partitions (bench/breach_scope.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import QuerySet

from safeward.assets.manifests import manifests_for_hash
from safeward.audit.models import AuditEvent, AuditEventPatient
from safeward.audit.vocabulary import Outcome


@dataclass(frozen=True)
class ScopeInput:
    window_start: dt.datetime
    window_end: dt.datetime
    actor_ids: tuple[int, ...] = ()
    client_ids: tuple[str, ...] = ()
    session_ids: tuple[str, ...] = ()
    file_hashes: tuple[str, ...] = ()


def _events(scope: ScopeInput) -> list[QuerySet[AuditEvent]]:
    base = AuditEvent.objects.filter(
        occurred_at__gte=scope.window_start, occurred_at__lt=scope.window_end, outcome=Outcome.SUCCESS
    )
    sets: list[QuerySet[AuditEvent]] = []
    if scope.actor_ids:
        sets.append(base.filter(actor_id__in=list(scope.actor_ids)))
    if scope.client_ids:
        sets.append(base.filter(client_id__in=list(scope.client_ids)))
    if scope.session_ids:
        sets.append(base.filter(session_id__in=list(scope.session_ids)))
    return sets


def scope_patient_ids(scope: ScopeInput) -> list[str]:
    """The sorted, distinct patient ids of the breach."""
    found: set[str] = set()
    for events in _events(scope):
        found.update(events.exclude(patient_id="").values_list("patient_id", flat=True).distinct())
        linked = AuditEventPatient.objects.filter(
            event_id__in=events.values("id"),
            occurred_at__gte=scope.window_start,
            occurred_at__lt=scope.window_end,
        )
        found.update(linked.values_list("patient_id", flat=True).distinct())
    for sha256 in scope.file_hashes:
        for patient_ids in manifests_for_hash(sha256=sha256).values_list("patient_ids", flat=True):
            found.update(str(patient_id) for patient_id in patient_ids or [])
    return sorted(found)


def explain_sql(scope: ScopeInput) -> list[str]:
    """The queries `scope_patient_ids` runs, for EXPLAIN in the bench."""
    queries: list[str] = []
    for events in _events(scope):
        queries.append(
            str(events.exclude(patient_id="").values_list("patient_id", flat=True).distinct().query)
        )
    return queries


def clean_hashes(values: Iterable[str]) -> tuple[str, ...]:
    hashes = []
    for value in values:
        value = value.strip().lower()
        if value:
            hashes.append(value)
    return tuple(hashes)
