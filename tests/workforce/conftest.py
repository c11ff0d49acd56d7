"""Fixtures for the workforce tests: a small catalog (positions, onboarding
courses, an agreement), an HR officer, and people linked to accounts."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
from django.utils import timezone

from safeward import clock
from safeward.workforce import services
from safeward.workforce.models import Person


@pytest.fixture
def catalog(db):
    positions = {
        "staff-nurse": services.position_save(
            actor=None, code="staff-nurse", title="Staff nurse", default_roles=["nurse"]
        ),
        "physician": services.position_save(
            actor=None, code="physician", title="Physician", default_roles=["physician"]
        ),
        "it-admin": services.position_save(
            actor=None, code="it-admin", title="IT administrator", default_roles=["it_admin"]
        ),
        "clerk": services.position_save(
            actor=None, code="clerk", title="Registration clerk", default_roles=["registration_clerk"]
        ),
    }
    courses = {
        "security": services.training_course_save(
            actor=None, code="security", title="Security awareness", required_for_onboarding=True
        ),
        "privacy": services.training_course_save(
            actor=None, code="privacy", title="Privacy and confidentiality", required_for_onboarding=True
        ),
    }
    agreement = services.agreement_publish(
        actor=None,
        version="2026.1",
        title="Confidentiality agreement",
        body="I keep patient data confidential.",
    )
    # Published long ago, so tests that freeze the clock later still see it as current.
    type(agreement).objects.filter(pk=agreement.pk).update(
        published_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    )
    agreement.refresh_from_db()
    return {"positions": positions, "courses": courses, "agreement": agreement}


@pytest.fixture
def hr(make_user):
    return make_user("hr_officer")


@pytest.fixture
def make_person(db):
    """make_person(user=..., position=..., manager=...) -> an ACTIVE person
    linked to an existing account (test setup, not the onboarding flow)."""

    def make(*, user=None, position=None, manager=None, status=Person.Status.ACTIVE, **fields):
        number = fields.pop("employee_number", f"E{secrets.randbelow(10**8):08d}")
        return Person.objects.create(
            employee_number=number,
            first_name=fields.pop("first_name", user.first_name if user else "Test"),
            last_name=fields.pop("last_name", user.last_name if user else "Person"),
            user=user,
            position=position,
            manager=manager,
            start_date=fields.pop("start_date", dt.date(2025, 1, 1)),
            status=status,
            activated_at=clock.now() if status == Person.Status.ACTIVE else None,
            **fields,
        )

    return make


def local_date(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()
