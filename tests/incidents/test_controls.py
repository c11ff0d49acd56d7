"""Incident response's control tests: each fails on a seeded violation and
passes without it."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock, compliance
from safeward.clinical.types import SessionContext
from safeward.incidents import case_services, controls
from safeward.incidents.models import BreachAssessment, Incident

pytestmark = pytest.mark.django_db

COVERED_CONTROLS = {
    "incidents.breach_deadlines_met": "test_breach_deadlines_met_fails_once_a_notice_is_late",
    "incidents.annual_exercise": "test_annual_exercise_fails_without_one_in_the_last_year",
    "incidents.cases_have_owner": "test_cases_have_owner_fails_on_a_serious_case_without_a_reviewer",
}


def test_the_controls_are_registered_with_their_catalog_entries():
    found = {cid: test for cid, test in compliance.discover().items() if cid.startswith("incidents.")}
    assert set(found) == set(COVERED_CONTROLS)
    assert "hipaa:164.308(a)(6)" in found["incidents.annual_exercise"].maps
    assert "iso27001-2022:A.5.26" in found["incidents.breach_deadlines_met"].maps


def test_breach_deadlines_met_fails_once_a_notice_is_late(make_user):
    officer = make_user("security_officer")
    privacy = make_user("privacy_officer")
    incident = case_services.incident_create(actor=officer, title="x", category="snooping", severity="high")
    now = clock.now()
    case_services.breach_scope_compute(
        actor=officer,
        session=SessionContext.system(),
        incident_id=incident.pk,
        window_start=now - dt.timedelta(days=1),
        window_end=now,
        usernames=[officer.username],
    )
    BreachAssessment.objects.filter(incident=incident).update(affected=3, patient_ids=["a", "b", "c"])
    assert all(check.passed for check in controls.breach_deadlines_met(now))
    later = now + dt.timedelta(days=61)
    (check,) = controls.breach_deadlines_met(later)
    assert not check.passed
    assert check.evidence["late"] == ["individuals"]
    case_services.notification_mark_sent(actor=privacy, incident_id=incident.pk, which="individuals")
    (check,) = controls.breach_deadlines_met(later)
    assert check.passed


def test_annual_exercise_fails_without_one_in_the_last_year(make_user):
    officer = make_user("security_officer")
    now = clock.now()
    (check,) = controls.annual_exercise(now)
    assert not check.passed
    case_services.incident_create(
        actor=officer, title="Tabletop", category="ransomware", severity="low", is_exercise=True, scenario="s"
    )
    (check,) = controls.annual_exercise(clock.now())
    assert check.passed
    (check,) = controls.annual_exercise(clock.now() + dt.timedelta(days=366))
    assert not check.passed


def test_cases_have_owner_fails_on_a_serious_case_without_a_reviewer(make_user):
    officer = make_user("security_officer")
    privacy = make_user("privacy_officer")
    incident = case_services.incident_create(actor=officer, title="x", category="snooping", severity="high")
    (check,) = controls.cases_have_owner(clock.now())
    assert not check.passed
    case_services.incident_assign(
        actor=officer,
        incident_id=incident.pk,
        owner_id=officer.pk,
        reviewer_id=privacy.pk,
        category="snooping",
    )
    (check,) = controls.cases_have_owner(clock.now())
    assert check.passed
    Incident.objects.filter(pk=incident.pk).update(owner_id=None)
    (check,) = controls.cases_have_owner(clock.now())
    assert not check.passed
