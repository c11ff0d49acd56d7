"""The visitor desk finds an inpatient through the clinical gateway (issue 15,
ADR 1111): both names, exactly; only current inpatients; a short name, ward
and bed; a confidential patient without ward or bed and only with an escort;
VIP and confidential visits flagged for the privacy officer; audit events
that name the visitor's id and the patient, never a name typed."""

from __future__ import annotations

import json

import pytest

from safeward.audit.models import AuditEvent, AuditEventPatient
from safeward.clinical import gateway
from safeward.facilities.models import Visitor
from safeward.identity.models import Department
from tests.clinical.conftest import IMPORTER, WARD, clinical_zone, new_patient  # noqa: F401 - fixture
from tests.conftest import sign_in
from tests.one_door import clinical_test_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def ward(make_user):
    department, _ = Department.objects.get_or_create(code="ward-a", defaults={"name": "Ward A"})
    doctor = make_user("physician", profile=department)
    clerk = make_user("registration_clerk")
    created = gateway.ward_create(
        actor=IMPORTER, department_id=department.pk, code="a1", name="Ward A1", beds=["1", "2", "3"]
    )
    beds = [b.id for b in gateway.beds_free()]

    def admit(patient_id: str) -> None:
        from safeward.audit.vocabulary import PurposeOfUse

        gateway.admission_admit(
            actor=clerk,
            session=WARD,
            purpose=PurposeOfUse.OPERATIONS,
            patient_id=patient_id,
            bed_id=beds.pop(0),
            attending_id=doctor.pk,
        )

    return created, admit


@pytest.fixture
def inpatients(ward):
    _, admit = ward
    ina = new_patient(given="Ina", family="Bedford", mrn="MRN-V1")
    vip = new_patient(given="Vera", family="Famous", mrn="MRN-V2")
    hidden = new_patient(given="Cora", family="Quiet", mrn="MRN-V3")
    for patient_id in (ina, vip, hidden):
        admit(patient_id)
    # Flagged after the admission (registration set-up, straight to the rows).
    from safeward.clinical.models import Patient

    with clinical_test_data():
        Patient.objects.filter(pk=vip).update(is_vip=True)
        Patient.objects.filter(pk=hidden).update(is_confidential=True)
    outpatient = new_patient(given="Otto", family="Walker", mrn="MRN-V4")
    return {"ina": ina, "vip": vip, "hidden": hidden, "outpatient": outpatient}


def _lookup(desk, given: str, family: str):
    return gateway.visitor_patient_lookup(actor=desk, session=WARD, given_name=given, family_name=family)


def test_both_names_find_the_inpatient_with_ward_and_bed_only(make_user, inpatients):
    desk = make_user("security_desk")
    [found] = _lookup(desk, "ina", "BEDFORD")
    assert (found.display_name, found.ward, found.bed) == ("Ina B.", "Ward A1", "1")
    assert found.visiting_allowed
    assert not found.flagged
    event = AuditEvent.objects.filter(resource_type="VisitorLookup").get()
    assert event.action == "search"
    assert event.outcome == "success"
    assert "Bedford" not in json.dumps(event.detail)
    assert "Ina" not in json.dumps(event.detail)
    assert event.detail["patients"] == [inpatients["ina"]]
    assert list(AuditEventPatient.objects.filter(event_id=event.pk).values_list("patient_id", flat=True)) == [
        inpatients["ina"]
    ]


def test_a_prefix_one_name_or_an_outpatient_finds_nobody(make_user, inpatients):
    desk = make_user("security_desk")
    assert _lookup(desk, "Ina", "Bed") == []  # a prefix of the family name
    assert _lookup(desk, "Otto", "Walker") == []  # not in a bed
    with pytest.raises(gateway.InvalidInput):
        _lookup(desk, "", "Bedford")
    with pytest.raises(gateway.InvalidInput):
        _lookup(desk, "Ina", "  ")


def test_confidential_patients_have_no_ward_and_vips_are_flagged(make_user, inpatients):
    desk = make_user("security_desk")
    [hidden] = _lookup(desk, "Cora", "Quiet")
    assert (hidden.ward, hidden.bed, hidden.visiting_allowed, hidden.flagged) == ("", "", False, True)
    [vip] = _lookup(desk, "Vera", "Famous")
    assert (vip.ward, vip.visiting_allowed, vip.flagged) == ("Ward A1", True, True)


def test_roles_without_the_desk_permission_are_refused_and_audited(make_user, inpatients):
    for role in ("physician", "hr_officer", "privacy_officer"):
        with pytest.raises(gateway.Forbidden):
            _lookup(make_user(role), "Ina", "Bedford")
    assert AuditEvent.objects.filter(resource_type="VisitorLookup", outcome="denied").count() == 3
    unreachable = gateway.SessionContext(session_id="x", reachable=False, reachable_reason="no_session")
    with pytest.raises(gateway.Forbidden):
        gateway.visitor_patient_lookup(
            actor=make_user("security_desk"), session=unreachable, given_name="Ina", family_name="Bedford"
        )


def _desk_post(client, **fields):
    data = {"name": "Ada Guest", "purpose": "Visit", "badge_number": "V-7", "expected_minutes": 60}
    data.update(fields)
    return client.post("/facilities/visitors/", data)


def test_the_desk_finds_the_patient_and_the_badge_shows_ward_and_bed(client, make_user, inpatients):
    sign_in(client, make_user("security_desk"))
    found = _desk_post(client, patient_given_name="Ina", patient_family_name="Bedford", find="1")
    assert found.status_code == 200
    page = found.content.decode()
    assert "Ina B. — Ward A1, bed 1" in page
    assert not Visitor.objects.exists()
    response = _desk_post(
        client, patient_given_name="Ina", patient_family_name="Bedford", patient=inpatients["ina"]
    )
    assert response.status_code == 302
    visitor = Visitor.objects.get()
    assert (visitor.host, visitor.destination, visitor.flagged_patient_visit) == (
        "Patient visit",
        "Ward A1, bed 1",
        False,
    )
    assert "Go to: Ward A1, bed 1" in client.get(response["Location"]).content.decode()
    visit = AuditEvent.objects.get(resource_type="PatientVisit")
    assert visit.resource_id == str(visitor.pk)
    assert visit.patient_id == inpatients["ina"]
    # Neither the visitor's name nor the patient's is in any audit row.
    for row in AuditEvent.objects.all():
        text = json.dumps(row.detail) + row.resource_id
        assert "Ada Guest" not in text
        assert "Bedford" not in text


def test_one_match_is_taken_at_sign_in_without_the_find_step(client, make_user, inpatients):
    sign_in(client, make_user("security_desk"))
    response = _desk_post(client, patient_given_name="Vera", patient_family_name="Famous")
    assert response.status_code == 302
    visitor = Visitor.objects.get()
    assert visitor.flagged_patient_visit  # a VIP: the privacy officer is told
    sign_in(client, make_user("privacy_officer"))
    assert "Ada Guest" in client.get("/facilities/visitors/flagged/").content.decode()


def test_a_confidential_patient_needs_an_escort(client, make_user, inpatients):
    sign_in(client, make_user("security_desk"))
    refused = _desk_post(client, patient_given_name="Cora", patient_family_name="Quiet")
    assert refused.status_code == 400
    assert "name the escort" in refused.content.decode()
    assert not Visitor.objects.exists()
    assert not AuditEvent.objects.filter(resource_type="PatientVisit", outcome="success").exists()
    escorted = _desk_post(client, patient_given_name="Cora", patient_family_name="Quiet", escort="Nurse Ray")
    assert escorted.status_code == 302
    visitor = Visitor.objects.get()
    assert visitor.flagged_patient_visit
    assert "Ward A1" not in visitor.destination
    assert "Escorted" in visitor.destination


def test_bad_input_is_a_clear_400_and_nothing_is_saved(client, make_user, inpatients):
    sign_in(client, make_user("security_desk"))
    nobody = _desk_post(client, patient_given_name="Nobody", patient_family_name="Here")
    assert nobody.status_code == 400
    assert "No inpatient by those names" in nobody.content.decode()
    half = _desk_post(client, patient_family_name="Bedford")
    assert half.status_code == 400
    assert "given name and family name" in half.content.decode()
    forged = _desk_post(
        client, patient_given_name="Ina", patient_family_name="Bedford", patient=inpatients["vip"]
    )
    assert forged.status_code == 400  # a patient not among the names typed
    assert not Visitor.objects.exists()


def test_a_patient_discharged_after_the_lookup_is_refused(client, make_user, inpatients):
    from safeward.clinical.models import BedOccupancy

    sign_in(client, make_user("security_desk"))
    with clinical_test_data():
        BedOccupancy.objects.filter(patient_id=inpatients["ina"]).update(current=False)
    desk = make_user("security_desk")
    from safeward.facilities import services

    with pytest.raises(services.FacilityError, match="not on a ward"):
        services.visitor_sign_in(
            actor=desk,
            session=WARD,
            name="Late",
            host="",
            purpose="Visit",
            badge_number="V-9",
            patient_id=inpatients["ina"],
        )
    assert not Visitor.objects.exists()


def test_patient_names_in_a_query_string_are_never_looked_up(client, make_user, inpatients):
    sign_in(client, make_user("security_desk"))
    page = client.get("/facilities/visitors/?patient_given_name=Ina&patient_family_name=Bedford")
    assert page.status_code == 200
    assert "Ward A1" not in page.content.decode()
    assert not AuditEvent.objects.filter(resource_type="VisitorLookup").exists()


# --- the REST endpoint (ADR 1113): the same entry, POST only, names in the body ---------------
LOOKUP = "/api/v1/facilities/visitors/patient-lookup/"


def _api_lookup(client, body):
    return client.post(LOOKUP, body, content_type="application/json")


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert set(body) <= {"detail", "errors"}
    return body


def test_the_api_finds_the_inpatient_and_audits_the_patients_shown(client, make_user, inpatients):
    sign_in(client, make_user("security_desk"))
    response = _api_lookup(client, {"given_name": "ina", "family_name": "BEDFORD"})
    assert response.status_code == 200
    body = response.json()
    ref = body["results"][0].pop("patient_ref")  # opaque (ADR 1115): the sign-in's tests use it
    assert isinstance(ref, str)
    assert ref
    assert body == {
        "results": [
            {
                "display_name": "Ina B.",
                "ward": "Ward A1",
                "bed": "1",
                "visiting_allowed": True,
                "escort_required": False,
                "flagged": False,
            }
        ]
    }
    event = AuditEvent.objects.get(resource_type="VisitorLookup")
    assert (event.action, event.outcome) == ("search", "success")
    assert list(AuditEventPatient.objects.filter(event_id=event.pk).values_list("patient_id", flat=True)) == [
        inpatients["ina"]
    ]
    for row in AuditEvent.objects.all():  # the names typed are in no audit row
        text = json.dumps(row.detail) + row.resource_id + row.reason
        assert "ina" not in text.lower()
        assert "bedford" not in text.lower()


def test_the_api_hides_a_confidential_patients_bed_and_asks_for_an_escort(client, make_user, inpatients):
    sign_in(client, make_user("security_desk"))
    [hidden] = _api_lookup(client, {"given_name": "Cora", "family_name": "Quiet"}).json()["results"]
    assert (hidden["ward"], hidden["bed"]) == ("", "")
    assert (hidden["escort_required"], hidden["flagged"]) == (True, True)
    [vip] = _api_lookup(client, {"given_name": "Vera", "family_name": "Famous"}).json()["results"]
    assert (vip["ward"], vip["escort_required"], vip["flagged"]) == ("Ward A1", False, True)
    assert _api_lookup(client, {"given_name": "Ina", "family_name": "Bed"}).json() == {"results": []}
    assert _api_lookup(client, {"given_name": "Otto", "family_name": "Walker"}).json() == {"results": []}


def test_more_than_five_matches_is_refused_without_a_ward(client, make_user, inpatients):
    from safeward.audit.vocabulary import PurposeOfUse

    department = Department.objects.get(code="ward-a")
    gateway.ward_create(
        actor=IMPORTER, department_id=department.pk, code="b1", name="Ward B1", beds=list("123456")
    )
    doctor, clerk = make_user("physician", profile=department), make_user("registration_clerk")
    for n, bed in enumerate(gateway.beds_free()):
        gateway.admission_admit(
            actor=clerk,
            session=WARD,
            purpose=PurposeOfUse.OPERATIONS,
            patient_id=new_patient(given="Sam", family="Same", mrn=f"MRN-S{n}"),
            bed_id=bed.id,
            attending_id=doctor.pk,
        )
    sign_in(client, make_user("security_desk"))
    body = _error(_api_lookup(client, {"given_name": "Sam", "family_name": "Same"}), 400)
    assert "Too many patients" in body["errors"]["name"]
    assert "Ward B1" not in json.dumps(body)
    refusal = AuditEvent.objects.get(resource_type="VisitorLookup")
    assert (refusal.outcome, refusal.reason) == ("denied", "too_many_matches")


def test_the_api_lookup_is_post_only_and_bad_input_is_a_400(client, make_user, inpatients):
    sign_in(client, make_user("security_desk"))
    _error(client.get(LOOKUP, {"given_name": "Ina", "family_name": "Bedford"}), 405)
    missing = _error(_api_lookup(client, {"given_name": "Ina"}), 400)
    assert set(missing["errors"]) == {"family_name"}
    _error(_api_lookup(client, {"given_name": "  ", "family_name": "Bedford"}), 400)
    _error(_api_lookup(client, {"given_name": "x" * 201, "family_name": "Bedford"}), 400)
    _error(_api_lookup(client, ["Ina", "Bedford"]), 400)
    _error(client.post(LOOKUP, "given_name=Ina", content_type="text/plain"), 415)
    punctuation = _error(_api_lookup(client, {"given_name": "--", "family_name": "Bedford"}), 400)
    assert "in full" in punctuation["errors"]["name"]
    assert not AuditEvent.objects.filter(resource_type="VisitorLookup").exists()


def test_the_api_lookup_refuses_tokens_other_roles_and_unreachable_sessions(client, make_user, inpatients):
    from safeward.identity.models import NetworkZone
    from safeward.identity.network import zone_table
    from tests.fhir.helpers import bearer, token

    desk = make_user("security_desk")
    names = {"given_name": "Ina", "family_name": "Bedford"}
    raw = token(desk, "openid fhirUser read write user/*.cruds")
    _error(client.post(LOOKUP, names, content_type="application/json", **bearer(raw)), 403)
    sign_in(client, make_user("privacy_officer"))
    _error(_api_lookup(client, names), 403)
    assert not AuditEvent.objects.filter(resource_type="VisitorLookup").exists()
    NetworkZone.objects.all().delete()  # the desk is now outside any clinical zone
    zone_table.clear()
    sign_in(client, desk)
    body = _error(_api_lookup(client, names), 403)
    assert "not available from this session" in body["detail"]
    denied = AuditEvent.objects.get(resource_type="VisitorLookup")
    assert denied.outcome == "denied"


# --- the REST sign-in takes the looked-up patient (ADR 1115): a sealed, short-lived reference ---
SIGN_IN = "/api/v1/facilities/visitors/sign-in/"


def _ref(client, given: str, family: str) -> str:
    [found] = _api_lookup(client, {"given_name": given, "family_name": family}).json()["results"]
    return found["patient_ref"]


def _api_sign_in(client, **fields):
    body = {"name": "Ada Guest", "purpose": "Visit", "badge_number": "V-7", "expected_minutes": 60}
    body.update(fields)
    return client.post(SIGN_IN, body, content_type="application/json")


def test_the_api_signs_in_the_visitor_of_the_looked_up_patient(client, make_user, inpatients):
    sign_in(client, make_user("security_desk"))
    ref = _ref(client, "Ina", "Bedford")
    assert inpatients["ina"] not in ref  # opaque: not the patient's id
    assert inpatients["ina"].replace("-", "") not in ref
    response = _api_sign_in(client, patient_ref=ref)
    assert response.status_code == 201, response.content[:300]
    body = response.json()
    assert (body["host"], body["destination"], body["flagged_patient_visit"]) == (
        "Patient visit",
        "Ward A1, bed 1",
        False,
    )
    assert "patient" not in json.dumps(body).replace("Patient visit", "").replace("flagged_patient_visit", "")
    visitor = Visitor.objects.get()
    visit = AuditEvent.objects.get(resource_type="PatientVisit")
    assert (visit.resource_id, visit.patient_id, visit.outcome) == (
        str(visitor.pk),
        inpatients["ina"],
        "success",
    )
    for row in AuditEvent.objects.all():  # neither name nor reference in any audit row
        text = json.dumps(row.detail) + row.resource_id + row.reason
        assert "Ada Guest" not in text
        assert "Bedford" not in text
        assert ref not in text


def test_the_api_sign_in_flags_a_vip_and_needs_an_escort_for_a_confidential_patient(
    client, make_user, inpatients
):
    sign_in(client, make_user("security_desk"))
    vip = _api_sign_in(client, patient_ref=_ref(client, "Vera", "Famous"))
    assert vip.status_code == 201
    assert vip.json()["flagged_patient_visit"]
    ref = _ref(client, "Cora", "Quiet")
    refused = _api_sign_in(client, patient_ref=ref, badge_number="V-8")
    assert refused.status_code == 409
    assert "name the escort" in refused.json()["detail"]
    assert Visitor.objects.count() == 1  # nothing half-saved
    escorted = _api_sign_in(client, patient_ref=ref, badge_number="V-8", escort="Nurse Ray")
    assert escorted.status_code == 201
    assert "Ward A1" not in escorted.json()["destination"]
    assert "Escorted" in escorted.json()["destination"]
    assert escorted.json()["flagged_patient_visit"]


def test_the_api_sign_in_refuses_a_patient_discharged_after_the_lookup(client, make_user, inpatients):
    from safeward.clinical.models import BedOccupancy

    sign_in(client, make_user("security_desk"))
    ref = _ref(client, "Ina", "Bedford")
    with clinical_test_data():
        BedOccupancy.objects.filter(patient_id=inpatients["ina"]).update(current=False)
    refused = _api_sign_in(client, patient_ref=ref)
    assert refused.status_code == 409
    assert "not on a ward" in refused.json()["detail"]
    assert not Visitor.objects.exists()


def test_a_tampered_foreign_or_stale_reference_is_a_400_and_nothing_is_saved(
    client, make_user, inpatients, frozen_clock
):
    from safeward.crypto.secrets import encrypt_secret
    from safeward.fhir.cursor import PURPOSE as CURSOR_PURPOSE

    desk = make_user("security_desk")
    sign_in(client, desk)
    ref = _ref(client, "Ina", "Bedford")
    middle = len(ref) // 2
    flipped = ref[:middle] + ("A" if ref[middle] != "A" else "B") + ref[middle + 1 :]
    other_purpose = encrypt_secret(json.dumps({"v": 1, "patient": inpatients["ina"]}), purpose=CURSOR_PURPOSE)
    for bad in (flipped, ref[:-4], ref + "x", "not-a-reference", other_purpose, inpatients["ina"]):
        body = _error(_api_sign_in(client, patient_ref=bad), 400)
        assert "find the patient again" in body["errors"]["patient_ref"]
    # Another desk user, and the same user in a new session, cannot use it.
    sign_in(client, make_user("security_desk"))
    _error(_api_sign_in(client, patient_ref=ref), 400)
    sign_in(client, desk)
    _error(_api_sign_in(client, patient_ref=ref), 400)
    # Fresh from this session it works until ten minutes have passed.
    ref = _ref(client, "Ina", "Bedford")
    frozen_clock.advance(minutes=10, seconds=1)
    _error(_api_sign_in(client, patient_ref=ref), 400)
    assert not Visitor.objects.exists()
    assert not AuditEvent.objects.filter(resource_type="PatientVisit").exists()


def test_a_bearer_token_cannot_sign_in_a_patient_visit(client, make_user, inpatients):
    from tests.fhir.helpers import bearer, token

    desk = make_user("security_desk")
    sign_in(client, desk)
    ref = _ref(client, "Ina", "Bedford")
    raw = token(desk, "openid read write")  # the client still holds the desk session's cookie too
    body = {"name": "Ada Guest", "purpose": "Visit", "badge_number": "V-7", "patient_ref": ref}
    response = client.post(SIGN_IN, body, content_type="application/json", **bearer(raw))
    assert _error(response, 400)["errors"]["patient_ref"]
    assert not Visitor.objects.exists()
    staff = dict(body, patient_ref="", host="Dr Chen")  # a visit to staff still works with a token
    assert client.post(SIGN_IN, staff, content_type="application/json", **bearer(raw)).status_code == 201


def test_the_api_sign_in_needs_a_host_or_a_patient_and_checks_the_reference_size(
    client, make_user, inpatients
):
    sign_in(client, make_user("security_desk"))
    body = _error(_api_sign_in(client), 400)
    assert "patient_ref" in body["errors"]["host"]
    _error(_api_sign_in(client, host="", patient_ref=""), 400)
    _error(_api_sign_in(client, patient_ref="x" * 1001), 400)
    _error(_api_sign_in(client, patient_ref=["a"]), 400)
    assert not Visitor.objects.exists()
    assert _api_sign_in(client, host="Dr Chen").status_code == 201


def test_the_openapi_schema_documents_the_patient_reference(client, make_user):
    sign_in(client, make_user("security_desk"))
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)

    def component(path: str, *where: str) -> dict:
        node = schema["paths"][path]["post"]
        for key in where:
            node = node[key]
        return schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]

    sign_in_body = component(SIGN_IN, "requestBody", "content", "application/json", "schema")
    assert "patient_ref" in sign_in_body["properties"]
    assert "name" in sign_in_body["required"]
    assert "host" not in sign_in_body["required"]
    lookup = component(LOOKUP, "responses", "200", "content", "application/json", "schema")
    match = schema["components"]["schemas"][
        lookup["properties"]["results"]["items"]["$ref"].rsplit("/", 1)[-1]
    ]
    assert "patient_ref" in match["required"]
    signed_in = component(SIGN_IN, "responses", "201", "content", "application/json", "schema")
    assert {"destination", "flagged_patient_visit"} <= set(signed_in["properties"])
