"""The audit trail's control tests (issue 18, ADR 0920): each fails on a
seeded violation and passes without it."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.audit import export
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, Outcome
from safeward.compliance import discover
from tests.audit.conftest import seal_all

pytestmark = pytest.mark.django_db

COVERED_CONTROLS = {
    "audit.chain_verified": (
        "test_chain_verified_fails_without_a_recent_successful_verification",
        "test_chain_verified_passes_after_a_successful_verification",
    ),
    "audit.sealing_current": (
        "test_sealing_fails_when_events_wait_too_long",
        "test_sealing_passes_once_sealed",
    ),
    "audit.siem_export_current": (
        "test_siem_export_fails_for_a_sink_left_behind",
        "test_siem_export_passes_when_the_sink_acknowledged_everything",
    ),
}


@pytest.fixture
def frozen_clock():
    """The clock stopped at the real now: events recorded while the test
    database was built carry real times, and sealing judges the oldest."""
    frozen = clock.FrozenClock(dt.datetime.now(dt.UTC))
    previous = clock.install(frozen)
    yield frozen
    clock.install(previous)


def run(control_id: str) -> dict[str, object]:
    return {check.resource_id: check for check in discover()[control_id].run(clock.now())}


def _verification(outcome: Outcome = Outcome.SUCCESS) -> None:
    audit_record(
        action=Action.AUDIT_VERIFY,
        outcome=outcome,
        actor_username="system:cli",
        resource_type="AuditTrail",
        detail={"seals": 3, "events": 40, "problems": 0 if outcome == Outcome.SUCCESS else 2},
        source="cli",
    )


def test_chain_verified_fails_without_a_recent_successful_verification(frozen_clock):
    check = run("audit.chain_verified")["verification"]
    assert not check.passed
    assert check.evidence["last_verified_at"] is None
    _verification()
    frozen_clock.advance(hours=25)
    assert not run("audit.chain_verified")["verification"].passed  # too old
    _verification(Outcome.ERROR)
    failed = run("audit.chain_verified")["verification"]
    assert not failed.passed  # recent, but the chain was broken
    assert failed.evidence["outcome"] == "error"
    assert failed.evidence["problems"] == 2


def test_chain_verified_passes_after_a_successful_verification(frozen_clock):
    _verification()
    frozen_clock.advance(hours=23)
    check = run("audit.chain_verified")["verification"]
    assert check.passed
    assert check.evidence["seals"] == 3


def test_sealing_fails_when_events_wait_too_long(frozen_clock):
    audit_record(action=Action.LOGIN, actor_username="someone")
    frozen_clock.advance(seconds=301)
    check = run("audit.sealing_current")["sealing"]
    assert not check.passed
    assert check.evidence["lag_seconds"] >= 301


def test_sealing_passes_once_sealed(frozen_clock):
    audit_record(action=Action.LOGIN, actor_username="someone")
    frozen_clock.advance(seconds=301)
    seal_all()
    check = run("audit.sealing_current")["sealing"]
    assert check.passed
    assert check.evidence["last_seal"] is not None


def test_siem_export_fails_for_a_sink_left_behind(frozen_clock, settings):
    assert run("audit.siem_export_current") == {}  # no sink configured, none used: not applicable
    settings.SAFEWARD_CONTROL_SIEM_SINKS = ["siem"]
    audit_record(action=Action.LOGIN, actor_username="someone")
    seal_all()
    frozen_clock.advance(minutes=16)
    check = run("audit.siem_export_current")["siem"]
    assert not check.passed
    assert check.evidence["last_error"] == "never exported"
    assert check.evidence["behind_seconds"] == 16 * 60


def test_siem_export_passes_when_the_sink_acknowledged_everything(frozen_clock, settings):
    settings.SAFEWARD_CONTROL_SIEM_SINKS = ["siem"]
    audit_record(action=Action.LOGIN, actor_username="someone")
    seal_all()
    sink = export.MemorySink(name="siem")
    export.audit_export_pending(sink=sink, encode=export.item_json_line)
    frozen_clock.advance(minutes=16)
    check = run("audit.siem_export_current")["siem"]
    assert check.passed
    assert check.evidence["acknowledged_seal"] == check.evidence["last_seal"]
    # A sink that has exported is judged even when the setting does not name it.
    settings.SAFEWARD_CONTROL_SIEM_SINKS = []
    assert run("audit.siem_export_current")["siem"].passed
