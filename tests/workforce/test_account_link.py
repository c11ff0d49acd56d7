"""Linking an existing account (bootstrap, demo) to a workforce record: the
record governs it from then on; activation grants only what it lacks."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward.audit.models import AuditEvent
from safeward.identity.errors import InvalidState, SeparationOfDuties
from safeward.identity.models import RoleAssignment
from safeward.workforce import selectors, services
from safeward.workforce.models import Person
from safeward.workforce.policy import AccessLevel, workforce_state

pytestmark = pytest.mark.django_db


def _onboarding(catalog, hr, number: str = "E-LINK-1") -> Person:
    return services.person_create(
        actor=hr,
        employee_number=number,
        first_name="Ada",
        last_name="Nwosu",
        start_date=dt.date(2025, 1, 1),
        position=catalog["positions"]["staff-nurse"],
    )


def test_a_linked_account_is_governed_and_activation_grants_nothing_twice(catalog, hr, make_user):
    user = make_user("nurse")
    assert user in selectors.accounts_without_person()
    person = _onboarding(catalog, hr)
    services.person_account_link(actor=hr, person=person, user=user)
    user.refresh_from_db()
    assert workforce_state(user).level == AccessLevel.ENDED  # not onboarded yet
    assert user not in selectors.accounts_without_person()
    services.agreement_sign(actor=hr, person=person, document=catalog["agreement"], signer_name="Ada Nwosu")
    for course in catalog["courses"].values():
        services.training_complete(actor=hr, person=person, course=course)
    services.person_activate(actor=hr, person=person)
    user.refresh_from_db()
    assert workforce_state(user).level == AccessLevel.FULL
    assert RoleAssignment.objects.filter(user=user, role__code="nurse").count() == 1
    assert not AuditEvent.objects.filter(resource_type="User", resource_id=str(user.pk), fields=["is_active"])
    link = AuditEvent.objects.get(detail__event="account_link")
    assert link.actor_id == hr.pk


def test_link_refusals(catalog, hr, make_user):
    person = _onboarding(catalog, hr)
    first, second = make_user("nurse"), make_user("nurse")
    with pytest.raises(SeparationOfDuties):
        services.person_account_link(actor=hr, person=person, user=hr)
    services.person_account_link(actor=hr, person=person, user=first)
    with pytest.raises(InvalidState, match="already has an account"):
        services.person_account_link(actor=hr, person=person, user=second)
    other = _onboarding(catalog, hr, number="E-LINK-2")
    with pytest.raises(InvalidState, match="another person"):
        services.person_account_link(actor=hr, person=other, user=first)
    assert Person.objects.get(pk=other.pk).user_id is None
