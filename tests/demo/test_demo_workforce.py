"""The demo's workforce: a record for every demo account (positions, the
agreement, training due soon and one overdue), the decoy registered as a
canary, and HR able to terminate a demo employee from the page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.test import Client

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.demo import workforce as demo_workforce
from safeward.demo.clinical import CANARY_LABEL
from safeward.detection.models import CanaryRecord
from safeward.identity.models import RoleAssignment, User
from safeward.identity.roles import CATALOG
from safeward.workforce import selectors
from safeward.workforce.models import AgreementSignature, Person, TrainingAssignment
from safeward.workforce.policy import AccessLevel, workforce_state
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db


def _user(role: str) -> User:
    return User.objects.get(username=f"demo.{role}")


def test_every_demo_account_has_an_active_workforce_record(seeded_demo):
    now = clock.now()
    for spec in CATALOG:
        user = _user(spec.code)
        person = Person.objects.select_related("position").get(user=user)
        assert person.status == Person.Status.ACTIVE
        assert person.position is not None
        assert person.position.default_roles == [spec.code]
        assert all(gate.passed for gate in selectors.onboarding_gates(person=person)), spec.code
        assert AgreementSignature.objects.filter(person=person).exists()
        assert RoleAssignment.objects.filter(user=user, status="active").count() == 1  # nothing granted twice
        assert user.is_active
        expected = AccessLevel.TRAINING_DUE if spec.code == demo_workforce.OVERDUE_ROLE else AccessLevel.FULL
        assert workforce_state(user).level == expected, spec.code
    open_items = TrainingAssignment.objects.filter(completed_at__isnull=True)
    overdue = open_items.filter(due_at__lt=now)
    assert [a.person.user.username for a in overdue] == [f"demo.{demo_workforce.OVERDUE_ROLE}"]
    due_soon = open_items.filter(due_at__gte=now, due_at__lt=now + dt.timedelta(days=30))
    assert due_soon.values("person").distinct().count() >= 2


def test_the_workforce_seed_is_idempotent(seeded_demo):

    def counts() -> tuple[int, int, int]:
        return Person.objects.count(), TrainingAssignment.objects.count(), CanaryRecord.objects.count()

    first = counts()
    workforce_events = AuditEvent.objects.filter(resource_type__startswith="Workforce").count()
    call_command("demo", "seed")
    assert counts() == first
    assert AuditEvent.objects.filter(resource_type__startswith="Workforce").count() == workforce_events


def test_the_demo_decoy_is_a_registered_canary(seeded_demo):
    (canary,) = CanaryRecord.objects.all()
    assert canary.label == CANARY_LABEL
    register = AuditEvent.objects.get(resource_type="CanaryRecord")
    assert register.actor_username == "system:setup"


def test_hr_terminates_a_demo_nurse_whose_next_request_is_refused(seeded_demo):
    nurse = _user("nurse")
    nurse_client, hr_client = Client(), Client()
    sign_in(nurse_client, nurse)
    assert nurse_client.get("/workforce/me/").status_code == 200
    sign_in(hr_client, _user("hr_officer"))
    person = Person.objects.get(user=nurse)
    page = hr_client.get(f"/workforce/people/{person.pk}/")
    assert page.status_code == 200
    assert f"/workforce/people/{person.pk}/terminate/" in page.content.decode()
    response = hr_client.post(
        f"/workforce/people/{person.pk}/terminate/", {"when": "now", "reason": "left the hospital"}
    )
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.status == Person.Status.TERMINATED
    refused = nurse_client.get("/workforce/me/")
    assert refused.status_code == 401
    assert not User.objects.get(pk=nurse.pk).is_active
