"""Gate: no activation without the current agreement signed and the
onboarding training completed."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward.audit.models import AuditEvent
from safeward.identity.errors import InvalidState, NotPermitted
from safeward.identity.models import RoleAssignment
from safeward.workforce import selectors, services
from safeward.workforce.models import AgreementSignature, Person
from tests.factories import TEST_PASSWORD


@pytest.fixture
def recruit(catalog, hr):
    person = services.person_create(
        actor=hr,
        employee_number="N-100",
        first_name="Ada",
        last_name="Recruit",
        start_date=dt.date(2026, 11, 1),
        position=catalog["positions"]["staff-nurse"],
    )
    services.person_account_create(actor=hr, person=person, username="ada.recruit")
    person.refresh_from_db()
    return person


def test_new_person_is_onboarding_with_required_training_assigned(recruit, catalog):
    assert recruit.status == Person.Status.ONBOARDING
    assert sorted(a.course.code for a in selectors.person_training(person=recruit)) == ["privacy", "security"]
    assert recruit.user is not None
    assert not recruit.user.is_active


def test_no_activation_without_agreement_and_training(recruit, hr, catalog):
    with pytest.raises(services.OnboardingIncomplete) as refused:
        services.person_activate(actor=hr, person=recruit)
    assert len(refused.value.missing) == 3  # agreement + two courses
    refusal = AuditEvent.objects.filter(resource_type="WorkforcePerson", outcome="denied").last()
    assert refusal is not None
    assert refusal.detail["event"] == "activation_refused"

    services.agreement_sign(
        actor=hr, person=recruit, document=catalog["agreement"], signer_name="Ada Recruit"
    )
    with pytest.raises(services.OnboardingIncomplete) as refused:
        services.person_activate(actor=hr, person=recruit)
    assert refused.value.missing == [
        "complete the training Privacy and confidentiality",
        "complete the training Security awareness",
    ]

    services.training_complete(actor=hr, person=recruit, course=catalog["courses"]["security"])
    with pytest.raises(services.OnboardingIncomplete):
        services.person_activate(actor=hr, person=recruit)
    recruit.user.refresh_from_db()
    assert not recruit.user.is_active

    services.training_complete(actor=hr, person=recruit, course=catalog["courses"]["privacy"])
    services.person_activate(actor=hr, person=recruit)
    recruit.refresh_from_db()
    recruit.user.refresh_from_db()
    assert recruit.status == Person.Status.ACTIVE
    assert recruit.user.is_active
    assert list(
        RoleAssignment.objects.filter(user=recruit.user, status="active").values_list("role__code", flat=True)
    ) == ["nurse"]


def test_training_without_agreement_is_not_enough(recruit, hr, catalog):
    for course in catalog["courses"].values():
        services.training_complete(actor=hr, person=recruit, course=course)
    with pytest.raises(services.OnboardingIncomplete) as refused:
        services.person_activate(actor=hr, person=recruit)
    assert refused.value.missing == ["sign the confidentiality agreement v2026.1"]


def test_signature_records_who_when_version_and_hash(recruit, hr, catalog, frozen_clock):
    signature = services.agreement_sign(
        actor=hr, person=recruit, document=catalog["agreement"], signer_name="Ada Recruit"
    )
    assert signature.document_version == "2026.1"
    assert signature.document_sha256 == services.document_hash("I keep patient data confidential.")
    assert len(signature.document_sha256) == 64
    assert signature.signed_at == frozen_clock.now()
    assert signature.method == AgreementSignature.Method.WITNESSED
    assert signature.recorded_by == hr
    assert signature.signer_name == "Ada Recruit"


def test_a_new_agreement_version_invalidates_old_signatures(recruit, hr, catalog, frozen_clock):
    services.agreement_sign(
        actor=hr, person=recruit, document=catalog["agreement"], signer_name="Ada Recruit"
    )
    frozen_clock.advance(minutes=1)
    newer = services.agreement_publish(actor=hr, version="2026.2", title="Confidentiality", body="New text.")
    gates = {g.key: g.passed for g in selectors.onboarding_gates(person=recruit)}
    assert gates["agreement"] is False
    with pytest.raises(InvalidState):
        services.agreement_sign(actor=hr, person=recruit, document=catalog["agreement"], signer_name="Ada")
    services.agreement_sign(actor=hr, person=recruit, document=newer, signer_name="Ada Recruit")
    assert {g.key: g.passed for g in selectors.onboarding_gates(person=recruit)}["agreement"] is True


def test_a_tampered_agreement_cannot_be_signed(recruit, hr, catalog):
    document = catalog["agreement"]
    type(document).objects.filter(pk=document.pk).update(body="Something else entirely.")
    document.refresh_from_db()
    with pytest.raises(InvalidState):
        services.agreement_sign(actor=hr, person=recruit, document=document, signer_name="Ada Recruit")


def test_an_inactive_account_cannot_sign_in(recruit, client):
    from safeward.identity.services import user_set_password

    user_set_password(actor=None, user=recruit.user, password=TEST_PASSWORD)
    client.post("/accounts/login/", {"login": "ada.recruit", "password": TEST_PASSWORD})
    assert client.get("/").status_code == 302  # still anonymous: back to the login page


def test_only_hr_manages_people(make_user, catalog):
    nurse = make_user("nurse")
    with pytest.raises(NotPermitted):
        services.person_create(
            actor=nurse, employee_number="X1", first_name="A", last_name="B", start_date=dt.date(2026, 1, 1)
        )


def test_activation_through_the_hr_page(recruit, hr, catalog, client):
    from tests.conftest import sign_in

    sign_in(client, hr)
    response = client.post(f"/workforce/people/{recruit.pk}/activate/")
    assert response.status_code == 302
    page = client.get(f"/workforce/people/{recruit.pk}/").content.decode()
    assert "Onboarding is not complete" in page
    client.post(f"/workforce/people/{recruit.pk}/sign/", {"signer_name": "Ada Recruit"})
    for course in catalog["courses"].values():
        client.post(f"/workforce/people/{recruit.pk}/training/", {"course": course.pk})
    client.post(f"/workforce/people/{recruit.pk}/activate/")
    recruit.refresh_from_db()
    assert recruit.status == Person.Status.ACTIVE
