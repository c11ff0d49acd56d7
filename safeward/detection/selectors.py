"""Detection's reads, for the alert queue (ops), the drills and the worker.
Keyword-only; drills are excluded unless asked for."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from safeward import clock
from safeward.detection.models import (
    AccessReview,
    Alert,
    AlertEvidence,
    CanaryRecord,
    DetectionRule,
    DetectorCursor,
)
from safeward.detection.rules import (
    CATALOG,
    RuleConfig,
    effective_config,
    rule_params_validate,
    severity_validate,
)

OPEN_STATUSES = (Alert.Status.NEW, Alert.Status.TRIAGE)
WORKER_NAME = "detect"


def rule_configs() -> dict[str, RuleConfig]:
    """Every rule's effective configuration (stored values over defaults; a
    rule without a row runs with its defaults)."""
    stored = {rule.code: rule for rule in DetectionRule.objects.all()}
    configs: dict[str, RuleConfig] = {}
    for code, spec in CATALOG.items():
        row = stored.get(code)
        if row is None:
            configs[code] = effective_config(code, enabled=True, severity=spec.severity.value, params={})
        else:
            configs[code] = effective_config(
                code, enabled=row.enabled, severity=row.severity, params=row.params
            )
    return configs


def rule_config(*, code: str) -> RuleConfig:
    return rule_configs()[code]


@dataclass(frozen=True)
class StoredRuleProblem:
    """A stored rule row that does not validate as `rule_config_save` would
    require: `known` False for a code no rule of this version has, else
    `problems` says what is wrong (messages about the configuration only)."""

    code: str
    known: bool
    problems: tuple[str, ...]


def rule_configs_invalid() -> list[StoredRuleProblem]:
    """Every stored rule whose configuration would be refused on input (an
    edit by an older version, by hand, or a role or department since
    removed), by code. At run time such a rule falls back to the default of
    each bad value (`effective_config`); this says so before it matters."""
    found: list[StoredRuleProblem] = []
    for code, severity, params in DetectionRule.objects.order_by("code").values_list(
        "code", "severity", "params"
    ):
        if code not in CATALOG:
            found.append(StoredRuleProblem(code, known=False, problems=()))
            continue
        problems = _refusals(severity_validate, severity) + _refusals(rule_params_validate, code, params)
        if problems:
            found.append(StoredRuleProblem(code, known=True, problems=tuple(problems)))
    return found


def _refusals(validate: Callable[..., object], *values: Any) -> list[str]:
    """What `validate` refuses of `values`, as messages; [] when it accepts."""
    try:
        validate(*values)
    except ValidationError as error:
        return list(error.messages)
    except Exception as error:  # a value no checker expected: reported, never crashing the check
        return [f"a stored value cannot be checked ({type(error).__name__})"]
    return []


def alerts_for(
    *,
    rule: str | None = None,
    since_event_id: int | None = None,
    subject_username: str | None = None,
    subject_user_id: int | None = None,
    patient_id: str | None = None,
    status: str | None = None,
    include_drills: bool = True,
) -> QuerySet[Alert]:
    """Alerts by rule and subject; `since_event_id` keeps those whose last
    evidence is after that audit event (what a drill waits for)."""
    alerts = Alert.objects.all()
    if rule is not None:
        alerts = alerts.filter(rule=rule)
    if since_event_id is not None:
        alerts = alerts.filter(last_event_id__gt=since_event_id)
    if subject_username is not None:
        alerts = alerts.filter(subject_username=subject_username)
    if subject_user_id is not None:
        alerts = alerts.filter(subject_user_id=subject_user_id)
    if patient_id is not None:
        alerts = alerts.filter(patient_id=patient_id)
    if status is not None:
        alerts = alerts.filter(status=status)
    if not include_drills:
        alerts = alerts.filter(is_drill=False)
    return alerts.order_by("-created_at", "-id")


def alert_queue(
    *,
    statuses: tuple[str, ...] = OPEN_STATUSES,
    severity: str | None = None,
    rule: str | None = None,
    assignee_id: int | None = None,
    include_drills: bool = False,
) -> QuerySet[Alert]:
    alerts = Alert.objects.filter(status__in=statuses)
    if severity:
        alerts = alerts.filter(severity=severity)
    if rule:
        alerts = alerts.filter(rule=rule)
    if assignee_id is not None:
        alerts = alerts.filter(assignee_id=assignee_id)
    if not include_drills:
        alerts = alerts.filter(is_drill=False)
    return alerts.order_by("-created_at", "-id")


def alert_evidence(*, alert_id: int) -> list[int]:
    """The audit event ids supporting an alert, in order."""
    return list(AlertEvidence.objects.filter(alert_id=alert_id).values_list("event_id", flat=True))


def evidenced_event_ids(*, rule: str, event_ids: Iterable[int]) -> set[int]:
    """Which of these audit events already support an alert of `rule` (a sweep
    that looks back over a window judges each event once)."""
    ids = sorted(set(event_ids))
    found: set[int] = set()
    for start in range(0, len(ids), 500):
        found.update(
            AlertEvidence.objects.filter(alert__rule=rule, event_id__in=ids[start : start + 500]).values_list(
                "event_id", flat=True
            )
        )
    return found


def access_reviews_open(*, include_drills: bool = False) -> QuerySet[AccessReview]:
    reviews = AccessReview.objects.filter(status=AccessReview.Status.OPEN)
    if not include_drills:
        reviews = reviews.filter(is_drill=False)
    return reviews.order_by("-occurred_at")


def canaries_list(*, include_drills: bool = True) -> QuerySet[CanaryRecord]:
    canaries = CanaryRecord.objects.all()
    if not include_drills:
        canaries = canaries.exclude(label__startswith="drill")
    return canaries.order_by("label")


def canary_labels() -> dict[str, str]:
    return dict(CanaryRecord.objects.values_list("patient_id", "label"))


@dataclass(frozen=True)
class WorkerStatus:
    watermark: int
    pending_ranges: int
    processed: int
    updated_at: dt.datetime | None
    lag: dt.timedelta | None  # age of the oldest committed event not processed yet


def worker_status(*, now: dt.datetime | None = None) -> WorkerStatus:
    from safeward.audit.models import AuditEvent

    cursor = DetectorCursor.objects.filter(name=WORKER_NAME).first()
    watermark = cursor.watermark if cursor else 0
    oldest = (
        AuditEvent.objects.filter(id__gt=watermark)
        .order_by("id")
        .values_list("occurred_at", flat=True)
        .first()
    )
    return WorkerStatus(
        watermark=watermark,
        pending_ranges=len(cursor.pending) if cursor else 0,
        processed=cursor.processed if cursor else 0,
        updated_at=cursor.updated_at if cursor else None,
        lag=((now or clock.now()) - oldest) if oldest is not None else None,
    )


@dataclass(frozen=True)
class AlertTiming:
    id: int
    rule: str
    severity: str
    status: str
    created_at: dt.datetime
    triaged_at: dt.datetime | None


def alerts_for_triage_sla(*, since: dt.datetime) -> list[AlertTiming]:
    """Real (not drill) alerts raised since `since`, and every one still new
    whenever it was raised: what the triage SLA control judges."""
    columns = ("id", "rule", "severity", "status", "created_at", "triaged_at")
    alerts = Alert.objects.filter(is_drill=False)
    # Two index ranges (created_at; the queue's status prefix), not an OR that defeats both.
    found = {row[0]: row for row in alerts.filter(created_at__gte=since).values_list(*columns)}
    found.update(
        (row[0], row)
        for row in alerts.filter(status=Alert.Status.NEW, created_at__lt=since).values_list(*columns)
    )
    return [AlertTiming(*row) for row in sorted(found.values(), key=lambda row: (row[4], row[0]))]
