"""Compensating controls are control tests (ADR 1305): a reference is a
(control id, resource id) pair among what `safeward.compliance.discover()`
declares, e.g. ("devices.compensating_controls", "compensating-control:3").
Evaluated live, read-only: the control test runs and the check for that
resource decides."""

from __future__ import annotations

import datetime as dt

from safeward.compliance import discover

SELF = "patching.exceptions_valid"


def control_check(control_id: str, resource_id: str, now: dt.datetime) -> bool | None:
    """Does the live control test pass for this resource? None: no such
    control, or the control does not judge that resource (now)."""
    if control_id == SELF:
        return None  # an exception cannot be compensated by the test of exceptions
    test = discover().get(control_id)
    if test is None:
        return None
    for check in test.run(now):
        if check.resource_id == resource_id or f"{check.resource_type}:{check.resource_id}" == resource_id:
            return check.passed
    return None


def control_resources(control_id: str, now: dt.datetime) -> list[tuple[str, str, bool]]:
    """(resource id, label, passed) of every resource a control judges now."""
    test = discover().get(control_id)
    if test is None:
        return []
    return [(f"{c.resource_type}:{c.resource_id}", c.label, c.passed) for c in test.run(now)]
