"""The demo's first control run: every registered test, signed and
verifiable, once; with a failing resource, the security officer's
exception request waits for the compliance officer."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from safeward.assessments import services
from safeward.assessments.models import ControlException, ControlRun
from safeward.compliance import discover
from tests.assessments.conftest import World, registry

pytestmark = pytest.mark.django_db


def test_the_demo_runs_every_control_test_once(seeded_demo):
    # The schedule's `controls` job's run (no actor, ADR 1506), then the compliance officer's.
    scheduled, run = ControlRun.objects.order_by("started_at", "pk")
    assert scheduled.actor is None
    assert scheduled.controls_total == run.controls_total == len(discover())
    assert run.actor.username == "demo.compliance_officer"
    assert services.verify_run(scheduled).ok
    assert services.verify_run(run).ok
    call_command("demo", "seed")
    assert ControlRun.objects.count() == 2


def test_a_failing_resource_gets_an_exception_request(demo_settings, monkeypatch):
    monkeypatch.setattr("safeward.assessments.services.discover", lambda: registry(World()))
    call_command("demo", "seed")
    exception = ControlException.objects.get()
    assert (exception.control_id, exception.resource_id, exception.state) == (
        "identity.mfa",
        "2",
        "requested",
    )
    assert exception.requested_by.username == "demo.security_officer"
