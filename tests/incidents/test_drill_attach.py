"""Drills become evidence (ADR 1413): a scheduled drill's result and timing
attach to an exercise automatically, on the case's timeline for the report
and in its audit trail, and the annual-exercise control counts it."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward.audit.models import AuditEvent
from safeward.detection.triage import InvalidTransition, TriageError
from safeward.incidents import case_services, controls, services
from safeward.incidents.case_services import DrillResult, drill_result_attach
from safeward.incidents.models import Incident, Task, TimelineEntry

pytestmark = pytest.mark.django_db


def _result(
    at: dt.datetime, *, ref: str = "7", passed: bool = True, source: str = "restore_test"
) -> DrillResult:
    return DrillResult(
        source=source, ref=ref, at=at, passed=passed, seconds=42.123, summary="12 tables matched"
    )


def test_the_first_drill_of_a_quarter_opens_its_exercise_and_the_next_join_it(frozen_clock):
    now = frozen_clock.now()
    assert not next(controls.annual_exercise(now)).passed
    first = drill_result_attach(result=_result(now))
    assert first.is_exercise
    assert first.title == "Restore drill 2026-Q4"
    assert not Task.objects.filter(incident=first, due_at__isnull=False).exists()
    drill = first.exercise["drills"][0]
    assert (drill["ref"], drill["passed"], drill["seconds"]) == ("7", True, 42.12)
    assert TimelineEntry.objects.filter(incident=first, ref="drill:restore_test:7", for_report=True).exists()
    assert AuditEvent.objects.filter(
        resource_type="Incident", resource_id=str(first.pk), detail__change="exercise_drill"
    ).exists()
    assert next(controls.annual_exercise(now)).passed

    second = drill_result_attach(result=_result(now + dt.timedelta(days=7), ref="8", passed=False))
    assert second.pk == first.pk
    assert [d["passed"] for d in second.exercise["drills"]] == [True, False]
    next_quarter = drill_result_attach(result=_result(now + dt.timedelta(days=70), ref="9"))
    assert next_quarter.pk != first.pk
    assert next_quarter.title == "Restore drill 2027-Q1"


def test_a_named_exercise_gets_the_result_and_wrong_targets_are_refused(frozen_clock, make_user):
    officer = make_user("security_officer")
    tabletop = case_services.incident_create(
        actor=officer,
        title="Ransomware tabletop",
        category="ransomware",
        severity="low",
        is_exercise=True,
        scenario="Encrypted file servers on a Friday night",
    )
    attached = drill_result_attach(result=_result(frozen_clock.now()), incident_id=tabletop.pk, actor=officer)
    assert attached.pk == tabletop.pk
    assert Incident.objects.filter(is_exercise=True).count() == 1  # no automatic exercise opened
    real = case_services.incident_create(actor=officer, title="Real", category="other", severity="low")
    with pytest.raises(InvalidTransition):
        drill_result_attach(result=_result(frozen_clock.now()), incident_id=real.pk)
    services.incident_status_set(actor=officer, incident_id=tabletop.pk, status="closed", reason="Held")
    with pytest.raises(InvalidTransition):
        drill_result_attach(result=_result(frozen_clock.now()), incident_id=tabletop.pk)
    with pytest.raises(TriageError, match="Unknown kind"):
        drill_result_attach(result=_result(frozen_clock.now(), source="fire_alarm"))
    tabletop.refresh_from_db()
    assert len(tabletop.exercise["drills"]) == 1


def _scenario(code: str, *, seconds: float | None):
    from safeward.detection.drills.runner import RuleHit, ScenarioResult

    result = ScenarioResult(code=code, expected=("mass_access",))
    if seconds is not None:
        result.hits["mass_access"] = RuleHit(
            rule="mass_access", alert_id=1, seconds=seconds, lag=0.1, grouped=False, is_drill=True
        )
    return result


def test_a_drill_run_joins_the_quarters_detection_drill_exercise(frozen_clock):
    """ADR 1414: `safeward drill run` hands its run to incidents (registered in
    ready()); the quarter's detection-drill exercise records it and the
    annual-exercise control counts it apart from the restore drills."""
    from safeward.detection.drills import runner

    now = frozen_clock.now()
    drill_result_attach(result=_result(now))  # a restore drill this quarter
    run = runner.run_record(
        [_scenario("mass_lookup", seconds=24.9), _scenario("stuffing", seconds=3.2)], at=now
    )
    assert run.passed
    exercise = Incident.objects.get(is_exercise=True, exercise__drill_source="attack_drill")
    assert exercise.title == "Detection drill 2026-Q4"
    drill = exercise.exercise["drills"][0]
    assert (drill["ref"], drill["passed"], drill["seconds"]) == (run.ref, True, 24.9)
    assert drill["summary"] == "mass_lookup detected in 24.9 s; stuffing detected in 3.2 s"
    assert TimelineEntry.objects.filter(incident=exercise, ref=f"drill:attack_drill:{run.ref}").exists()

    frozen_clock.advance(hours=1)
    missed = runner.run_record([_scenario("mass_lookup", seconds=None)], at=frozen_clock.now())
    assert not missed.passed
    exercise.refresh_from_db()
    assert [d["passed"] for d in exercise.exercise["drills"]] == [True, False]
    assert exercise.exercise["drills"][1]["summary"] == "mass_lookup NOT detected"

    evidence = next(controls.annual_exercise(frozen_clock.now())).evidence
    assert evidence["by_quarter"] == {"2026-Q4": {"restore_test": 1, "attack_drill": 2}}


def test_a_tabletop_is_counted_in_its_quarter(frozen_clock, make_user):
    officer = make_user("security_officer")
    tabletop = case_services.incident_create(
        actor=officer,
        title="Downtime tabletop",
        category="ransomware",
        severity="low",
        is_exercise=True,
        scenario="The EHR is down for a night",
    )
    assert (tabletop.exercise["kind"], tabletop.exercise["quarter"]) == ("tabletop", "2026-Q4")
    frozen_clock.advance(days=70)
    case_services.incident_create(
        actor=officer,
        title="Phishing tabletop",
        category="other",
        severity="low",
        is_exercise=True,
        scenario="A clinician's account phished",
    )
    evidence = next(controls.annual_exercise(frozen_clock.now())).evidence
    assert evidence["by_quarter"] == {"2026-Q4": {"tabletop": 1}, "2027-Q1": {"tabletop": 1}}


def test_a_drill_run_named_to_an_exercise_joins_it_and_wrong_ones_are_refused(frozen_clock, make_user):
    """ADR 1417: `drill run --exercise ID` hands the id with the run; the
    runner's check refuses an unknown, real or closed case before the run."""
    from safeward.detection.drills import runner
    from safeward.detection.triage import UnknownObject

    officer = make_user("security_officer")
    tabletop = case_services.incident_create(
        actor=officer, title="Tabletop", category="snooping", severity="low", is_exercise=True, scenario="x"
    )
    run = runner.run_record(
        [_scenario("mass_lookup", seconds=5.0)], at=frozen_clock.now(), exercise_id=tabletop.pk
    )
    tabletop.refresh_from_db()
    assert [d["ref"] for d in tabletop.exercise["drills"]] == [run.ref]
    assert not Incident.objects.filter(exercise__drill_source="attack_drill").exists()
    with pytest.raises(UnknownObject, match="There is no case #999999"):
        runner.exercise_check(999_999)
    real = case_services.incident_create(actor=officer, title="Real", category="other", severity="low")
    with pytest.raises(InvalidTransition, match="not an exercise"):
        runner.exercise_check(real.pk)
    services.incident_status_set(actor=officer, incident_id=tabletop.pk, status="closed", reason="Held")
    with pytest.raises(InvalidTransition, match="is closed"):
        runner.exercise_check(tabletop.pk)
    with pytest.raises(InvalidTransition, match="is closed"):
        runner.run_record(
            [_scenario("mass_lookup", seconds=5.0)], at=frozen_clock.now(), exercise_id=tabletop.pk
        )
    tabletop.refresh_from_db()
    assert len(tabletop.exercise["drills"]) == 1
