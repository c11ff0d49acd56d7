"""The operator's wards-and-beds pages (issue 12, ADR 0583): the IT
administrator adds a ward to a clinical department, renames it, adds beds
and removes unused ones; each change is one audited event; bad input is a
clear 4xx and nothing is half-saved; nobody else may change wards."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.forms import bed_labels
from safeward.clinical.types import Conflict, Forbidden, SystemActor
from safeward.identity.models import Department
from tests.clinical.conftest import WARD, new_patient
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

CLI = SystemActor("cli")
SETUP = "/clinical/wards/setup/"


@pytest.fixture
def medicine():
    return Department.objects.create(code="medicine", name="Internal medicine")


@pytest.fixture
def operator(make_user):
    client = Client()
    user = make_user("it_admin")
    sign_in(client, user)
    return client, user


def _state() -> list[tuple[str, str, list[str]]]:
    """Every ward with its beds: what a refused change must leave as it was."""
    return [
        (w.code, w.name, [b.label for b in gateway.ward_beds(ward_id=w.id)]) for w in gateway.wards_list()
    ]


def _ward_events() -> int:
    return AuditEvent.objects.filter(resource_type="Ward", outcome="success").count()


def test_the_operator_adds_a_ward_and_edits_its_beds(operator, medicine):
    client, admin = operator
    page = client.get(SETUP)
    assert page.status_code == 200
    assert "Internal medicine" in page.content.decode()  # offered: a clinical department
    response = client.post(
        SETUP, {"department": medicine.pk, "code": "med-3", "name": "Medicine ward 3", "beds": "1-4,side"}
    )
    assert response.status_code == 302
    ward = gateway.wards_list()[0]
    assert response.url == f"/clinical/wards/setup/{ward.id}/"
    assert (ward.code, ward.name, ward.beds) == ("med-3", "Medicine ward 3", 5)
    created = AuditEvent.objects.get(resource_type="Ward", action="create", outcome="success")
    assert created.actor_id == admin.pk
    assert created.detail["name"] == "Medicine ward 3"
    assert (created.detail["department"], created.detail["beds"]) == (medicine.pk, 5)

    beds = {b.label: b.id for b in gateway.ward_beds(ward_id=ward.id)}
    response = client.post(
        f"{SETUP}{ward.id}/",
        {"name": "Medicine ward 3 (cardiac)", "add_beds": "5-6", "remove_beds": [beds["side"]]},
    )
    assert response.status_code == 302
    assert _state() == [("med-3", "Medicine ward 3 (cardiac)", ["1", "2", "3", "4", "5", "6"])]
    updated = AuditEvent.objects.get(resource_type="Ward", action="update", outcome="success")
    assert updated.actor_id == admin.pk
    assert (updated.detail["name_before"], updated.detail["beds_before"]) == ("Medicine ward 3", 5)
    assert (updated.detail["name_after"], updated.detail["beds_after"]) == ("Medicine ward 3 (cardiac)", 6)
    assert updated.detail["beds_added"] == ["5", "6"]
    assert updated.detail["beds_removed"] == ["side"]
    assert "Medicine ward 3 (cardiac)" in client.get(f"{SETUP}{ward.id}/").content.decode()


def test_bad_new_wards_are_refused_and_nothing_is_saved(operator, medicine):
    client, _ = operator
    finance = Department.objects.create(code="finance", name="Finance", clinical=False)
    gateway.ward_create(
        actor=CLI, department_id=medicine.pk, code="med-3", name="Medicine ward 3", beds=["1"]
    )
    before, events = _state(), _ward_events()
    good = {"department": medicine.pk, "code": "new-1", "name": "New ward", "beds": "1-4"}
    cases = [
        ({**good, "code": "med-3"}, 409, "exists already"),  # a duplicate code
        ({**good, "department": finance.pk}, 400, "clinical departments only"),
        ({**good, "department": 987654}, 400, "clinical departments only"),
        ({**good, "department": "x"}, 400, "Enter a whole number"),
        ({**good, "beds": "1-201"}, 400, "at most 200 beds"),  # more than a ward holds
        ({**good, "beds": "9-1"}, 400, "at most 200 beds"),  # backwards
        ({**good, "beds": ""}, 400, "This field is required"),
        ({**good, "beds": " , ,"}, 400, "Give 1 to 200 bed labels"),
        ({**good, "beds": "a-bed-label-longer-than-16"}, 400, "at most 16 characters"),
        ({**good, "code": "has spaces"}, 400, "Enter a valid"),
        ({**good, "name": ""}, 400, "This field is required"),
        ({**good, "name": "x" * 121}, 400, "at most 120 characters"),
    ]
    for data, status, message in cases:
        response = client.post(SETUP, data)
        assert response.status_code == status, data
        body = response.content.decode()
        assert message in body, (data, message)
        assert f'value="{data["name"]}"' in body or not data["name"]  # what was typed is kept
    assert _state() == before
    assert _ward_events() == events


def test_bad_ward_changes_are_refused_and_nothing_is_saved(operator, medicine, make_user):
    client, _ = operator
    ward = gateway.ward_create(
        actor=CLI, department_id=medicine.pk, code="m1", name="Ward M1", beds=["1", "2", "3"]
    )
    beds = {b.label: b.id for b in gateway.ward_beds(ward_id=ward.id)}
    # A patient lies in bed 1 now; bed 2 had a patient who left.
    clerk, doctor = make_user("registration_clerk"), make_user("physician")
    ops = {"actor": clerk, "session": WARD, "purpose": PurposeOfUse.OPERATIONS}
    lying = new_patient(given="Now", family="Here", mrn="M-1")
    gateway.admission_admit(**ops, patient_id=lying, bed_id=beds["1"], attending_id=doctor.pk)
    left = new_patient(given="Gone", family="Home", mrn="M-2")
    stay = gateway.admission_admit(**ops, patient_id=left, bed_id=beds["2"], attending_id=doctor.pk)
    gateway.encounter_finish(**ops, patient_id=left, encounter_id=stay.encounter_id)
    before, events = _state(), _ward_events()
    url = f"{SETUP}{ward.id}/"
    cases = [
        ({"name": "Renamed", "remove_beds": [beds["1"]]}, 400, "Select a valid choice"),  # taken: not offered
        ({"name": "Renamed", "remove_beds": [beds["2"]]}, 400, "Select a valid choice"),  # has had patients
        ({"name": "Renamed", "add_beds": "3"}, 400, "has bed 3 already"),
        ({"name": "Renamed", "add_beds": "4-201"}, 400, "at most 200 beds"),  # 3 + 198
        ({"name": "Renamed", "add_beds": "1-300"}, 400, "at most 200 beds"),
        ({"name": ""}, 400, "This field is required"),
        ({"name": "Renamed", "remove_beds": [str(uuid.uuid4())]}, 400, "Select a valid choice"),
    ]
    for data, status, message in cases:
        response = client.post(url, data)
        assert response.status_code == status, data
        assert message in response.content.decode(), (data, message)
    assert client.post(f"{SETUP}{uuid.uuid4()}/", {"name": "X"}).status_code == 404
    assert _state() == before
    assert _ward_events() == events
    # The gateway refuses the same (a form cannot be the only guard), all or nothing.
    for remove, message in ((beds["1"], "is taken"), (beds["2"], "has had patients")):
        with pytest.raises(Conflict, match=message):
            gateway.ward_update(
                actor=CLI, ward_id=ward.id, name="Renamed", add_beds=["9"], remove_beds=[remove]
            )
    assert _state() == before


def test_nobody_else_changes_wards(make_user, medicine):
    ward = gateway.ward_create(actor=CLI, department_id=medicine.pk, code="m1", name="Ward M1", beds=["1"])
    for role in ("physician", "nurse", "registration_clerk", "security_officer"):
        user = make_user(role)
        client = Client()
        sign_in(client, user)
        data = {"department": medicine.pk, "code": "x", "name": "X", "beds": "1"}
        assert client.post(SETUP, data).status_code == 403, role
        assert client.post(f"{SETUP}{ward.id}/", {"name": "X"}).status_code == 403, role
        with pytest.raises(Forbidden):
            gateway.ward_create(actor=user, department_id=medicine.pk, code="x", name="X", beds=["1"])
        with pytest.raises(Forbidden):
            gateway.ward_update(actor=user, ward_id=ward.id, name="X", add_beds=[], remove_beds=[])
    assert _state() == [("m1", "Ward M1", ["1"])]
    assert AuditEvent.objects.filter(resource_type="Ward", outcome="denied").count() == 8


def test_bed_labels():
    assert bed_labels("1-3,side") == ["1", "2", "3", "side"]
    assert bed_labels("8-10") == ["08", "09", "10"]
    assert len(bed_labels("1-200")) == 200
    with pytest.raises(ValueError, match="at most 200 beds"):
        bed_labels("1-201")
