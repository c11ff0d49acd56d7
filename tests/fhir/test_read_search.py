"""FHIR R4 read and search through the gateway: resources validate (R4B),
search parameters behave per the spec, errors are OperationOutcomes."""

from __future__ import annotations

import datetime as dt

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient

from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from tests.clinical.conftest import WARD, new_patient, relate
from tests.fhir.helpers import bearer, token

pytestmark = pytest.mark.django_db


@pytest.fixture
def doctor(make_user):
    return make_user("physician")


def _chart(doctor, patient):
    relate(doctor, patient, "care_team")
    for code, display, value, when in (
        ("8867-4", "Heart rate", "72", dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC)),
        ("8310-5", "Body temperature", "37.1", dt.datetime(2026, 11, 20, 8, tzinfo=dt.UTC)),
    ):
        gateway.observation_record(
            actor=doctor,
            session=WARD,
            purpose=PurposeOfUse.TREATMENT,
            patient_id=patient,
            category="vital-signs",
            code=code,
            display=display,
            value=value,
            unit="/min" if code == "8867-4" else "Cel",
            effective_at=when,
        )
    gateway.condition_create(
        actor=doctor,
        session=WARD,
        purpose=PurposeOfUse.TREATMENT,
        patient_id=patient,
        code="E11.9",
        display="Type 2 diabetes mellitus without complications",
    )
    gateway.allergy_create(
        actor=doctor,
        session=WARD,
        purpose=PurposeOfUse.TREATMENT,
        patient_id=patient,
        substance="Penicillin",
        reaction="Rash",
        criticality="high",
    )
    gateway.medication_request_create(
        actor=doctor,
        session=WARD,
        purpose=PurposeOfUse.TREATMENT,
        patient_id=patient,
        medication="Metformin 500 mg",
        dosage="1 tablet twice daily",
        rxnorm="861007",
    )


def test_metadata_is_a_valid_capability_statement(client):
    response = client.get("/fhir/metadata")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    statement = CapabilityStatement.model_validate(response.json())
    types = {r.type for r in statement.rest[0].resource}
    assert types == {
        "Patient",
        "Encounter",
        "Condition",
        "Observation",
        "MedicationRequest",
        "MedicationAdministration",  # doses given (ADR 1420)
        "AllergyIntolerance",
        "Immunization",
        "Procedure",
        "DiagnosticReport",
        "Practitioner",  # read only: the fhirUser of an id_token
    }


def test_smart_configuration_is_public(client):
    body = client.get("/fhir/.well-known/smart-configuration").json()
    assert body["token_endpoint"].endswith("/o/token/")
    assert "S256" in body["code_challenge_methods_supported"]


def test_anonymous_gets_401_operation_outcome(client, patient):
    response = client.get(f"/fhir/Patient/{patient}")
    assert response.status_code == 401
    OperationOutcome.model_validate(response.json())


def test_every_resource_validates_and_reads_are_audited(doctor, patient, client):
    _chart(doctor, patient)
    raw = token(doctor, "user/*.rs")
    for resource_type in (
        "Patient",
        "Observation",
        "Condition",
        "AllergyIntolerance",
        "MedicationRequest",
        "Encounter",
    ):
        query = f"_id={patient}" if resource_type == "Patient" else f"patient=Patient/{patient}"
        response = client.get(f"/fhir/{resource_type}?{query}", **bearer(raw))
        assert response.status_code == 200, (resource_type, response.content)
        bundle = Bundle.model_validate(response.json())
        for entry in bundle.entry or []:
            assert entry.resource.get_resource_type() == resource_type
            one = client.get(f"/fhir/{resource_type}/{entry.resource.id}", **bearer(raw))
            assert one.status_code == 200
            assert one.json()["id"] == entry.resource.id
    patient_json = client.get(f"/fhir/Patient/{patient}", **bearer(raw)).json()
    assert Patient.model_validate(patient_json).name[0].family == "Quist"
    assert AuditEvent.objects.filter(actor_id=doctor.pk, action="read", resource_type="Chart").count() >= 5


def test_search_parameters(doctor, patient, client):
    _chart(doctor, patient)
    other = new_patient(given="Bruno", family="Zeller", birth=dt.date(1990, 5, 6), mrn="MRN-77")
    relate(doctor, other, "care_team")
    raw = token(doctor, "user/*.rs")

    def ids(url):
        response = client.get(url, **bearer(raw))
        assert response.status_code == 200, response.content
        return [e["resource"]["id"] for e in response.json().get("entry", [])]

    assert ids("/fhir/Patient?name=zel") == [other]
    assert ids("/fhir/Patient?identifier=MRN-77") == [other]
    assert ids("/fhir/Patient?identifier=urn:safeward:mrn|MRN-77") == [other]
    assert ids("/fhir/Patient?birthdate=1990-05-06") == [other]
    assert ids("/fhir/Patient?birthdate=1990-05-07") == []
    hr = ids(f"/fhir/Observation?patient=Patient/{patient}&code=http://loinc.org|8867-4")
    assert len(hr) == 1
    assert ids(f"/fhir/Observation?patient={patient}&code=8310-5&date=ge2026-11-15") != []
    assert ids(f"/fhir/Observation?patient={patient}&date=lt2026-11-15") == hr
    assert ids(f"/fhir/Observation?patient={patient}&date=2026-11") != []
    assert ids(f"/fhir/Observation?patient={patient}&date=2025") == []
    assert len(ids(f"/fhir/Observation?patient={patient}&_count=1")) == 1
    assert ids(f"/fhir/Observation?_id={hr[0]}") == hr
    assert len(ids(f"/fhir/Condition?patient={patient}&code=http://hl7.org/fhir/sid/icd-10-cm|E11.9")) == 1
    assert ids(f"/fhir/Condition?patient={patient}&code=http://snomed.info/sct|E11.9") == []
    assert len(ids(f"/fhir/MedicationRequest?patient={patient}&code=861007")) == 1
    paged = client.get(f"/fhir/Observation?patient={patient}&_count=1", **bearer(raw)).json()
    assert any(link["relation"] == "next" for link in paged["link"])


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/fhir/Spaceship?name=x", 404),
        ("/fhir/Spaceship/1", 404),
        ("/fhir/Observation?patient=Practitioner/1", 400),
        ("/fhir/Observation?code=8867-4", 400),
        ("/fhir/Observation?patient={p}&date=2026-13-45", 400),
        ("/fhir/Observation?patient={p}&date=ap2026", 400),
        ("/fhir/Observation?patient={p}&_count=-1", 400),
        ("/fhir/Patient?birthdate=19800203", 400),
        ("/fhir/Patient", 400),
        ("/fhir/Patient/not-a-uuid", 404),
        ("/fhir/Observation/00000000-0000-4000-8000-000000000000", 404),
        ("/fhir/Observation?patient=00000000-0000-4000-8000-000000000000", 404),
    ],
)
def test_bad_requests_get_operation_outcomes(doctor, patient, client, url, status):
    relate(doctor, patient, "care_team")
    raw = token(doctor, "user/*.rs")
    response = client.get(url.format(p=patient), **bearer(raw))
    assert response.status_code == status, response.content
    OperationOutcome.model_validate(response.json())


def test_unknown_parameter_is_refused_only_when_strict(doctor, patient, client):
    relate(doctor, patient, "care_team")
    raw = token(doctor, "user/*.rs")
    url = f"/fhir/Observation?patient={patient}&colour=blue"
    assert client.get(url, **bearer(raw)).status_code == 200
    assert client.get(url, HTTP_PREFER="handling=strict", **bearer(raw)).status_code == 400


def test_not_allowed_looks_like_not_found(make_user, patient, client):
    stranger = make_user("physician")
    raw = token(stranger, "user/*.rs")
    response = client.get(f"/fhir/Patient/{patient}", **bearer(raw))
    assert response.status_code == 404
    assert AuditEvent.objects.filter(actor_id=stranger.pk, outcome="denied", patient_id=patient).exists()


# --- POST [type]/_search and links without criteria (ADR 0540) ---------------------------------
FORM = "application/x-www-form-urlencoded"


def _post_search(client, resource_type, form, raw, **extra):
    from urllib.parse import urlencode

    return client.post(
        f"/fhir/{resource_type}/_search", urlencode(form), content_type=FORM, **bearer(raw), **extra
    )


def _ids(response):
    assert response.status_code == 200, response.content
    return [e["resource"]["id"] for e in response.json().get("entry", [])]


def _without_cursor(url: str) -> str:
    from urllib.parse import parse_qsl, urlencode, urlsplit

    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "_cursor"]
    assert len(query) < len(parse_qsl(parts.query)), "every link carries a cursor"
    return parts._replace(query=urlencode(query)).geturl()


@pytest.mark.parametrize(
    ("resource_type", "form"),
    [
        ("Patient", {"name": "zel"}),
        ("Patient", {"identifier": "urn:safeward:mrn|MRN-77"}),
        ("Patient", {"birthdate": "1990-05-06"}),
        ("Observation", {"patient": "Patient/{p}", "code": "http://loinc.org|8867-4"}),
        ("Observation", {"patient": "{p}", "date": "ge2026-11-15"}),
        ("Condition", {"patient": "{p}", "code": "E11.9"}),
        ("MedicationRequest", {"patient": "{p}", "code": "861007"}),
        ("AllergyIntolerance", {"patient": "{p}"}),
        ("Encounter", {"patient": "{p}"}),
    ],
)
def test_post_search_gives_what_get_gives(doctor, patient, client, resource_type, form):
    from urllib.parse import urlencode

    _chart(doctor, patient)
    other = new_patient(given="Bruno", family="Zeller", birth=dt.date(1990, 5, 6), mrn="MRN-77")
    relate(doctor, other, "care_team")
    raw = token(doctor, "user/*.rs")
    form = {k: v.format(p=patient) for k, v in form.items()}
    by_get = _ids(client.get(f"/fhir/{resource_type}?{urlencode(form)}", **bearer(raw)))
    response = _post_search(client, resource_type, form, raw)
    assert _ids(response) == by_get
    body = response.json()
    Bundle.model_validate(body)
    assert body["type"] == "searchset"
    links = {link["relation"]: link["url"] for link in body["link"]}
    assert "_cursor=" in links["self"]
    for link in body["link"]:
        # The cursor is random-looking text and may hold any short string by chance; the
        # criteria must be in no other part of the link.
        outside = _without_cursor(link["url"])
        for value in form.values():
            assert value not in outside
            assert urlencode({"v": value})[2:] not in outside


def test_links_carry_a_cursor_not_the_criteria_and_page_on(doctor, patient, client):
    from urllib.parse import parse_qs, urlsplit

    for n in range(5):
        relate(doctor, new_patient(given=f"Zora{n}", family="Zeller", mrn=f"MRN-Z{n}"), "care_team")
    raw = token(doctor, "user/*.rs")
    seen = []
    response = _post_search(client, "Patient", {"name": "zeller", "_count": "2"}, raw)
    pages = 0
    while True:
        body = response.json()
        seen += _ids(response)
        pages += 1
        for link in body["link"]:
            assert "zeller" not in _without_cursor(link["url"]).lower()
            assert "name" not in parse_qs(urlsplit(link["url"]).query)
        following = [link["url"] for link in body["link"] if link["relation"] == "next"]
        if not following:
            break
        response = client.get(following[0], **bearer(raw))
    assert pages == 3
    assert len(seen) == len(set(seen)) == 5
    # The cursor is sealed: its bytes do not contain the criteria either.
    cursor = parse_qs(urlsplit(body["link"][0]["url"]).query)["_cursor"][0]
    import base64

    assert b"zeller" not in base64.urlsafe_b64decode(cursor.removeprefix("sws1.") + "==").lower()


def test_a_cursor_is_bound_to_its_token_its_type_and_its_lifetime(doctor, patient, client, frozen_clock):
    from urllib.parse import parse_qs, urlsplit

    relate(doctor, patient, "care_team")
    raw = token(doctor, "user/*.rs")
    body = _post_search(client, "Patient", {"name": "quist"}, raw).json()
    url = body["link"][0]["url"]
    cursor = parse_qs(urlsplit(url).query)["_cursor"][0]
    assert _ids(client.get(url, **bearer(raw))) == [patient]
    # Another token of the same user, another user, another type, a tampered cursor: 400.
    for other_raw, path in (
        (token(doctor, "user/*.rs"), "/fhir/Patient"),
        (raw, "/fhir/Observation"),
    ):
        response = client.get(path, {"_cursor": cursor}, **bearer(other_raw))
        assert response.status_code == 400, response.content
        OperationOutcome.model_validate(response.json())
    tampered = cursor[:-6] + ("A" if cursor[-6] != "A" else "B") + cursor[-5:]
    assert client.get("/fhir/Patient", {"_cursor": tampered}, **bearer(raw)).status_code == 400
    assert client.get("/fhir/Patient", {"_cursor": cursor, "name": "x"}, **bearer(raw)).status_code == 400
    assert client.get("/fhir/Patient", {"_cursor": "sws1.!!"}, **bearer(raw)).status_code == 400
    frozen_clock.advance(minutes=11)
    assert client.get(url, **bearer(raw)).status_code == 400


@pytest.mark.parametrize(
    ("path", "body", "content_type", "status"),
    [
        ("/fhir/Spaceship/_search", "name=x", FORM, 404),
        ("/fhir/Patient/_search", '{"name": "x"}', "application/json", 415),
        ("/fhir/Patient/_search", "name=x", "text/plain", 415),
        ("/fhir/Patient/_search?name=quist", "", FORM, 400),
        ("/fhir/Patient/_search", "", FORM, 400),
        ("/fhir/Patient/_search", "birthdate=19800203", FORM, 400),
        ("/fhir/Patient/_search", "name=" + "q" * 300, FORM, 400),
        ("/fhir/Patient/_search", "&".join(f"p{i}=1" for i in range(40)), FORM, 400),
        ("/fhir/Observation/_search", "code=8867-4", FORM, 400),
        ("/fhir/Observation/_search", "patient={p}&date=2026-13-45", FORM, 400),
        ("/fhir/Observation/_search", "patient={p}&_count=-1", FORM, 400),
    ],
)
def test_post_search_bad_input(doctor, patient, client, path, body, content_type, status):
    relate(doctor, patient, "care_team")
    raw = token(doctor, "user/*.rs")
    response = client.post(path, body.replace("{p}", patient), content_type=content_type, **bearer(raw))
    assert response.status_code == status, response.content
    OperationOutcome.model_validate(response.json())
    assert "quist" not in response.content.decode().lower()
    assert "q" * 50 not in response.content.decode()


def test_post_search_is_audited_and_respects_scopes_and_anonymity(make_user, patient, client):
    stranger = make_user("physician")
    raw = token(stranger, "user/*.rs")
    assert _ids(_post_search(client, "Patient", {"_id": patient}, raw)) == []
    assert AuditEvent.objects.filter(actor_id=stranger.pk, patient_id=patient, outcome="denied").exists()
    narrow = token(stranger, "user/Observation.rs")
    assert _post_search(client, "Condition", {"patient": patient}, narrow).status_code == 403
    anonymous = client.post("/fhir/Patient/_search", "name=quist", content_type=FORM)
    assert anonymous.status_code == 401
    assert client.get("/fhir/Patient/_search", **bearer(raw)).status_code == 405


def test_capability_statement_offers_post_search(client):
    statement = client.get("/fhir/metadata").json()
    for resource in statement["rest"][0]["resource"]:
        if resource["type"] == "Practitioner":
            continue
        search = next(i for i in resource["interaction"] if i["code"] == "search-type")
        assert "_search" in search["documentation"]
