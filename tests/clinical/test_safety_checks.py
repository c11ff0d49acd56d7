"""Safety checks (issue 12): drug-allergy warnings with a recorded override,
plausibility limits on vitals and lab results, duplicate patients at
registration, and a form posted twice. Each refusal saves nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import uuid

import pytest
from django.test import Client

from safeward.audit.models import AuditEvent, AuditEventPatient
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway, safety
from safeward.clinical.types import (
    AllergyWarning,
    InvalidInput,
    NeedsConfirmation,
    PatientInput,
    PossibleDuplicates,
)
from tests.clinical.conftest import WARD, new_patient, relate
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db
TREAT, OPS = PurposeOfUse.TREATMENT, PurposeOfUse.OPERATIONS


def client_for(user) -> Client:
    client = Client()
    sign_in(client, user)
    return client


# --- the shipped data ------------------------------------------------------------------------------
def test_class_map_names_its_source_and_the_five_classes():
    data = json.loads(safety.CLASS_MAP.read_text(encoding="utf-8"))
    assert "RxNorm" in data["source"]
    assert "ATC" in data["source"]
    assert {c.code for c in safety.drug_class_map()} == {
        "penicillins",
        "cephalosporins",
        "sulfonamides",
        "nsaids",
        "opioids",
    }


@pytest.mark.parametrize(
    ("medication", "rxnorm", "classes"),
    [
        ("Amoxicillin 500 mg capsule", None, {"penicillins"}),
        ("Augmentin", "723", {"penicillins"}),
        ("Cefalexin 250 mg", None, {"cephalosporins"}),
        ("Ibuprofen 400 MG Oral Tablet", None, {"nsaids"}),
        ("Oxycodone 5 mg", None, {"opioids"}),
        ("Sulfamethoxazole / trimethoprim", None, {"sulfonamides"}),
        ("Azithromycin 500 mg", None, set()),
        ("Amoxicillinate", None, set()),  # a whole word, not a prefix
    ],
)
def test_drug_classes(medication, rxnorm, classes):
    assert safety.drug_classes(medication, rxnorm) == classes


@pytest.mark.parametrize(
    ("substance", "classes"),
    [
        ("Penicillin", {"penicillins"}),
        ("penicillin V", {"penicillins"}),
        ("Sulfa drugs", {"sulfonamides"}),
        ("Aspirin", {"nsaids"}),
        ("Peanut", set()),
    ],
)
def test_allergy_classes(substance, classes):
    assert safety.allergy_classes(substance) == classes


@pytest.mark.parametrize(
    ("code", "unit", "value", "verdict"),
    [
        ("2823-3", "mmol/L", "-5", "impossible"),
        ("2823-3", "mmol/L", "25", "impossible"),
        ("2823-3", "mmol/L", "12", "implausible"),
        ("2823-3", "mmol/L", "6.9", "plausible"),  # critical, and real
        ("2823-3", "mmol/L", "lots", "impossible"),
        ("2823-3", "mg/dL", "-5", "plausible"),  # another unit: not judged here
        ("8867-4", "/min", "400", "impossible"),
        ("8867-4", "/min", "280", "implausible"),
        ("59408-5", "%", "101", "impossible"),
        ("1234-5", "mmol/L", "-5", "plausible"),  # no limits for this code
    ],
)
def test_plausibility(code, unit, value, verdict):
    result = safety.plausibility(code, unit, value)
    assert result.plausibility.value == verdict
    assert value not in result.message


# --- drug-allergy ----------------------------------------------------------------------------------
@pytest.fixture
def allergic(make_user):
    doctor = make_user("physician")
    patient = new_patient()
    relate(doctor, patient, "care_team")
    gateway.allergy_create(
        actor=doctor,
        session=WARD,
        purpose=TREAT,
        patient_id=patient,
        substance="Penicillin",
        criticality="high",
    )
    return doctor, patient


def _order(doctor, patient, medication, **kwargs):
    return gateway.medication_request_create(
        actor=doctor, session=WARD, purpose=TREAT, patient_id=patient, medication=medication, **kwargs
    )


def _medications(doctor, patient):
    return gateway.chart_read(actor=doctor, session=WARD, purpose=TREAT, patient_id=patient).medications


def test_allergy_warning_saves_nothing_and_records_the_check(allergic):
    doctor, patient = allergic
    with pytest.raises(AllergyWarning) as raised:
        _order(doctor, patient, "Amoxicillin 500 mg", dosage="three times daily")
    (match,) = raised.value.matches
    assert (match.drug_class, match.substance, match.criticality) == ("Penicillins", "Penicillin", "high")
    assert _medications(doctor, patient) == []
    event = AuditEvent.objects.get(resource_type="AllergyCheck")
    assert (event.action, event.outcome, event.patient_id) == ("read", "success", patient)
    assert "enicillin" not in json.dumps(event.detail)
    assert "moxicillin" not in json.dumps(event.detail)
    # The warning names whose allergy it is, and the event records that disclosure.
    named = raised.value.patient
    assert (named.id, named.family_name, named.given_name) == (patient, "Quist", "Ada")
    assert named.phone is None  # demographics only
    assert named.national_id is None
    assert {"allergy", "family_name", "given_name", "mrn", "birth_date"} <= set(event.fields)


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_override_without_a_reason_is_refused(allergic, reason):
    doctor, patient = allergic
    with pytest.raises(AllergyWarning):
        _order(doctor, patient, "amoxicillin", override_reason=reason)
    assert _medications(doctor, patient) == []


def test_override_with_a_reason_is_recorded(allergic):
    doctor, patient = allergic
    order = _order(doctor, patient, "Amoxicillin 500 mg", override_reason="Tolerated amoxicillin in 2024")
    assert order.override_reason == "Tolerated amoxicillin in 2024"
    event = AuditEvent.objects.get(resource_type="MedicationRequest", action="create")
    assert event.detail["allergy_override"] is True
    assert "olerated" not in json.dumps(event.detail)
    assert "olerated" not in event.reason


def test_another_drug_and_an_inactive_allergy_raise_no_warning(allergic, make_user):
    doctor, patient = allergic
    assert _order(doctor, patient, "Azithromycin 500 mg").medication == "Azithromycin 500 mg"
    other = new_patient(family="Other")
    relate(doctor, other, "care_team")
    allergy = gateway.allergy_create(
        actor=doctor, session=WARD, purpose=TREAT, patient_id=other, substance="Penicillin"
    )
    gateway.allergy_set_status(
        actor=doctor, session=WARD, purpose=TREAT, patient_id=other, allergy_id=allergy.id, status="inactive"
    )
    assert _order(doctor, other, "Amoxicillin").override_reason is None


def test_allergy_to_a_drug_outside_the_map_matches_by_name(make_user):
    doctor = make_user("physician")
    patient = new_patient()
    relate(doctor, patient, "care_team")
    gateway.allergy_create(
        actor=doctor, session=WARD, purpose=TREAT, patient_id=patient, substance="Vancomycin"
    )
    with pytest.raises(AllergyWarning) as raised:
        _order(doctor, patient, "Vancomycin 1 g IV")
    assert raised.value.matches[0].drug_class == "Same substance"


def test_medication_page_warns_and_another_drug_is_ordered(allergic):
    doctor, patient = allergic
    client = client_for(doctor)
    data = {"medication": "Amoxicillin 500 mg", "dosage": "tds", "submission": uuid.uuid4().hex}
    page = client.post(f"/clinical/patients/{patient}/medications/", data)
    assert page.status_code == 409
    body = page.content.decode()
    assert "Allergy warning" in body
    assert "Penicillins" in body
    mrn = gateway.patient_read(actor=doctor, session=WARD, purpose=TREAT, patient_id=patient).mrn
    assert "QUIST, Ada" in body  # whose allergy, named on the page
    assert mrn in body
    assert "Quist" not in page.request["PATH_INFO"]  # through the gateway, not the URL
    assert 'value="Amoxicillin 500 mg"' in body  # what was typed is kept
    assert 'name="override_reason"' in body
    assert "<textarea" in body
    assert _medications(doctor, patient) == []
    done = client.post(
        f"/clinical/patients/{patient}/medications/", {**data, "medication": "Azithromycin 500 mg"}
    )
    assert done.status_code == 302
    assert [m.medication for m in _medications(doctor, patient)] == ["Azithromycin 500 mg"]
    again = client.post(f"/clinical/patients/{patient}/medications/", {**data, "medication": "Azithromycin"})
    assert again.status_code == 409  # the same form, posted again (back button)
    assert len(_medications(doctor, patient)) == 1


# --- plausibility ----------------------------------------------------------------------------------
def _vital(nurse, patient, value, **kwargs):
    return gateway.observation_record(
        actor=nurse,
        session=WARD,
        purpose=TREAT,
        patient_id=patient,
        category="vital-signs",
        code="8867-4",
        display="Heart rate",
        value=value,
        unit="/min",
        **kwargs,
    )


def test_vitals_impossible_refused_implausible_confirmed(make_user, patient):
    nurse = make_user("nurse")
    relate(nurse, patient, "care_team")
    with pytest.raises(InvalidInput) as impossible:
        _vital(nurse, patient, "400", confirmed=True)
    assert not isinstance(impossible.value, NeedsConfirmation)
    with pytest.raises(NeedsConfirmation):
        _vital(nurse, patient, "280")
    read = gateway.chart_read(actor=nurse, session=WARD, purpose=TREAT, patient_id=patient)
    assert read.results == []
    assert _vital(nurse, patient, "280", confirmed=True).value == "280"
    event = AuditEvent.objects.get(resource_type="Observation", action="create")
    assert event.detail["implausible_confirmed"] is True


def test_vitals_page_asks_for_confirmation(make_user, patient):
    nurse = make_user("nurse")
    relate(nurse, patient, "care_team")
    client = client_for(nurse)
    data = {"vital": "8867-4|Heart rate|/min", "value": "280", "submission": uuid.uuid4().hex}
    page = client.post(f"/clinical/patients/{patient}/vitals/", data)
    assert page.status_code == 409
    assert 'type="checkbox" name="confirmed"' in page.content.decode()
    assert client.post(f"/clinical/patients/{patient}/vitals/", {**data, "value": "-3"}).status_code == 400
    assert (
        client.post(f"/clinical/patients/{patient}/vitals/", {**data, "confirmed": "on"}).status_code == 302
    )


@pytest.fixture
def potassium_order(make_user, patient):
    doctor = make_user("physician")
    relate(doctor, patient, "care_team")
    order = gateway.order_create(
        actor=doctor, session=WARD, purpose=TREAT, patient_id=patient, code="2823-3", display="Potassium"
    )
    return make_user("lab_technician"), doctor, patient, order.id


def test_impossible_potassium_is_refused_and_the_order_stays_open(potassium_order):
    lab, doctor, patient, order = potassium_order
    client = client_for(lab)
    path = f"/clinical/patients/{patient}/orders/{order}/result/"
    data = {"value": "-5", "unit": "mmol/L", "submission": uuid.uuid4().hex}
    refused = client.post(path, data)
    assert refused.status_code == 400
    assert "Not a possible value" in refused.content.decode()
    assert client.post(path, {**data, "value": "12"}).status_code == 409
    chart = gateway.chart_read(actor=doctor, session=WARD, purpose=TREAT, patient_id=patient)
    assert [o.id for o in chart.orders] == [order]
    assert chart.results == []
    assert client.post(path, {**data, "value": "12", "confirmed": "on"}).status_code == 302
    chart = gateway.chart_read(actor=doctor, session=WARD, purpose=TREAT, patient_id=patient)
    assert [(r.value, r.status) for r in chart.results] == [("12", "final")]


# --- duplicates and resubmission -------------------------------------------------------------------
def _input(**changes) -> PatientInput:
    ada = PatientInput(given_name="Ada", family_name="Quist", birth_date=dt.date(1980, 2, 3), sex="female")
    return dataclasses.replace(ada, **changes)


def test_same_name_and_birth_date_needs_confirmation(make_user, patient):
    clerk = make_user("registration_clerk")
    with pytest.raises(PossibleDuplicates) as found:
        gateway.patient_register(actor=clerk, session=WARD, purpose=OPS, data=_input(given_name=" ada "))
    (candidate,) = found.value.candidates
    assert candidate.id == patient
    assert candidate.family_name == "Quist"
    assert candidate.national_id is None
    assert candidate.phone is None
    check = AuditEvent.objects.get(action="search", resource_type="Patient")
    assert check.detail["duplicate_check"] is True
    assert AuditEventPatient.objects.filter(event_id=check.pk, patient_id=patient).exists()
    created = gateway.patient_register(
        actor=clerk, session=WARD, purpose=OPS, data=_input(), confirm_not_duplicate=True
    )
    assert created.id != patient
    event = AuditEvent.objects.get(action="create", resource_type="Patient", resource_id=created.id)
    assert event.detail["possible_duplicates_confirmed"] == 1


def test_other_birth_date_or_name_is_no_duplicate(make_user, patient):
    clerk = make_user("registration_clerk")
    gateway.patient_register(
        actor=clerk, session=WARD, purpose=OPS, data=_input(birth_date=dt.date(1980, 2, 4))
    )
    gateway.patient_register(actor=clerk, session=WARD, purpose=OPS, data=_input(given_name="Adam"))


def test_national_id_is_unique_even_when_confirmed(make_user, patient):
    clerk = make_user("registration_clerk")
    with pytest.raises(InvalidInput) as refused:
        gateway.patient_register(
            actor=clerk,
            session=WARD,
            purpose=OPS,
            data=_input(family_name="Other", national_id="123-45-6789"),
            confirm_not_duplicate=True,
        )
    assert set(refused.value.errors) == {"national_id"}


def _registration(**changes) -> dict[str, str]:
    return {
        "given_name": "Ada",
        "family_name": "Quist",
        "birth_date": "1980-02-03",
        "sex": "female",
        "submission": uuid.uuid4().hex,
    } | changes


def _count(clerk, **criteria) -> int:
    return len(gateway.patient_search(actor=clerk, session=WARD, purpose=OPS, **criteria).results)


def test_registration_page_shows_candidates_and_needs_the_tick(make_user, patient):
    clerk = make_user("registration_clerk")
    client = client_for(clerk)
    data = _registration()
    page = client.post("/clinical/patients/new/", data)
    assert page.status_code == 409
    body = page.content.decode()
    assert "Possible duplicate" in body
    assert f"/clinical/patients/{patient}/" in body
    assert 'type="checkbox" name="confirm_not_duplicate"' in body
    assert 'value="Quist"' in body
    assert _count(clerk, name="quist ada", birth_date=dt.date(1980, 2, 3)) == 1
    done = client.post("/clinical/patients/new/", {**data, "confirm_not_duplicate": "on"})
    assert done.status_code == 302
    assert re.fullmatch(r"/clinical/patients/[0-9a-f-]{36}/", done["Location"])
    # The back button and the same form again: refused, still two records.
    again = client.post("/clinical/patients/new/", {**data, "confirm_not_duplicate": "on"})
    assert again.status_code == 409
    assert "already submitted" in again.content.decode()
    assert _count(clerk, name="quist ada", birth_date=dt.date(1980, 2, 3)) == 2


def test_new_patient_registered_once_when_posted_twice(make_user):
    clerk = make_user("registration_clerk")
    client = client_for(clerk)
    data = _registration(given_name="Bea", family_name="Novak")
    assert client.post("/clinical/patients/new/", data).status_code == 302
    assert client.post("/clinical/patients/new/", data).status_code == 409
    assert _count(clerk, name="novak bea", birth_date=dt.date(1980, 2, 3)) == 1


# --- cross-reactivity between classes ------------------------------------------------------------
@pytest.mark.parametrize(
    ("drug", "allergy", "expected"),
    [
        ({"cephalosporins"}, {"penicillins"}, "cephalosporins"),
        ({"penicillins"}, {"cephalosporins"}, "penicillins"),
        ({"nsaids"}, {"penicillins"}, None),
        ({"cephalosporins"}, {"sulfonamides"}, None),
        (set(), {"penicillins"}, None),
    ],
)
def test_cross_reaction(drug, allergy, expected):
    found = safety.cross_reaction(frozenset(drug), frozenset(allergy))
    assert (found[0] if found else None) == expected
    if found:
        assert "cross-reactivity" in found[1]


def test_every_cross_reaction_names_known_classes():
    codes = {c.code for c in safety.drug_class_map()}
    assert safety.cross_reactions()
    for allergy_class, drug_class in safety.cross_reactions():
        assert {allergy_class, drug_class} <= codes
        assert allergy_class != drug_class


def test_a_cephalosporin_for_a_penicillin_allergy_warns_with_the_caution(allergic):
    """Cefalexin is no penicillin, but may cross-react: the warning says so,
    nothing is saved, and an override still needs its reason."""
    doctor, patient = allergic
    with pytest.raises(AllergyWarning) as raised:
        _order(doctor, patient, "Cefalexin 500 mg capsule")
    (match,) = raised.value.matches
    assert (match.drug_class, match.substance) == ("Cephalosporins", "Penicillin")
    assert "penicillin allergy" in match.caution
    assert _medications(doctor, patient) == []
    with pytest.raises(AllergyWarning):
        _order(doctor, patient, "Cefalexin 500 mg capsule", override_reason=" ")
    order = _order(doctor, patient, "Cefalexin 500 mg capsule", override_reason="Tolerated cefalexin in 2023")
    assert order.override_reason == "Tolerated cefalexin in 2023"
    body = (
        client_for(doctor)
        .post(
            f"/clinical/patients/{patient}/medications/",
            {"medication": "Cefazolin 1 g IV", "submission": uuid.uuid4().hex},
        )
        .content.decode()
    )
    assert "Cephalosporins" in body
    assert "Possible cross-reactivity with a penicillin allergy" in body


def test_a_shared_class_is_no_mere_caution(allergic):
    doctor, patient = allergic
    with pytest.raises(AllergyWarning) as raised:
        _order(doctor, patient, "Amoxicillin 500 mg")
    assert raised.value.matches[0].caution == ""
