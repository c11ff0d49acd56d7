"""Search-harvesting rules (ADR 0728): each fires on the harvest and stays
quiet on the legitimate look-alike. Search events are written as the gateway
writes them: the patients shown go to the per-patient index (ADR 0208)."""

from __future__ import annotations

import uuid

import pytest

from safeward.audit import context
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from tests.detection.conftest import alerts, run

pytestmark = pytest.mark.django_db


def _ids(count: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(count)]


def search(user, patients, *, page=1, source="web", tag=None, shortest=5, narrowed=True, criteria=("name",)):
    """A patient search event as `gateway.patient_search` records it."""
    detail = {"criteria": list(criteria), "results": len(patients), "page": page, "capped": False}
    detail["narrowed"] = narrowed
    if tag is not None:
        detail.update(name_tag=tag, name_shortest=shortest)
    token = context.bind(context.AuditContext(request_id="req", source=source))
    try:
        return audit_record(
            action=Action.SEARCH,
            actor=user,
            resource_type="Patient",
            purpose=PurposeOfUse.OPERATIONS,
            fields=["family_name", "given_name", "mrn"],
            detail=detail,
            patient_ids=patients,
        )
    finally:
        context.reset(token)


# --- result volume -------------------------------------------------------------------------------
def test_search_volume_fires_when_searches_show_too_many_patients(at, make_user):
    clerk = make_user("registration_clerk")
    at(minutes=0)
    for _ in range(3):
        search(clerk, _ids(20))
    run()  # the window spans batches
    assert alerts("search_volume") == []
    at(minutes=30)
    for _ in range(3):
        search(clerk, _ids(20))
    run()
    (alert,) = alerts("search_volume")
    assert alert.subject_user_id == clerk.pk
    assert alert.detail["distinct_patients"] == 120
    assert alert.evidence.count() == 6


def test_a_front_desk_finding_the_same_patients_again_is_not_harvesting(at, make_user):
    clerk = make_user("registration_clerk")
    regulars = _ids(30)
    for n in range(12):
        at(minutes=n * 5)  # a morning of check-ins: each patient looked up a few times
        search(clerk, regulars[(n * 3) % 30 : (n * 3) % 30 + 3])
        search(clerk, regulars[:2])
    run()
    assert alerts("search_volume") == []


# --- paging depth --------------------------------------------------------------------------------
def test_deep_paging_fires(at, make_user):
    nurse = make_user("nurse")
    at(minutes=0)
    for page in range(1, 6):
        search(nurse, _ids(20), page=page)
    run()
    (alert,) = alerts("search_paging")
    assert alert.detail["deepest_page"] == 5


def test_looking_at_the_second_page_is_not_deep_paging(at, make_user):
    nurse = make_user("nurse")
    at(minutes=0)
    search(nurse, _ids(20), page=1)
    search(nurse, _ids(5), page=2)
    run()
    assert alerts("search_paging") == []


# --- name-prefix probing -------------------------------------------------------------------------
def test_many_distinct_short_prefixes_are_probing(at, make_user):
    clerk = make_user("billing_clerk")
    for n in range(12):
        at(minutes=n)
        search(clerk, _ids(1), tag=f"{n:04x}", shortest=3)
    run()
    (alert,) = alerts("name_probing")
    assert alert.detail["distinct_queries"] == 12


@pytest.mark.parametrize(
    "kind",
    ["same_query_repeated", "full_surnames", "with_birth_date"],
)
def test_legitimate_name_searches_are_not_probing(at, make_user, kind):
    clerk = make_user("registration_clerk")
    for n in range(12):
        at(minutes=n)
        if kind == "same_query_repeated":
            search(clerk, _ids(1), tag="abcd", shortest=3)
        elif kind == "full_surnames":
            search(clerk, _ids(1), tag=f"{n:04x}", shortest=7)
        else:
            search(
                clerk, _ids(1), tag=f"{n:04x}", shortest=3, narrowed=False, criteria=("birth_date", "name")
            )
    run()
    assert alerts("name_probing") == []


# --- FHIR paging ---------------------------------------------------------------------------------
def test_a_fhir_client_following_next_links_fires(at, make_user):
    doctor = make_user("physician")
    at(minutes=0)
    for page in range(1, 8):
        search(doctor, _ids(40), page=page, source="fhir")
    run()
    (alert,) = alerts("fhir_paging")
    assert alert.detail["pages_followed"] == 6
    assert alert.detail["distinct_patients"] == 280


def test_a_fhir_app_reading_one_more_page_is_quiet(at, make_user):
    doctor = make_user("physician")
    at(minutes=0)
    search(doctor, _ids(10), page=1, source="fhir")
    search(doctor, _ids(3), page=2, source="fhir")
    for page in range(2, 8):  # the same depth in the browser is not a FHIR client's paging
        search(doctor, _ids(40), page=page, source="web")
    run()
    assert alerts("fhir_paging") == []


def test_paging_through_the_real_fhir_api_is_caught(at, make_user, client):
    """End to end: a bearer token pages a patient search through Bundle next
    links; the search events say `fhir` and the rule sees the pages."""
    from tests.clinical.conftest import new_patient, relate
    from tests.fhir.helpers import bearer, token

    doctor = make_user("physician")
    at(minutes=0)
    for n in range(12):
        relate(doctor, new_patient(given=f"Page{n}", family="Harvester", mrn=f"F{n}"), "care_team")
    raw = token(doctor, "user/*.rs")
    response = client.get("/fhir/Patient", {"name": "harvester", "_count": "2"}, **bearer(raw))
    pages = 1
    while following := [link["url"] for link in response.json()["link"] if link["relation"] == "next"]:
        response = client.get(following[0], **bearer(raw))
        pages += 1
    assert pages == 6
    run()
    (alert,) = alerts("fhir_paging")
    assert alert.detail["pages_followed"] == 5
    assert alert.detail["distinct_patients"] == 12
