"""Multi-patient events (a search page, a clinic day, a worklist) are in the
accounting of disclosures and the audit report of every patient they
disclosed (ADR 0208), and their patient index is as append-only as the trail."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from safeward import clock
from safeward.audit.archive import audit_archive_create
from safeward.audit.models import AuditEvent, AuditEventPatient
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from tests.audit.conftest import seal_all
from tests.clinical.conftest import WARD, new_patient, relate
from tests.conftest import sign_in
from tests.one_door import clinical_test_data

pytestmark = pytest.mark.django_db

BIRTH = dt.date(1971, 5, 6)


def _searched(make_user, count=3):
    clerk = make_user("registration_clerk")
    patients = [
        new_patient(given=f"Ann{n}", family="Harvest", birth=BIRTH, mrn=f"H{n}") for n in range(count)
    ]
    page = gateway.patient_search(
        actor=clerk, session=WARD, purpose=PurposeOfUse.OPERATIONS, name="harv", birth_date=BIRTH
    )
    assert sorted(r.id for r in page.results) == sorted(patients)
    return clerk, patients


def test_a_search_is_in_the_accounting_of_every_patient_it_showed(make_user):
    clerk, patients = _searched(make_user)
    officer = make_user("privacy_officer")
    client = Client()
    sign_in(client, officer)
    search = AuditEvent.objects.get(action="search", actor_id=clerk.pk)
    for pid in patients:
        body = client.get("/audit/disclosures/", {"patient": pid}).content.decode()
        # The page lists the search with who made it (it shows no event ids).
        assert f"{clerk.get_full_name()}" in body
        assert "search Patient" in " ".join(body.split())
    assert sorted(
        AuditEventPatient.objects.filter(event_id=search.pk).values_list("patient_id", flat=True)
    ) == sorted(patients)
    assert search.detail["patients"] == sorted(patients)  # sealed with the event


def test_the_audit_report_filtered_by_patient_finds_the_search(make_user):
    clerk, patients = _searched(make_user)
    officer = make_user("privacy_officer")
    client = Client()
    sign_in(client, officer)
    search = AuditEvent.objects.get(action="search", actor_id=clerk.pk)
    response = client.get("/audit/report/", {"patient": patients[1], "start": clock.now().date().isoformat()})
    assert response.status_code == 200
    assert f">{search.pk}<" in response.content.decode()
    csv_body = b"".join(
        client.get("/audit/report.csv", {"patient": patients[1], "start": clock.now().date().isoformat()})
    ).decode()
    assert any(line.startswith(f"{search.pk},") for line in csv_body.splitlines())


def test_a_clinic_day_is_in_each_booked_patients_accounting(make_user):
    from safeward.audit import selectors

    doctor = make_user("physician")
    patients = [new_patient(given=f"Day{n}", family="Clinic", mrn=f"D{n}") for n in range(2)]
    for pid in patients:
        relate(doctor, pid, "appointment_today")
    from safeward.clinical.models import Slot

    with clinical_test_data():
        department_id = Slot.objects.values_list("department_id", flat=True).first()
    gateway.schedule_day(
        actor=doctor,
        session=WARD,
        purpose=PurposeOfUse.TREATMENT,
        department_id=department_id,
        day=clock.now().date(),
    )
    event = AuditEvent.objects.get(resource_type="Schedule")
    for pid in patients:
        assert event.pk in [e.pk for e in selectors.patient_accesses(patient_id=pid)]


def test_the_patient_index_is_append_only(make_user):
    _, patients = _searched(make_user, count=1)
    link = AuditEventPatient.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEventPatient.objects.filter(pk=link.pk).update(patient_id="someone-else")
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEventPatient.objects.filter(pk=link.pk).delete()
    assert AuditEventPatient.objects.get().patient_id == patients[0]


def test_archiving_takes_the_index_rows_with_their_events(make_user, frozen_clock, settings):
    _searched(make_user, count=2)
    seal_all()
    frozen_clock.advance(days=3000)
    settings.SAFEWARD_AUDIT_RETENTION_DAYS = 6 * 365 + 2
    cutoff = clock.now() - dt.timedelta(days=settings.SAFEWARD_AUDIT_RETENTION_DAYS)
    assert audit_archive_create(actor=None, before=cutoff) is not None
    assert not AuditEventPatient.objects.exists()


def test_verify_names_an_event_whose_index_row_was_deleted(make_user):
    from safeward.audit.verification import audit_verify
    from tests.audit.helpers import sql, superuser_bypass

    clerk, patients = _searched(make_user, count=2)
    seal_all()
    assert audit_verify().ok
    search = AuditEvent.objects.get(action="search", actor_id=clerk.pk)
    with superuser_bypass():
        sql("DELETE FROM audit_auditeventpatient WHERE patient_id = %s", [patients[0]])
    report = audit_verify()
    assert (report.first_bad.event_id, report.first_bad.kind) == (search.pk, "patient index differs")


def test_the_fhir_audit_event_of_a_search_names_every_patient_shown(make_user):
    from safeward.audit.fhir import fhir_audit_event, fhir_validate

    clerk, patients = _searched(make_user, count=3)
    resource = fhir_audit_event(AuditEvent.objects.get(action="search", actor_id=clerk.pk))
    fhir_validate(resource)
    named = [
        e["what"]["identifier"]["value"] for e in resource["entity"] if e["role"]["display"] == "Patient"
    ]
    assert sorted(named) == sorted(patients)
