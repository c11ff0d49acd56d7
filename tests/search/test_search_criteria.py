"""Patient search asks for criteria that single out a person from anyone
with no care relationship to the results (ADR 0728), and decrypts nothing of
a candidate before the policy has decided on it."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.gateway import _patients
from tests.clinical.conftest import WARD, new_patient, relate

pytestmark = pytest.mark.django_db

BIRTH = dt.date(1964, 8, 9)


def test_a_name_prefix_alone_finds_only_the_callers_own_patients(make_user):
    nurse = make_user("nurse")
    mine = new_patient(given="Cara", family="Probe", birth=BIRTH, mrn="P1")
    strangers = [new_patient(given=f"Other{n}", family="Probe", mrn=f"P{n + 2}") for n in range(3)]
    relate(nurse, mine, "care_team")
    page = gateway.patient_search(actor=nurse, session=WARD, purpose=PurposeOfUse.TREATMENT, name="pro")
    assert [r.id for r in page.results] == [mine]
    assert page.narrowed
    event = AuditEvent.objects.filter(action="search").last()
    assert event.detail["patients"] == [mine]
    assert event.detail["narrowed"] is True
    assert not set(strangers) & set(event.detail["patients"])


def test_name_and_birth_date_find_a_patient_without_a_relationship(make_user):
    clerk = make_user("registration_clerk")
    wanted = new_patient(given="Dora", family="Probe", birth=BIRTH, mrn="Q1")
    new_patient(given="Dina", family="Probe", birth=dt.date(1990, 1, 1), mrn="Q2")
    page = gateway.patient_search(
        actor=clerk, session=WARD, purpose=PurposeOfUse.OPERATIONS, name="pro", birth_date=BIRTH
    )
    assert [r.id for r in page.results] == [wanted]
    assert not page.narrowed
    by_mrn = gateway.patient_search(actor=clerk, session=WARD, purpose=PurposeOfUse.OPERATIONS, mrn="Q2")
    assert len(by_mrn.results) == 1


def test_paging_a_name_prefix_no_longer_hands_out_the_hospital(make_user):
    clerk = make_user("registration_clerk")
    for n in range(30):
        new_patient(given=f"P{n}", family="Pager", mrn=f"G{n}")
    seen = []
    for number in (1, 2):
        page = gateway.patient_search(
            actor=clerk, session=WARD, purpose=PurposeOfUse.OPERATIONS, name="pag", page=number, page_size=20
        )
        seen += page.results
    assert seen == []


def test_no_candidate_is_decrypted_before_the_policy_decides(make_user, monkeypatch):
    """A long query word (beyond the prefix tokens) is confirmed on the
    decrypted name: only for candidates the caller may see."""
    clerk = make_user("registration_clerk")
    visible = new_patient(given="Eve", family="Montgomeryshire", birth=BIRTH, mrn="R1")
    hidden = new_patient(given="Eva", family="Montgomeryshire", birth=BIRTH, mrn="R2", is_confidential=True)
    decrypted: list[tuple[str, str]] = []
    real_plain = _patients.plain

    def spy(instance, name):
        decrypted.append((str(instance.pk), name))
        return real_plain(instance, name)

    monkeypatch.setattr(_patients, "plain", spy)
    page = gateway.patient_search(
        actor=clerk, session=WARD, purpose=PurposeOfUse.OPERATIONS, name="montgomeryshire", birth_date=BIRTH
    )
    assert [r.id for r in page.results if not r.restricted] == [visible]
    assert not [field for pid, field in decrypted if pid == hidden]


def test_the_search_event_tags_the_name_query_without_holding_it(make_user):
    clerk = make_user("registration_clerk")
    for query in ("abe", "abe", "abf"):
        gateway.patient_search(actor=clerk, session=WARD, purpose=PurposeOfUse.OPERATIONS, name=query)
    events = list(AuditEvent.objects.filter(action="search").order_by("id"))
    tags = [event.detail["name_tag"] for event in events]
    assert tags[0] == tags[1] != tags[2]
    assert all(len(tag) == 4 for tag in tags)  # 16 bits: tells queries apart, names nobody
    assert {event.detail["name_shortest"] for event in events} == {3}
    assert "abe" not in str([event.detail for event in events])


def test_the_search_page_asks_for_the_date_of_birth(signed_in):
    new_patient(given="Fay", family="Stranger", birth=BIRTH, mrn="S1")
    client, _ = signed_in("registration_clerk")
    body = client.post("/clinical/", {"name": "stran"}).content.decode()
    assert "STRANGER, Fay" not in body
    assert 'id="search-narrowed"' in body
    found = client.post("/clinical/", {"name": "stran", "birth_date": BIRTH.isoformat()}).content.decode()
    assert "STRANGER, Fay" in found
    assert 'id="search-narrowed"' not in found
