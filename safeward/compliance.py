"""The control-test contract between the apps and `assessments` (DESIGN.md,
"Contracts between apps"; issue 18; ADR 0900).

Every app that can prove a control declares it in its own `controls.py`:

    from safeward.compliance import Check, control

    @control(
        "identity.mfa_on_active_accounts",
        title="MFA on every active account",
        maps=("hipaa:164.312(d)", "iso27001-2022:A.8.5", "csf2:PR.AA-03", "hicp:3.M.A"),
    )
    def mfa_on_active_accounts(now: datetime) -> Iterator[Check]:
        for account in selectors.active_accounts():
            yield Check("account", str(account.pk), account.username,
                        passed=account.has_mfa, evidence={"mfa_types": [...]})

A test reads live state only (selectors, never writes), yields one `Check`
per resource it judged, and never puts a PHI value in a label or evidence:
resources are named by internal id, username, key name, asset tag.
`maps` names catalog entries as `<framework>:<entry id>` (frameworks in
`FRAMEWORKS`); the catalog validation test refuses ids that do not exist.

Apps import only this module; `assessments` imports none of the apps: it
discovers `<app>.controls` for every installed SafeWard app
(`discover()`), runs the tests, signs the evidence and computes every
framework's table from the results.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

# Framework keys, as they prefix catalog entry ids.
FRAMEWORKS = {
    "hipaa": "HIPAA Security Rule (45 CFR 164 Subpart C)",
    "hicp": "HHS 405(d) HICP, 2023 edition",
    "iso27001-2022": "ISO/IEC 27001:2022 Annex A",
    "csf2": "NIST Cybersecurity Framework 2.0",
    "onc": "ONC 170.315(d) privacy and security criteria",
    "iso27001-2005": "ISO/IEC 27001:2005 Annex A clauses",
}

CONTROL_ID = re.compile(r"^[a-z_]+\.[a-z0-9_]+$")
ENTRY_REF = re.compile(r"^(?P<framework>[a-z0-9-]+):(?P<entry>\S+)$")

# JSON-able evidence only: it is signed as canonical JSON.
Evidence = dict[str, Any]


@dataclass(frozen=True)
class Check:
    """One resource judged by one control test."""

    resource_type: str  # "account", "key", "alert", "asset", "policy", ...
    resource_id: str  # an internal id, never a PHI value
    label: str  # what a person recognises: username, key name, asset tag
    passed: bool
    evidence: Evidence = field(default_factory=dict)


ControlFunction = Callable[[dt.datetime], Iterable[Check]]


@dataclass(frozen=True)
class ControlTest:
    id: str  # "<app>.<name>", stable: results and exceptions refer to it
    title: str
    description: str
    maps: tuple[str, ...]
    function: ControlFunction

    @property
    def app(self) -> str:
        return self.id.split(".", 1)[0]

    def run(self, now: dt.datetime) -> list[Check]:
        return list(self.function(now))


_REGISTRY: dict[str, ControlTest] = {}


class ControlDeclarationError(ValueError):
    pass


def control(
    control_id: str, *, title: str, maps: Iterable[str], description: str = ""
) -> Callable[[ControlFunction], ControlFunction]:
    """Register `function` as control test `control_id` (see the module doc)."""
    maps = tuple(maps)
    if not CONTROL_ID.match(control_id):
        raise ControlDeclarationError(f"control id {control_id!r} is not '<app>.<name>' in lower case")
    if not maps:
        raise ControlDeclarationError(f"control {control_id} maps to no catalog entry")
    for ref in maps:
        match = ENTRY_REF.match(ref)
        if not match or match["framework"] not in FRAMEWORKS:
            raise ControlDeclarationError(
                f"control {control_id}: {ref!r} is not '<framework>:<entry>'"
                f" with a framework in {sorted(FRAMEWORKS)}"
            )

    def register(function: ControlFunction) -> ControlFunction:
        existing = _REGISTRY.get(control_id)
        if existing is not None and existing.function.__qualname__ != function.__qualname__:
            raise ControlDeclarationError(f"control id {control_id} is declared twice")
        _REGISTRY[control_id] = ControlTest(
            id=control_id,
            title=title,
            description=description or (function.__doc__ or "").strip(),
            maps=maps,
            function=function,
        )
        return function

    return register


def discover() -> dict[str, ControlTest]:
    """Import `controls` of every installed SafeWard app; every declared test, by id."""
    from django.apps import apps

    for config in apps.get_app_configs():
        if not config.name.startswith("safeward."):
            continue
        module = f"{config.name}.controls"
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
    return dict(sorted(_REGISTRY.items()))
