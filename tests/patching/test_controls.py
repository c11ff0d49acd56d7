"""The patching control tests: each fails on a seeded violation and passes without it."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from safeward import clock
from safeward.patching import controls, selectors, services
from safeward.patching.models import Finding
from tests.patching.conftest import KEV, openssl
from tests.patching.test_plans import _plan

pytestmark = pytest.mark.django_db

COVERED_CONTROLS = {
    "patching.kev_past_due": "test_kev_past_due_fails_after_the_due_date_and_passes_once_fixed",
    "patching.critical_within_sla": "test_critical_within_sla_fails_when_overdue_and_passes_before",
    "patching.exceptions_valid": "test_exceptions_valid_fails_on_an_expired_exception",
    "patching.inventory_current": "test_inventory_current_fails_on_an_old_inventory",
    "patching.plans_in_time": "test_a_window_after_the_deadline_shows_and_fails_the_control",
}


def _passed(function, now):
    return [check.passed for check in function(now)]


def test_kev_past_due_fails_after_the_due_date_and_passes_once_fixed(engineer, dmz_asset, heartbleed):
    services.kev_import(actor=engineer, raw=json.dumps(KEV).encode())
    services.inventory_import(actor=engineer, target_kind="asset", target_id=dmz_asset.pk, raw=openssl())
    now = clock.now()
    assert _passed(controls.kev_past_due, now) == [True]
    assert _passed(controls.kev_past_due, now + dt.timedelta(days=20)) == [False]
    services.inventory_import(
        actor=engineer, target_kind="asset", target_id=dmz_asset.pk, raw=openssl("1.0.2")
    )
    assert _passed(controls.kev_past_due, now + dt.timedelta(days=20)) == []


def test_critical_within_sla_fails_when_overdue_and_passes_before(engineer, dc_asset, heartbleed):
    services.inventory_import(actor=engineer, target_kind="asset", target_id=dc_asset.pk, raw=openssl())
    now = clock.now()
    assert _passed(controls.critical_within_sla, now) == [True]
    assert _passed(controls.critical_within_sla, now + dt.timedelta(days=91)) == [False]


def test_exceptions_valid_fails_on_an_expired_exception(engineer, approver, pump, heartbleed):
    services.inventory_import(actor=engineer, target_kind="device", target_id=pump.pk, raw=openssl())
    finding = Finding.objects.get()
    exception = services.exception_request(
        actor=engineer,
        finding_id=finding.pk,
        decision="accept",
        justification="Legacy pump, replacement ordered.",
        controls=[("patching.inventory_current", f"device:{pump.pk}")],
        expires_on=clock.now().date() + dt.timedelta(days=10),
    )
    services.exception_decide(actor=approver, exception_id=exception.pk, approve=True)
    now = clock.now()
    assert _passed(controls.exceptions_valid, now) == [True]
    assert _passed(controls.exceptions_valid, now + dt.timedelta(days=11)) == [False]


def test_inventory_current_fails_on_an_old_inventory(engineer, dmz_asset):
    services.inventory_import(actor=engineer, target_kind="asset", target_id=dmz_asset.pk, raw=openssl())
    now = clock.now()
    assert _passed(controls.inventory_current, now) == [True]
    assert _passed(controls.inventory_current, now + dt.timedelta(days=91)) == [False]


def test_a_window_after_the_deadline_shows_and_fails_the_control(engineer, plannable_finding):
    assert plannable_finding.due_at is not None
    start = plannable_finding.due_at + dt.timedelta(days=1)
    plan = _plan(engineer, plannable_finding, window_start=start, window_end=start + dt.timedelta(hours=2))
    assert selectors.plan_late_finding_ids(plan=plan) == [plannable_finding.pk]
    now = clock.now()
    assert [c.passed for c in controls.plans_in_time(now)] == [False]
    earlier = clock.now() + dt.timedelta(hours=6)
    with pytest.raises(services.PatchingError) as error:
        services.plan_update(actor=engineer, plan_id=plan.pk, status="scheduled")
    assert "new window or change record" in " ".join(error.value.errors)
    services.plan_update(
        actor=engineer,
        plan_id=plan.pk,
        status="scheduled",
        window_start=earlier,
        window_end=earlier + dt.timedelta(hours=2),
    )
    assert [c.passed for c in controls.plans_in_time(now)] == [True]
    # The window passes and nobody applied it: the control fails again.
    assert [c.passed for c in controls.plans_in_time(now + dt.timedelta(days=1))] == [False]
