"""docs/clinical-policy.md is the decision table; every row of it is a test
case here. The table is parsed from the document and each cell is compared
with `policy.decide`, so the document and the code cannot drift apart.

To regenerate the tables after a deliberate policy change:
    .venv/bin/python -m tests.clinical.test_policy_table   (prints the Markdown)
and review the diff of docs/clinical-policy.md like code."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from safeward.clinical import policy
from safeward.clinical.policy import (
    AccessContext,
    Action,
    Effect,
    Relationship,
    Resource,
    Section,
    Subject,
    WorkforceLevel,
)
from safeward.identity.permissions import Perm
from safeward.identity.roles import CATALOG

DOC = Path(__file__).resolve().parents[2] / "docs" / "clinical-policy.md"
RELATIONSHIPS = ["care_team", "attending", "department", "appointment_today", "none"]
DATA_KINDS = ["normal", "confidential", "excluded", "payer_restricted"]
WRITE_SECTIONS = [
    Section.DEMOGRAPHICS,
    Section.APPOINTMENTS,
    Section.ENCOUNTERS,
    Section.NOTES,
    Section.PROBLEMS,
    Section.MEDICATIONS,
    Section.ORDERS,
    Section.RESULTS,
    Section.CARE_TEAM,
]
ROLES = {spec.code: spec for spec in CATALOG}


def subject(role: str, workforce: WorkforceLevel = WorkforceLevel.FULL) -> Subject:
    return Subject(
        user_id=1, permissions=frozenset(p.value for p in ROLES[role].permissions), workforce=workforce
    )


def resource(relationship: str, data: str) -> Resource:
    rels = frozenset() if relationship == "none" else frozenset({Relationship(relationship)})
    return Resource(
        patient_id="p",
        relationships=rels,
        confidential=data == "confidential",
        excluded_by_patient=data == "excluded",
        payer_restricted=data == "payer_restricted",
    )


def cell(decision: policy.Decision, mask: frozenset[Section]) -> str:
    if decision.effect is Effect.PERMIT:
        text = "permit+S" if decision.include_sensitive else "permit"
        if decision.sections != mask:
            text += " -" + ",".join(sorted(s.value for s in mask - decision.sections))
        return text
    return "break-glass" if decision.effect is Effect.BREAK_GLASS else "deny"


def read_cell(role: str, relationship: str, data: str) -> str:
    decision = policy.decide(subject(role), resource(relationship, data), Action.READ, AccessContext())
    return cell(decision, policy.role_sections(subject(role)))


def write_cell(role: str, section: Section, relationship: str) -> str:
    decision = policy.decide(
        subject(role), resource(relationship, "normal"), Action.CREATE, AccessContext(), section=section
    )
    return {Effect.PERMIT: "permit", Effect.BREAK_GLASS: "break-glass", Effect.DENY: "deny"}[decision.effect]


def render_tables() -> str:
    lines = ["<!-- table:masks -->", "| role | sections disclosed when permitted |", "|---|---|"]
    for role in ROLES:
        sections = sorted(s.value for s in policy.role_sections(subject(role)))
        lines.append(f"| {role} | {', '.join(sections) or '—'} |")
    lines += ["", "<!-- table:read -->", "| role | data | " + " | ".join(RELATIONSHIPS) + " |"]
    lines.append("|---|---|" + "---|" * len(RELATIONSHIPS))
    for role in ROLES:
        for data in DATA_KINDS:
            cells = [read_cell(role, rel, data) for rel in RELATIONSHIPS]
            lines.append(f"| {role} | {data} | " + " | ".join(cells) + " |")
    lines += ["", "<!-- table:write -->", "| role | writes | " + " | ".join(RELATIONSHIPS) + " |"]
    lines.append("|---|---|" + "---|" * len(RELATIONSHIPS))
    for role in ROLES:
        for section in WRITE_SECTIONS:
            cells = [write_cell(role, section, rel) for rel in RELATIONSHIPS]
            if set(cells) == {"deny"}:
                continue
            lines.append(f"| {role} | {section.value} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _table(name: str) -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    block = text.split(f"<!-- table:{name} -->", 1)[1].strip().split("\n\n", 1)[0]
    rows = [line for line in block.splitlines() if line.startswith("|")][2:]
    return [[c.strip() for c in row.strip("|").split("|")] for row in rows]


def test_mask_table_matches_policy():
    rows = {r[0]: r[1] for r in _table("masks")}
    assert set(rows) == set(ROLES), "every role of the catalog has a row"
    for role, sections in rows.items():
        expected = ", ".join(sorted(s.value for s in policy.role_sections(subject(role)))) or "—"
        assert sections == expected, role


def test_section_permission_table_matches_policy():
    rows = {r[0]: r[1] for r in _table("section-permissions")}
    assert set(rows) == {s.value for s in Section}, "every section has a row"
    for section, perms in policy.SECTION_PERMISSIONS.items():
        assert rows[section.value] == ", ".join(sorted(p.value for p in perms)), section


READ_ROWS = [
    (r[0], r[1], rel, value) for r in _table("read") for rel, value in zip(RELATIONSHIPS, r[2:], strict=True)
]


@pytest.mark.parametrize(("role", "data", "relationship", "expected"), READ_ROWS)
def test_read_table_row(role, data, relationship, expected):
    assert read_cell(role, relationship, data) == expected


def test_read_table_covers_every_role_and_case():
    covered = {(r, d) for r, d, _, _ in READ_ROWS}
    assert covered == {(r, d) for r in ROLES for d in DATA_KINDS}


WRITE_ROWS = [
    (r[0], r[1], rel, value) for r in _table("write") for rel, value in zip(RELATIONSHIPS, r[2:], strict=True)
]


@pytest.mark.parametrize(("role", "section", "relationship", "expected"), WRITE_ROWS)
def test_write_table_row(role, section, relationship, expected):
    assert write_cell(role, Section(section), relationship) == expected


def test_write_table_lists_every_permitted_write():
    listed = {(r, s) for r, s, _, _ in WRITE_ROWS}
    for role in ROLES:
        for section in WRITE_SECTIONS:
            cells = {write_cell(role, section, rel) for rel in RELATIONSHIPS}
            assert (cells == {"deny"}) == ((role, section.value) not in listed), (role, section)


# --- the gates (written as prose + a small table in the document) ---------------------------------
@pytest.mark.parametrize(
    ("workforce", "action", "expected"),
    [
        (WorkforceLevel.ENDED, Action.READ, "deny"),
        (WorkforceLevel.BLOCKED, Action.READ, "deny"),
        (WorkforceLevel.CLINICAL_READ_ONLY, Action.READ, "permit+S"),
        (WorkforceLevel.CLINICAL_READ_ONLY, Action.CREATE, "deny"),
        (WorkforceLevel.TRAINING_DUE, Action.CREATE, "permit"),
        (WorkforceLevel.UNMANAGED, Action.READ, "permit+S"),
    ],
)
def test_workforce_gate(workforce, action, expected):
    decision = policy.decide(
        subject("physician", workforce),
        resource("care_team", "normal"),
        action,
        AccessContext(),
        section=Section.NOTES if action is Action.CREATE else None,
    )
    got = cell(decision, policy.role_sections(subject("physician"))) if action is Action.READ else None
    if action is Action.CREATE:
        got = "permit" if decision.permitted else "deny"
    assert got == expected
    gates = _table("gates")
    assert [workforce.value, action.value, expected] in [r[:3] for r in gates]


def test_zone_gate_denies_even_break_glass():
    unreachable = AccessContext(reachable=False, reachable_reason="remote_access_not_permitted")
    grant = Resource(patient_id="p", break_glass_active=True)
    decision = policy.decide(subject("nurse"), grant, Action.READ, unreachable)
    assert decision.effect is Effect.DENY
    assert decision.reason == "zone_remote_access_not_permitted"


def test_break_glass_grant_permits_everything_of_the_role_with_sensitive():
    grant = Resource(patient_id="p", break_glass_active=True, confidential=True, excluded_by_patient=True)
    decision = policy.decide(subject("physician"), grant, Action.READ, AccessContext(purpose="ETREAT"))
    assert decision.permitted
    assert decision.emergency
    assert decision.include_sensitive
    assert decision.sections == policy.role_sections(subject("physician"))


@pytest.mark.parametrize("purpose", sorted(policy.PRIVACY_OFFICE_PURPOSES))
@pytest.mark.parametrize("role", list(ROLES))
def test_the_accounting_search_is_the_privacy_office_s_and_demographics_only(role, purpose):
    patient = Resource(patient_id="p", confidential=True, excluded_by_patient=True)
    accounting = AccessContext(purpose=purpose)
    decision = policy.decide(subject(role), patient, Action.SEARCH, accounting)
    if role == "privacy_officer":
        assert decision.permitted
        assert decision.sections == frozenset({Section.DEMOGRAPHICS})
        assert not decision.include_sensitive
    else:
        assert decision.effect is Effect.DENY, role
    # The purpose opens nothing but the search.
    assert not policy.decide(subject(role), patient, Action.READ, accounting).permitted
    ended = policy.decide(subject(role, WorkforceLevel.ENDED), patient, Action.SEARCH, accounting)
    assert ended.effect is Effect.DENY
    away = AccessContext(reachable=False, reachable_reason="remote_access_not_permitted", purpose=purpose)
    assert not policy.decide(subject(role), patient, Action.SEARCH, away).permitted


def test_search_discloses_demographics_only():
    decision = policy.decide(subject("physician"), resource("none", "normal"), Action.SEARCH, AccessContext())
    assert decision.permitted
    assert decision.sections == frozenset({Section.DEMOGRAPHICS})


def test_system_actor_writes_but_never_reads():
    system = Subject(user_id=None, permissions=frozenset(), system=True)
    assert policy.decide(system, Resource(), Action.CREATE, AccessContext(), section=Section.NOTES).permitted
    assert not policy.decide(system, resource("none", "normal"), Action.READ, AccessContext()).permitted


def test_write_needs_a_section():
    with pytest.raises(ValueError, match="section"):
        policy.decide(subject("physician"), resource("care_team", "normal"), Action.CREATE, AccessContext())


def discharge_cell(role: str, relationship: str, data: str) -> str:
    decision = policy.decide(subject(role), resource(relationship, data), Action.DISCHARGE, AccessContext())
    return {Effect.PERMIT: "permit", Effect.BREAK_GLASS: "break-glass", Effect.DENY: "deny"}[decision.effect]


def render_discharge_table() -> str:
    lines = ["<!-- table:discharge -->", "| role | data | " + " | ".join(RELATIONSHIPS) + " |"]
    lines.append("|---|---|" + "---|" * len(RELATIONSHIPS))
    for role in ROLES:
        for data in DATA_KINDS:
            cells = [discharge_cell(role, rel, data) for rel in RELATIONSHIPS]
            if set(cells) != {"deny"}:
                lines.append(f"| {role} | {data} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def test_discharge_table_matches_policy():
    rows = _table("discharge")
    shown = {(r[0], r[1]) for r in rows}
    for role in ROLES:
        for data in DATA_KINDS:
            if (role, data) not in shown:
                assert {discharge_cell(role, rel, data) for rel in RELATIONSHIPS} == {"deny"}, (role, data)
    for role, data, *cells in rows:
        assert cells == [discharge_cell(role, rel, data) for rel in RELATIONSHIPS], (role, data)


def administer_cell(role: str, relationship: str, data: str) -> str:
    decision = policy.decide(subject(role), resource(relationship, data), Action.ADMINISTER, AccessContext())
    if decision.permitted:
        assert decision.sections == frozenset({Section.MEDICATIONS})
    return {Effect.PERMIT: "permit", Effect.BREAK_GLASS: "break-glass", Effect.DENY: "deny"}[decision.effect]


def render_administer_table() -> str:
    lines = ["<!-- table:administer -->", "| role | data | " + " | ".join(RELATIONSHIPS) + " |"]
    lines.append("|---|---|" + "---|" * len(RELATIONSHIPS))
    for role in ROLES:
        for data in DATA_KINDS:
            cells = [administer_cell(role, rel, data) for rel in RELATIONSHIPS]
            if set(cells) != {"deny"}:
                lines.append(f"| {role} | {data} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def test_administer_table_matches_policy():
    """Who records a dose given against an order (ADR 1420): the nurse and
    the physician, each only with a relationship; nobody else."""
    rows = _table("administer")
    shown = {(r[0], r[1]) for r in rows}
    assert {role for role, _data in shown} == {"physician", "nurse"}
    for role in ROLES:
        for data in DATA_KINDS:
            if (role, data) not in shown:
                assert {administer_cell(role, rel, data) for rel in RELATIONSHIPS} == {"deny"}, (role, data)
    for role, data, *cells in rows:
        assert cells == [administer_cell(role, rel, data) for rel in RELATIONSHIPS], (role, data)


def test_administering_widens_nothing_else():
    """The nurse's new permission changes no mask and no other write: the
    nurse still never writes an order (the medications section)."""
    nurse = subject("nurse")
    assert policy.role_sections(nurse) == policy.role_sections(
        dataclasses.replace(
            nurse, permissions=nurse.permissions - {Perm.CLINICAL_MEDICATION_ADMINISTER.value}
        )
    )
    assert {write_cell("nurse", Section.MEDICATIONS, rel) for rel in RELATIONSHIPS} == {"deny"}
    system = Subject(user_id=None, permissions=frozenset(), system=True)
    assert not policy.decide(
        system, resource("care_team", "normal"), Action.ADMINISTER, AccessContext()
    ).permitted


# --- device posture (issue 14, ADR 1012) ------------------------------------------------------------
DEVICE_ACTIONS = [Action.READ, Action.SEARCH, Action.DOWNLOAD, Action.EXPORT, Action.PRINT, Action.CREATE]
ZONES = {"clinical": True, "remote": False}


# A row's device label: a posture, or "unidentified, strict" (strict mode, ADR 1015).
STRICT_LABEL = "unidentified, strict"


def device_row_labels() -> list[tuple[str, policy.DevicePosture, bool]]:
    labels = [(d.value, d, False) for d in policy.DevicePosture]
    labels.insert(1, (STRICT_LABEL, policy.DevicePosture.UNIDENTIFIED, True))
    return labels


def device_cell(
    device: policy.DevicePosture,
    zone: str,
    action: Action,
    *,
    break_glass: bool = False,
    strict: bool = False,
) -> str:
    context = AccessContext(
        device=device,
        device_strict=strict,
        zone_clinical=ZONES[zone],
        reachable_reason="clinical_zone" if ZONES[zone] else "remote_with_recent_mfa",
    )
    patient = resource("care_team", "normal")
    if break_glass:
        patient = Resource(patient_id="p", break_glass_active=True)
    decision = policy.decide(
        subject("physician"),
        patient,
        action,
        context,
        section=Section.NOTES if action is Action.CREATE else None,
    )
    if decision.permitted:
        return "permit"
    return f"deny {decision.reason}"


def render_device_table() -> str:
    header = "| device | zone | " + " | ".join(a.value for a in DEVICE_ACTIONS) + " |"
    lines = ["<!-- table:device -->", header]
    lines.append("|---|---|" + "---|" * len(DEVICE_ACTIONS))
    for label, device, strict in device_row_labels():
        for zone in ZONES:
            cells = [device_cell(device, zone, action, strict=strict) for action in DEVICE_ACTIONS]
            lines.append(f"| {label} | {zone} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


DEVICE_ROWS = [
    (r[0], r[1], action, value)
    for r in _table("device")
    for action, value in zip(DEVICE_ACTIONS, r[2:], strict=True)
]


@pytest.mark.parametrize(("device", "zone", "action", "expected"), DEVICE_ROWS)
def test_device_table_cell(device, zone, action, expected):
    strict = device == STRICT_LABEL
    posture = policy.DevicePosture.UNIDENTIFIED if strict else policy.DevicePosture(device)
    assert device_cell(posture, zone, action, strict=strict) == expected


def test_device_table_covers_every_posture_and_zone():
    expected = {(label, z) for label, _, _ in device_row_labels() for z in ZONES}
    assert {(d, z) for d, z, _, _ in DEVICE_ROWS} == expected


@pytest.mark.parametrize("device", [policy.DevicePosture.LOST, policy.DevicePosture.NON_COMPLIANT])
def test_device_refusals_override_break_glass(device):
    """A lost device, or a non-compliant one outside the hospital, gets nothing even under break-glass."""
    zone = "clinical" if device is policy.DevicePosture.LOST else "remote"
    assert device_cell(device, zone, Action.READ, break_glass=True).startswith("deny device_")


def test_a_system_actor_is_not_limited_by_a_device():
    system = Subject(user_id=None, permissions=frozenset(), system=True)
    lost = AccessContext(device=policy.DevicePosture.LOST)
    assert policy.decide(system, Resource(), Action.CREATE, lost, section=Section.NOTES).permitted


@pytest.mark.parametrize("posture", [p for p in policy.DevicePosture if p is not policy.DevicePosture.LOST])
def test_strict_mode_changes_only_an_unidentified_device(posture):
    """Strict mode limits what an unidentified device may take away, and nothing else."""
    for zone in ZONES:
        for action in DEVICE_ACTIONS:
            relaxed = device_cell(posture, zone, action)
            strict = device_cell(posture, zone, action, strict=True)
            if posture is policy.DevicePosture.UNIDENTIFIED and action in policy.LEAVING_ACTIONS:
                assert (relaxed, strict) == ("permit", "deny device_unidentified")
            else:
                assert strict == relaxed


@pytest.mark.parametrize("device", list(policy.DevicePosture))
def test_the_accounting_search_follows_the_device_gate(device):
    context = AccessContext(device=device, purpose=policy.ACCOUNTING_PURPOSE, zone_clinical=False)
    decision = policy.decide(subject("privacy_officer"), Resource(patient_id="p"), Action.SEARCH, context)
    blocked = device in (policy.DevicePosture.LOST, policy.DevicePosture.NON_COMPLIANT)
    assert decision.permitted is not blocked


if __name__ == "__main__":  # pragma: no cover - documentation helper
    print(render_tables())
    print()
    print(render_discharge_table())
    print()
    print(render_administer_table())
    print()
    print(render_device_table())


@pytest.mark.parametrize("action", [Action.SEARCH, Action.READ])
@pytest.mark.parametrize("role", list(ROLES))
def test_a_read_decision_does_not_depend_on_which_patient(role, action):
    """Lists share one evaluation among patients whose facts agree
    (`gateway._admission.shown_patients`): the decision must be the same
    for any patient id, and for none."""
    for relationship in RELATIONSHIPS:
        for data in DATA_KINDS:
            one = resource(relationship, data)
            decisions = {
                policy.decide(
                    subject(role), dataclasses.replace(one, patient_id=pid), action, AccessContext()
                )
                for pid in ("p", "q", None)
            }
            assert len(decisions) == 1, (role, action, relationship, data)
