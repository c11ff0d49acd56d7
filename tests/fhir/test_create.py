"""Patient create over FHIR: validated with R4B, through the gateway; bad
input is a 4xx OperationOutcome and nothing is saved."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from safeward.audit.models import AuditEvent
from safeward.clinical import gateway
from tests.clinical.conftest import WARD
from tests.fhir.helpers import bearer, token

pytestmark = pytest.mark.django_db

GOOD = {
    "resourceType": "Patient",
    "identifier": [{"system": "urn:safeward:mrn", "value": "FHIR-0001"}],
    "name": [{"use": "official", "family": "Nakamura", "given": ["Emi"]}],
    "gender": "female",
    "birthDate": "1975-04-09",
}


def _count(user):
    from safeward.audit.vocabulary import PurposeOfUse

    return len(
        gateway.patient_search(
            actor=user,
            session=WARD,
            purpose=PurposeOfUse.OPERATIONS,
            name="naka",
            birth_date=dt.date(1975, 4, 9),
        ).results
    )


def _post(client, raw, body, content_type="application/fhir+json"):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post("/fhir/Patient", data=data, content_type=content_type, **bearer(raw))


def test_create_patient(make_user, client):
    clerk = make_user("registration_clerk")
    raw = token(clerk, "user/Patient.cruds")
    response = _post(client, raw, GOOD)
    assert response.status_code == 201, response.content
    assert response["Location"].endswith(f"/fhir/Patient/{response.json()['id']}")
    assert response.json()["name"][0]["family"] == "Nakamura"
    assert AuditEvent.objects.filter(action="create", resource_type="Patient", outcome="success").count() == 1
    # Posted twice: the MRN is taken, nothing else saved.
    again = _post(client, raw, GOOD)
    assert again.status_code == 409
    assert again.json()["resourceType"] == "OperationOutcome"
    assert _count(clerk) == 1


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[]",
        {"resourceType": "Observation", "status": "final"},
        {"resourceType": "Patient"},
        {**GOOD, "birthDate": "1975-13-40"},
        {**GOOD, "birthDate": "2999-01-01"},
        {**GOOD, "gender": "robot"},
        {**GOOD, "name": [{"family": "x" * 500, "given": ["Emi"]}]},
        {**GOOD, "managingOrganization": {"reference": 42}},
        {**GOOD, "spaceship": True},
    ],
)
def test_bad_patient_is_refused_and_nothing_saved(make_user, client, body):
    clerk = make_user("registration_clerk")
    raw = token(clerk, "user/Patient.cruds")
    response = _post(client, raw, body)
    assert 400 <= response.status_code < 500, response.content
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "x" * 50 not in json.dumps(outcome)
    assert _count(clerk) == 0


def test_create_needs_a_create_scope_and_the_permission(make_user, client):
    clerk = make_user("registration_clerk")
    assert _post(client, token(clerk, "user/Patient.rs"), GOOD).status_code == 403
    nurse = make_user("nurse")
    assert _post(client, token(nurse, "user/Patient.cruds"), GOOD).status_code == 403
    assert _count(clerk) == 0


def test_other_types_cannot_be_created(make_user, client):
    clerk = make_user("registration_clerk")
    raw = token(clerk, "user/Patient.cruds")
    assert (
        client.post(
            "/fhir/Observation", data="{}", content_type="application/fhir+json", **bearer(raw)
        ).status_code
        == 405
    )
    assert (
        client.post(
            "/fhir/Spaceship", data="{}", content_type="application/fhir+json", **bearer(raw)
        ).status_code
        == 404
    )
