"""The rules over one batch of audit events (called by the worker inside the
batch transaction). Batch-oriented: every fact is fetched with one query
for the whole batch, and sliding windows are read back from the database
(the audit trail, the review queue, the daily counts), never kept in
process memory, so they hold across batches and restarts.

Titles and details hold codes, counts and usernames only (no patient data)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Max, OuterRef, Q, Subquery
from django.utils import timezone

from safeward.audit.models import AuditEvent, AuditEventPatient
from safeward.audit.vocabulary import Action, Outcome
from safeward.detection import baselines
from safeward.detection.explain import ACCESS_ACTIONS, Explanation, explain, is_chart_access
from safeward.detection.models import AccessReview, CanaryRecord, Severity
from safeward.detection.rules import WEEKDAYS, Code, RuleConfig, parse_hours
from safeward.detection.selectors import rule_configs
from safeward.detection.services import DRILL_CANARY_PREFIX, DRILL_PREFIX, Finding, alerts_raise
from safeward.detection.worker import Event
from safeward.identity.models import User
from safeward.identity.selectors import (
    OUTSIDE_ZONE,
    SessionSpan,
    session_spans,
    staff_departments,
    user_exists,
)

LOGIN = Action.LOGIN.value
# A wrong second-factor code at sign-in is a failed sign-in too: whoever sent
# it already knew the password.
FAILURE_ACTIONS = (Action.LOGIN.value, Action.LOGIN_THROTTLED.value, Action.MFA_CHALLENGE.value)
# Evidence is one event per patient (or attempt) in the window: an alert must
# name every patient an intruder opened (ADR 0729), so the cap only bounds a
# runaway finding.
MAX_EVIDENCE = 100_000


@dataclass
class BatchOutcome:
    alerts_created: int = 0
    alerts_grown: int = 0
    reviews: int = 0
    findings: int = 0


@dataclass
class Context:
    events: list[Event]
    now: dt.datetime
    configs: dict[str, RuleConfig]
    canaries: dict[str, str]
    canary_created: dict[str, dt.datetime] = field(default_factory=dict)
    accesses: list[Event] = field(default_factory=list)
    explanations: dict[int, Explanation] = field(default_factory=dict)
    departments: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    counts: dict[tuple[int, dt.date], int] = field(default_factory=dict)
    drill_accounts: dict[str, bool] = field(default_factory=dict)

    def on(self, code: str) -> RuleConfig | None:
        config = self.configs.get(code)
        return config if config is not None and config.enabled else None

    def unexplained(self, event: Event) -> bool:
        explanation = self.explanations.get(event.id)
        return explanation is not None and not explanation.explained

    def is_drill(self, event: Event) -> bool:
        """An event of an attack drill: made by an existing drill account (the
        prefix is reserved for them) and, if it names a patient, on a drill
        decoy. The username of a failed sign-in is whatever was typed, so it
        is checked against the accounts that exist: typing `drill.x` must not
        hide an attack from the queues."""
        name = event.actor_username
        if not name.startswith(DRILL_PREFIX):
            return False
        if name not in self.drill_accounts:
            self.drill_accounts[name] = user_exists(username=name)
        if not self.drill_accounts[name]:
            return False
        if event.patient_id:
            return self.canaries.get(event.patient_id, "").startswith(DRILL_CANARY_PREFIX)
        return True


def _who(event: Event) -> str:
    return event.actor_username or (f"user {event.actor_id}" if event.actor_id else "unknown")


def _finding(
    ctx: Context,
    config: RuleConfig,
    events: list[Event],
    *,
    title: str,
    subject: str,
    patient: bool = False,
    detail: dict[str, Any] | None = None,
    evidence: list[tuple[int, dt.datetime]] | None = None,
) -> Finding:
    first = events[0]
    last = events[-1]
    return Finding(
        rule=config.code,
        severity=config.severity,
        title=title,
        subject=subject,
        evidence=(evidence or [(event.id, event.occurred_at) for event in events])[-MAX_EVIDENCE:],
        subject_user_id=last.actor_id,
        subject_username=last.actor_username[:150],
        patient_id=first.patient_id if patient else "",
        client_ip=last.client_ip,
        # A drill only when every event is one: real events among them keep the alert in the queue.
        is_drill=all(ctx.is_drill(event) for event in events),
        group_minutes=int(config.params.get("group_minutes", 24 * 60)),
        detail=detail or {},
    )


def _by_user(events: Iterable[Event]) -> dict[int, list[Event]]:
    grouped: dict[int, list[Event]] = defaultdict(list)
    for event in events:
        if event.actor_id is not None:
            grouped[event.actor_id].append(event)
    return grouped


# --- chart-access rules -------------------------------------------------------------------------
_FLAG_RULES: tuple[tuple[str, str, str], ...] = (
    (Code.VIP_ACCESS, "vip", "VIP record opened by {who}"),
    (Code.EMPLOYEE_ACCESS, "employee", "Employee's record opened by {who}"),
    (Code.FAMILY_SNOOPING, "same_surname", "{who} opened a patient with the same surname"),
    (Code.NEIGHBOUR_SNOOPING, "same_address", "{who} opened a patient at the same address"),
    (Code.OWN_RECORD, "own_record", "{who} opened their own record"),
    (Code.DECEASED_ACCESS, "deceased", "Deceased patient's record opened by {who}"),
)


def rule_patient_flags(ctx: Context) -> list[Finding]:
    findings: list[Finding] = []
    for code, fact, title in _FLAG_RULES:
        config = ctx.on(code)
        if config is None:
            continue
        for event in ctx.accesses:
            explanation = ctx.explanations.get(event.id)
            if explanation is None or not getattr(explanation.facts, fact):
                continue
            if config.params.get("only_unexplained") and explanation.explained:
                continue
            findings.append(
                _finding(
                    ctx,
                    config,
                    [event],
                    title=title.format(who=_who(event)),
                    subject=f"user:{event.actor_id}|patient:{event.patient_id}",
                    patient=True,
                    detail={"explained_by": sorted(explanation.reasons)},
                )
            )
    return findings


def rule_canary(ctx: Context) -> list[Finding]:
    config = ctx.on(Code.CANARY_ACCESS)
    if config is None or not ctx.canaries:
        return []
    touched = [
        event
        for event in ctx.events
        if event.patient_id in ctx.canaries
        and event.action != Action.CONFIG_CHANGE.value
        and event.occurred_at > ctx.canary_created[event.patient_id]
    ]
    findings = []
    for event in touched:
        who = event.actor_id if event.actor_id is not None else event.actor_username
        findings.append(
            _finding(
                ctx,
                config,
                [event],
                title=f"Canary record touched by {_who(event)} ({event.action})",
                subject=f"user:{who}|patient:{event.patient_id}",
                patient=True,
                detail={"canary": ctx.canaries[event.patient_id][:100], "action": event.action},
            )
        )
    return findings


Seen = tuple[dt.datetime, str, int]  # (when, what: a patient or a grant, audit event id)


def _distinct_in_window(
    history: list[Seen], batch: list[Event], window: dt.timedelta
) -> tuple[int, list[tuple[int, dt.datetime]]]:
    """Distinct items in the window ending at the user's last event of the
    batch, and one supporting event per item (the evidence, earlier
    batches' included). `history` may hold one row per item (its latest
    access): the window queries aggregate in the database, so their cost
    grows with distinct patients per user, not with events."""
    end = max(event.occurred_at for event in batch)
    start = end - window
    latest: dict[str, tuple[dt.datetime, int]] = {}
    for moment, key, event_id in history:
        if start < moment <= end and (key not in latest or latest[key] < (moment, event_id)):
            latest[key] = (moment, event_id)
    evidence = sorted((event_id, moment) for moment, event_id in latest.values())
    return len(latest), evidence


def _latest_per_pair(
    rows: Any, user_field: str, key_field: str, time_field: str, id_field: str
) -> dict[int, list[Seen]]:
    """(user, item) -> the latest time and event id, grouped in the database."""
    history: dict[int, list[Seen]] = defaultdict(list)
    for user_id, key, moment, event_id in (
        rows.order_by()
        .values(user_field, key_field)
        .annotate(last=Max(time_field), last_id=Max(id_field))
        .values_list(user_field, key_field, "last", "last_id")
    ):
        if user_id is not None:
            history[user_id].append((moment, key, event_id))
    return history


def _threshold_for(config: RuleConfig, roles: tuple[str, ...]) -> int:
    per_role: dict[str, int] = config.params.get("role_thresholds", {})
    matching = [per_role[role] for role in roles if role in per_role]
    return max(matching) if matching else int(config.params["threshold"])


def rule_mass_access(ctx: Context) -> list[Finding]:
    config = ctx.on(Code.MASS_ACCESS)
    if config is None or not ctx.accesses:
        return []
    minutes = int(config.params["window_minutes"])
    window = dt.timedelta(minutes=minutes)
    users = _by_user(ctx.accesses)
    earliest = min(event.occurred_at for event in ctx.accesses) - window
    latest = max(event.occurred_at for event in ctx.accesses)
    history = _latest_per_pair(
        AuditEvent.objects.filter(
            actor_id__in=list(users),
            action__in=sorted(ACCESS_ACTIONS),
            outcome=Outcome.SUCCESS.value,
            occurred_at__gt=earliest,
            occurred_at__lte=latest,
        ).exclude(patient_id=""),
        "actor_id",
        "patient_id",
        "occurred_at",
        "id",
    )
    findings = []
    for user_id, events in users.items():
        threshold = _threshold_for(config, events[-1].roles)
        count, evidence = _distinct_in_window(history.get(user_id, []), events, window)
        if count > threshold:
            findings.append(
                _finding(
                    ctx,
                    config,
                    events,
                    evidence=evidence,
                    title=f"Mass access: {_who(events[-1])} opened {count} patients in {minutes} min",
                    subject=f"user:{user_id}",
                    detail={"distinct_patients": count, "threshold": threshold},
                )
            )
    return findings


def rule_unexplained(ctx: Context) -> list[Finding]:
    config = ctx.on(Code.UNEXPLAINED_ACCESS)
    unexplained = [event for event in ctx.accesses if ctx.unexplained(event)]
    if config is None or not unexplained:
        return []
    window = dt.timedelta(minutes=int(config.params["window_minutes"]))
    threshold = int(config.params["threshold"])
    users = _by_user(unexplained)
    earliest = min(event.occurred_at for event in unexplained) - window
    latest = max(event.occurred_at for event in unexplained)
    history = _latest_per_pair(
        AccessReview.objects.filter(
            user_id__in=list(users), occurred_at__gt=earliest, occurred_at__lte=latest
        ),
        "user_id",
        "patient_id",
        "occurred_at",
        "event_id",
    )
    findings = []
    for user_id, events in users.items():
        count, evidence = _distinct_in_window(history.get(user_id, []), events, window)
        if count >= threshold:
            findings.append(
                _finding(
                    ctx,
                    config,
                    events,
                    evidence=evidence,
                    title=f"Unexplained access: {_who(events[-1])} opened {count} unexplained charts",
                    subject=f"user:{user_id}",
                    detail={"distinct_patients": count, "threshold": threshold},
                )
            )
    return findings


def _schedule_allows(
    config: RuleConfig, roles: tuple[str, ...], departments: set[str], at: dt.datetime
) -> bool:
    """Inside any schedule that matches the user's role and department (or
    the default schedule when none matches). `days` are the days a shift
    starts: a night shift "19:00-07:00" on Monday covers Monday 19:00 to
    Tuesday 07:00."""
    local = timezone.localtime(at)
    minute = local.hour * 60 + local.minute
    today = WEEKDAYS[local.weekday()]
    yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
    matching = [
        schedule
        for schedule in config.params.get("schedules", [])
        if (not schedule.get("role") or schedule["role"] in roles)
        and (not schedule.get("department") or schedule["department"] in departments)
    ]
    for schedule in matching or [config.params["default_schedule"]]:
        start, end = parse_hours(schedule["hours"])
        if start < end:
            if today in schedule["days"] and start <= minute < end:
                return True
        elif (today in schedule["days"] and minute >= start) or (
            yesterday in schedule["days"] and minute < end
        ):
            return True
    return False


def rule_after_hours(ctx: Context) -> list[Finding]:
    config = ctx.on(Code.AFTER_HOURS)
    if config is None:
        return []
    findings = []
    for event in ctx.accesses:
        if config.params.get("only_unexplained") and not ctx.unexplained(event):
            continue
        codes = {code for _, code in ctx.departments.get(event.actor_id or 0, [])}
        if _schedule_allows(config, event.roles, codes, event.occurred_at):
            continue
        day = baselines.local_day(event.occurred_at).isoformat()
        findings.append(
            _finding(
                ctx,
                config,
                [event],
                title=f"After-hours access by {_who(event)}",
                subject=f"user:{event.actor_id}|day:{day}",
                detail={"local_time": timezone.localtime(event.occurred_at).strftime("%a %H:%M")},
            )
        )
    return findings


def rule_bulk_export(ctx: Context) -> list[Finding]:
    config = ctx.on(Code.BULK_EXPORT)
    exports = [e for e in ctx.accesses if e.action in (Action.EXPORT.value, Action.PRINT.value)]
    if config is None or not exports:
        return []
    window = dt.timedelta(minutes=int(config.params["window_minutes"]))
    threshold = int(config.params["threshold"])
    users = _by_user(exports)
    history = _latest_per_pair(
        AuditEvent.objects.filter(
            actor_id__in=list(users),
            action__in=[Action.EXPORT.value, Action.PRINT.value],
            outcome=Outcome.SUCCESS.value,
            occurred_at__gt=min(e.occurred_at for e in exports) - window,
            occurred_at__lte=max(e.occurred_at for e in exports),
        ).exclude(patient_id=""),
        "actor_id",
        "patient_id",
        "occurred_at",
        "id",
    )
    findings = []
    for user_id, events in users.items():
        count, evidence = _distinct_in_window(history.get(user_id, []), events, window)
        if count >= threshold:
            findings.append(
                _finding(
                    ctx,
                    config,
                    events,
                    evidence=evidence,
                    title=f"Bulk export/print: {_who(events[-1])}, {count} patients",
                    subject=f"user:{user_id}",
                    detail={"distinct_patients": count, "threshold": threshold},
                )
            )
    return findings


# --- break-glass -------------------------------------------------------------------------------------
def _glass_starts(events: Iterable[Event]) -> list[Event]:
    return [
        event
        for event in events
        if event.action == Action.BREAK_GLASS.value
        and event.outcome == Outcome.SUCCESS.value
        and event.detail.get("event") == "start"
    ]


def rule_break_glass(ctx: Context) -> list[Finding]:
    starts = _glass_starts(ctx.events)
    findings: list[Finding] = []
    config = ctx.on(Code.BREAK_GLASS)
    if config is not None:
        for event in starts:
            findings.append(
                _finding(
                    ctx,
                    config,
                    [event],
                    title=f"Break-glass by {_who(event)}",
                    subject=f"grant:{event.resource_id or event.id}",
                    patient=True,
                    detail={"reason_kind": event.reason[:40], "minutes": event.detail.get("minutes")},
                )
            )
    repeat = ctx.on(Code.BREAK_GLASS_REPEAT)
    if repeat is None or not starts:
        return findings
    window = dt.timedelta(hours=int(repeat.params["window_hours"]))
    threshold = int(repeat.params["threshold"])
    users = _by_user(starts)
    counts: dict[int, list[Seen]] = defaultdict(list)
    for actor_id, moment, grant, detail, event_id in AuditEvent.objects.filter(
        action=Action.BREAK_GLASS.value,
        outcome=Outcome.SUCCESS.value,
        actor_id__in=list(users),
        occurred_at__gt=min(e.occurred_at for e in starts) - window,
        occurred_at__lte=max(e.occurred_at for e in starts),
    ).values_list("actor_id", "occurred_at", "resource_id", "detail", "id"):
        if isinstance(detail, dict) and detail.get("event") == "start" and actor_id is not None:
            counts[actor_id].append((moment, grant, event_id))
    for user_id, events in users.items():
        count, evidence = _distinct_in_window(counts.get(user_id, []), events, window)
        if count >= threshold:
            findings.append(
                _finding(
                    ctx,
                    repeat,
                    events,
                    evidence=evidence,
                    title=f"Repeated break-glass: {_who(events[-1])}, {count} uses",
                    subject=f"user:{user_id}",
                    detail={"uses": count, "threshold": threshold},
                )
            )
    return findings


# --- sign-in rules ---------------------------------------------------------------------------------
def _failures(events: Iterable[Event]) -> list[Event]:
    return [
        event
        for event in events
        if event.action in FAILURE_ACTIONS
        and event.outcome == Outcome.DENIED.value
        and event.detail.get("reason") != "workforce_terminated"
    ]


def _successes(events: Iterable[Event]) -> list[Event]:
    return [
        event
        for event in events
        if event.action == LOGIN and event.outcome == Outcome.SUCCESS.value and event.actor_id is not None
    ]


def _username(event: Event) -> str:
    return event.actor_username.strip().lower()


def rule_failed_logins(ctx: Context) -> list[Finding]:
    failures = _failures(ctx.events)
    if not failures:
        return []
    findings: list[Finding] = []
    by_account = ctx.on(Code.FAILED_LOGIN_ACCOUNT)
    by_address = ctx.on(Code.FAILED_LOGIN_ADDRESS)
    windows = [
        int(config.params["window_minutes"]) for config in (by_account, by_address) if config is not None
    ]
    if not windows:
        return []
    earliest = min(e.occurred_at for e in failures) - dt.timedelta(minutes=max(windows))
    latest = max(e.occurred_at for e in failures)
    addresses = sorted({e.client_ip for e in failures if e.client_ip})
    usernames = sorted({e.actor_username for e in failures})
    history = [
        (moment, username, ip, event_id)
        for moment, username, ip, detail, event_id in AuditEvent.objects.filter(
            Q(actor_username__in=usernames) | Q(client_ip__in=addresses),
            action__in=FAILURE_ACTIONS,
            outcome=Outcome.DENIED.value,
            occurred_at__gt=earliest,
            occurred_at__lte=latest,
        ).values_list("occurred_at", "actor_username", "client_ip", "detail", "id")
        # A terminated account's attempt is its own rule (JSON key lookups
        # are NULL for rows without the key, so this filter stays in Python).
        if not (isinstance(detail, dict) and detail.get("reason") == "workforce_terminated")
    ]
    if by_account is not None:
        window = dt.timedelta(minutes=int(by_account.params["window_minutes"]))
        threshold = int(by_account.params["threshold"])
        grouped: dict[str, list[Event]] = defaultdict(list)
        for event in failures:
            grouped[_username(event)].append(event)
        for name, events in grouped.items():
            last = max(e.occurred_at for e in events)
            seen = [
                (event_id, moment)
                for moment, user, _, event_id in history
                if user.strip().lower() == name and last - window < moment <= last
            ]
            count = len(seen)
            if count >= threshold:
                findings.append(
                    _finding(
                        ctx,
                        by_account,
                        events,
                        evidence=seen,
                        title=f"{count} failed sign-ins for account {name[:60]}",
                        subject=f"account:{name}",
                        detail={"failures": count, "threshold": threshold},
                    )
                )
    if by_address is not None and addresses:
        window = dt.timedelta(minutes=int(by_address.params["window_minutes"]))
        threshold = int(by_address.params["threshold"])
        spread = int(by_address.params["distinct_usernames"])
        per_ip: dict[str, list[Event]] = defaultdict(list)
        for event in failures:
            if event.client_ip:
                per_ip[event.client_ip].append(event)
        for address, events in per_ip.items():
            last = max(e.occurred_at for e in events)
            recent = [
                (moment, user, event_id)
                for moment, user, ip, event_id in history
                if ip == address and last - window < moment <= last
            ]
            names = {user.strip().lower() for _, user, _ in recent}
            if len(recent) >= threshold or len(names) >= spread:
                findings.append(
                    _finding(
                        ctx,
                        by_address,
                        events,
                        evidence=[(event_id, moment) for moment, _, event_id in recent],
                        title=f"{len(recent)} failed sign-ins for {len(names)} accounts from {address}",
                        subject=f"ip:{address}",
                        detail={"failures": len(recent), "usernames": len(names)},
                    )
                )
    return findings


def rule_login_after_failures(ctx: Context) -> list[Finding]:
    config = ctx.on(Code.LOGIN_AFTER_FAILURES)
    successes = _successes(ctx.events)
    if config is None or not successes:
        return []
    window = dt.timedelta(minutes=int(config.params["window_minutes"]))
    needed = int(config.params["failures"])
    names = sorted({e.actor_username for e in successes})
    history = list(
        AuditEvent.objects.filter(
            action__in=FAILURE_ACTIONS,
            outcome=Outcome.DENIED.value,
            actor_username__in=names,
            occurred_at__gt=min(e.occurred_at for e in successes) - window,
            occurred_at__lte=max(e.occurred_at for e in successes),
        ).values_list("occurred_at", "actor_username", "id")
    )
    findings = []
    for event in successes:
        before = [
            (moment, event_id)
            for moment, user, event_id in history
            if user == event.actor_username and event.occurred_at - window < moment <= event.occurred_at
        ]
        if len(before) >= needed:
            findings.append(
                _finding(
                    ctx,
                    config,
                    [event],
                    title=f"Sign-in by {_who(event)} after {len(before)} failures",
                    subject=f"user:{event.actor_id}",
                    detail={"failures": len(before)},
                )
            )
    return findings


def rule_login_history(ctx: Context) -> list[Finding]:
    """New network zone and dormant accounts: both compare a successful
    sign-in with the user's earlier ones (one query each)."""
    successes = _successes(ctx.events)
    findings: list[Finding] = []
    if not successes:
        return findings
    users = sorted({e.actor_id for e in successes if e.actor_id is not None})
    earliest = min(e.occurred_at for e in successes)
    new_zone = ctx.on(Code.NEW_ZONE_LOGIN)
    if new_zone is not None:
        lookback = dt.timedelta(days=int(new_zone.params["lookback_days"]))
        minimum = int(new_zone.params["min_history"])
        history: dict[int, list[tuple[int, dt.datetime, str]]] = defaultdict(list)
        for actor_id, event_id, moment, zone in AuditEvent.objects.filter(
            action=LOGIN,
            outcome=Outcome.SUCCESS.value,
            actor_id__in=users,
            occurred_at__gte=earliest - lookback,
            occurred_at__lte=max(e.occurred_at for e in successes),
        ).values_list("actor_id", "id", "occurred_at", "network_zone"):
            if actor_id is not None:
                history[actor_id].append((event_id, moment, zone))
        for event in successes:
            if not event.network_zone:
                continue
            earlier = [
                zone
                for event_id, moment, zone in history.get(event.actor_id or 0, [])
                if (moment, event_id) < (event.occurred_at, event.id)
                and moment >= event.occurred_at - lookback
            ]
            if len(earlier) >= minimum and event.network_zone not in earlier:
                findings.append(
                    _finding(
                        ctx,
                        new_zone,
                        [event],
                        title=f"{_who(event)} signed in from new network zone {event.network_zone[:40]}",
                        subject=f"user:{event.actor_id}|zone:{event.network_zone}",
                        detail={"zone": event.network_zone[:64], "known_zones": sorted(set(earlier))[:10]},
                    )
                )
    inactive = ctx.on(Code.INACTIVE_ACCOUNT_LOGIN)
    if inactive is not None:
        dormant = dt.timedelta(days=int(inactive.params["dormant_days"]))
        # Each user's last sign-in before the batch (ADR 0730), the newest first and
        # stopping at the first: within the dormancy window that is the last one,
        # and the window's months are all that is read. Only users with none there
        # (dormant, or signing in for the first time: few) are looked for further
        # back. A MAX per user over the whole trail took seconds a batch at
        # 100,000,000 events.
        previous = _last_sign_ins(users, before=earliest, since=earliest - dormant)
        unseen = [pk for pk, last in previous.items() if pk is not None and last is None]
        if unseen:
            previous.update(_last_sign_ins(unseen, before=earliest, since=None))
        for event in sorted(successes, key=lambda item: (item.occurred_at, item.id)):
            last = previous.get(event.actor_id)
            if last is not None and event.occurred_at - last > dormant:
                idle = (event.occurred_at - last).days
                findings.append(
                    _finding(
                        ctx,
                        inactive,
                        [event],
                        title=f"Dormant account {_who(event)} signed in after {idle} days",
                        subject=f"account:{_username(event)}",
                        detail={"kind": "dormant", "idle_days": idle},
                    )
                )
            previous[event.actor_id] = event.occurred_at
    return findings


def _last_sign_ins(
    users: Iterable[int], *, before: dt.datetime, since: dt.datetime | None
) -> dict[int | None, dt.datetime | None]:
    """Each user's newest successful sign-in before `before` (and not before
    `since`), None for none: one statement, a backward index scan per user
    on (actor_id, occurred_at) that stops at the first sign-in."""
    sign_ins = AuditEvent.objects.filter(
        action=LOGIN, outcome=Outcome.SUCCESS.value, actor_id=OuterRef("pk"), occurred_at__lt=before
    )
    if since is not None:
        sign_ins = sign_ins.filter(occurred_at__gte=since)
    newest = sign_ins.order_by("-occurred_at").values("occurred_at")[:1]
    return dict(User.objects.filter(pk__in=users).annotate(last=Subquery(newest)).values_list("pk", "last"))


def rule_inactive_attempts(ctx: Context) -> list[Finding]:
    config = ctx.on(Code.INACTIVE_ACCOUNT_LOGIN)
    if config is None:
        return []
    findings = []
    for event in ctx.events:
        if event.action != LOGIN or event.outcome != Outcome.DENIED.value:
            continue
        if event.detail.get("reason") == "workforce_terminated":
            kind = "terminated"
        elif event.detail.get("stage") == "inactive":
            kind = "disabled"
        elif event.detail.get("stage") == "locked":
            kind = "locked"
        else:
            continue
        findings.append(
            _finding(
                ctx,
                config,
                [event],
                title=f"Sign-in attempt by {kind} account {_who(event)[:60]}",
                subject=f"account:{_username(event)}",
                detail={"kind": kind},
            )
        )
    return findings


# --- shared accounts (ADR 0725) ---------------------------------------------------------------------
def rule_concurrent_sessions(ctx: Context) -> list[Finding]:
    """At each sign-in, the account's sessions open at that moment (this one
    included), counted by client: address and browser. Signing in again at
    the same workstation (the old session not yet closed) is one client."""
    config = ctx.on(Code.CONCURRENT_SESSIONS)
    successes = [event for event in _successes(ctx.events) if event.resource_type == "UserSession"]
    if config is None or not successes:
        return []
    idle = dt.timedelta(minutes=settings.SAFEWARD_SESSION_IDLE_MINUTES)
    lifetime = dt.timedelta(hours=settings.SAFEWARD_SESSION_ABSOLUTE_HOURS)
    spans = session_spans(
        user_ids=sorted({event.actor_id for event in successes if event.actor_id is not None}),
        start=min(event.occurred_at for event in successes),
        end=max(event.occurred_at for event in successes),
        lifetime=lifetime,
    )
    by_user: dict[int, list[SessionSpan]] = defaultdict(list)
    for span in spans:
        by_user[span.user_id].append(span)
    needed = int(config.params["min_clients"])
    findings = []
    for event in successes:
        live = [
            span
            for span in by_user.get(event.actor_id or 0, [])
            if span.id == event.resource_id or span.live_at(event.occurred_at, idle=idle, lifetime=lifetime)
        ]
        clients = {(span.client_ip, span.user_agent) for span in live}
        if len(clients) < needed:
            continue
        findings.append(
            _finding(
                ctx,
                config,
                [event],
                title=f"{_who(event)} is signed in from {len(clients)} clients at once",
                subject=f"user:{event.actor_id}",
                detail={
                    "sessions": len(live),
                    "clients": len(clients),
                    "addresses": len({span.client_ip for span in live}),
                    "user_agents": len({span.user_agent for span in live}),
                    "zones": len({span.network_zone for span in live}),
                },
            )
        )
    return findings


def rule_new_address(ctx: Context) -> list[Finding]:
    """A sign-in from an address the user never signed in from. By default
    only addresses outside every defined zone: there each address is its
    own place, while all of them share the one zone `outside`."""
    config = ctx.on(Code.NEW_ADDRESS_LOGIN)
    successes = [event for event in _successes(ctx.events) if event.client_ip]
    if config is not None and config.params["outside_only"]:
        successes = [event for event in successes if event.network_zone in ("", OUTSIDE_ZONE)]
    if config is None or not successes:
        return []
    lookback = dt.timedelta(days=int(config.params["lookback_days"]))
    minimum = int(config.params["min_history"])
    history: dict[int, list[tuple[dt.datetime, int, str]]] = defaultdict(list)
    for actor_id, event_id, moment, address in AuditEvent.objects.filter(
        action=LOGIN,
        outcome=Outcome.SUCCESS.value,
        actor_id__in=sorted({event.actor_id for event in successes if event.actor_id is not None}),
        occurred_at__gte=min(event.occurred_at for event in successes) - lookback,
        occurred_at__lte=max(event.occurred_at for event in successes),
    ).values_list("actor_id", "id", "occurred_at", "client_ip"):
        if actor_id is not None:
            history[actor_id].append((moment, event_id, address or ""))
    findings = []
    for event in successes:
        earlier = [
            address
            for moment, event_id, address in history.get(event.actor_id or 0, [])
            if (moment, event_id) < (event.occurred_at, event.id) and moment >= event.occurred_at - lookback
        ]
        if len(earlier) < minimum or event.client_ip in earlier:
            continue
        findings.append(
            _finding(
                ctx,
                config,
                [event],
                title=f"{_who(event)} signed in from new address {event.client_ip}",
                subject=f"user:{event.actor_id}|ip:{event.client_ip}",
                detail={
                    "address": event.client_ip,
                    "zone": event.network_zone[:64],
                    "known_addresses": len(set(earlier)),
                },
            )
        )
    return findings


# --- security operations -------------------------------------------------------------------------------
def rule_security_operations(ctx: Context) -> list[Finding]:
    findings = []
    for event in ctx.events:
        if event.action == Action.AUDIT_VERIFY.value and event.outcome != Outcome.SUCCESS.value:
            code, title, subject = Code.AUDIT_CHAIN_FAILURE, "Audit trail verification failed", "audit-chain"
        elif event.by_setup:
            continue  # installing SafeWard creates its first keys and configuration
        elif event.action == Action.KEY_OPERATION.value:
            code = Code.KEY_OPERATION
            title = f"Key operation by {_who(event)}"
            subject = f"actor:{event.actor_id or event.actor_username}"
        elif event.action == Action.CONFIG_CHANGE.value:
            code = Code.CONFIG_CHANGE
            title = f"Configuration change by {_who(event)} ({event.resource_type[:40]})"
            subject = f"actor:{event.actor_id or event.actor_username}|{event.resource_type}"
        else:
            continue
        config = ctx.on(code)
        if config is None:
            continue
        findings.append(
            _finding(
                ctx,
                config,
                [event],
                title=title,
                subject=subject,
                detail={"resource_type": event.resource_type[:64], "outcome": event.outcome},
            )
        )
    return findings


# --- asset register ----------------------------------------------------------------------------------
ASSET_LAPSE_CHECK = "review_lapsed"


def rule_asset_review_lapsed(ctx: Context) -> list[Finding]:
    """The asset register's sweep (`safeward assets sweep`) records one event
    per lapsed asset; each asset is its own subject, so the daily repeats of
    one lapse join its open alert."""
    config = ctx.on(Code.ASSET_REVIEW_LAPSED)
    if config is None:
        return []
    findings = []
    for event in ctx.events:
        if event.resource_type != "Asset" or event.detail.get("check") != ASSET_LAPSE_CHECK:
            continue
        lapsed = [str(what)[:20] for what in event.detail.get("lapsed", [])][:2]
        findings.append(
            _finding(
                ctx,
                config,
                [event],
                title=f"Asset {event.resource_id}: {' and '.join(lapsed) or 'review'} lapsed",
                subject=f"asset:{event.resource_id}",
                detail={"asset_id": event.resource_id, "lapsed": lapsed},
            )
        )
    return findings


# --- policy library ----------------------------------------------------------------------------------
POLICY_OVERDUE_CHECK = "review_overdue"


def rule_policy_review_overdue(ctx: Context) -> list[Finding]:
    """The policy library's sweep (`safeward policies overdue --sweep`)
    records one event per document whose review is overdue. One alert per
    document; its subject is the document's owner, who has to act."""
    config = ctx.on(Code.POLICY_REVIEW_OVERDUE)
    if config is None:
        return []
    findings = []
    for event in ctx.events:
        if event.resource_type != "PolicyDocument" or event.detail.get("check") != POLICY_OVERDUE_CHECK:
            continue
        owner_id = event.detail.get("owner_id")
        owner = str(event.detail.get("owner_username", ""))[:150]
        due = str(event.detail.get("due", ""))[:10]
        finding = _finding(
            ctx,
            config,
            [event],
            title=f"Policy document {event.resource_id}: review overdue since {due or 'its due date'}",
            subject=f"policy:{event.resource_id}",
            detail={"document_id": event.resource_id, "owner": owner, "due": due},
        )
        finding.subject_user_id = owner_id if isinstance(owner_id, int) else None
        finding.subject_username = owner
        findings.append(finding)
    return findings


# --- incident deadlines ------------------------------------------------------------------------------
INCIDENT_DEADLINE_CHECK = "deadline_due"
_SEVERITY_RANK = {value: index for index, value in enumerate(Severity.values)}


def rule_incident_deadline(ctx: Context) -> list[Finding]:
    """The incidents deadline sweep (`safeward incidents check-deadlines`)
    records one event per breach notice or case task that is near its due
    time or past it. One alert per deadline (its repeats join it), naming the
    case owner; a deadline that has passed raises the alert to at least high."""
    config = ctx.on(Code.INCIDENT_DEADLINE)
    if config is None:
        return []
    findings = []
    for event in ctx.events:
        if event.resource_type != "Incident" or event.detail.get("check") != INCIDENT_DEADLINE_CHECK:
            continue
        deadline = str(event.detail.get("deadline", ""))[:64]
        state = "overdue" if event.detail.get("state") == "overdue" else "near"
        due = str(event.detail.get("due", ""))[:25]
        label = str(event.detail.get("label", ""))[:120]
        finding = _finding(
            ctx,
            config,
            [event],
            title=f"Incident {event.resource_id}: {label or deadline} "
            + ("overdue since " if state == "overdue" else "due ")
            + due[:16].replace("T", " "),
            subject=f"incident:{event.resource_id}|{deadline}",
            detail={"incident_id": event.resource_id, "deadline": deadline, "due": due, "state": state},
        )
        if state == "overdue" and _SEVERITY_RANK[finding.severity] < _SEVERITY_RANK[Severity.HIGH]:
            finding.severity = Severity.HIGH.value
        owner_id = event.detail.get("owner_id")
        finding.subject_user_id = owner_id if isinstance(owner_id, int) else None
        finding.subject_username = str(event.detail.get("owner_username", ""))[:150]
        findings.append(finding)
    return findings


# --- patching ----------------------------------------------------------------------------------------
PATCHING_EXCEPTION_VOIDED_CHECK = "exception_voided"


def rule_patching_exception_voided(ctx: Context) -> list[Finding]:
    """`safeward vulns exceptions` records one event per exception that a
    failing compensating control voided (or that expired). One alert per
    exception; its subject is the person who asked for it, who owns the risk."""
    config = ctx.on(Code.PATCHING_EXCEPTION_VOIDED)
    if config is None:
        return []
    findings = []
    for event in ctx.events:
        if (
            event.resource_type != "VulnException"
            or event.detail.get("check") != PATCHING_EXCEPTION_VOIDED_CHECK
        ):
            continue
        owner_id = event.detail.get("owner_id")
        reason = str(event.detail.get("reason", ""))[:200]
        finding = _finding(
            ctx,
            config,
            [event],
            title=f"Vulnerability exception {event.resource_id} ended: {reason or 'a control failed'}",
            subject=f"vuln-exception:{event.resource_id}",
            detail={
                "exception_id": event.resource_id,
                "finding_id": event.detail.get("finding_id"),
                "reason": reason,
            },
        )
        finding.subject_user_id = owner_id if isinstance(owner_id, int) else None
        finding.subject_username = str(event.detail.get("owner_username", ""))[:150]
        findings.append(finding)
    return findings


# --- devices -----------------------------------------------------------------------------------------
DEVICE_CONTROL_CHECK = "compensating_control_failing"


def rule_device_control_failing(ctx: Context) -> list[Finding]:
    """The devices sweep (`safeward devices controls --sweep`) records one
    event per failing or expired compensating control. One alert per control;
    its subject is the control's owner, who has to act."""
    config = ctx.on(Code.DEVICE_CONTROL_FAILING)
    if config is None:
        return []
    findings = []
    for event in ctx.events:
        if event.resource_type != "CompensatingControl" or event.detail.get("check") != DEVICE_CONTROL_CHECK:
            continue
        owner_id = event.detail.get("owner_id")
        owner = str(event.detail.get("owner_username", ""))[:150]
        state = str(event.detail.get("state", ""))[:20]
        finding = _finding(
            ctx,
            config,
            [event],
            title=f"Compensating control {event.resource_id} {state or 'failing'}"
            f" ({str(event.detail.get('scope', ''))[:80]})",
            subject=f"compensating-control:{event.resource_id}",
            detail={
                "control_id": event.resource_id,
                "state": state,
                "reason": str(event.detail.get("reason", ""))[:300],
                "owner": owner,
            },
        )
        finding.subject_user_id = owner_id if isinstance(owner_id, int) else None
        finding.subject_username = owner
        findings.append(finding)
    return findings


# --- baselines ---------------------------------------------------------------------------------------
def rule_baseline(ctx: Context) -> list[Finding]:
    config = ctx.on(Code.BASELINE_OUTLIER)
    if config is None or not ctx.counts:
        return []
    roles = {event.actor_id: event.actor_roles for event in ctx.accesses if event.actor_id is not None}
    departments = {user: (items[0][0] if items else None) for user, items in ctx.departments.items()}
    p = config.params
    found = baselines.outliers(
        ctx.counts,
        roles=roles,
        departments=departments,
        history_days=int(p["history_days"]),
        min_history_days=int(p["min_history_days"]),
        z_threshold=float(p["z_threshold"]),
        mad_floor=float(p["mad_floor"]),
        min_count=int(p["min_count"]),
        min_peers=int(p["min_peers"]),
    )
    users = _by_user(ctx.accesses)
    findings = []
    for outlier in found:
        events = [
            e for e in users.get(outlier.user_id, []) if baselines.local_day(e.occurred_at) == outlier.day
        ]
        if not events:
            continue
        z = outlier.z_own if outlier.basis == "own" else outlier.z_peers
        findings.append(
            _finding(
                ctx,
                config,
                events,
                title=f"Unusual activity: {_who(events[-1])} opened {outlier.count} patients today "
                f"(z {z:.1f} vs {outlier.basis})",
                subject=f"user:{outlier.user_id}|day:{outlier.day.isoformat()}",
                detail={
                    "count": outlier.count,
                    "z_own": round(outlier.z_own, 2) if outlier.z_own is not None else None,
                    "z_peers": round(outlier.z_peers, 2) if outlier.z_peers is not None else None,
                    "basis": outlier.basis,
                },
            )
        )
    return findings


# --- search harvesting (ADR 0728) ---------------------------------------------------------------------
SEARCH = Action.SEARCH.value


@dataclass(frozen=True)
class _Search:
    """One successful patient search, as the harvesting rules read it."""

    id: int
    occurred_at: dt.datetime
    source: str
    detail: dict[str, Any]

    @property
    def page(self) -> int:
        return _page(self.detail)


def _page(detail: dict[str, Any]) -> int:
    page = detail.get("page")
    return page if isinstance(page, int) else 1


def _batch_searches(ctx: Context) -> dict[int, list[Event]]:
    return _by_user(
        event
        for event in ctx.events
        if event.action == SEARCH
        and event.outcome == Outcome.SUCCESS.value
        and event.resource_type == "Patient"
    )


def _searches_in_window(users: dict[int, list[Event]], window: dt.timedelta) -> dict[int, list[_Search]]:
    """Each user's patient searches from a window before their first search
    of the batch to their last one (earlier batches' included)."""
    events = [event for items in users.values() for event in items]
    found: dict[int, list[_Search]] = defaultdict(list)
    for event_id, moment, actor_id, source, detail in AuditEvent.objects.filter(
        actor_id__in=list(users),
        action=SEARCH,
        outcome=Outcome.SUCCESS.value,
        resource_type="Patient",
        occurred_at__gt=min(e.occurred_at for e in events) - window,
        occurred_at__lte=max(e.occurred_at for e in events),
    ).values_list("id", "occurred_at", "actor_id", "source", "detail"):
        if actor_id is not None:
            found[actor_id].append(
                _Search(event_id, moment, source, detail if isinstance(detail, dict) else {})
            )
    return found


# Search ids per read of the patient index: bounds the statement's parameters
# (SQLite allows 32,766) when a backlog holds many searches in one window.
DISCLOSED_IDS_PER_QUERY = 5000


def _disclosed(searches: dict[int, list[_Search]]) -> dict[int, dict[str, tuple[dt.datetime, int]]]:
    """Per user: patient -> the latest (time, search event) that showed it,
    from the per-patient index of the audit trail. One read for every
    user's searches (per DISCLOSED_IDS_PER_QUERY), not one per user."""
    owner = {search.id: (user_id, search) for user_id, items in searches.items() for search in items}
    latest: dict[int, dict[str, tuple[dt.datetime, int]]] = {user_id: {} for user_id in searches}
    ids = sorted(owner)
    for start in range(0, len(ids), DISCLOSED_IDS_PER_QUERY):
        chunk = ids[start : start + DISCLOSED_IDS_PER_QUERY]
        moments = [owner[event_id][1].occurred_at for event_id in chunk]
        for event_id, patient_id in AuditEventPatient.objects.filter(
            event_id__in=chunk, occurred_at__gte=min(moments), occurred_at__lte=max(moments)
        ).values_list("event_id", "patient_id"):
            user_id, search = owner[event_id]
            seen = (search.occurred_at, event_id)
            shown = latest[user_id]
            if patient_id not in shown or shown[patient_id] < seen:
                shown[patient_id] = seen
    return latest


def _window(searches: list[_Search], end: dt.datetime, window: dt.timedelta) -> list[_Search]:
    return [search for search in searches if end - window < search.occurred_at <= end]


def rule_search_volume(ctx: Context) -> list[Finding]:
    config = ctx.on(Code.SEARCH_VOLUME)
    users = _batch_searches(ctx)
    if config is None or not users:
        return []
    minutes = int(config.params["window_minutes"])
    window = dt.timedelta(minutes=minutes)
    threshold = int(config.params["threshold"])
    history = _searches_in_window(users, window)
    recent = {
        user_id: _window(history.get(user_id, []), max(e.occurred_at for e in events), window)
        for user_id, events in users.items()
    }
    disclosed = _disclosed(recent)
    findings = []
    for user_id, events in users.items():
        patients = disclosed[user_id]
        if len(patients) > threshold:
            evidence = sorted({(event_id, moment) for moment, event_id in patients.values()})
            findings.append(
                _finding(
                    ctx,
                    config,
                    events,
                    evidence=evidence,
                    title=f"Search harvesting: {_who(events[-1])}'s searches showed {len(patients)} patients "
                    f"in {minutes} min",
                    subject=f"user:{user_id}",
                    detail={
                        "distinct_patients": len(patients),
                        "threshold": threshold,
                        "searches": len(recent[user_id]),
                    },
                )
            )
    return findings


def rule_search_paging(ctx: Context) -> list[Finding]:
    config = ctx.on(Code.SEARCH_PAGING)
    if config is None:
        return []
    deep = int(config.params["page"])
    findings = []
    for user_id, events in _batch_searches(ctx).items():
        paged = [event for event in events if _page(event.detail) >= deep]
        if paged:
            depth = max(_page(e.detail) for e in paged)
            findings.append(
                _finding(
                    ctx,
                    config,
                    paged,
                    title=f"Deep search paging: {_who(paged[-1])} reached page {depth} of a patient search",
                    subject=f"user:{user_id}",
                    detail={"deepest_page": depth, "page_threshold": deep},
                )
            )
    return findings


def rule_name_probing(ctx: Context) -> list[Finding]:
    config = ctx.on(Code.NAME_PROBING)
    users = _batch_searches(ctx)
    if config is None or not users:
        return []
    window = dt.timedelta(minutes=int(config.params["window_minutes"]))
    threshold = int(config.params["threshold"])
    letters = int(config.params["max_letters"])
    history = _searches_in_window(users, window)
    findings = []
    for user_id, events in users.items():
        probes: dict[str, tuple[int, dt.datetime]] = {}
        for search in _window(history.get(user_id, []), max(e.occurred_at for e in events), window):
            detail = search.detail
            shortest = detail.get("name_shortest")
            tag = detail.get("name_tag")
            # A first page of a name-only query with a short word; paging the
            # same query or repeating it is one probe.
            if (
                detail.get("narrowed")
                and isinstance(shortest, int)
                and shortest <= letters
                and tag
                and search.page == 1
            ):
                probes[str(tag)] = (search.id, search.occurred_at)
        if len(probes) >= threshold:
            findings.append(
                _finding(
                    ctx,
                    config,
                    events,
                    evidence=sorted(probes.values()),
                    title=f"Name-prefix probing: {_who(events[-1])} ran {len(probes)} short name searches",
                    subject=f"user:{user_id}",
                    detail={"distinct_queries": len(probes), "threshold": threshold, "max_letters": letters},
                )
            )
    return findings


def rule_fhir_paging(ctx: Context) -> list[Finding]:
    config = ctx.on(Code.FHIR_PAGING)
    users = {
        user_id: events
        for user_id, events in _batch_searches(ctx).items()
        if any(_page(e.detail) > 1 for e in events)
    }
    if config is None or not users:
        return []
    minutes = int(config.params["window_minutes"])
    window = dt.timedelta(minutes=minutes)
    max_pages = int(config.params["pages"])
    max_patients = int(config.params["patients"])
    history = _searches_in_window(users, window)
    fhir = {
        user_id: [
            search
            for search in _window(history.get(user_id, []), max(e.occurred_at for e in events), window)
            if search.source == "fhir"
        ]
        for user_id, events in users.items()
    }
    fhir = {user_id: recent for user_id, recent in fhir.items() if any(s.page > 1 for s in recent)}
    disclosed = _disclosed(fhir)
    findings = []
    for user_id, recent in fhir.items():
        events = users[user_id]
        followed = [search for search in recent if search.page > 1]
        patients = disclosed[user_id]
        if len(followed) >= max_pages or len(patients) >= max_patients:
            findings.append(
                _finding(
                    ctx,
                    config,
                    events,
                    evidence=sorted({(search.id, search.occurred_at) for search in recent}),
                    title=f"FHIR paging: {_who(events[-1])}'s client followed {len(followed)} next links, "
                    f"{len(patients)} patients in {minutes} min",
                    subject=f"user:{user_id}|fhir",
                    detail={"pages_followed": len(followed), "distinct_patients": len(patients)},
                )
            )
    return findings


RULES: tuple[Callable[[Context], list[Finding]], ...] = (
    rule_canary,
    rule_patient_flags,
    rule_mass_access,
    rule_unexplained,
    rule_after_hours,
    rule_bulk_export,
    rule_break_glass,
    rule_failed_logins,
    rule_login_after_failures,
    rule_login_history,
    rule_inactive_attempts,
    rule_concurrent_sessions,
    rule_new_address,
    rule_security_operations,
    rule_baseline,
    rule_search_volume,
    rule_search_paging,
    rule_name_probing,
    rule_fhir_paging,
    rule_asset_review_lapsed,
    rule_policy_review_overdue,
    rule_patching_exception_voided,
    rule_device_control_failing,
    rule_incident_deadline,
)


# Rules other apps register from their `ready()` (detection imports none of
# them): the vendors app's bulk-access rule needs to know which accounts are a
# vendor's and what its agreement allows (ADR 1211). Run after the built-in ones.
_registered_rules: list[Callable[[Context], list[Finding]]] = []


def register_rule(rule: Callable[[Context], list[Finding]]) -> None:
    if rule not in _registered_rules:
        _registered_rules.append(rule)


def _departments(user_ids: list[int]) -> dict[int, list[tuple[int, str]]]:
    found: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for user_id, department_id, code in staff_departments(user_ids=user_ids):
        found[user_id].append((department_id, code))
    return found


def evaluate(events: list[Event], *, now: dt.datetime) -> BatchOutcome:
    """Explain the batch's chart accesses, queue the unexplained ones, update
    the daily counts, run every enabled rule and raise the alerts."""
    canaries = list(CanaryRecord.objects.values_list("patient_id", "label", "created_at"))
    ctx = Context(
        events=events,
        now=now,
        configs=rule_configs(),
        canaries={pid: label for pid, label, _ in canaries},
        canary_created={pid: created for pid, _, created in canaries},
    )
    ctx.accesses = [event for event in events if is_chart_access(event)]
    outcome = BatchOutcome()
    if ctx.accesses:
        household_rules = [ctx.on(Code.FAMILY_SNOOPING), ctx.on(Code.NEIGHBOUR_SNOOPING)]
        ctx.explanations = explain(
            ctx.accesses,
            compare_explained=any(
                rule is not None and not rule.params["only_unexplained"] for rule in household_rules
            ),
        )
        users = sorted({e.actor_id for e in ctx.accesses if e.actor_id is not None})
        ctx.departments = _departments(users)
        reviews = [
            AccessReview(
                event_id=event.id,
                occurred_at=event.occurred_at,
                user_id=event.actor_id,
                username=event.actor_username[:150],
                patient_id=event.patient_id,
                is_drill=ctx.is_drill(event),
            )
            for event in ctx.accesses
            if ctx.unexplained(event) and event.actor_id is not None
        ]
        AccessReview.objects.bulk_create(reviews, ignore_conflicts=True)
        outcome.reviews = len(reviews)
        ctx.counts = baselines.counts_update(
            (
                baselines.Touch(e.actor_id, baselines.local_day(e.occurred_at), e.patient_id, e.actor_roles)
                for e in ctx.accesses
                if e.actor_id is not None
            ),
            departments={user: (items[0][0] if items else None) for user, items in ctx.departments.items()},
        )
    findings: list[Finding] = []
    for rule in (*RULES, *_registered_rules):
        findings.extend(rule(ctx))
    results = alerts_raise(findings, now=now)
    outcome.findings = len(findings)
    created = {alert_id for alert_id, was_created in results if was_created}
    outcome.alerts_created = len(created)
    outcome.alerts_grown = len({alert_id for alert_id, _ in results} - created)
    return outcome
