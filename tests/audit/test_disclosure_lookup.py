"""The accounting of disclosures by MRN or by name and date of birth (issue
12): the privacy officer finds the patient through the gateway's search
(audited, purpose PATRQT, demographics only), with the criteria in the POST
body and never in a URL (ADR 0540)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest

from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import Forbidden
from tests.clinical.conftest import WARD, clinical_zone, new_patient, relate  # noqa: F401  # the zone fixture

pytestmark = pytest.mark.django_db
FIND = "/clinical/disclosures/find/"


@pytest.fixture
def officer(signed_in):
    return signed_in("privacy_officer")


@pytest.fixture
def seen(make_user):
    """A patient a nurse opened once: the accounting has something to show."""
    patient = new_patient(given="Nora", family="Lindqvist", birth=dt.date(1961, 4, 12), mrn="MRN-4471")
    nurse = make_user("nurse")
    relate(nurse, patient, "care_team")
    gateway.chart_read(actor=nurse, session=WARD, purpose=PurposeOfUse.TREATMENT, patient_id=patient)
    return patient


def _opened(response) -> str:
    assert response.status_code == 302, response.content[:300]
    location = urlsplit(response["Location"])
    assert location.path == "/audit/disclosures/"
    query = parse_qs(location.query)
    assert set(query) == {"patient"}
    return query["patient"][0]


def test_an_mrn_finds_the_accounting(officer, seen):
    client, user = officer
    response = client.post(FIND, {"mrn": "MRN-4471"})
    assert _opened(response) == seen
    page = client.get(response["Location"]).content.decode()
    assert "No recorded access" not in page
    assert "Nurse" in page or "nurse" in page
    # The lookup itself is an access to the patient: it is in their accounting.
    search = AuditEvent.objects.get(actor_id=user.pk, action="search", resource_type="Patient")
    assert search.purpose_of_use == "PATRQT"
    assert search.outcome == "success"
    assert search.detail["criteria"] == ["mrn"]
    assert "MRN-4471" not in str(search.detail)
    assert "MRN-4471" not in search.reason
    assert "search Patient" in page  # indexed for the patient (ADR 0208)


def test_a_name_and_date_of_birth_find_the_accounting(officer, seen):
    client, _ = officer
    assert _opened(client.post(FIND, {"name": "nora lindq", "birth_date": "1961-04-12"})) == seen


def test_several_matches_are_listed_with_names_to_choose_from(officer, seen):
    client, _ = officer
    twin = new_patient(given="Nora", family="Lindqvist", birth=dt.date(1961, 4, 12), mrn="MRN-4472")
    response = client.post(FIND, {"name": "Nora Lindqvist", "birth_date": "1961-04-12"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "LINDQVIST, Nora" in page
    for shown in ("MRN-4471", "MRN-4472", f"?patient={seen}", f"?patient={twin}"):
        assert shown in page


def test_a_confidential_patient_is_found_too(officer):
    client, _ = officer
    hidden = new_patient(given="Vera", family="Stille", mrn="MRN-CONF", is_confidential=True)
    assert _opened(client.post(FIND, {"mrn": "MRN-CONF"})) == hidden


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({}, "Enter the medical record number, or the name and date of birth."),
        ({"name": "Lindqvist"}, "Add the date of birth"),
        ({"birth_date": "1961-04-12"}, "Enter the medical record number, or the name and date of birth."),
        ({"mrn": "x" * 41}, "at most 40 characters"),
        ({"name": "Nora", "birth_date": "1961-02-31"}, "Enter a valid date."),
    ],
)
def test_bad_input_is_a_form_error_and_searches_nothing(officer, seen, form, message):
    client, user = officer
    response = client.post(FIND, form)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not AuditEvent.objects.filter(actor_id=user.pk, action="search").exists()


def test_no_match_says_so(officer, seen):
    client, _ = officer
    response = client.post(FIND, {"mrn": "MRN-0000"})
    assert response.status_code == 200
    assert "No patient matches" in response.content.decode()


def test_search_terms_never_travel_in_a_url(officer, seen):
    client, _ = officer
    page = client.get(FIND).content.decode()
    assert 'method="post"' in page
    # Criteria in the query string are ignored: nothing is searched from a URL.
    response = client.get(FIND, {"mrn": "MRN-4471"})
    assert response.status_code == 200
    assert "Matching patients" not in response.content.decode()


@pytest.mark.parametrize("role", ["physician", "registration_clerk", "security_officer", "auditor"])
def test_other_roles_may_not_use_the_lookup(signed_in, seen, role):
    client, _ = signed_in(role)
    assert client.post(FIND, {"mrn": "MRN-4471"}).status_code == 403


def test_the_accounting_purpose_opens_no_search_for_a_clinician(make_user, seen):
    doctor = make_user("physician")
    with pytest.raises(Forbidden):
        gateway.patient_search(
            actor=doctor, session=WARD, purpose=PurposeOfUse.PATIENT_REQUEST, mrn="MRN-4471"
        )
    denied = AuditEvent.objects.get(actor_id=doctor.pk, action="search")
    assert denied.outcome == "denied"
