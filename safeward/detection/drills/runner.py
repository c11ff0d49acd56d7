"""Run drill scenarios and measure detection.

For each scenario: prepare (accounts, decoys), note the audit trail's last
event id, replay the attack over HTTP, find the attack's first audit event,
then poll the alerts (the core's `alerts_for` selector) until every expected
rule has fired for the drill's accounts or decoys, or the timeout passes.
The detection time is the alert row's `created_at` (or, when the finding was
grouped into an alert that was still open from an earlier drill, the
`updated_at` at which it grew) minus the `occurred_at` of the attack's first
audit event.
"""

from __future__ import annotations

import datetime as dt
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Max, Q

from safeward import clock
from safeward.audit.models import AuditEvent
from safeward.detection import selectors as detection_selectors
from safeward.detection.drills import accounts
from safeward.detection.drills.client import DrillHTTPError
from safeward.detection.drills.scenarios import SCENARIOS, DrillContext, DrillSetupError, Scenario, Trace
from safeward.detection.models import Alert, AlertEvidence
from safeward.detection.triage import TriageError

POLL_SECONDS = 0.25
Say = Callable[[str], None]


@dataclass(frozen=True)
class RuleHit:
    rule: str
    alert_id: int
    seconds: float | None  # from the attack's first event to the alert row
    lag: float  # from the alert's triggering (last) evidence event to the alert row
    grouped: bool  # grown from an alert opened before this run
    is_drill: bool


@dataclass
class ScenarioResult:
    code: str
    expected: tuple[str, ...]
    hits: dict[str, RuleHit] = field(default_factory=dict)
    first_event_id: int | None = None
    first_event_at: dt.datetime | None = None
    error: str = ""
    notes: list[str] = field(default_factory=list)
    unmarked_alerts: set[int] = field(default_factory=set)  # alerts about the drill not marked as drill

    @property
    def missing(self) -> list[str]:
        return [rule for rule in self.expected if rule not in self.hits]

    @property
    def unmarked(self) -> list[int]:
        """Alerts about the drill that are not marked as a drill."""
        return sorted(self.unmarked_alerts)

    @property
    def detected(self) -> bool:
        return not self.error and not self.missing

    @property
    def passed(self) -> bool:
        return self.detected and not self.unmarked

    @property
    def lag(self) -> float | None:
        """The slowest expected rule's time from its triggering event to its alert."""
        lags = [self.hits[rule].lag for rule in self.expected if rule in self.hits]
        return max(lags) if lags else None

    @property
    def seconds(self) -> float | None:
        """When the scenario counts as detected: the last expected rule's alert."""
        times = [self.hits[rule].seconds for rule in self.expected if rule in self.hits]
        known = [t for t in times if t is not None]
        return max(known) if known and len(known) == len(self.expected) else None


def audit_watermark() -> int:
    return int(AuditEvent.objects.aggregate(top=Max("id"))["top"] or 0)


def _attack_events(trace: Trace, after: int) -> list[tuple[int, dt.datetime, str]]:
    """(id, occurred_at, action) of the drill accounts' events since `after`."""
    who = Q(actor_username__in=sorted(trace.usernames)) | Q(actor_id__in=sorted(trace.user_ids))
    return list(
        AuditEvent.objects.filter(who, id__gt=after).order_by("id").values_list("id", "occurred_at", "action")
    )


def _relevant(alert: Alert, trace: Trace, event_ids: set[int]) -> bool:
    if alert.subject_user_id in trace.user_ids or alert.subject_username in trace.usernames:
        return True
    if alert.patient_id and alert.patient_id in trace.patient_ids:
        return True
    return bool(event_ids.intersection(detection_selectors.alert_evidence(alert_id=alert.pk)))


def _earlier(hit: RuleHit, known: RuleHit) -> bool:
    if hit.seconds is None or known.seconds is None:
        return False
    return hit.seconds < known.seconds


def _triggering_event_at(alert: Alert, moment: dt.datetime) -> dt.datetime:
    """When the evidence event that made the alert appear (or grow) at
    `moment` happened: the latest evidence at or before that moment."""
    latest = (
        AlertEvidence.objects.filter(alert_id=alert.pk, occurred_at__lte=moment)
        .aggregate(at=Max("occurred_at"))
        .get("at")
    )
    return latest or alert.first_event_at


class AlertWatch(threading.Thread):
    """Watches the alerts while the attack runs. An alert created by the
    attack carries its own `created_at`; one that only grew (grouped into an
    alert still open from an earlier drill) moves its `updated_at` with every
    further event, so the moment it first grew is only known by watching:
    this thread notes `updated_at` the first time each alert shows evidence
    after the drill's start."""

    def __init__(self, *, after: int) -> None:
        super().__init__(name="drill-alert-watch", daemon=True)
        self.after = after
        self.first_seen: dict[int, dt.datetime] = {}
        self.halt = threading.Event()

    def look(self) -> None:
        rows = detection_selectors.alerts_for(since_event_id=self.after).values_list("pk", "updated_at")
        for alert_id, updated_at in rows:
            self.first_seen.setdefault(alert_id, updated_at)

    def run(self) -> None:
        try:
            while not self.halt.is_set():
                self.look()
                self.halt.wait(POLL_SECONDS)
        finally:
            connection.close()

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=30)


def wait_for_detection(
    *,
    trace: Trace,
    result: ScenarioResult,
    after: int,
    started_at: dt.datetime,
    timeout: float,
    say: Say,
    watch: AlertWatch | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    announced: set[str] = set()
    while True:
        events = _attack_events(trace, after)
        attack = [(event_id, at) for event_id, at, action in events if action in trace.attack_actions]
        if attack and result.first_event_id is None:
            result.first_event_id, result.first_event_at = attack[0]
        event_ids = {event_id for event_id, _, _ in events}
        for alert in detection_selectors.alerts_for(since_event_id=after).order_by("created_at", "id"):
            known = result.hits.get(alert.rule)
            if (known is not None and known.alert_id == alert.pk) or not _relevant(alert, trace, event_ids):
                continue
            grouped = alert.created_at < started_at
            if grouped:
                seen = watch.first_seen.get(alert.pk) if watch is not None else None
                moment = min(seen, alert.updated_at) if seen is not None else alert.updated_at
            else:
                moment = alert.created_at
            seconds = (moment - result.first_event_at).total_seconds() if result.first_event_at else None
            lag = (moment - _triggering_event_at(alert, moment)).total_seconds()
            hit = RuleHit(alert.rule, alert.pk, seconds, lag, grouped, alert.is_drill)
            # Several alerts of one rule (one per grant, per patient...): the
            # first to appear is when the rule caught the attack; any of them
            # not marked as a drill is reported.
            if known is None or _earlier(hit, known):
                result.hits[alert.rule] = hit
            if not alert.is_drill:
                result.unmarked_alerts.add(alert.pk)
        for rule in sorted(set(result.hits) - announced):
            hit = result.hits[rule]
            mark = "expected" if rule in result.expected else "also"
            timing = f"{hit.seconds:.2f}s" if hit.seconds is not None else "?"
            say(
                f"  alert #{hit.alert_id} {rule} ({mark}) {timing} after the first attack event, "
                f"{hit.lag:.2f}s after its triggering event{' [grouped]' if hit.grouped else ''}"
            )
            announced.add(rule)
        if not result.missing or time.monotonic() >= deadline:
            return
        time.sleep(POLL_SECONDS)


def run_scenario(
    scenario: Scenario,
    *,
    base_url: str,
    tls: ssl.SSLContext | None,
    timeout: float,
    say: Say,
    ctx: DrillContext | None = None,
) -> ScenarioResult:
    ctx = ctx or DrillContext(base_url=base_url, tls=tls, say=say, rule_params=rule_params())
    result = ScenarioResult(scenario.code, scenario.expected)
    say(f"[{scenario.code}] {scenario.summary}")
    try:
        prepared = scenario.prepare(ctx)
    except (DrillHTTPError, DrillSetupError) as error:
        result.error = str(error)
        say(f"  could not prepare: {error}")
        return result
    after = audit_watermark()
    started_at = clock.now()
    watch = AlertWatch(after=after)
    watch.start()
    try:
        try:
            trace = scenario.attack(ctx, prepared)
        except DrillHTTPError as error:
            result.error = str(error)
            say(f"  could not run: {error}")
            return result
        result.notes.extend(trace.notes)
        stray = trace.patient_ids - accounts.drill_patient_ids()
        if stray:  # never by construction; a drill must not touch a real patient
            result.error = f"the scenario opened {len(stray)} patient(s) that are not drill decoys"
            say(f"  {result.error}")
            return result
        say(f"  waiting up to {timeout:.0f}s for {', '.join(scenario.expected)}")
        wait_for_detection(
            trace=trace,
            result=result,
            after=after,
            started_at=started_at,
            timeout=timeout,
            say=say,
            watch=watch,
        )
    finally:
        watch.stop()
    if result.first_event_id is None:
        result.error = "the attack left no audit event (did the requests reach the server?)"
    elif result.missing:
        say(f"  NOT DETECTED by {', '.join(result.missing)} within {timeout:.0f}s")
    return result


def rule_params() -> dict[str, dict[str, object]]:
    return {code: dict(config.params) for code, config in detection_selectors.rule_configs().items()}


def finish() -> tuple[int, int]:
    """After a run: end the drill accounts' break-glass grants, disable them.
    Returns (grants ended, accounts disabled)."""
    from django.db import transaction

    from safeward.clinical import gateway

    ended = 0
    with transaction.atomic():
        for user in accounts.drill_users():
            ended += gateway.break_glass_end_for_user(user=user, reason="attack drill ended")
    return ended, accounts.accounts_disable()


def worker_hint(after_event_id: int) -> str:
    """Why nothing may have been detected: the worker is not running or behind."""
    status = detection_selectors.worker_status()
    if status.watermark <= after_event_id:
        updated = status.updated_at.isoformat(timespec="seconds") if status.updated_at else "never"
        return (
            "the detection worker has not processed the drill's events (last update: "
            f"{updated}); is `safeward detect --follow` running?"
        )
    return ""


def summary_table(results: Iterable[ScenarioResult]) -> list[str]:
    rows = [("scenario", "result", "seconds", "lag", "expected rules", "other rules")]
    for result in results:
        if result.error:
            verdict = "ERROR"
        elif result.missing:
            verdict = "MISSED"
        elif result.unmarked:
            verdict = "NOT MARKED DRILL"
        else:
            verdict = "detected"
        seconds = f"{result.seconds:.2f}" if result.seconds is not None else "-"
        lag = f"{result.lag:.2f}" if result.lag is not None else "-"
        expected = ", ".join(
            f"{rule} {result.hits[rule].seconds:.2f}s"
            if rule in result.hits and result.hits[rule].seconds is not None
            else f"{rule} {'ok' if rule in result.hits else 'MISSING'}"
            for rule in result.expected
        )
        others = ", ".join(sorted(set(result.hits) - set(result.expected))) or "-"
        rows.append((result.code, verdict, seconds, lag, expected, others))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for number, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:5])) + "  " + row[5])
        if number == 0:
            lines.append("  ".join("-" * width for width in widths) + "  " + "-" * 11)
    return lines


@dataclass(frozen=True)
class DrillRun:
    """One `safeward drill run` as evidence: no patient, no account name."""

    ref: str
    at: dt.datetime
    passed: bool
    seconds: float  # the slowest detection among the scenarios detected
    summary: str
    exercise_id: int | None = None  # `--exercise`: this exercise, not the quarter's (ADR 1417)


# Who keeps drill runs as evidence: incidents registers the exercise attach in
# its ready() (incidents imports detection, so detection cannot import it; ADR 1414),
# and the check of a named exercise made before the run (ADR 1417).
_RUN_SINKS: list[Callable[[DrillRun], object]] = []
_EXERCISE_CHECKS: list[Callable[[int], object]] = []


def register_run_sink(sink: Callable[[DrillRun], object]) -> None:
    if sink not in _RUN_SINKS:
        _RUN_SINKS.append(sink)


def register_exercise_check(check: Callable[[int], object]) -> None:
    """`check(exercise_id)` raises a TriageError saying why a run could not attach there."""
    if check not in _EXERCISE_CHECKS:
        _EXERCISE_CHECKS.append(check)


def exercise_check(exercise_id: int) -> None:
    """Refuse a named exercise before the drill runs, not after its minutes of
    waiting for alerts (the sink checks again when it attaches)."""
    if not _EXERCISE_CHECKS:
        raise TriageError("No installed app keeps drill runs as exercise evidence.")
    for check in _EXERCISE_CHECKS:
        check(exercise_id)


def run_record(results: list[ScenarioResult], *, at: dt.datetime, exercise_id: int | None = None) -> DrillRun:
    """Hand a finished run to every registered sink, in one transaction; to
    exercise `exercise_id` when named, else to the quarter's exercise."""
    detected = [result.seconds for result in results if result.seconds is not None]
    run = DrillRun(
        ref=f"{at:%Y%m%dT%H%M%SZ}",
        at=at,
        passed=bool(results) and all(result.passed for result in results),
        seconds=max(detected, default=0.0),
        summary="; ".join(
            f"{result.code} {'detected' if result.passed else 'NOT detected'}"
            + (f" in {result.seconds:.1f} s" if result.seconds is not None else "")
            for result in results
        ),
        exercise_id=exercise_id,
    )
    with transaction.atomic():
        for sink in _RUN_SINKS:
            sink(run)
    return run


def scenario_codes(names: Iterable[str]) -> list[str]:
    wanted: list[str] = []
    for name in names:
        if name == "all":
            wanted.extend(code for code in SCENARIOS if code not in wanted)
        elif name not in SCENARIOS:
            raise KeyError(name)
        elif name not in wanted:
            wanted.append(name)
    return wanted
