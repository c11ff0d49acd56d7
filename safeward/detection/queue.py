"""Reads for the alert queue and the access-review queue.

Both page with a keyset cursor, never OFFSET: page 5,000 of a million alerts
costs what page 1 does. Every read is a short ordered range of the
(status, severity, created_at) index: one query per (status, severity) pair,
`status = S AND severity = X AND (created_at, id) < cursor ... LIMIT n`,
merged in Python (at most 16 queries of at most 51 rows). "Most severe
first" goes severity by severity (critical, then high, medium, low), newest
first inside each, and the cursor remembers the severity it stopped in. No
OFFSET, no sort over a computed rank, no IN list that defeats the index order
(bench/alert_queue.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from safeward.detection.models import AccessReview, Alert, AlertEvidence, Severity

SEVERITY_ORDER: tuple[str, ...] = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW)
SORTS = ("severity", "newest", "oldest")
_TIME_FORMAT = "%Y%m%dT%H%M%S.%f"


@dataclass(frozen=True)
class AlertFilter:
    statuses: tuple[str, ...] = (Alert.Status.NEW, Alert.Status.TRIAGE)
    severities: tuple[str, ...] = ()
    rule: str = ""
    subject_user_id: int | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    drills: bool = False
    assignee_id: int | None = None
    sort: str = "severity"


@dataclass(frozen=True)
class QueueCursor:
    """Where the next page starts: the last row's severity (for the severity
    sort), creation time and id."""

    severity: str
    created_at: dt.datetime
    alert_id: int

    def token(self) -> str:
        moment = self.created_at.astimezone(dt.UTC).strftime(_TIME_FORMAT)
        return f"{self.severity or '-'}_{moment}_{self.alert_id}"

    @classmethod
    def parse(cls, token: str) -> QueueCursor:
        """Raises ValueError for anything that is not a cursor this module made."""
        if len(token) > 80 or token.count("_") != 2:
            raise ValueError("not a page cursor")
        severity, moment, alert_id = token.split("_")
        if severity != "-" and severity not in SEVERITY_ORDER:
            raise ValueError("not a page cursor")
        if not alert_id.isdigit():
            raise ValueError("not a page cursor")
        parsed = dt.datetime.strptime(moment, _TIME_FORMAT).replace(tzinfo=dt.UTC)
        return cls("" if severity == "-" else severity, parsed, int(alert_id))


def alerts_filtered(*, query: AlertFilter) -> QuerySet[Alert]:
    alerts = Alert.objects.all()
    if query.statuses:
        alerts = alerts.filter(status__in=query.statuses)
    if query.severities:
        alerts = alerts.filter(severity__in=query.severities)
    if query.rule:
        alerts = alerts.filter(rule=query.rule)
    if query.subject_user_id is not None:
        alerts = alerts.filter(subject_user_id=query.subject_user_id)
    if query.assignee_id is not None:
        alerts = alerts.filter(assignee_id=query.assignee_id)
    if query.start is not None:
        alerts = alerts.filter(created_at__gte=query.start)
    if query.end is not None:
        alerts = alerts.filter(created_at__lt=query.end)
    if not query.drills:
        alerts = alerts.filter(is_drill=False)
    return alerts


def _after(alerts: QuerySet[Alert], cursor: QueueCursor | None, *, newest_first: bool) -> QuerySet[Alert]:
    """Rows after the cursor in (created_at, id) order. The plain bound on
    created_at is redundant with the OR but lets PostgreSQL start the index
    range at the cursor instead of filtering every newer row."""
    if cursor is None:
        return alerts
    if newest_first:
        return alerts.filter(created_at__lte=cursor.created_at).filter(
            Q(created_at__lt=cursor.created_at) | Q(created_at=cursor.created_at, id__lt=cursor.alert_id)
        )
    return alerts.filter(created_at__gte=cursor.created_at).filter(
        Q(created_at__gt=cursor.created_at) | Q(created_at=cursor.created_at, id__gt=cursor.alert_id)
    )


def _ordered_keys(
    alerts: QuerySet[Alert], cursor: QueueCursor | None, *, newest_first: bool, limit: int
) -> list[tuple[dt.datetime, int]]:
    ordering = ("-created_at", "-id") if newest_first else ("created_at", "id")
    keys = (
        _after(alerts, cursor, newest_first=newest_first).order_by(*ordering).values_list("created_at", "id")
    )
    return list(keys[:limit])


def _merged(
    base: QuerySet[Alert],
    *,
    statuses: tuple[str, ...],
    severities: tuple[str, ...],
    cursor: QueueCursor | None,
    newest_first: bool,
    limit: int,
) -> list[Alert]:
    """The first `limit` alerts after `cursor` over every (status, severity)
    pair, each read as an ordered range of the (status, severity, created_at)
    index (keys only) and merged here, then the page's rows in one query:
    PostgreSQL cannot walk an index in order across an IN list, so one small
    query per pair keeps every read a short index scan."""
    keys: list[tuple[dt.datetime, int]] = []
    for status in statuses:
        for severity in severities:
            part = base.filter(status=status, severity=severity)
            keys.extend(_ordered_keys(part, cursor, newest_first=newest_first, limit=limit))
    keys.sort(reverse=newest_first)
    wanted = [alert_id for _, alert_id in keys[:limit]]
    rows = {alert.pk: alert for alert in Alert.objects.filter(pk__in=wanted)}
    return [rows[alert_id] for alert_id in wanted if alert_id in rows]


def alerts_page(
    *, query: AlertFilter, after: QueueCursor | None, size: int
) -> tuple[list[Alert], QueueCursor | None]:
    """One page after `after` and the cursor of the next page (None: last page)."""
    base = alerts_filtered(query=query)
    statuses = query.statuses or tuple(Alert.Status.values)
    severities = tuple(s for s in SEVERITY_ORDER if not query.severities or s in query.severities)
    rows: list[Alert] = []
    if query.sort == "severity":
        wanted = list(severities)
        if after is not None and after.severity in wanted:
            wanted = wanted[wanted.index(after.severity) :]
        for severity in wanted:
            cursor = after if after is not None and after.severity == severity else None
            rows.extend(
                _merged(
                    base,
                    statuses=statuses,
                    severities=(severity,),
                    cursor=cursor,
                    newest_first=True,
                    limit=size + 1 - len(rows),
                )
            )
            if len(rows) > size:
                break
    else:
        rows = _merged(
            base,
            statuses=statuses,
            severities=severities,
            cursor=after,
            newest_first=query.sort != "oldest",
            limit=size + 1,
        )
    if len(rows) <= size:
        return rows, None
    last = rows[size - 1]
    severity = last.severity if query.sort == "severity" else ""
    return rows[:size], QueueCursor(severity, last.created_at, int(last.pk))


def alert_evidence(*, alert: Alert, limit: int) -> tuple[list[AlertEvidence], int]:
    """The alert's first `limit` evidence rows (in sequence order) and how many there are."""
    evidence = AlertEvidence.objects.filter(alert=alert).order_by("event_id")
    return list(evidence[:limit]), evidence.count()


def alerts_of_incident(*, incident_id: int) -> list[Alert]:
    return list(Alert.objects.filter(incident_id=incident_id).order_by("-created_at", "-id"))


def open_alert_counts(*, drills: bool = False) -> dict[str, int]:
    """Open alerts by severity, for the queue's heading."""
    counts = dict.fromkeys(SEVERITY_ORDER, 0)
    alerts = Alert.objects.filter(status__in=(Alert.Status.NEW, Alert.Status.TRIAGE))
    if not drills:
        alerts = alerts.filter(is_drill=False)
    for severity in SEVERITY_ORDER:
        counts[severity] = alerts.filter(severity=severity).count()
    return counts


@dataclass(frozen=True)
class ReviewCursor:
    occurred_at: dt.datetime
    review_id: int

    def token(self) -> str:
        return f"{self.occurred_at.astimezone(dt.UTC).strftime(_TIME_FORMAT)}_{self.review_id}"

    @classmethod
    def parse(cls, token: str) -> ReviewCursor:
        moment, _, review_id = token.partition("_")
        if len(token) > 60 or not review_id.isdigit():
            raise ValueError("not a page cursor")
        return cls(dt.datetime.strptime(moment, _TIME_FORMAT).replace(tzinfo=dt.UTC), int(review_id))


def access_reviews_page(
    *, status: str, drills: bool, after: ReviewCursor | None, size: int
) -> tuple[list[AccessReview], ReviewCursor | None]:
    """Oldest open reviews first (they have waited longest); decided ones newest first."""
    reviews = AccessReview.objects.filter(status=status)
    if not drills:
        reviews = reviews.filter(is_drill=False)
    oldest_first = status == AccessReview.Status.OPEN
    if after is not None:
        if oldest_first:
            reviews = reviews.filter(
                Q(occurred_at__gt=after.occurred_at)
                | Q(occurred_at=after.occurred_at, id__gt=after.review_id)
            )
        else:
            reviews = reviews.filter(
                Q(occurred_at__lt=after.occurred_at)
                | Q(occurred_at=after.occurred_at, id__lt=after.review_id)
            )
    ordering = ("occurred_at", "id") if oldest_first else ("-occurred_at", "-id")
    rows = list(reviews.order_by(*ordering)[: size + 1])
    if len(rows) <= size:
        return rows, None
    last = rows[size - 1]
    return rows[:size], ReviewCursor(last.occurred_at, int(last.pk))


def access_review_exists(*, review_id: int) -> bool:
    return AccessReview.objects.filter(pk=review_id).exists()
