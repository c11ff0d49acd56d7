"""The state or region of a patient's address: one more key of the encrypted
`address` (like the line, city and postal code), through registration and
the demographics correction, REST, FHIR import, create and read, the demo
and the scale generator; never in the audit trail."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.importer import import_bundle
from tests.clinical.conftest import WARD, relate
from tests.conftest import sign_in
from tests.fhir.helpers import bearer, token

pytestmark = pytest.mark.django_db
OPS = PurposeOfUse.OPERATIONS
SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "synthea" / "bundles"


def _address(user, patient_id) -> Any:
    """The stored address as the chart shows it (None when none was given)."""
    chart = gateway.chart_read(actor=user, session=WARD, purpose=OPS, patient_id=patient_id)
    return chart.patient.address


def _no_state_in_audit(value: str) -> None:
    for event in AuditEvent.objects.all():
        assert value not in json.dumps(
            [event.detail, event.fields, event.reason, event.resource_id], default=str
        )


def _token(body: str) -> str:
    found = re.search(r'name="submission" value="([0-9a-f]+)"', body)
    assert found is not None
    return found.group(1)


def _register(client, **extra) -> str:
    form = client.get("/clinical/patients/new/")
    assert 'name="state"' in form.content.decode()
    data = {
        "submission": _token(form.content.decode()),
        "given_name": "Maja",
        "family_name": "Brandt",
        "birth_date": "1990-05-06",
        "sex": "female",
        "address_line": "4 Harbour Road",
        "city": "Dartmouth",
        "state": "Massachusetts",
        "postal_code": "02714",
        **extra,
    }
    response = client.post("/clinical/patients/new/", data)
    assert response.status_code == 302, response.content
    return response["Location"].rstrip("/").split("/")[-1]


def test_registration_and_edit_store_the_state_encrypted_and_never_audit_it(signed_in):
    client, clerk = signed_in("registration_clerk")
    patient_id = _register(client)
    assert _address(clerk, patient_id) == {
        "line": ["4 Harbour Road"],
        "city": "Dartmouth",
        "state": "Massachusetts",
        "postal_code": "02714",
    }
    chart = client.get(f"/clinical/patients/{patient_id}/").content.decode()
    assert "Dartmouth, Massachusetts" in chart

    edit = client.get(f"/clinical/patients/{patient_id}/edit/").content.decode()
    assert 'value="Massachusetts"' in edit
    data = {
        "submission": _token(edit),
        "given_name": "Maja",
        "family_name": "Brandt",
        "birth_date": "1990-05-06",
        "sex": "female",
        "address_line": "4 Harbour Road",
        "city": "Dartmouth",
        "state": "Rhode Island",
        "postal_code": "02714",
        "reason": "Moved",
    }
    assert client.post(f"/clinical/patients/{patient_id}/edit/", data).status_code == 302
    assert _address(clerk, patient_id)["state"] == "Rhode Island"
    event = AuditEvent.objects.get(resource_type="Patient", action="update")
    assert event.detail["changed"] == ["address"]
    _no_state_in_audit("Massachusetts")
    _no_state_in_audit("Rhode Island")

    # Left empty, the state is removed; what the form does not show (the country) stays.
    gateway.patient_update(
        actor=clerk,
        session=WARD,
        purpose=OPS,
        patient_id=patient_id,
        data=_input_with_country(clerk, patient_id),
    )
    edit = client.get(f"/clinical/patients/{patient_id}/edit/").content.decode()
    data["submission"], data["state"] = _token(edit), ""
    assert client.post(f"/clinical/patients/{patient_id}/edit/", data).status_code == 302
    address = _address(clerk, patient_id)
    assert "state" not in address
    assert address["country"] == "US"


def _input_with_country(clerk, patient_id):
    """The stored demographics with a country added (as an import would have it)."""
    from safeward.clinical.types import PatientInput

    p = gateway.chart_read(actor=clerk, session=WARD, purpose=OPS, patient_id=patient_id).patient
    return PatientInput(
        given_name=p.given_name,
        family_name=p.family_name,
        birth_date=p.birth_date,
        sex=p.sex,
        address={**p.address, "country": "US"},
    )


def test_registration_without_an_address_stores_none(signed_in):
    client, clerk = signed_in("registration_clerk")
    patient_id = _register(client, address_line="", city="", state="", postal_code="")
    assert _address(clerk, patient_id) is None


def test_rest_registration_takes_the_state_and_returns_it(make_user, client):
    from safeward.clinical.types import new_submission_token

    clerk = make_user("registration_clerk")
    sign_in(client, clerk)
    data = {
        "given_name": "Iris",
        "family_name": "Okafor",
        "birth_date": "1988-08-08",
        "address": {"line": ["9 Elm Street"], "city": "Keene", "state": "New Hampshire"},
        "submission": new_submission_token(),
    }
    response = client.post("/api/v1/clinical/patients/", data, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["address"] == {"line": ["9 Elm Street"], "city": "Keene", "state": "New Hampshire"}
    bad = {**data, "submission": new_submission_token(), "address": {"state": "x" * 101}}
    refused = client.post("/api/v1/clinical/patients/", bad, content_type="application/json")
    assert refused.status_code == 400
    assert "x" * 50 not in refused.content.decode()


@pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"the Synthea sample is not at {SAMPLE}")
def test_synthea_state_is_imported_and_served_on_fhir_read(make_user, client):
    path = next(p for p in sorted(SAMPLE.glob("*.json")) if "practitioner" not in p.name.lower())
    bundle = json.loads(path.read_bytes())
    (source,) = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    outcome = import_bundle(path)
    assert outcome.imported, outcome.error
    doctor = make_user("physician")
    relate(doctor, outcome.patient_id, "care_team")
    stored = _address(doctor, outcome.patient_id)
    assert stored["state"] == source["address"][0]["state"]
    served = client.get(f"/fhir/Patient/{outcome.patient_id}", **bearer(token(doctor, "user/Patient.rs")))
    assert served.status_code == 200, served.content
    (address,) = served.json()["address"]
    for element in ("line", "city", "state", "postalCode", "country"):
        assert address[element] == source["address"][0][element], element


def test_fhir_create_stores_the_forms_keys_and_reads_back(make_user, client):
    clerk = make_user("registration_clerk")
    body = {
        "resourceType": "Patient",
        "name": [{"use": "official", "family": "Nakamura", "given": ["Emi"]}],
        "birthDate": "1975-04-09",
        "address": [{"line": ["1 Pine St"], "city": "Burlington", "state": "VT", "postalCode": "05401"}],
    }
    raw = token(clerk, "user/Patient.cruds")
    created = client.post(
        "/fhir/Patient", json.dumps(body), content_type="application/fhir+json", **bearer(raw)
    )
    assert created.status_code == 201, created.content
    patient_id = created.json()["id"]
    assert _address(clerk, patient_id) == {
        "line": ["1 Pine St"],
        "city": "Burlington",
        "state": "VT",
        "postal_code": "05401",
    }
    served = client.get(f"/fhir/Patient/{patient_id}", **bearer(raw)).json()
    assert served["address"] == body["address"]


def test_demo_and_scale_patients_have_a_state():
    import random

    from faker import Faker

    from safeward.demo import clinical as demo
    from safeward.demo.scale import Pools, records

    fake = Faker("en_US")
    fake.seed_instance(demo.SEED)
    record = demo._record(7, fake, random.Random(7), dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    assert record.patient.address["state"] in demo.DEMO_STATES
    (scale,) = [r for _, r in records(1, 1, Pools.build())]
    assert scale.patient.address["state"]


def test_registration_form_rest_and_correction_store_the_same_address(signed_in):
    """Empty parts are dropped on every path (the registration form used to
    store `"state": ""`, `"postal_code": ""` and `"line": [""]`)."""
    from safeward.clinical.types import new_submission_token

    client, clerk = signed_in("registration_clerk")
    expected = {"line": ["4 Harbour Road"], "city": "Dartmouth"}
    by_form = _register(client, state="", postal_code=" ")

    def rest(given: str, address: dict) -> str:
        data = {
            "given_name": given,
            "family_name": "Okafor",
            "birth_date": "1988-08-08",
            "address": address,
            "submission": new_submission_token(),
        }
        response = client.post("/api/v1/clinical/patients/", data, content_type="application/json")
        assert response.status_code == 201, response.content
        return response.json()["id"]

    by_rest = rest("Iris", {"line": ["4 Harbour Road"], "city": "Dartmouth", "state": "", "country": " "})
    nothing = rest("Ada", {"line": [], "city": " ", "state": ""})

    corrected = _register(client, given_name="Lena")
    edit = client.get(f"/clinical/patients/{corrected}/edit/").content.decode()
    data = {
        "submission": _token(edit),
        "given_name": "Lena",
        "family_name": "Brandt",
        "birth_date": "1990-05-06",
        "sex": "female",
        "address_line": "4 Harbour Road",
        "city": "Dartmouth",
        "state": "",
        "postal_code": "",
        "reason": "Moved",
    }
    assert client.post(f"/clinical/patients/{corrected}/edit/", data).status_code == 302

    assert _address(clerk, by_form) == expected
    assert _address(clerk, by_rest) == expected
    assert _address(clerk, corrected) == expected
    assert _address(clerk, nothing) is None
