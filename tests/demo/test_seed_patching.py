"""The demo's vulnerabilities: Heartbleed on both interface engine servers,
critical and KEV-listed, due sooner in the DMZ than in the data centre; the
pump fleet's exception approved by a second person and about to expire;
SafeWard's own SBOM registered; the engines' patch plans, one scheduled
under a change record, one waiting for it, both before their deadlines;
seeding twice changes nothing."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from safeward import clock
from safeward.demo.patching import EHR_APP, ENGINE_DC, ENGINE_DMZ, PUMPS
from safeward.patching import controls, selectors
from safeward.patching.models import Finding

pytestmark = pytest.mark.django_db


def _asset(name: str) -> int:
    from safeward.assets.selectors import assets_list

    return assets_list(query=name).get(name=name).pk


def test_the_demo_shows_heartbleed_by_zone_and_an_exception_about_to_expire(seeded_demo):
    dmz = Finding.objects.get(target_id=_asset(ENGINE_DMZ), advisory__osv_id="SAFEWARD-DEMO-2014-0160")
    dc = Finding.objects.get(target_id=_asset(ENGINE_DC), advisory__osv_id="SAFEWARD-DEMO-2014-0160")
    assert dmz.severity == dc.severity == "critical"
    assert dmz.kev
    assert dc.kev
    assert (dmz.due_at - dmz.detected_at).days == 14
    assert (dc.due_at - dc.detected_at).days == 30
    top = selectors.findings_list(state="open")[0]
    assert top.advisory.osv_id == "SAFEWARD-DEMO-2014-0160"
    approved = list(selectors.exceptions_list(status="approved"))
    assert len(approved) == 1
    exception = approved[0]
    assert exception.finding.target_id == _asset(PUMPS)
    assert exception.requested_by.username == "demo.biomedical_engineer"
    assert exception.approved_by.username == "demo.compliance_officer"
    assert (exception.expires_on - clock.now().date()).days == 5
    assert all(check.passed for check in controls.exceptions_valid(clock.now()))
    assert selectors.inventories_current().filter(component_count__gt=20).exists()  # SafeWard's own SBOM
    plans = {plan.target_id: plan for plan in selectors.plans_list(status="open")}
    assert plans[_asset(ENGINE_DMZ)].status == "scheduled"
    assert plans[_asset(ENGINE_DMZ)].change_ref == "CHG0031234"
    assert list(plans[_asset(ENGINE_DMZ)].findings.all()) == [dmz]
    assert plans[_asset(ENGINE_DC)].status == "planned"
    assert all(check.passed for check in controls.plans_in_time(clock.now()))
    counts = (Finding.objects.count(), selectors.inventories_current().count(), len(approved), len(plans))
    call_command("demo", "seed")  # idempotent
    assert (
        Finding.objects.count(),
        selectors.inventories_current().count(),
        selectors.exceptions_list(status="approved").count(),
        selectors.plans_list(status="").count(),
    ) == counts


def test_the_demo_has_a_remediation_history_to_measure(seeded_demo):
    resolved = Finding.objects.filter(state="resolved").select_related("advisory")
    fixed = sorted((f.advisory.osv_id, f.target_id, (f.resolved_at - f.detected_at).days) for f in resolved)
    assert fixed == sorted(
        [
            ("SAFEWARD-DEMO-2018-25032", _asset(ENGINE_DMZ), 45),
            ("SAFEWARD-DEMO-2018-25032", _asset(ENGINE_DC), 20),
            ("PYSEC-2023-74", _asset(EHR_APP), 35),
            ("PYSEC-2023-192", _asset(EHR_APP), 35),
        ]
    )
    board = selectors.dashboard()
    # The DMZ node's fix came after its 30 days: three of four in time.
    assert board.sla_met == 0.75
    by_severity = {row[0]: row for row in board.mttr_by_severity}
    assert by_severity["high"][1] == 3  # zlib twice, urllib3
    assert by_severity["medium"][1:3] == (1, 35.0)  # requests
    assert sum(1 for _, days in board.mttr if days is not None) >= 2
    assert board.mttr_by_department
    # Today's picture is untouched: the EHR server's current packages are the fixed ones.
    ehr = selectors.inventory_for(target_kind="asset", target_id=_asset(EHR_APP))
    assert {c.name: c.version for c in ehr.components.all()}["requests"] == "2.32.3"
    call_command("demo", "seed")
    assert Finding.objects.filter(state="resolved").count() == 4
