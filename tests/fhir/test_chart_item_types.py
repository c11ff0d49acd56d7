"""FHIR R4 Immunization, Procedure and DiagnosticReport (issue 12): read and
search through the gateway, valid R4 (fhir.resources.R4B), search
parameters, refusals by role and by scope, bad input as OperationOutcomes,
and the capability statement."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.immunization import Immunization
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.procedure import Procedure

from safeward.audit.models import AuditEvent
from tests.clinical.chart_items import patient_with_items
from tests.clinical.conftest import relate
from tests.fhir.helpers import bearer, token

pytestmark = pytest.mark.django_db
TYPES = {"Immunization": Immunization, "Procedure": Procedure, "DiagnosticReport": DiagnosticReport}


@pytest.fixture
def doctor(make_user):
    return make_user("physician")


@pytest.fixture
def charted(doctor):
    patient = patient_with_items(3)
    relate(doctor, patient, "care_team")
    return patient


def _ids(client, url, raw):
    response = client.get(url, **bearer(raw))
    assert response.status_code == 200, response.content
    return [e["resource"]["id"] for e in response.json().get("entry", [])]


def test_capability_statement_lists_the_types_with_their_search_parameters(client):
    statement = CapabilityStatement.model_validate(client.get("/fhir/metadata").json())
    resources = {r.type: r for r in statement.rest[0].resource}
    for resource_type in TYPES:
        assert {i.code for i in resources[resource_type].interaction} == {"read", "search-type"}
    params = {t: {p.name for p in resources[t].searchParam} for t in TYPES}
    assert {"patient", "vaccine-code", "date"} <= params["Immunization"]
    assert {"patient", "code", "date"} <= params["Procedure"]
    assert {"patient", "code", "category", "date"} <= params["DiagnosticReport"]


def test_search_and_read_validate_and_are_audited(client, doctor, charted):
    raw = token(doctor, "user/*.rs")
    for resource_type, model in TYPES.items():
        response = client.get(f"/fhir/{resource_type}?patient=Patient/{charted}", **bearer(raw))
        assert response.status_code == 200, response.content
        bundle = Bundle.model_validate(response.json())
        assert len(bundle.entry) == 3
        for entry in bundle.entry:
            one = client.get(f"/fhir/{resource_type}/{entry.resource.id}", **bearer(raw))
            assert one.status_code == 200
            item = model.model_validate(one.json())
            assert item.id == entry.resource.id
    report = client.get(f"/fhir/DiagnosticReport?patient={charted}", **bearer(raw)).json()["entry"][0]
    observations = [r["reference"] for r in report["resource"]["result"]]
    assert len(observations) == 2
    for reference in observations:
        assert client.get(f"/fhir/{reference}", **bearer(raw)).status_code == 200
    procedure = client.get(f"/fhir/Procedure?patient={charted}", **bearer(raw)).json()["entry"][0]["resource"]
    assert procedure["code"]["coding"][0] == {
        "system": "http://snomed.info/sct",
        "code": "80146002",
        "display": "Appendectomy",
    }
    assert procedure["reasonCode"] == [{"text": "Acute appendicitis"}]
    assert {"start", "end"} <= set(procedure["performedPeriod"])
    reads = AuditEvent.objects.filter(actor_id=doctor.pk, action="read", resource_type="Chart")
    assert reads.count() >= 3 + 3 * 3 + 2


def test_search_parameters(client, doctor, charted):
    raw = token(doctor, "user/*.rs")
    every = _ids(client, f"/fhir/Immunization?patient={charted}", raw)
    assert len(_ids(client, f"/fhir/Immunization?patient={charted}&vaccine-code=140", raw)) == 3
    assert _ids(
        client, f"/fhir/Immunization?patient={charted}&vaccine-code=http://hl7.org/fhir/sid/cvx|140", raw
    )
    assert _ids(client, f"/fhir/Immunization?patient={charted}&vaccine-code=urn:other|140", raw) == []
    assert _ids(client, f"/fhir/Immunization?patient={charted}&vaccine-code=141", raw) == []
    # The three items are 40 days apart from 2024-03-01.
    assert len(_ids(client, f"/fhir/Immunization?patient={charted}&date=2024-03-01", raw)) == 1
    assert len(_ids(client, f"/fhir/Immunization?patient={charted}&date=ge2024-04-01", raw)) == 2
    assert _ids(client, f"/fhir/Immunization?_id={every[0]}", raw) == [every[0]]
    assert (
        len(_ids(client, f"/fhir/Procedure?patient={charted}&code=http://snomed.info/sct|80146002", raw)) == 3
    )
    assert _ids(client, f"/fhir/Procedure?patient={charted}&code=http://loinc.org|80146002", raw) == []
    assert len(_ids(client, f"/fhir/Procedure?patient={charted}&date=lt2024-04-01", raw)) == 1
    assert len(_ids(client, f"/fhir/DiagnosticReport?patient={charted}&code=58410-2", raw)) == 3
    assert len(_ids(client, f"/fhir/DiagnosticReport?patient={charted}&category=LAB", raw)) == 3
    lab = "http://terminology.hl7.org/CodeSystem/v2-0074|LAB"
    assert len(_ids(client, f"/fhir/DiagnosticReport?patient={charted}&category={lab}", raw)) == 3
    assert _ids(client, f"/fhir/DiagnosticReport?patient={charted}&category=RAD", raw) == []
    paged = client.get(f"/fhir/Procedure?patient={charted}&_count=2", **bearer(raw)).json()
    assert len(paged["entry"]) == 2
    assert any(link["relation"] == "next" for link in paged["link"])


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/fhir/Immunization?patient={p}&code=140", 400),
        ("/fhir/Procedure?patient={p}&vaccine-code=140", 400),
        ("/fhir/Procedure?patient={p}&category=LAB", 400),
        ("/fhir/Immunization?patient={p}&date=2024-02-30", 400),
        ("/fhir/DiagnosticReport?patient={p}&date=ap2024", 400),
        ("/fhir/Procedure", 400),
        ("/fhir/Procedure?patient=Practitioner/1", 400),
        ("/fhir/Immunization/not-a-uuid", 404),
        ("/fhir/Procedure/00000000-0000-4000-8000-000000000000", 404),
        ("/fhir/DiagnosticReport?patient=00000000-0000-4000-8000-000000000000", 404),
    ],
)
def test_bad_requests_get_operation_outcomes(client, doctor, charted, url, status):
    raw = token(doctor, "user/*.rs")
    response = client.get(url.format(p=charted), **bearer(raw))
    assert response.status_code == status, response.content
    OperationOutcome.model_validate(response.json())


def test_post_search_gives_what_get_gives(client, doctor, charted):
    raw = token(doctor, "user/*.rs")
    for resource_type, form in (
        ("Immunization", f"patient={charted}&vaccine-code=140"),
        ("Procedure", f"patient={charted}&date=ge2024-04-01"),
        ("DiagnosticReport", f"patient={charted}&category=LAB"),
    ):
        by_get = _ids(client, f"/fhir/{resource_type}?{form}", raw)
        response = client.post(
            f"/fhir/{resource_type}/_search",
            form,
            content_type="application/x-www-form-urlencoded",
            **bearer(raw),
        )
        assert response.status_code == 200
        assert [e["resource"]["id"] for e in response.json()["entry"]] == by_get != []


@pytest.mark.parametrize(
    ("role", "visible"),
    [
        ("lab_technician", {"DiagnosticReport"}),
        ("pharmacist", {"Immunization", "DiagnosticReport"}),
        ("billing_clerk", {"Procedure"}),
        ("registration_clerk", set()),
    ],
)
def test_each_role_reads_only_the_types_its_mask_allows(client, make_user, doctor, charted, role, visible):
    """Minimum necessary on FHIR as in the chart: an invisible type's search
    finds nothing and its read is not found (and audited as a denial)."""
    raw_doctor = token(doctor, "user/*.rs")
    ids = {t: _ids(client, f"/fhir/{t}?patient={charted}", raw_doctor)[0] for t in TYPES}
    user = make_user(role)
    raw = token(user, "user/*.rs")
    for resource_type in TYPES:
        found = _ids(client, f"/fhir/{resource_type}?patient={charted}", raw)
        read = client.get(f"/fhir/{resource_type}/{ids[resource_type]}", **bearer(raw))
        if resource_type in visible:
            assert len(found) == 3, (role, resource_type)
            assert read.status_code == 200
        else:
            assert found == [], (role, resource_type)
            assert read.status_code == 404


def test_a_stranger_gets_not_found_and_the_attempt_is_audited(client, make_user, charted, doctor):
    raw_doctor = token(doctor, "user/*.rs")
    item = _ids(client, f"/fhir/Procedure?patient={charted}", raw_doctor)[0]
    stranger = make_user("physician")
    raw = token(stranger, "user/*.rs")
    assert client.get(f"/fhir/Procedure/{item}", **bearer(raw)).status_code == 404
    assert client.get(f"/fhir/Procedure?patient={charted}", **bearer(raw)).status_code == 404
    assert AuditEvent.objects.filter(actor_id=stranger.pk, outcome="denied", patient_id=charted).exists()


def test_a_type_scope_reaches_its_type_only(client, doctor, charted):
    raw = token(doctor, "launch/patient patient/Immunization.rs", patient_id=charted)
    assert len(_ids(client, f"/fhir/Immunization?patient={charted}", raw)) == 3
    assert len(_ids(client, "/fhir/Immunization", raw)) == 3  # pinned to the launch patient
    for other in ("Procedure", "DiagnosticReport", "Observation"):
        assert client.get(f"/fhir/{other}?patient={charted}", **bearer(raw)).status_code == 403
    body = client.get(f"/api/v1/clinical/patients/{charted}/chart/", **bearer(raw))
    assert body.status_code == 403  # the REST chart opens as a Patient read: no Patient scope
    raw = token(doctor, "launch/patient patient/Patient.rs patient/Procedure.rs", patient_id=charted)
    chart = client.get(f"/api/v1/clinical/patients/{charted}/chart/", **bearer(raw)).json()
    assert len(chart["procedures"]) == 3
    assert chart["immunizations"] is None
    assert chart["reports"] is None
