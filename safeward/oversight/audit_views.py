"""The audit report (ONC 170.315(d)(3)) and the accounting of disclosures
(HIPAA 164.528, ONC (d)(11)). Thin views: a form validates the filters, a
selector reads, and each use is itself recorded, in the same transaction as
the read, before anything is shown."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from itertools import islice
from typing import Any, cast

from django.db import transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from safeward import clock
from safeward.audit import selectors
from safeward.audit.chain import format_time
from safeward.audit.csv_export import Echo, csv_safe
from safeward.audit.manifests import ManifestDraft, manifest_response
from safeward.audit.services import audit_report_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.identity.decorators import requires
from safeward.identity.models import User
from safeward.identity.permissions import Perm
from safeward.oversight.forms import DisclosureForm, ReportFilterForm

PAGE_SIZE = 50
DISCLOSURE_PAGE_SIZE = 200
PRINT_LIMIT = 5000
CSV_LIMIT = 1_000_000
CSV_COLUMNS = (
    "sequence",
    "time_utc",
    "user",
    "username",
    "roles",
    "action",
    "outcome",
    "resource_type",
    "resource_id",
    "patient_id",
    "purpose_of_use",
    "reason",
    "fields",
    "client_ip",
    "network_zone",
    "request_id",
    "client_id",
    "client_name",
)


def _actor(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _filter_detail(form: ReportFilterForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "filter_user_id": data.get("user"),
        "filter_patient_id": data.get("patient") or "",
        "filter_action": data.get("action") or "",
        "filter_outcome": data.get("outcome") or "",
        "filter_start": format_time(data["start"]),
        "filter_end": format_time(data["end"]),
    }


def _report_form(request: HttpRequest) -> ReportFilterForm:
    return ReportFilterForm(request.GET if request.GET else {"sort": "newest"})


@require_GET
@requires(Perm.AUDIT_EVENT_READ)
def report(request: HttpRequest) -> HttpResponse:
    form = _report_form(request)
    if not form.is_valid():
        return render(request, "oversight/report.html", {"form": form}, status=400)
    with transaction.atomic():
        events, following = selectors.audit_events_page(
            query=form.event_filter(), after=form.cleaned_data.get("after"), size=PAGE_SIZE
        )
        audit_report_record(
            actor=_actor(request),
            action=Action.SEARCH,
            resource_type="AuditEvent",
            detail={**_filter_detail(form), "results": len(events)},
        )
    next_query = request.GET.copy()
    if following is not None:
        next_query["after"] = following.token()
    first_query = request.GET.copy()
    first_query.pop("after", None)
    return render(
        request,
        "oversight/report.html",
        {
            "form": form,
            "rows": selectors.event_rows(events=events),
            "next_query": next_query.urlencode() if following is not None else "",
            "first_query": first_query.urlencode(),
            "paged": form.cleaned_data.get("after") is not None,
            "can_export": request.user.has_perm(Perm.AUDIT_REPORT_EXPORT),
        },
    )


@require_GET
@requires(Perm.AUDIT_REPORT_EXPORT)
@requires(Perm.AUDIT_EVENT_READ)
def report_csv(request: HttpRequest) -> HttpResponse:
    form = _report_form(request)
    if not form.is_valid():
        return render(request, "oversight/report.html", {"form": form}, status=400)
    with transaction.atomic():
        audit_report_record(
            actor=_actor(request),
            action=Action.EXPORT,
            resource_type="AuditEvent",
            detail={**_filter_detail(form), "format": "csv"},
        )
    query = form.event_filter()
    # The manifest lists the patients the rows name, collected as they stream.
    patients: list[str] = []

    def lines() -> Iterator[str]:
        writer = csv.writer(Echo())
        yield writer.writerow(CSV_COLUMNS)
        batch: list[Any] = []
        # Keyset batches of index ranges (ADR 1652): constant memory, no
        # server-side cursor held open while the client reads. A batch's rows
        # leave as one chunk: the server's write and the manifest's hash are
        # paid per chunk, not per row (ADR 0814).
        for event in islice(selectors.audit_events_filtered(query=query), CSV_LIMIT):
            if event.patient_id:
                patients.append(event.patient_id)
            batch.append(event)
            if len(batch) == 2000:
                yield "".join(_csv_rows(writer, batch))
                batch = []
        if batch:
            yield "".join(_csv_rows(writer, batch))

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="safeward-audit-{stamp}.csv"'
    manifest_response(
        response,
        actor=_actor(request),
        draft=ManifestDraft(
            kind="report",
            route="audit:report_csv",
            purpose=PurposeOfUse.AUDIT.value,
            patient_ids=patients,
            sections=("audit_events",),
        ),
    )
    # Streamed (a year of events does not fit in memory); `requires` is typed
    # for HttpResponse and passes any response through unchanged.
    return cast(HttpResponse, response)


def _csv_rows(writer: Any, events: list[Any]) -> Iterator[str]:
    for row in selectors.event_rows(events=events):
        event = row["event"]
        values = (
            event.pk,
            format_time(event.occurred_at),
            row["who"],
            event.actor_username,
            event.actor_roles,
            event.action,
            event.outcome,
            event.resource_type,
            event.resource_id,
            event.patient_id,
            event.purpose_of_use,
            event.reason,
            ",".join(event.fields),
            event.client_ip or "",
            event.network_zone,
            event.request_id,
            event.client_id,
            event.client_name,
        )
        yield writer.writerow([csv_safe(value) for value in values])


@require_GET
@requires(Perm.AUDIT_DISCLOSURE_READ)
def disclosures(request: HttpRequest) -> HttpResponse:
    if "patient" not in request.GET:
        return render(request, "oversight/disclosures.html", {"form": DisclosureForm()})
    form = DisclosureForm(request.GET)
    if not form.is_valid():
        return render(request, "oversight/disclosures.html", {"form": form}, status=400)
    patient_id = form.cleaned_data["patient"]
    after_token = request.GET.get("after", "")
    try:
        after = selectors.Cursor.parse(after_token) if after_token else None
    except ValueError:
        form.add_error(None, "The page link is not valid; start from the first page.")
        return render(request, "oversight/disclosures.html", {"form": form}, status=400)
    with transaction.atomic():
        events, following = selectors.patient_accesses_page(
            patient_id=patient_id, after=after, size=DISCLOSURE_PAGE_SIZE
        )
        audit_report_record(
            actor=_actor(request),
            action=Action.READ,
            resource_type="AccountingOfDisclosures",
            patient_id=patient_id,
            detail={"results": len(events)},
        )
    return render(
        request,
        "oversight/disclosures.html",
        {
            "form": form,
            "patient_id": patient_id,
            "rows": selectors.event_rows(events=events),
            "next_after": following.token() if following is not None else None,
        },
    )


@require_GET
@requires(Perm.AUDIT_DISCLOSURE_READ)
def disclosures_print(request: HttpRequest) -> HttpResponse:
    form = DisclosureForm(request.GET)
    if not form.is_valid():
        return render(request, "oversight/disclosures.html", {"form": form}, status=400)
    patient_id = form.cleaned_data["patient"]
    with transaction.atomic():
        events, following = selectors.patient_accesses_page(
            patient_id=patient_id, after=None, size=PRINT_LIMIT
        )
        audit_report_record(
            actor=_actor(request),
            action=Action.PRINT,
            resource_type="AccountingOfDisclosures",
            patient_id=patient_id,
            detail={"results": len(events)},
        )
    return manifest_response(
        render(
            request,
            "oversight/disclosures_print.html",
            {
                "patient_id": patient_id,
                "rows": selectors.event_rows(events=events),
                "truncated": following is not None,
                "generated_at": clock.now(),
                "prepared_by": _actor(request).get_full_name() or _actor(request).get_username(),
            },
        ),
        actor=_actor(request),
        draft=ManifestDraft(
            kind="print",
            route="audit:disclosures_print",
            purpose=PurposeOfUse.PATIENT_REQUEST.value,
            patient_ids=(str(patient_id),),
            sections=("accounting_of_disclosures",),
        ),
    )
