"""The demo incident cases: an open snooping case whose breach clock is the
demo physician's actual audited chart openings, a closed lost laptop, and
an exercise; seeding twice leaves the same state."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.identity.models import User
from safeward.incidents import controls
from safeward.incidents.models import BreachAssessment, Incident

pytestmark = pytest.mark.django_db


def test_the_demo_cases_and_their_breach_clock(seeded_demo):
    snooping = Incident.objects.get(category="snooping")
    assert snooping.status == "triage"
    breach = BreachAssessment.objects.get(incident=snooping)
    physician = User.objects.get(username="demo.physician")
    opened = set(
        AuditEvent.objects.filter(
            actor_id=physician.pk, action="read", resource_type="Chart", outcome="success"
        )
        .exclude(patient_id="")
        .values_list("patient_id", flat=True)
    )
    assert opened
    assert set(breach.patient_ids) >= opened
    assert breach.affected == len(breach.patient_ids) == 5
    laptop = Incident.objects.get(category="lost_device")
    assert laptop.status == "closed"
    assert laptop.lessons_learned
    (check,) = controls.annual_exercise(clock.now())
    assert check.passed
    before = (Incident.objects.count(), BreachAssessment.objects.count())
    call_command("demo", "seed")
    # Three cases, the quarter's restore-drill exercise the demo restore test is attached to,
    # and the two lost ward phones' cases (the devices wipes step, ADR 1017).
    assert (Incident.objects.count(), BreachAssessment.objects.count()) == before == (6, 1)
    assert Incident.objects.filter(is_exercise=True, exercise__drill_source="restore_test").count() == 1
