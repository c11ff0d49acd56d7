"""Doses given, shown wherever the chart is read (ADR 1420): FHIR R4
MedicationAdministration (read and search by patient, valid R4B, completed,
against its MedicationRequest, given at a time with its zone), the REST chart
and the chart page, each through the gateway, audited, and masked per role:
whoever reads the medication list reads the doses, nobody else."""

from __future__ import annotations

import datetime as dt

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.medicationadministration import MedicationAdministration

from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from tests.clinical.chart_items import paper_dose
from tests.clinical.conftest import WARD, new_patient, relate
from tests.conftest import sign_in
from tests.fhir.helpers import bearer, token

pytestmark = pytest.mark.django_db


@pytest.fixture
def dosed(make_user):
    """A patient with two paper doses: one verified by a ward nurse, one waiting."""
    doctor, nurse = make_user("physician", first_name="Dora", last_name="Doctor"), make_user("nurse")
    patient = new_patient(family="Dosewell", mrn="DOSE-0001")
    relate(doctor, patient, "attending")
    relate(nurse, patient, "department")
    verified = paper_dose(doctor, patient, verifier=nurse)
    waiting = paper_dose(doctor, patient, medication="Ondansetron 4 mg")
    return patient, doctor, nurse, verified, waiting


def test_the_capability_statement_lists_medication_administration(client):
    statement = CapabilityStatement.model_validate(client.get("/fhir/metadata").json())
    (resource,) = [r for r in statement.rest[0].resource if r.type == "MedicationAdministration"]
    assert {i.code for i in resource.interaction} == {"read", "search-type"}
    assert {"patient", "effective-time", "_id"} <= {p.name for p in resource.searchParam}


def test_search_by_patient_and_read_give_completed_doses_against_their_orders(client, dosed):
    patient, doctor, _nurse, verified, waiting = dosed
    raw = token(doctor, "user/*.rs")
    before = AuditEvent.objects.filter(actor_id=doctor.pk, action="read", resource_type="Chart").count()
    response = client.get("/fhir/MedicationAdministration", {"patient": f"Patient/{patient}"}, **bearer(raw))
    assert response.status_code == 200, response.content
    bundle = Bundle.model_validate(response.json())
    assert {e.resource.id for e in bundle.entry} == {verified, waiting}
    one = client.get(f"/fhir/MedicationAdministration/{verified}", **bearer(raw))
    assert one.status_code == 200
    body = one.json()
    MedicationAdministration.model_validate(body)
    assert body["status"] == "completed"
    assert body["subject"] == {"reference": f"Patient/{patient}"}
    assert body["medicationCodeableConcept"] == {"text": "Paracetamol 1 g"}
    given = dt.datetime.fromisoformat(body["effectiveDateTime"])
    assert given.tzinfo is not None
    assert given.utcoffset() is not None
    assert body["dosage"]["dose"] == {
        "value": 1.0,
        "unit": "g",
        "system": "http://unitsofmeasure.org",
        "code": "g",
    }
    assert body["dosage"]["route"]["text"] == "By mouth"
    assert "verified" in body["note"][0]["text"]
    assert "paper" in body["note"][0]["text"]
    order = body["request"]["reference"]
    assert order.startswith("MedicationRequest/")
    assert client.get(f"/fhir/{order}", **bearer(raw)).status_code == 200
    other = client.get(f"/fhir/MedicationAdministration/{waiting}", **bearer(raw)).json()
    assert "not yet verified" in other["note"][0]["text"]
    after = AuditEvent.objects.filter(actor_id=doctor.pk, action="read", resource_type="Chart").count()
    assert after - before == 4  # each search and read is one audited chart read
    day = given.date().isoformat()
    later = (given.date() + dt.timedelta(days=1)).isoformat()
    for value, count in ((day, 2), (f"ge{later}", 0), (f"lt{later}", 2)):
        found = client.get(
            "/fhir/MedicationAdministration",
            {"patient": f"Patient/{patient}", "effective-time": value},
            **bearer(raw),
        ).json()
        assert len(found.get("entry", [])) == count, value
    bad = client.get(
        "/fhir/MedicationAdministration",
        {"patient": f"Patient/{patient}", "effective-time": "yesterday"},
        **bearer(raw),
    )
    assert bad.status_code == 400
    assert bad.json()["resourceType"] == "OperationOutcome"
    assert client.get("/fhir/MedicationAdministration", **bearer(raw)).status_code == 400


@pytest.mark.parametrize(
    ("role", "sees"),
    [
        ("physician", True),
        ("nurse", True),
        ("pharmacist", True),  # reads the medication list, so the doses given
        ("billing_clerk", False),
        ("lab_technician", False),
        ("registration_clerk", False),
    ],
)
def test_each_role_sees_the_doses_exactly_when_its_mask_holds_medications(
    client, dosed, make_user, role, sees
):
    patient, _doctor, _nurse, verified, _waiting = dosed
    reader = make_user(role)
    relate(reader, patient, "care_team")
    chart = gateway.chart_read(actor=reader, session=WARD, purpose=PurposeOfUse.TREATMENT, patient_id=patient)
    assert (chart.administrations is not None) is sees
    raw = token(reader, "user/*.rs")
    status = client.get(f"/fhir/MedicationAdministration/{verified}", **bearer(raw)).status_code
    assert status == (200 if sees else 404)
    sign_in(client, reader)
    page = client.get(f"/clinical/patients/{patient}/")
    assert page.status_code == 200
    assert (b'id="administrations"' in page.content) is sees
    rest = client.get(f"/api/v1/clinical/patients/{patient}/chart/")
    assert rest.status_code == 200
    assert (rest.json()["administrations"] is not None) is sees


def test_the_chart_page_and_rest_show_time_dose_route_who_source_and_verification(client, dosed):
    patient, doctor, _nurse, verified, waiting = dosed
    sign_in(client, doctor)
    page = client.get(f"/clinical/patients/{patient}/").content.decode()
    section = page.split('id="administrations"', 1)[1].split("</section>", 1)[0]
    assert "Medication administrations" in section
    assert "Paracetamol 1 g" in section
    assert "Ondansetron 4 mg" in section
    assert "1 g" in section
    assert "By mouth" in section
    assert "Dora Doctor" in section
    assert section.count("paper (downtime)") == 2
    assert section.count("verified</span>") == 1
    assert "awaiting a second person" in section
    rows = {
        row["id"]: row
        for row in client.get(f"/api/v1/clinical/patients/{patient}/chart/").json()["administrations"]
    }
    assert set(rows) == {verified, waiting}
    assert rows[verified]["source"] == "paper (downtime)"
    assert rows[verified]["verified_by"]
    assert rows[verified]["verified_at"]
    assert rows[waiting]["verified_at"] is None
    assert (rows[verified]["dose"], rows[verified]["dose_unit"], rows[verified]["route"]) == (
        "1",
        "g",
        "oral",
    )
    assert rows[verified]["recorded_by"] == "Dora Doctor"
    schema = client.get("/api/schema/").content.decode()
    assert "AdministrationOutput" in schema
