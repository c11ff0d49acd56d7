"""The patients an alert or an incident is about (ADR 0729): every patient
named by an evidence event, directly or among the several a search page or a
clinic day showed (the audit trail's per-patient index, ADR 0208). Listed
in full, in pages, counted, and exported to CSV; pseudonymous ids only,
except in the CSV, whose record numbers come from the clinical gateway's
breach-scope door (audited there as an export of each patient's MRN)."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode

from django.db import transaction
from django.db.models import Count, Max, Min, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from safeward import clock
from safeward.audit.csv_export import Echo, csv_safe
from safeward.audit.manifests import ManifestDraft, manifest_response
from safeward.audit.models import AuditEvent, AuditEventPatient
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.clinical.gateway import breach_scope_identifiers
from safeward.clinical.types import SessionContext
from safeward.detection.models import AlertEvidence
from safeward.detection.queue import alerts_of_incident
from safeward.identity.models import User

PAGE_SIZE = 100
_PATIENT_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")
CSV_COLUMNS = ("patient_id", "mrn", "events", "first_access_utc", "last_access_utc")
CSV_CHUNK = 1000  # rows a chunk of the streamed CSV


@dataclass(frozen=True)
class ScopedPatient:
    patient_id: str
    events: int
    first_at: dt.datetime
    last_at: dt.datetime


def _evidence_reads(
    alert_ids: Iterable[int],
) -> tuple[QuerySet[AuditEvent], QuerySet[AuditEventPatient]] | None:
    """The evidence's events and their per-patient index rows, each read
    bounded by the evidence's time span (ADR 0943): both tables are
    partitioned by month on occurred_at, and a bound the planner sees as
    constants prunes every month outside the span, where an id list alone
    would probe each partition of the trail. The evidence keeps each event's
    own occurred_at (and an index row the time of its event), so the bound
    drops nothing. None when the alerts have no evidence."""
    evidence = AlertEvidence.objects.filter(alert_id__in=list(alert_ids))
    span = evidence.aggregate(first=Min("occurred_at"), last=Max("occurred_at"))
    if span["first"] is None:
        return None
    event_ids = evidence.values("event_id")
    within = {"occurred_at__gte": span["first"], "occurred_at__lte": span["last"]}
    return (
        AuditEvent.objects.filter(pk__in=event_ids, **within),
        AuditEventPatient.objects.filter(event_id__in=event_ids, **within),
    )


def scope_patients(*, alert_ids: Iterable[int]) -> list[ScopedPatient]:
    """Every patient of these alerts, by patient id, with how many evidence
    events touched each and when. Two grouped reads within the evidence's
    span, over its events and over their per-patient index; evidence
    archived out of the live trail no longer counts (it is in the archive)."""
    reads = _evidence_reads(alert_ids)
    if reads is None:
        return []
    events, links = reads
    merged: dict[str, tuple[int, dt.datetime, dt.datetime]] = {}
    groups = (events.exclude(patient_id="").values("patient_id"), links.values("patient_id"))
    for grouped in groups:
        rows = grouped.order_by().annotate(n=Count("id"), first=Min("occurred_at"), last=Max("occurred_at"))
        for patient_id, count, first, last in rows.values_list("patient_id", "n", "first", "last"):
            before = merged.get(patient_id)
            if before is None:
                merged[patient_id] = (count, first, last)
            else:
                merged[patient_id] = (before[0] + count, min(before[1], first), max(before[2], last))
    return [ScopedPatient(pid, *merged[pid]) for pid in sorted(merged)]


def scope_patient_count(*, alert_ids: Iterable[int]) -> int:
    """How many patients these alerts touched: one UNION count in the
    database after the evidence's span (the alert and incident pages show
    it on every view)."""
    reads = _evidence_reads(alert_ids)
    if reads is None:
        return 0
    events, links = reads
    direct = events.exclude(patient_id="").values_list("patient_id")
    return direct.order_by().union(links.values_list("patient_id").order_by()).count()


def scope_page(
    patients: list[ScopedPatient], *, after: str, size: int = PAGE_SIZE
) -> tuple[list[ScopedPatient], str | None]:
    """The page after patient id `after` (keyset on the sorted ids) and the
    id the next page starts after (None: last page)."""
    rest = [patient for patient in patients if patient.patient_id > after] if after else patients
    page = rest[:size]
    return page, (page[-1].patient_id if len(rest) > size else None)


def scope_render(
    request: HttpRequest,
    *,
    actor: User,
    scope: str,
    scope_id: int,
    heading: str,
    back_url: str,
    csv_url: str,
) -> HttpResponse:
    """The scope's page: the count, one page of patients, the next-page link.
    Reading it reads the audit trail, so the read is recorded."""
    after = request.GET.get("after", "")
    context: dict[str, object] = {"heading": heading, "back_url": back_url, "csv_url": csv_url}
    if after and not _PATIENT_ID.match(after):
        context["error"] = "The page link is not valid; start from the first page."
        return render(request, "detection/patients.html", context, status=400)
    alert_ids = scope_alert_ids(scope=scope, scope_id=scope_id)
    patients = scope_patients(alert_ids=alert_ids)
    rows, next_after = scope_page(patients, after=after)
    with transaction.atomic():
        audit_record(
            action=Action.READ,
            actor=actor,
            resource_type="BreachScope",
            resource_id=f"{scope}:{scope_id}",
            purpose=PurposeOfUse.SECURITY,
            detail={"patients": len(patients), "shown": len(rows)},
        )
    context.update(
        total=len(patients),
        alerts=len(alert_ids),
        rows=rows,
        paged=bool(after),
        next_after=next_after,
        next_query=urlencode({"after": next_after}) if next_after else "",
    )
    return render(request, "detection/patients.html", context)


def scope_csv(*, actor: User, session: SessionContext, scope: str, scope_id: int) -> HttpResponse:
    """The scope as CSV with each patient's MRN from the gateway (which
    records the export); streamed, every patient one row."""
    patients = scope_patients(alert_ids=scope_alert_ids(scope=scope, scope_id=scope_id))
    mrns = breach_scope_identifiers(
        actor=actor,
        session=session,
        scope=scope,
        scope_id=scope_id,
        patient_ids=[patient.patient_id for patient in patients],
    )

    def row(writer: Any, patient: ScopedPatient) -> str:
        values = (
            patient.patient_id,
            mrns.get(patient.patient_id, ""),
            patient.events,
            patient.first_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
            patient.last_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
        )
        return str(writer.writerow([csv_safe(value) for value in values]))

    def lines() -> Iterator[str]:
        writer = csv.writer(Echo())
        yield writer.writerow(CSV_COLUMNS)
        # Rows leave in chunks of CSV_CHUNK: the server's write and the
        # manifest's hash are paid per chunk, not per row (ADR 0814).
        for start in range(0, len(patients), CSV_CHUNK):
            yield "".join(row(writer, patient) for patient in patients[start : start + CSV_CHUNK])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = (
        f'attachment; filename="safeward-{scope}-{scope_id}-patients-{stamp}.csv"'
    )
    manifest_response(
        response,
        actor=actor,
        draft=ManifestDraft(
            kind="csv",
            route="incidents:patients_csv" if scope == "incident" else "detection:alert_patients_csv",
            purpose=PurposeOfUse.SECURITY.value,
            patient_ids=tuple(mrns),
            sections=("mrn", "access_summary"),
        ),
    )
    # Streamed; the permission decorators pass any response through.
    return cast(HttpResponse, response)


def scope_alert_ids(*, scope: str, scope_id: int) -> list[int]:
    """The alerts a scope covers: the alert itself, or an incident's alerts."""
    if scope == "alert":
        return [scope_id]
    return [int(alert.pk) for alert in alerts_of_incident(incident_id=scope_id)]
