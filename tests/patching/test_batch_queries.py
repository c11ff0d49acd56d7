"""Recomputing deadlines and re-testing exceptions read their findings' targets,
KEV/EPSS and compensating controls in a fixed number of queries however many
findings there are (issue 17): before, each target's facts were a lookup of
their own, each finding two more for KEV and EPSS, each exception a run of its
control test and a save of its evaluation time."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from safeward import clock
from safeward.assets.models import AssetDependency
from safeward.assets.services import asset_create
from safeward.compliance import Check, ControlTest
from safeward.devices.models import Device
from safeward.patching import compensating, services
from safeward.patching.models import Finding, RiskException
from tests.factories import UserFactory
from tests.patching.conftest import KEV, openssl

pytestmark = pytest.mark.django_db

CONTROL = "devices.compensating_controls"
PASSING = {"passed": True}
RUNS: list[dt.datetime] = []


def _control(now: dt.datetime):
    RUNS.append(now)
    yield Check("compensating-control", "7", "pump VLAN ACL", passed=PASSING["passed"])


@pytest.fixture
def fake_control(monkeypatch):
    PASSING["passed"] = True
    RUNS.clear()
    test = ControlTest(CONTROL, "Compensating controls pass", "", ("hicp:9.M.E",), _control)
    real = compensating.discover
    monkeypatch.setattr(compensating, "discover", lambda: {**real(), test.id: test})
    return test


@pytest.fixture
def template(engineer, dmz_asset, heartbleed):
    services.kev_import(actor=None, raw=json.dumps(KEV).encode())
    services.inventory_import(actor=engineer, target_kind="asset", target_id=dmz_asset.pk, raw=openssl())
    return Finding.objects.get()


def _add_findings(template: Finding, pump: Device, start: int, stop: int) -> list[Finding]:
    """Heartbleed on targets start..stop-1, each its own: an asset with a
    dependent ward system, or a bedside device on the pump's segment."""
    made = []
    for number in range(start, stop):
        finding = copy.copy(template)
        finding.pk = None
        if number % 2:
            now = clock.now()
            device = Device.objects.create(
                kind=Device.Kind.MEDICAL,
                asset_tag=f"PUMP-{number + 100}",
                name=f"Pump {number}",
                segment=pump.segment,
                created_at=now,
                updated_at=now,
            )
            finding.target_kind, finding.target_id = "device", device.pk
        else:
            engine = asset_create(
                actor=None, values={"name": f"Engine {number}", "kind": "server", "network_zone": "dmz"}
            )
            ward = asset_create(
                actor=None,
                values={"name": f"Ward {number}", "kind": "application", "clinical_services": ["ED"]},
            )
            AssetDependency.objects.create(asset=ward, depends_on=engine)
            finding.target_kind, finding.target_id = "asset", engine.pk
        made.append(finding)
    return Finding.objects.bulk_create(made)


def _count(call) -> tuple[int, int]:
    """(every query, the reads among them) of one call."""
    with CaptureQueriesContext(connection) as captured:
        call()
    reads = sum(1 for query in captured if query["sql"].lstrip().upper().startswith("SELECT"))
    return len(captured), reads


def test_recompute_reads_targets_and_feeds_in_a_fixed_number_of_queries(template, pump):
    _add_findings(template, pump, 1, 5)
    services.findings_recompute(actor=None)  # settle: the copies take their own targets' dates
    five, _ = _count(lambda: services.findings_recompute(actor=None))
    _add_findings(template, pump, 5, 50)
    assert services.findings_recompute(actor=None) == 45
    fifty, _ = _count(lambda: services.findings_recompute(actor=None))
    assert Finding.objects.filter(state__in=Finding.OPEN_STATES).count() == 50
    # 5 findings or 50 on as many targets: the same questions (before: one more
    # per target and two per finding).
    assert fifty == five
    # And the dates read from them are right: the devices' medical clock, the KEV due date.
    device = Finding.objects.filter(target_kind="device").first()
    assert device is not None
    assert device.mitigation_due_at is not None
    assert device.kev


def _exceptions(findings: list[Finding], requester, approver) -> None:
    now = clock.now()
    RiskException.objects.bulk_create(
        RiskException(
            finding=finding,
            decision=RiskException.Decision.REDUCE,
            justification="The pump VLAN blocks heartbeat traffic.",
            controls=[{"control_id": CONTROL, "resource_id": "compensating-control:7"}],
            expires_on=now.date() + dt.timedelta(days=30),
            status=RiskException.Status.APPROVED,
            requested_by=requester,
            requested_at=now,
            approved_by=approver,
            decided_at=now,
        )
        for finding in findings
    )
    Finding.objects.filter(pk__in=[f.pk for f in findings]).update(excepted=True)


def test_valid_exceptions_are_retested_in_a_fixed_number_of_queries(template, pump, engineer, fake_control):
    approver = UserFactory(roles=["compliance_officer"])
    _exceptions([template, *_add_findings(template, pump, 1, 5)], engineer, approver)
    five, _ = _count(lambda: services.exceptions_evaluate())
    _exceptions(_add_findings(template, pump, 5, 50), engineer, approver)
    RUNS.clear()
    fifty, _ = _count(lambda: services.exceptions_evaluate())
    assert fifty == five
    assert len(RUNS) == 1  # the control test ran once for 50 exceptions, not 50 times
    assert RiskException.objects.filter(last_evaluated_at__isnull=False).count() == 50
    assert Finding.objects.filter(excepted=True).count() == 50


def test_voided_exceptions_read_their_findings_facts_in_a_fixed_number_of_queries(
    template, pump, engineer, fake_control
):
    approver = UserFactory(roles=["compliance_officer"])
    _exceptions([template, *_add_findings(template, pump, 1, 5)], engineer, approver)
    PASSING["passed"] = False
    _, five = _count(lambda: services.exceptions_evaluate())
    assert RiskException.objects.filter(status=RiskException.Status.VOIDED).count() == 5
    _exceptions(_add_findings(template, pump, 5, 50), engineer, approver)
    _, forty_five = _count(lambda: services.exceptions_evaluate())
    assert RiskException.objects.filter(status=RiskException.Status.VOIDED).count() == 50
    # Each voided exception writes (the exception, its finding, the audit event); what
    # is read for them does not grow with them.
    assert forty_five == five
    reopened = Finding.objects.filter(excepted=False, state__in=Finding.OPEN_STATES)
    assert reopened.count() == 50
    assert not reopened.filter(due_at__isnull=True).exists()
