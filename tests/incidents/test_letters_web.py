"""The breach notification letters from the case page (ADR 1411): one PDF per
batch of recipients, read through the gateway for that batch only, recorded
on the case and manifested; the privacy officer alone, with clear refusals."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from safeward.assets.models import ExportManifest
from safeward.audit.models import AuditEvent
from safeward.incidents import case_services, letters
from safeward.incidents.models import BreachAssessment, TimelineEntry
from tests.conftest import sign_in
from tests.incidents.test_breach_scope import patient_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(make_user, frozen_clock):
    officer = make_user("security_officer")
    incident = case_services.incident_create(
        actor=officer, title="Snoop", category="snooping", severity="high"
    )
    patients = [patient_in("TX", 31), patient_in("TX", 32), patient_in("CA", 33)]
    BreachAssessment.objects.create(
        incident=incident,
        window_start=frozen_clock.now() - dt.timedelta(days=1),
        window_end=frozen_clock.now(),
        patient_ids=patients,
        affected=3,
        by_state={"TX": 2, "CA": 1},
        discovered_at=frozen_clock.now(),
    )
    return incident, sorted(patients)


def test_the_privacy_officer_downloads_each_batch_as_one_manifested_pdf(client, make_user, case, monkeypatch):
    incident, patients = case
    monkeypatch.setattr(letters, "LETTER_BATCH", 2)
    privacy = make_user("privacy_officer")
    sign_in(client, privacy)
    page = client.get(f"/incidents/{incident.pk}/")
    assert b"Batch 1 (2 letters, PDF)" in page.content
    assert b"Batch 2 (1 letters, PDF)" in page.content

    response = client.get(f"/incidents/{incident.pk}/letters/2/download/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert f"letters-incident-{incident.pk}-batch-2.pdf" in response["Content-Disposition"]
    manifest = ExportManifest.objects.get(route="incidents:letters_download")
    assert manifest.patient_ids == [patients[2]]  # the second batch: the third patient only
    assert manifest.sha256 == hashlib.sha256(response.content).hexdigest()
    gateway_event = AuditEvent.objects.get(action="export", resource_type="BreachScope", actor_id=privacy.pk)
    assert gateway_event.detail["patients_found"] == 1
    assert AuditEvent.objects.filter(
        resource_type="Incident", detail__change="letters_download", detail__batch=2
    ).exists()
    assert TimelineEntry.objects.filter(incident=incident, text__contains="batch 2", for_report=True).exists()

    first = client.get(f"/incidents/{incident.pk}/letters/1/download/")
    assert first.status_code == 200
    assert ExportManifest.objects.filter(route="incidents:letters_download").latest("id").patient_count == 2


def test_bad_batches_and_cases_without_a_scope_are_refused_and_nothing_leaves(client, make_user, case):
    incident, _ = case
    privacy = make_user("privacy_officer")
    sign_in(client, privacy)
    assert client.get(f"/incidents/{incident.pk}/letters/0/download/").status_code == 404
    assert client.get(f"/incidents/{incident.pk}/letters/2/download/").status_code == 404  # one batch of 100
    assert client.get(f"/incidents/{incident.pk}/letters/x/download/").status_code == 404
    empty = case_services.incident_create(
        actor=make_user("security_officer"), title="None", category="other", severity="low"
    )
    assert client.get(f"/incidents/{empty.pk}/letters/1/download/").status_code == 404
    BreachAssessment.objects.filter(incident=incident).update(patient_ids=["not-a-patient"], affected=1)
    refused = client.get(f"/incidents/{incident.pk}/letters/1/download/")
    assert refused.status_code == 400
    assert b"nobody to write to" in refused.content
    assert not ExportManifest.objects.filter(route="incidents:letters_download").exists()


def test_the_security_officer_keeps_the_case_but_may_not_take_letters(client, make_user, case):
    incident, _ = case
    sign_in(client, make_user("security_officer"))
    assert client.get(f"/incidents/{incident.pk}/letters/1/download/").status_code == 403
    assert b"letter-batches" not in client.get(f"/incidents/{incident.pk}/").content
    assert not AuditEvent.objects.filter(action="export", resource_type="BreachScope").exists()
