"""API disclosures name the application that received the data (issue 11,
item 7): every audit event of a request made with a bearer token records the
OAuth client (`client_id`, and its name at the time), and the accounting of
disclosures shows it."""

from __future__ import annotations

import pytest

from safeward.audit.export import event_cef
from safeward.audit.fhir import fhir_audit_event
from safeward.audit.models import AuditEvent
from tests.clinical.conftest import clinical_zone, patient, relate  # noqa: F401  # fixtures for pytest
from tests.conftest import sign_in
from tests.fhir.helpers import app, bearer, token

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(make_user, patient):  # noqa: F811  # the fixture imported above
    doctor = make_user("physician")
    relate(doctor, patient, "care_team")
    application = app("Ward Rounds Viewer")
    return doctor, application, token(doctor, "user/*.rs", application=application)


def _reads(patient_id):
    return AuditEvent.objects.filter(patient_id=patient_id, action="read", outcome="success")


def test_fhir_and_rest_reads_name_the_client(client, viewer, patient):  # noqa: F811
    doctor, application, raw = viewer
    assert client.get(f"/fhir/Patient/{patient}", **bearer(raw)).status_code == 200
    assert client.get(f"/api/v1/clinical/patients/{patient}/chart/", **bearer(raw)).status_code == 200
    events = list(_reads(patient).order_by("id"))
    assert [e.resource_type for e in events] == ["Patient", "Chart"]
    for event in events:
        assert event.client_id == application.client_id
        assert event.client_name == "Ward Rounds Viewer"
    assert [e.source for e in events] == ["fhir", "api"]
    assert f"cs4={application.client_id}" in event_cef(events[0])
    agents = fhir_audit_event(events[0])["agent"]
    assert agents[1]["who"]["identifier"]["value"] == application.client_id
    assert agents[1]["who"]["display"] == "Ward Rounds Viewer"
    # The same read in the browser names no application.
    sign_in(client, doctor)
    assert client.get(f"/api/v1/clinical/patients/{patient}/chart/").status_code == 200
    assert _reads(patient).latest("id").client_id == ""


def test_the_accounting_of_disclosures_names_the_application(client, viewer, patient, make_user):  # noqa: F811
    _, _, raw = viewer
    assert client.get(f"/fhir/Patient/{patient}", **bearer(raw)).status_code == 200
    sign_in(client, make_user("privacy_officer"))
    page = client.get("/audit/disclosures/", {"patient": patient}).content.decode()
    assert "Ward Rounds Viewer" in page
    printed = client.get("/audit/disclosures/print/", {"patient": patient}).content.decode()
    assert "Ward Rounds Viewer" in printed


def test_the_client_is_sealed_and_older_events_keep_their_hash():
    """The client columns came after the first seals (ADR 0209): empty, they
    leave an event's canonical form as it was; set, they are hashed, so
    blanking or swapping the application afterwards is caught by verify."""
    from safeward.audit import chain
    from safeward.audit import context as audit_context
    from safeward.audit.services import audit_record
    from safeward.audit.verification import audit_verify
    from safeward.audit.vocabulary import Action
    from tests.audit.conftest import seal_all
    from tests.audit.helpers import sql, superuser_bypass

    before = [1, "2026-11-02T09:00:00.000000+00:00", None, "u", "", "", None, "", "", "", "read", "success"]
    before += ["Patient", "p", "p", "TREAT", "", [], {}, "web"]
    assert chain.canonical_event([*before, "", ""]) == chain.canonical_event(before)
    assert chain.canonical_event([*before, "abc", "App"]) != chain.canonical_event(before)
    bound = audit_context.bind(audit_context.AuditContext(client_id="abc", client_name="Ward Rounds Viewer"))
    try:
        event = audit_record(action=Action.READ, actor_username="u", resource_type="Patient", patient_id="p")
    finally:
        audit_context.reset(bound)
    audit_record(action=Action.READ, actor_username="u", resource_type="Patient", patient_id="p")
    seal_all()
    assert audit_verify().ok
    with superuser_bypass():
        sql("UPDATE audit_auditevent SET client_name = '' WHERE id = %s", [event.pk])
    report = audit_verify()
    assert not report.ok
    assert report.first_bad.event_id == event.pk
