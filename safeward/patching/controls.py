"""The patching app's control tests (safeward/compliance.py, issue 17).

* `patching.kev_past_due`: no open finding of a known exploited
  vulnerability is past its due date.
* `patching.critical_within_sla`: every open critical or high finding is
  within its due date.
* `patching.exceptions_valid`: every approved exception is unexpired and its
  compensating controls pass now.
* `patching.inventory_current`: every asset and device with an inventory
  had it refreshed within the last 90 days.
* `patching.plans_in_time`: every open patch plan's window ends before its
  findings are due, and no scheduled window has passed without the patch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from safeward.compliance import Check, control
from safeward.patching import selectors
from safeward.patching.compensating import control_checks, refs_of
from safeward.patching.models import Finding

INVENTORY_MAX_AGE_DAYS = 90


def _finding_check(finding: Finding, now: dt.datetime) -> Check:
    return Check(
        "vuln-finding",
        str(finding.pk),
        f"{finding.advisory.osv_id} on {finding.target_kind} {finding.target_id}",
        passed=finding.due_at is None or finding.due_at >= now,
        evidence={
            "advisory": finding.advisory.osv_id,
            "severity": finding.severity,
            "kev": finding.kev,
            "component": f"{finding.component_name} {finding.component_version}",
            "due_at": finding.due_at.isoformat() if finding.due_at else None,
        },
    )


@control(
    "patching.kev_past_due",
    title="No known exploited vulnerability is open past its due date",
    maps=("hicp:7.M.D", "hicp:7.S.A", "hipaa:164.308(a)(1)(ii)(B)", "iso27001-2022:A.8.8", "csf2:ID.RA-01"),
)
def kev_past_due(now: dt.datetime) -> Iterator[Check]:
    for finding in selectors.findings_open().filter(kev=True):
        yield _finding_check(finding, now)


@control(
    "patching.critical_within_sla",
    title="Every open critical and high finding is within its remediation deadline",
    maps=("hicp:7.M.D", "hicp:7.L.B", "hipaa:164.308(a)(1)(ii)(B)", "iso27001-2022:A.8.8", "csf2:PR.PS-02"),
)
def critical_within_sla(now: dt.datetime) -> Iterator[Check]:
    for finding in selectors.findings_open().filter(severity__in=["critical", "high"]):
        yield _finding_check(finding, now)


@control(
    "patching.exceptions_valid",
    title="Every approved vulnerability exception is unexpired and its compensating controls pass",
    maps=("hicp:10.M.B", "hicp:9.L.A", "hipaa:164.308(a)(1)(ii)(B)", "iso27001-2022:A.8.8", "csf2:ID.RA-01"),
)
def exceptions_valid(now: dt.datetime) -> Iterator[Check]:
    exceptions = list(selectors.exceptions_list(status="approved"))
    # Each control test runs once for all the exceptions that name it.
    verdicts = control_checks((ref for e in exceptions for ref in refs_of(e.controls)), now)
    for exception in exceptions:
        failing = [
            f"{control_id} {resource_id}"
            for control_id, resource_id in refs_of(exception.controls)
            if verdicts[(control_id, resource_id)] is not True
        ]
        expired = exception.expires_on < now.date()
        yield Check(
            "vuln-exception",
            str(exception.pk),
            f"exception {exception.pk} on finding {exception.finding_id}",
            passed=not failing and not expired,
            evidence={"expires_on": exception.expires_on.isoformat(), "failing_controls": failing[:10]},
        )


@control(
    "patching.inventory_current",
    title="Every software inventory was refreshed within 90 days",
    maps=("hicp:7.M.A", "hicp:9.M.D", "iso27001-2022:A.8.8", "csf2:ID.RA-01"),
)
def inventory_current(now: dt.datetime) -> Iterator[Check]:
    for inventory in selectors.inventories_current():
        yield Check(
            "software-inventory",
            f"{inventory.target_kind}:{inventory.target_id}",
            f"{inventory.target_kind} {inventory.target_id}",
            passed=inventory.imported_at >= now - dt.timedelta(days=INVENTORY_MAX_AGE_DAYS),
            evidence={
                "imported_at": inventory.imported_at.isoformat(),
                "components": inventory.component_count,
            },
        )


@control(
    "patching.plans_in_time",
    title="Every open patch plan's window ends before its findings' deadlines, and none was missed",
    maps=("hicp:7.M.D", "hipaa:164.308(a)(1)(ii)(B)", "iso27001-2022:A.8.8", "csf2:PR.PS-02"),
)
def plans_in_time(now: dt.datetime) -> Iterator[Check]:
    for plan in selectors.plans_list(status="open"):
        late = selectors.plan_late_finding_ids(plan=plan)
        missed = plan.status == "scheduled" and plan.window_end < now
        yield Check(
            "patch-plan",
            str(plan.pk),
            f"patch plan {plan.pk} ({plan.target_kind} {plan.target_id})",
            passed=not late and not missed,
            evidence={
                "status": plan.status,
                "window_end": plan.window_end.isoformat(),
                "change_ref": plan.change_ref,
                "findings_due_before_window_end": late[:20],
                "window_passed_unapplied": missed,
            },
        )
