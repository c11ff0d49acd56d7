"""The attack drills end to end: each scenario replayed over HTTP against a
live server (pytest-django's `live_server`) while the detection worker runs
in a thread (the core's `detect_pending` in a loop), and detected by the
rules it is meant to trip. Thresholds are lowered (as an operator would
with `rule_config_save`) so the module stays well under two minutes; the
drill sizes itself from whatever is configured.

Also: drill alerts and reviews are marked is_drill and stay out of the
queues; a real patient's access report and accounting of disclosures hold
nothing from a drill; bad command-line input is refused with exit status 2.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from safeward.audit import selectors as audit_selectors
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import PatientInput, SessionContext, SystemActor
from safeward.detection import selectors as detection_selectors
from safeward.detection import services as detection_services
from safeward.detection.drills import accounts, runner
from safeward.detection.drills.scenarios import (
    SCENARIOS,
    DrillContext,
    Scenario,
    Trace,
    mass_lookup_size,
    stuffing_plan,
)
from safeward.detection.models import AccessReview, Alert
from safeward.identity import services as identity_services
from safeward.identity.models import User
from tests.conftest import sign_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("drills")]

TIMEOUT = 20.0
# Small thresholds keep the drills quick; the drill reads them like any others.
TEST_RULES: dict[str, dict[str, Any]] = {
    "mass_access": {"role_thresholds": {"registration_clerk": 6}},
    "break_glass_repeat": {"threshold": 2},
}


@pytest.fixture
def hospital(transactional_db: None) -> None:
    """Loopback is the clinical network (as in the demo) and the rules run
    with the test thresholds. PostgreSQL only: the live server, the worker
    and the drill write at once, which SQLite's shared in-memory test
    database answers with "table is locked" (CI runs on PostgreSQL)."""
    if connection.vendor != "postgresql":
        pytest.skip("the live server, the detection worker and the drill write concurrently: PostgreSQL")
    identity_services.zone_save(
        actor=None, name="drill-loopback", cidrs=["127.0.0.0/8", "::1/128"], clinical=True
    )
    configs = detection_selectors.rule_configs()
    for code, params in TEST_RULES.items():
        config = configs[code]
        detection_services.rule_config_save(
            actor=None,
            code=code,
            enabled=True,
            severity=config.severity,
            params={**config.params, **params},
        )


@pytest.fixture
def detection_worker(hospital: None) -> Iterator[threading.Thread]:
    """The detection worker, as `safeward detect --follow` runs it: process
    whatever has committed, again and again, in its own thread."""
    stop = threading.Event()
    failures: list[BaseException] = []

    def follow() -> None:
        try:
            while not stop.is_set():
                detection_services.detect_pending()
                stop.wait(0.1)
        except BaseException as error:  # reported by the test below
            failures.append(error)
        finally:
            connection.close()

    worker = threading.Thread(target=follow, name="detect-follow", daemon=True)
    worker.start()
    yield worker
    stop.set()
    worker.join(timeout=30)
    assert not worker.is_alive(), "the detection worker did not stop"
    assert not failures, f"the detection worker failed: {failures[0]!r}"


def _context(live_server, lines: list[str]) -> DrillContext:
    return DrillContext(
        base_url=live_server.url, tls=None, say=lines.append, rule_params=runner.rule_params()
    )


def _drill_alerts() -> list[Alert]:
    """Alerts about a drill account or a drill decoy."""
    decoys = accounts.drill_patient_ids()
    return [
        alert
        for alert in Alert.objects.all()
        if alert.subject_username.startswith("drill.") or (alert.patient_id and alert.patient_id in decoys)
    ]


def _assert_detected(result: runner.ScenarioResult, log: str) -> None:
    """One scenario: detected by every expected rule, each alert a drill
    alert with evidence, timed from the attack's first event."""
    scenario = SCENARIOS[result.code]
    assert not result.error, f"{result.code}: {result.error}\n{log}"
    assert result.detected, f"{result.code}: missing {result.missing}\n{log}"
    assert result.passed, f"{result.code}: alerts not marked as drill {result.unmarked}\n{log}"
    assert result.first_event_at is not None
    for rule in scenario.expected:
        hit = result.hits[rule]
        assert hit.is_drill, f"{result.code}: {rule} alert not marked as drill"
        assert hit.seconds is not None
        assert 0 <= hit.seconds < TIMEOUT
        assert hit.lag >= 0
        assert not hit.grouped, f"{result.code}: {rule} grouped into an older alert"
        alert = Alert.objects.get(pk=hit.alert_id)
        assert alert.rule == rule
        assert detection_selectors.alert_evidence(alert_id=alert.pk), f"{rule} alert has no evidence"


def test_terminated_leaver_is_onboarded_used_then_refused(live_server, detection_worker):
    """With a confidentiality agreement published, the leaver goes the whole
    way: onboarded, signs in once, terminated, then refused and detected."""
    from safeward.workforce import services as workforce

    workforce.agreement_publish(actor=None, version="2026.1", title="Confidentiality", body="Keep it secret.")
    workforce.training_course_save(
        actor=None, code="privacy-101", title="Privacy", required_for_onboarding=True
    )
    lines: list[str] = []
    result = runner.run_scenario(
        SCENARIOS["terminated_login"],
        base_url=live_server.url,
        tls=None,
        timeout=TIMEOUT,
        say=lines.append,
        ctx=_context(live_server, lines),
    )
    log = "\n".join(lines)
    assert "onboarded and signed in once: signed_in" in log, log
    assert "tries to sign in with the right password: refused" in log, log
    assert result.detected, log
    leaver = User.objects.get(username__startswith="drill.leaver.")
    assert not leaver.is_active


def test_every_scenario_is_detected_and_real_reports_stay_clean(
    live_server, detection_worker, make_user, client, monkeypatch
):
    """`safeward drill run all` against the live server with the worker
    running: every scenario detected by its expected rules; drill alerts and
    reviews marked and kept out of the queues; a real patient's accounting of
    disclosures holds nothing from a drill; drill accounts disabled after."""
    # A real patient, cared for by a real physician who opens the chart.
    physician = make_user("physician", username="real.physician")
    real = gateway.patient_register(
        actor=SystemActor("test"),
        session=SessionContext.system(),
        purpose=PurposeOfUse.OPERATIONS,
        data=PatientInput(given_name="Real", family_name="Person", birth_date=dt.date(1980, 5, 1)),
    )
    gateway.care_team_add(
        actor=SystemActor("test"),
        session=SessionContext.system(),
        purpose=PurposeOfUse.OPERATIONS,
        patient_id=real.id,
        user_id=physician.pk,
        role="attending physician",
    )
    sign_in(client, physician)
    assert client.get(f"/clinical/patients/{real.id}/").status_code == 200

    # The whole command, every scenario in one run; each scenario's result is
    # recorded on its way back to the command.
    results: list[runner.ScenarioResult] = []
    run_scenario = runner.run_scenario

    def recording(*args, **kwargs):
        results.append(run_scenario(*args, **kwargs))
        return results[-1]

    monkeypatch.setattr(runner, "run_scenario", recording)
    out = io.StringIO()
    call_command("drill", "run", "all", "--base-url", live_server.url, "--timeout", str(TIMEOUT), stdout=out)
    output = out.getvalue()
    assert [result.code for result in results] == list(SCENARIOS)
    for result in results:
        _assert_detected(result, output)
    assert f"all {len(SCENARIOS)} scenario(s) detected" in output, output
    table = output[output.index("scenario  ") :]
    for code in SCENARIOS:
        row = next(line for line in table.splitlines() if line.startswith(code))
        assert " detected " in row, row

    # The drill accounts are disabled again and hold no break-glass grant.
    drill_users = accounts.drill_users()
    assert drill_users
    assert not any(user.is_active for user in drill_users)
    assert not any(
        gateway.page_banners(actor=user, break_glass=True, results=False).break_glass for user in drill_users
    )

    # The real patient's accounting of disclosures: nothing from a drill.
    events = list(audit_selectors.patient_accesses(patient_id=real.id))
    assert events
    assert not [
        e
        for e in events
        if e.actor_username.startswith("drill.") or e.actor_id in {u.pk for u in drill_users}
    ]
    privacy = make_user("privacy_officer")
    sign_in(client, privacy)
    page = client.get("/audit/disclosures/", {"patient": real.id})
    assert page.status_code == 200
    assert b"drill." not in page.content
    assert b"Drill" not in page.content
    # Drill patients are all decoys registered as drill canaries.
    decoys = accounts.drill_patient_ids()
    assert real.id not in decoys
    assert all(
        event.patient_id in decoys or not event.patient_id
        for user in drill_users
        for event in audit_selectors.audit_events_filtered(
            query=audit_selectors.EventFilter(
                start=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
                end=dt.datetime(2100, 1, 1, tzinfo=dt.UTC),
                actor_id=user.pk,
            )
        )
    )
    # The real physician's care-team access raised nothing. Every alert about a
    # drill account or decoy is marked as a drill and none reaches the queue;
    # the access reviews the drills caused are drill reviews, none open in the queue.
    assert not Alert.objects.filter(subject_user_id=physician.pk).exists()
    about_drill = _drill_alerts()
    assert about_drill
    assert all(alert.is_drill for alert in about_drill), [
        (a.rule, a.subject_username) for a in about_drill if not a.is_drill
    ]
    assert not detection_selectors.alert_queue().filter(pk__in=[a.pk for a in about_drill]).exists()
    assert AccessReview.objects.exists()
    assert all(review.is_drill for review in AccessReview.objects.all())
    assert not detection_selectors.access_reviews_open().exists()


def test_a_missed_scenario_fails_the_command_and_says_why(live_server, hospital):
    """No worker running: nothing is detected, the command says so, exit 1."""
    out = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command(
            "drill", "run", "terminated_login", "--base-url", live_server.url, "--timeout", "2", stdout=out
        )
    assert failure.value.returncode == 1
    output = out.getvalue()
    assert "MISSED" in output
    assert "inactive_account_login MISSING" in output
    assert "is `safeward detect --follow` running?" in output
    # Missed or not, the run is evidence on the quarter's detection-drill exercise (ADR 1414).
    from safeward.incidents.models import Incident

    exercise = Incident.objects.get(is_exercise=True, exercise__drill_source="attack_drill")
    assert [d["passed"] for d in exercise.exercise["drills"]] == [False]
    assert "terminated_login NOT detected" in exercise.exercise["drills"][0]["summary"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["run", "no_such_attack"], "unknown scenario"),
        (["run", "mass_lookup", "--timeout", "0"], "--timeout must be between"),
        (["run", "mass_lookup", "--base-url", "ftp://example.invalid"], "--base-url must start with"),
        (["run", "mass_lookup", "--ca-file", "/nonexistent/ca.pem"], "no such file"),
        (["run", "mass_lookup", "--exercise", "999999"], "--exercise 999999: There is no case #999999"),
    ],
)
def test_bad_arguments_are_refused_before_anything_happens(arguments, message, db):
    with pytest.raises(CommandError, match=message) as failure:
        call_command("drill", *arguments, stdout=io.StringIO())
    assert failure.value.returncode == 2
    assert not User.objects.filter(username__startswith="drill.").exists()


def _tabletop():
    from safeward.incidents import case_services

    officer = UserFactory(roles=["security_officer"])
    return officer, case_services.incident_create(
        actor=officer,
        title="Snooping tabletop",
        category="snooping",
        severity="low",
        is_exercise=True,
        scenario="A clerk browses a celebrity's chart",
    )


def test_a_closed_or_real_case_named_with_exercise_is_refused_before_the_run(db):
    from safeward.incidents import case_services, services

    officer, tabletop = _tabletop()
    real = case_services.incident_create(actor=officer, title="Real", category="other", severity="low")
    with pytest.raises(CommandError, match=f"Case #{real.pk} is not an exercise") as failure:
        call_command("drill", "run", "mass_lookup", "--exercise", str(real.pk), stdout=io.StringIO())
    assert failure.value.returncode == 2
    services.incident_status_set(actor=officer, incident_id=tabletop.pk, status="closed", reason="Held")
    with pytest.raises(CommandError, match="is closed; reopen it or name an open exercise"):
        call_command("drill", "run", "mass_lookup", "--exercise", str(tabletop.pk), stdout=io.StringIO())
    assert not User.objects.filter(username__startswith="drill.").exists()


def test_a_run_named_to_an_exercise_is_recorded_there(live_server, hospital):
    """ADR 1417: `--exercise ID` attaches the run to that exercise, and no
    quarter's detection-drill exercise is opened."""
    from safeward.incidents.models import Incident

    _, tabletop = _tabletop()
    out = io.StringIO()
    with pytest.raises(CommandError):  # no worker: not detected, but recorded all the same
        call_command(
            "drill", "run", "terminated_login", "--base-url", live_server.url, "--timeout", "2",
            "--exercise", str(tabletop.pk), stdout=out,
        )  # fmt: skip
    assert f"recorded as evidence on exercise #{tabletop.pk}" in out.getvalue()
    tabletop.refresh_from_db()
    assert [d["passed"] for d in tabletop.exercise["drills"]] == [False]
    assert not Incident.objects.filter(exercise__drill_source="attack_drill").exists()


def test_list_names_every_scenario_and_its_rules(db):
    out = io.StringIO()
    call_command("drill", "list", stdout=out)
    for scenario in SCENARIOS.values():
        assert scenario.code in out.getvalue()
        for rule in scenario.expected:
            assert rule in out.getvalue()


def test_setup_creates_only_decoys_registered_as_drill_canaries(db):
    config = detection_selectors.rule_config(code="mass_access")
    detection_services.rule_config_save(
        actor=None,
        code="mass_access",
        enabled=True,
        severity=config.severity,
        params={**config.params, "role_thresholds": {"registration_clerk": 4}},
    )
    call_command("drill", "setup", stdout=io.StringIO())
    assert detection_selectors.canaries_list().count() == 1 + 5  # the colleague and threshold + 1
    canaries = detection_selectors.canaries_list()
    assert canaries.exists()
    assert all(canary.label.startswith("drill") for canary in canaries)
    assert not detection_selectors.canaries_list(include_drills=False).exists()
    # Running it again adds nothing.
    before = canaries.count()
    call_command("drill", "setup", stdout=io.StringIO())
    assert detection_selectors.canaries_list().count() == before


def test_drill_accounts_and_labels_must_carry_the_drill_prefix(db):
    with pytest.raises(ValueError, match="drill"):
        accounts.account_prepare(accounts.AccountSpec("nurse.jones", "Jones", "nurse"))
    with pytest.raises(ValueError, match="drill"):
        accounts.decoy_ensure(accounts.DecoySpec("vip", "A", "B", "X-1"))


def test_each_run_gets_new_secrets_and_the_account_is_disabled_after(db):
    spec = accounts.AccountSpec("drill.secret", "Secret", "nurse")
    first = accounts.account_prepare(spec)
    second = accounts.account_prepare(spec)
    assert first.password != second.password
    assert first.totp_secret != second.totp_secret
    user = User.objects.get(username="drill.secret")
    assert not user.check_password(first.password)
    assert user.check_password(second.password)
    assert accounts.accounts_disable() == 1
    user.refresh_from_db()
    assert not user.is_active


def _ctx(**overrides) -> DrillContext:
    params = runner.rule_params()
    for rule, values in overrides.items():
        params[rule] = {**params[rule], **values}
    return DrillContext(base_url="", tls=None, say=lambda line: None, rule_params=params)


def test_stuffing_plan_fits_the_rules_and_the_throttles(db, settings):
    settings.SAFEWARD_THROTTLE_ACCOUNT_ADDRESS_FAILURES = 5
    settings.SAFEWARD_THROTTLE_ADDRESS_FAILURES = 20
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
    # Defaults: 3 failures before the success, 4 distinct usernames.
    plan = stuffing_plan(_ctx())
    assert (plan.accounts, plan.failures_first, plan.failures, plan.pause) == (4, 3, 6, 0.0)
    assert not plan.warnings
    # The count route is cheaper when many usernames are required.
    plan = stuffing_plan(_ctx(failed_login_address={"distinct_usernames": 50, "threshold": 12}))
    assert plan.failures == 12
    assert plan.accounts == 4  # 3 on the first, 3 on each of the others: within the throttle
    assert plan.pause > 6  # 12 failures exceed allauth's 10 per minute per address
    # A rule the throttle makes impossible is named, not silently skipped.
    plan = stuffing_plan(_ctx(login_after_failures={"failures": 9}))
    assert any("login_after_failures" in warning for warning in plan.warnings)
    plan = stuffing_plan(_ctx(failed_login_address={"distinct_usernames": 40, "threshold": 30}))
    assert any("blocks the address" in warning for warning in plan.warnings)


def test_mass_lookup_is_sized_from_the_role_threshold(db):
    assert mass_lookup_size(_ctx(mass_access={"role_thresholds": {"registration_clerk": 9}})) == 10
    assert mass_lookup_size(_ctx(mass_access={"role_thresholds": {}, "threshold": 4})) == 5


def test_summary_table_verdicts():
    hit = runner.RuleHit("mass_access", 1, 2.5, 0.1, False, True)
    detected = runner.ScenarioResult("mass_lookup", ("mass_access",), hits={"mass_access": hit})
    missed = runner.ScenarioResult("colleague_snooping", ("employee_access", "family_snooping"))
    missed.hits["employee_access"] = runner.RuleHit("employee_access", 2, 0.3, 0.3, False, True)
    failed = runner.ScenarioResult("terminated_login", ("inactive_account_login",), error="server refused")
    unmarked = runner.ScenarioResult("break_glass_abuse", ("break_glass",))
    unmarked.hits["break_glass"] = runner.RuleHit("break_glass", 3, 0.2, 0.2, False, False)
    unmarked.unmarked_alerts.add(3)
    lines = runner.summary_table([detected, missed, failed, unmarked])
    rows = {line.split()[0]: line for line in lines[2:]}
    assert "detected" in rows["mass_lookup"]
    assert "mass_access 2.50s" in rows["mass_lookup"]
    assert "MISSED" in rows["colleague_snooping"]
    assert "family_snooping MISSING" in rows["colleague_snooping"]
    assert "ERROR" in rows["terminated_login"]
    assert "NOT MARKED DRILL" in rows["break_glass_abuse"]
    assert [r.passed for r in (detected, missed, failed, unmarked)] == [True, False, False, False]


def test_a_scenario_that_touched_a_real_patient_is_an_error(hospital):
    """Guard: the drills open only drill decoys; a trace naming any other
    patient fails the scenario instead of reporting on it."""
    real = gateway.patient_register(
        actor=SystemActor("test"),
        session=SessionContext.system(),
        purpose=PurposeOfUse.OPERATIONS,
        data=PatientInput(given_name="Real", family_name="Person", birth_date=dt.date(1980, 5, 1)),
    )
    rogue = Scenario(
        "rogue",
        "Rogue",
        "Claims to have opened a real patient.",
        ("mass_access",),
        prepare=lambda ctx: None,
        attack=lambda ctx, prepared: Trace({"drill.rogue"}, set(), {real.id}, frozenset({"read"})),
    )
    lines: list[str] = []
    ctx = DrillContext(
        base_url="http://127.0.0.1:9", tls=None, say=lines.append, rule_params=runner.rule_params()
    )
    result = runner.run_scenario(rogue, base_url=ctx.base_url, tls=None, timeout=1, say=lines.append, ctx=ctx)
    assert result.error == "the scenario opened 1 patient(s) that are not drill decoys"
    assert not result.passed
