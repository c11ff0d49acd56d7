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
