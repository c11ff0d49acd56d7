"""Workforce's control tests (issue 18, ADR 0920): each fails on a seeded
violation, on that resource, and passes without it."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.compliance import discover
from safeward.identity.models import UserSession
from safeward.workforce import services
from safeward.workforce.models import Person, ReviewItem

pytestmark = pytest.mark.django_db

COVERED_CONTROLS = {
    "workforce.training_current": (
        "test_training_fails_when_an_assignment_is_overdue",
        "test_training_passes_when_done",
    ),
    "workforce.access_reviews_on_time": (
        "test_reviews_fail_without_a_recent_review_and_on_an_overdue_item",
        "test_reviews_pass_after_an_attestation",
    ),
    "workforce.no_access_after_termination": (
        "test_termination_fails_while_a_leaver_keeps_access",
        "test_termination_passes_once_applied",
    ),
    "workforce.accounts_have_workforce_record": (
        "test_accounts_fail_without_a_workforce_record",
        "test_accounts_pass_with_one",
    ),
}


def run(control_id: str) -> dict[str, object]:
    return {check.resource_id: check for check in discover()[control_id].run(clock.now())}


def test_training_fails_when_an_assignment_is_overdue(make_user, make_person, catalog, frozen_clock):
    person = make_person(user=make_user("nurse"))
    services.training_assign(
        actor=None,
        person=person,
        course=catalog["courses"]["security"],
        due_at=clock.now() + dt.timedelta(days=1),
    )
    frozen_clock.advance(days=3)
    check = run("workforce.training_current")[str(person.pk)]
    assert not check.passed
    assert check.evidence["overdue_assignments"] == 1
    assert check.evidence["days_overdue"] == 2
    assert person.last_name not in repr(check)  # named by username and employee number only


def test_training_passes_when_done(make_user, make_person, catalog, frozen_clock):
    person = make_person(user=make_user("nurse"))
    course = catalog["courses"]["security"]
    services.training_assign(
        actor=None, person=person, course=course, due_at=clock.now() + dt.timedelta(days=1)
    )
    services.training_complete(actor=None, person=person, course=course)
    frozen_clock.advance(days=3)
    check = run("workforce.training_current")[str(person.pk)]
    assert check.passed
    assert check.evidence["overdue_assignments"] == 0


def test_reviews_fail_without_a_recent_review_and_on_an_overdue_item(
    make_user, make_person, catalog, frozen_clock
):
    never = make_person(user=make_user("nurse"))
    Person.objects.filter(pk=never.pk).update(activated_at=clock.now() - dt.timedelta(days=400))
    check = run("workforce.access_reviews_on_time")[str(never.pk)]
    assert not check.passed
    assert check.evidence["last_reviewed_at"] is None
    # A new starter is not due yet, but an item left pending past its due time fails.
    newcomer = make_person(user=make_user("nurse"))
    assert run("workforce.access_reviews_on_time")[str(newcomer.pk)].passed
    services.review_campaign_create(actor=None, name="Q4", deadline=clock.now() + dt.timedelta(days=14))
    frozen_clock.advance(days=15)
    late = run("workforce.access_reviews_on_time")[str(newcomer.pk)]
    assert not late.passed
    assert late.evidence["overdue_items"] == 1


def test_reviews_pass_after_an_attestation(make_user, make_person, catalog, frozen_clock):
    manager = make_person(user=make_user("nurse"))
    person = make_person(user=make_user("nurse"), manager=manager)
    Person.objects.filter(pk__in=[person.pk, manager.pk]).update(
        activated_at=clock.now() - dt.timedelta(days=400)
    )
    services.review_campaign_create(actor=None, name="Q4", deadline=clock.now() + dt.timedelta(days=14))
    item = ReviewItem.objects.get(person=person)
    services.review_item_decide(actor=manager.user, item=item, decision="attested")
    frozen_clock.advance(days=30)
    checks = run("workforce.access_reviews_on_time")
    assert checks[str(person.pk)].passed
    assert checks[str(person.pk)].evidence["last_reviewed_at"] is not None
    assert not checks[str(manager.pk)].passed  # the manager's own item went to HR and waits past due
    no_roles = make_person(user=make_user())
    assert str(no_roles.pk) not in run("workforce.access_reviews_on_time")  # holds no role: nothing to review


def test_termination_fails_while_a_leaver_keeps_access(make_user, make_person, catalog, frozen_clock):
    user = make_user("nurse")
    person = make_person(user=user)
    now = clock.now()
    session = UserSession.objects.create(
        user=user, session_key="k", created_at=now, last_seen_at=now, client_ip="127.0.0.1"
    )
    services.termination_schedule(actor=None, person=person, effective_at=now + dt.timedelta(hours=1))
    frozen_clock.advance(hours=1, minutes=2)
    UserSession.objects.filter(pk=session.pk).update(last_seen_at=clock.now())  # used after the end
    check = run("workforce.no_access_after_termination")[str(person.pk)]
    assert not check.passed
    assert check.evidence["problems"] == [
        "account still enabled",
        "live sessions",
        "session used after access ended",
    ]


def test_termination_passes_once_applied(make_user, make_person, catalog, frozen_clock):
    user = make_user("nurse")
    person = make_person(user=user)
    now = clock.now()
    UserSession.objects.create(
        user=user, session_key="k", created_at=now, last_seen_at=now, client_ip="127.0.0.1"
    )
    services.termination_schedule(actor=None, person=person, effective_at=now)  # at once: applied
    frozen_clock.advance(minutes=5)
    staying = make_person(user=make_user("nurse"))
    checks = run("workforce.no_access_after_termination")
    assert checks[str(person.pk)].passed
    assert checks[str(person.pk)].evidence["problems"] == []
    assert str(staying.pk) not in checks


def test_accounts_fail_without_a_workforce_record(make_user):
    service_account = make_user("it_admin")
    check = run("workforce.accounts_have_workforce_record")[str(service_account.pk)]
    assert not check.passed
    assert check.evidence == {"person_id": None}


def test_accounts_pass_with_one(make_user, make_person):
    person = make_person(user=make_user("nurse"))
    check = run("workforce.accounts_have_workforce_record")[str(person.user_id)]
    assert check.passed
    assert check.evidence == {"person_id": person.pk}
