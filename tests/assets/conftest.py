from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.workforce.models import Person


@pytest.fixture
def person(db):
    """An active workforce person to own assets (test setup, not onboarding)."""

    def make(number: str = "E1001", first: str = "Dana", last: str = "Owner") -> Person:
        return Person.objects.create(
            employee_number=number,
            first_name=first,
            last_name=last,
            start_date=dt.date(2024, 1, 1),
            status=Person.Status.ACTIVE,
            activated_at=clock.now(),
        )

    return make
