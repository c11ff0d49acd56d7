"""Compensating controls are control tests (ADR 1305): a reference is a
(control id, resource id) pair among what `safeward.compliance.discover()`
declares, e.g. ("devices.compensating_controls", "compensating-control:3").
Evaluated live, read-only: the control test runs and the check for that
resource decides."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from safeward.compliance import discover

SELF = "patching.exceptions_valid"


def refs_of(controls: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """An exception's stored controls as (control id, resource id) pairs."""
    return [(str(ref.get("control_id")), str(ref.get("resource_id"))) for ref in controls]


def control_check(control_id: str, resource_id: str, now: dt.datetime) -> bool | None:
    """Does the live control test pass for this resource? None: no such
    control, or the control does not judge that resource (now)."""
    return control_checks([(control_id, resource_id)], now)[(control_id, resource_id)]


def control_checks(refs: Iterable[tuple[str, str]], now: dt.datetime) -> dict[tuple[str, str], bool | None]:
    """`control_check` of many references, each control test run once
    (the exceptions of a hospital share a handful of controls)."""
    wanted = set(refs)
    verdicts: dict[str, dict[str, bool]] = {}
    for control_id in {control_id for control_id, _ in wanted}:
        test = None if control_id == SELF else discover().get(control_id)
        # An exception cannot be compensated by the test of exceptions.
        if test is None:
            continue
        judged: dict[str, bool] = {}
        for check in test.run(now):
            # The first check naming the resource decides, by its id or as "type:id".
            judged.setdefault(check.resource_id, check.passed)
            judged.setdefault(f"{check.resource_type}:{check.resource_id}", check.passed)
        verdicts[control_id] = judged
    return {
        (control_id, resource_id): verdicts.get(control_id, {}).get(resource_id)
        for control_id, resource_id in wanted
    }


def control_resources(control_id: str, now: dt.datetime) -> list[tuple[str, str, bool]]:
    """(resource id, label, passed) of every resource a control judges now."""
    test = discover().get(control_id)
    if test is None:
        return []
    return [(f"{c.resource_type}:{c.resource_id}", c.label, c.passed) for c in test.run(now)]
