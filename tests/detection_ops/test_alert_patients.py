"""An alert's and an incident's patients: every patient an intruder opened,
counted, paged and exported to CSV (the export is a disclosure, audited
through the gateway and in each patient's accounting)."""

from __future__ import annotations

import csv
import io
import re

import pytest

from safeward.audit import selectors as audit_selectors
from safeward.audit.models import AuditEvent
from safeward.detection.models import Alert
from safeward.detection.triage import alert_version
from safeward.incidents.services import incident_open_from_alert
from tests.detection.conftest import access, run
from tests.detection.test_search_rules import search

pytestmark = pytest.mark.django_db

OPENED = 230


@pytest.fixture
def intrusion(make_user, frozen_clock):
    from tests.clinical.conftest import new_patient

    intruder = make_user("billing_clerk")
    patients = {
        new_patient(given=f"Victim{n}", family="Breach", mrn=f"BR{n:04d}"): f"BR{n:04d}"
        for n in range(OPENED)
    }
    for pid in patients:
        access(intruder, pid)
    run()
    alert = Alert.objects.get(rule="mass_access")
    return alert, patients


def _paged_ids(client, url):
    seen, pages = [], 0
    next_url = url
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200
        body = response.content.decode()
        assert f"{OPENED} patients" in body
        seen += re.findall(r'<code class="patient-id">([0-9a-f-]{36})</code>', body)
        pages += 1
        found = re.search(r'<a rel="next" href="([^"]+)"', body)
        next_url = found.group(1).replace("&amp;", "&") if found else None
    return seen, pages


def _csv_rows(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_alert_lists_counts_and_exports_every_patient(intrusion, signed_in):
    alert, patients = intrusion
    client, officer = signed_in("privacy_officer")
    page = client.get(f"/detection/alerts/{alert.pk}/").content.decode()
    assert f"{OPENED} patients" in page
    seen, pages = _paged_ids(client, f"/detection/alerts/{alert.pk}/patients/")
    assert pages == 3
    assert len(seen) == len(set(seen)) == OPENED
    assert set(seen) == set(patients)
    rows = _csv_rows(client, f"/detection/alerts/{alert.pk}/patients.csv")
    assert len(rows) == OPENED
    assert {row["patient_id"]: row["mrn"] for row in rows} == patients
    assert all(int(row["events"]) >= 1 for row in rows)
    export = AuditEvent.objects.get(action="export", resource_type="BreachScope", actor_id=officer.pk)
    assert export.resource_id == f"alert:{alert.pk}"
    assert export.fields == ["mrn"]
    some = next(iter(patients))
    assert export.pk in [event.pk for event in audit_selectors.patient_accesses(patient_id=some)]


def test_the_incident_scope_is_every_patient_of_its_alerts(intrusion, signed_in, make_user):
    alert, patients = intrusion
    client, officer = signed_in("security_officer")
    incident = incident_open_from_alert(
        actor=officer,
        alert_id=alert.pk,
        version=alert_version(alert),
        title="Billing intrusion",
        severity="high",
        summary="",
    )
    # A second alert of the same intruder, about searches, joins the scope too.
    searcher = Alert.objects.get(pk=alert.pk).subject_user_id
    shown = ["00000000-0000-4000-8000-000000000001"]
    from safeward.identity.models import User

    search(User.objects.get(pk=searcher), shown, page=9)
    run()
    second = Alert.objects.get(rule="search_paging")
    from safeward.incidents.services import incident_link_alert

    incident_link_alert(
        actor=officer, alert_id=second.pk, version=alert_version(second), incident_id=incident.pk
    )
    response = client.get(f"/incidents/{incident.pk}/patients/")
    assert f"{OPENED + 1} patients" in response.content.decode()
    rows = _csv_rows(client, f"/incidents/{incident.pk}/patients.csv")
    assert len(rows) == OPENED + 1
    assert {row["patient_id"] for row in rows} == set(patients) | set(shown)
    assert AuditEvent.objects.filter(action="export", resource_id=f"incident:{incident.pk}").count() == 1


def test_patient_pages_need_their_permissions(intrusion, signed_in):
    alert, _ = intrusion
    client, _ = signed_in("nurse")
    assert client.get(f"/detection/alerts/{alert.pk}/patients/").status_code == 403
    assert client.get(f"/detection/alerts/{alert.pk}/patients.csv").status_code == 403
    officer, _ = signed_in("privacy_officer")
    assert officer.get(f"/detection/alerts/{alert.pk}/patients/", {"after": "<script>"}).status_code == 400
