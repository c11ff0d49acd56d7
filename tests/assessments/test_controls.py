"""The assessments app's own control tests fail on a seeded violation and pass without it."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.assessments import controls, services
from safeward.compliance import discover
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# Each test sees its control pass, then fail on the violation (see the asserts).
COVERED_CONTROLS = {
    "assessments.control_tests_current": "test_control_tests_current",
    "assessments.exceptions_within_expiry": "test_exceptions_within_expiry",
}


def test_both_are_registered():
    assert {"assessments.control_tests_current", "assessments.exceptions_within_expiry"} <= set(discover())


def test_control_tests_current(tests_registry, frozen_clock):
    assert list(controls.control_tests_current(clock.now())) == []  # nothing to judge yet
    services.controls_run(actor=None, registry=tests_registry)
    frozen_clock.advance(hours=23)
    assert [c.passed for c in controls.control_tests_current(clock.now())] == [True]
    frozen_clock.advance(hours=2)
    [check] = controls.control_tests_current(clock.now())
    assert not check.passed
    assert check.evidence["age_hours"] == 25.0


def test_exceptions_within_expiry(tests_registry, frozen_clock):
    one, two = (UserFactory(roles=["compliance_officer"]) for _ in range(2))
    services.controls_run(actor=None, registry=tests_registry)
    exception = services.exception_request(
        actor=one,
        control_id="identity.mfa",
        resource_type="account",
        resource_id="2",
        reason="Kiosk",
        expires_on=clock.now().date() + dt.timedelta(days=2),
    )
    services.exception_approve(actor=two, exception_id=exception.pk)
    assert [c.passed for c in controls.exceptions_within_expiry(clock.now())] == [True]
    frozen_clock.advance(days=3)
    assert [c.passed for c in controls.exceptions_within_expiry(clock.now())] == [False]
    services.exception_revoke(actor=two, exception_id=exception.pk, reason="Lapsed")
    assert list(controls.exceptions_within_expiry(clock.now())) == []
