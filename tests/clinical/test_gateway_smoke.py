from __future__ import annotations

import datetime as dt

import pytest

from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import NotFound
from tests.clinical.conftest import WARD, new_patient, relate

pytestmark = pytest.mark.django_db


def test_physician_on_care_team_reads_chart_and_is_audited(make_user, patient):
    doctor = make_user("physician")
    relate(doctor, patient, "care_team")
    gateway.note_create(
        actor=doctor,
        session=WARD,
        purpose=PurposeOfUse.TREATMENT,
        patient_id=patient,
        title="Day 1",
        text="Stable.",
    )
    chart = gateway.chart_read(actor=doctor, session=WARD, purpose=PurposeOfUse.TREATMENT, patient_id=patient)
    assert chart.patient.family_name == "Quist"
    assert [n.text for n in chart.notes] == ["Stable."]
    event = AuditEvent.objects.filter(action="read", resource_type="Chart").get()
    assert event.patient_id == patient
    assert "note" in event.fields
    assert event.purpose_of_use == "TREAT"


def test_no_relationship_is_not_found(make_user, patient):
    doctor = make_user("physician")
    with pytest.raises(NotFound):
        gateway.chart_read(actor=doctor, session=WARD, purpose=PurposeOfUse.TREATMENT, patient_id=patient)
    assert AuditEvent.objects.filter(action="read", outcome="denied", patient_id=patient).exists()


def test_search_by_name_prefix_and_mrn(make_user):
    pid = new_patient(given="Zelda", family="Oyelaran-Quist", mrn="MRN-0042")
    new_patient(given="Bob", family="Other")
    clerk = make_user("registration_clerk")
    page = gateway.patient_search(
        actor=clerk,
        session=WARD,
        purpose=PurposeOfUse.OPERATIONS,
        name="oye zel",
        birth_date=dt.date(1980, 2, 3),
    )
    assert [r.id for r in page.results] == [pid]
    page = gateway.patient_search(actor=clerk, session=WARD, purpose=PurposeOfUse.OPERATIONS, mrn="mrn0042")
    assert [r.mrn for r in page.results] == ["MRN-0042"]
    event = AuditEvent.objects.filter(action="search").last()
    assert event.detail["criteria"] == ["mrn"]
    assert "0042" not in str(event.detail)


def test_document_is_stored_encrypted_and_opens_for_the_care_team(make_user, patient, settings, tmp_path):
    import io

    settings.VAR_DIR = tmp_path
    doctor = make_user("physician")
    relate(doctor, patient, "care_team")
    content = b"%PDF-1.4 discharge letter for QUIST"
    view = gateway.document_upload(
        actor=doctor,
        session=WARD,
        purpose=PurposeOfUse.TREATMENT,
        patient_id=patient,
        title="Discharge letter",
        content_type="application/pdf",
        source=io.BytesIO(content),
        size=len(content),
    )
    stored = (tmp_path / "clinical" / "documents" / f"{view.id}.swf").read_bytes()
    assert b"QUIST" not in stored
    meta, chunks = gateway.document_open(
        actor=doctor, session=WARD, purpose=PurposeOfUse.TREATMENT, patient_id=patient, document_id=view.id
    )
    assert meta.title == "Discharge letter"
    assert b"".join(chunks) == content
    stranger = make_user("physician")
    with pytest.raises(NotFound):
        gateway.document_open(
            actor=stranger,
            session=WARD,
            purpose=PurposeOfUse.TREATMENT,
            patient_id=patient,
            document_id=view.id,
        )
