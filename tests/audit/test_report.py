"""The audit report and the accounting of disclosures: permissions, filters,
clear 4xx on bad input, keyset paging, CSV, and every use audited."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.http import QueryDict

from safeward.audit.models import AuditEvent
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, Outcome, PurposeOfUse

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(signed_in):
    return signed_in("privacy_officer")


def _events(make_user, frozen_clock, count=3, patient="p-42"):
    nurse = make_user("nurse", first_name="Nora", last_name="Night")
    for index in range(count):
        audit_record(
            action=Action.READ,
            actor=nurse,
            resource_type="Observation",
            resource_id=index,
            patient_id=patient,
            purpose=PurposeOfUse.TREATMENT,
            fields=["value"],
        )
        frozen_clock.advance(minutes=1)
    return nurse


@pytest.mark.parametrize(
    ("url", "role"),
    [
        ("/audit/report/", "nurse"),
        ("/audit/report.csv", "nurse"),
        ("/audit/disclosures/", "nurse"),
        ("/audit/disclosures/print/?patient=p-1", "security_officer"),
        ("/audit/disclosures/", "auditor"),
    ],
)
def test_pages_need_their_permission(signed_in, url, role):
    client, _ = signed_in(role)
    assert client.get(url).status_code == 403


def test_report_lists_filters_and_audits_its_use(officer, make_user, frozen_clock):
    client, user = officer
    nurse = _events(make_user, frozen_clock)
    audit_record(action=Action.LOGIN, outcome=Outcome.DENIED, actor_username="mallory")
    response = client.get("/audit/report/", {"user": nurse.username, "start": "2026-11-01"})
    assert response.status_code == 200
    assert response.content.count(b"Nora Night") == 3
    assert b"mallory" not in response.content
    use = AuditEvent.objects.filter(actor_id=user.pk, action="search", resource_type="AuditEvent").get()
    assert use.detail["filter_user_id"] == nurse.pk
    assert use.detail["results"] == 3
    assert use.purpose_of_use == "HCOMPL"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "31/12/2026"}, b"Enter a date as YYYY-MM-DD"),
        ({"start": "2026-13-01"}, b"Enter a date as YYYY-MM-DD"),
        ({"start": "1900-01-01", "end": "1900-02-01"}, b"between the years 2000 and 2200"),
        ({"start": "2020-01-01", "end": "2026-01-01"}, b"at most 366 days"),
        ({"start": "2026-05-01", "end": "2026-04-01"}, b"start must be before the end"),
        ({"user": "nobody-by-that-name"}, b"No user has that username."),
        ({"patient": "Jane Doe <script>"}, b"A patient identifier"),
        ({"action": "steal"}, b"Select a valid choice"),
        ({"after": "garbage"}, b"page link is not valid"),
    ],
)
def test_report_bad_filters_are_clear_400s(officer, params, message):
    client, _ = officer
    before = AuditEvent.objects.count()
    response = client.get("/audit/report/", params)
    assert response.status_code == 400
    assert message in response.content
    assert AuditEvent.objects.count() == before  # nothing was read, nothing recorded


def test_report_keyset_paging(officer, make_user, frozen_clock, monkeypatch):
    from safeward.oversight import audit_views as views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    client, _ = officer
    _events(make_user, frozen_clock, count=5, patient="p-9")
    seen = []
    params = {"patient": "p-9", "sort": "oldest", "start": "2026-11-01"}
    for _ in range(4):
        response = client.get("/audit/report/", params)
        assert response.status_code == 200
        rows = list(response.context["rows"])
        seen += [row["event"].resource_id for row in rows]
        if not response.context["next_query"]:
            break
        params = QueryDict(response.context["next_query"]).dict()
    assert seen == ["0", "1", "2", "3", "4"]


def test_csv_export_sends_its_rows_in_chunks_not_a_write_per_row(signed_in, make_user, frozen_clock, client):
    """ADR 0814: the server's write and the manifest's hash are paid per chunk."""
    for n in range(30):
        audit_record(action=Action.READ, patient_id=f"p-{n}", purpose=PurposeOfUse.TREATMENT)
    client, _ = signed_in("security_officer")
    response = client.get("/audit/report.csv", {"start": "2026-11-01"})
    chunks = list(response.streaming_content)
    assert len(chunks) == 2  # the header, then the batch's rows
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    assert len(rows) >= 1 + 30


def test_csv_export_needs_export_permission_and_is_audited(signed_in, make_user, frozen_clock, client):
    _events(make_user, frozen_clock, count=2)
    audit_record(action=Action.READ, patient_id="p-42", reason="=HYPERLINK(1)")
    client, user = signed_in("security_officer")
    response = client.get("/audit/report.csv", {"patient": "p-42", "start": "2026-11-01"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "sequence"
    assert len(rows) == 1 + 3
    assert "'=HYPERLINK(1)" in [row[11] for row in rows[1:]]
    use = AuditEvent.objects.get(actor_id=user.pk, action="export")
    assert use.detail["filter_patient_id"] == "p-42"


def test_disclosures_page_and_print(officer, make_user, frozen_clock):
    client, user = officer
    _events(make_user, frozen_clock, count=2, patient="p-77")
    _events(make_user, frozen_clock, count=1, patient="p-other")
    response = client.get("/audit/disclosures/")
    assert response.status_code == 200
    response = client.get("/audit/disclosures/", {"patient": "p-77"})
    assert response.status_code == 200
    assert response.content.count(b"Nora Night") == 2
    assert b"nurse" in response.content.lower()
    assert b"TREAT" in response.content
    assert AuditEvent.objects.filter(
        actor_id=user.pk, action="read", resource_type="AccountingOfDisclosures", patient_id="p-77"
    ).exists()
    printed = client.get("/audit/disclosures/print/", {"patient": "p-77"})
    assert printed.status_code == 200
    assert b"audit/print.css" in printed.content
    assert b"Accounting of disclosures" in printed.content
    assert AuditEvent.objects.filter(actor_id=user.pk, action="print", patient_id="p-77").exists()


@pytest.mark.parametrize("params", [{"patient": ""}, {"patient": "x" * 80}, {"patient": "a b"}])
def test_disclosures_bad_patient_is_400(officer, params):
    client, _ = officer
    assert client.get("/audit/disclosures/", params).status_code == 400
    assert client.get("/audit/disclosures/print/", params).status_code == 400


def test_nav_shows_audit_entries_to_officers_only(officer, signed_in):
    client, _ = officer
    page = client.get("/").content
    assert b"/audit/report/" in page
    assert b"/audit/disclosures/" in page


def test_report_default_range_is_recent(officer):
    from safeward import clock

    client, _ = officer
    previous = clock.install(clock.FrozenClock(clock.now() - dt.timedelta(days=45)))
    try:
        audit_record(action=Action.READ, patient_id="p-old")
    finally:
        clock.install(previous)
    response = client.get("/audit/report/")
    assert response.status_code == 200
    assert all(row["event"].patient_id != "p-old" for row in response.context["rows"])
    data = response.context["form"].cleaned_data
    assert data["end"] - data["start"] == dt.timedelta(days=30)
