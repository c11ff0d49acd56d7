"""Reads over the audit trail for the report and the accounting of
disclosures. Both page with a keyset (occurred_at, id) cursor over indexed
columns, so page 10,000 of a 100-million-row trail costs what page 1 does.

A patient's events are those naming the patient (`patient_id`) and those
that disclosed the patient among several (`AuditEventPatient`, ADR 0208):
two index range reads, (patient_id, occurred_at) on each table, each
ordered and limited and merged as they are read, never an OR that would
defeat both indexes. The patient index rows are read first and their events
by primary key (ADR 1651), never through a subquery the planner may answer
by walking every partition of the event table; a page and the CSV's stream
are the same reads, the stream in keyset batches (ADR 1652)."""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import ExtractMonth, ExtractYear

from safeward.audit.models import AuditEvent, AuditEventPatient
from safeward.audit.vocabulary import Action, Outcome

# Rows per read when a whole report or accounting is streamed (the CSV).
STREAM_BATCH = 2000


@dataclass(frozen=True)
class EventFilter:
    start: dt.datetime
    end: dt.datetime
    actor_id: int | None = None
    patient_id: str = ""
    action: str = ""
    outcome: str = ""
    newest_first: bool = True


@dataclass(frozen=True)
class Cursor:
    occurred_at: dt.datetime
    event_id: int

    def token(self) -> str:
        return f"{self.occurred_at.astimezone(dt.UTC).strftime('%Y%m%dT%H%M%S.%f')}_{self.event_id}"

    @classmethod
    def parse(cls, token: str) -> Cursor:
        """Raises ValueError for anything that is not a cursor this module made."""
        moment, _, event_id = token.partition("_")
        if not event_id.isdigit() or len(token) > 60:
            raise ValueError("not a page cursor")
        parsed = dt.datetime.strptime(moment, "%Y%m%dT%H%M%S.%f").replace(tzinfo=dt.UTC)
        return cls(parsed, int(event_id))


def _after(events: QuerySet[AuditEvent], after: Cursor | None, *, newest_first: bool) -> QuerySet[AuditEvent]:
    """`events` beyond the cursor. The plain bound on occurred_at repeats what
    the OR implies: it is the index range PostgreSQL can start from (an OR
    alone is only a filter, so each page would rescan from the window's
    start)."""
    if after is None:
        return events
    if newest_first:
        return events.filter(
            Q(occurred_at__lt=after.occurred_at) | Q(occurred_at=after.occurred_at, id__lt=after.event_id),
            occurred_at__lte=after.occurred_at,
        )
    return events.filter(
        Q(occurred_at__gt=after.occurred_at) | Q(occurred_at=after.occurred_at, id__gt=after.event_id),
        occurred_at__gte=after.occurred_at,
    )


def _ordering(newest_first: bool) -> tuple[str, str]:
    return ("-occurred_at", "-id") if newest_first else ("occurred_at", "id")


def _events(query: EventFilter, after: Cursor | None) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.filter(occurred_at__gte=query.start, occurred_at__lt=query.end)
    if query.actor_id is not None:
        events = events.filter(actor_id=query.actor_id)
    if query.action:
        events = events.filter(action=query.action)
    if query.outcome:
        events = events.filter(outcome=query.outcome)
    return _after(events, after, newest_first=query.newest_first)


def _first_rows(events: QuerySet[AuditEvent], *, newest_first: bool, limit: int) -> list[AuditEvent]:
    return list(events.order_by(*_ordering(newest_first))[:limit])


def _keyset_rows(events: QuerySet[AuditEvent], *, newest_first: bool, batch: int) -> Iterator[AuditEvent]:
    """`events` in order, read `batch` at a time, each read an ordered,
    limited index range starting after the last row of the one before."""
    mark: Cursor | None = None
    while True:
        rows = _first_rows(
            _after(events, mark, newest_first=newest_first), newest_first=newest_first, limit=batch
        )
        yield from rows
        if len(rows) < batch:
            return
        mark = Cursor(rows[-1].occurred_at, rows[-1].pk)


def _links(
    *, patient_id: str, start: dt.datetime | None, end: dt.datetime | None
) -> QuerySet[AuditEventPatient]:
    links = AuditEventPatient.objects.filter(patient_id=patient_id)
    if start is not None:
        links = links.filter(occurred_at__gte=start)
    if end is not None:
        links = links.filter(occurred_at__lt=end)
    return links


def _linked_rows(
    events: QuerySet[AuditEvent],
    links: QuerySet[AuditEventPatient],
    *,
    after: Cursor | None,
    newest_first: bool,
    batch: int,
) -> Iterator[AuditEvent]:
    """The events of `events` that an index row of `links` names, in order,
    read link rows first: a keyset range of (patient_id, occurred_at,
    event_id), `batch` rows at a time, then those events by primary key
    within the batch's time span. `id IN (SELECT event_id ...)` let
    PostgreSQL walk the whole event table when it expected many link rows
    (issue 20: 80 s at 3.5M events; ADR 1651). The next batch is read only
    when the caller wants more than this one gave (the event filters, actor,
    action, outcome, or an archived event can leave a batch short)."""
    time_order, id_order = ("-occurred_at", "-event_id") if newest_first else ("occurred_at", "event_id")
    beyond, bound = ("lt", "lte") if newest_first else ("gt", "gte")
    mark = after
    while True:
        page = links
        if mark is not None:
            page = page.filter(
                Q(**{f"occurred_at__{beyond}": mark.occurred_at})
                | Q(occurred_at=mark.occurred_at, **{f"event_id__{beyond}": mark.event_id}),
                **{f"occurred_at__{bound}": mark.occurred_at},  # the index range, as in `_after`
            )
        rows = list(page.order_by(time_order, id_order).values_list("occurred_at", "event_id")[:batch])
        if rows:
            moments = [moment for moment, _ in rows]
            yield from events.filter(
                pk__in={event_id for _, event_id in rows},
                occurred_at__gte=min(moments),
                occurred_at__lte=max(moments),
            ).order_by(*_ordering(newest_first))
        if len(rows) < batch:
            return
        mark = Cursor(*rows[-1])


def _report_key(event: AuditEvent) -> tuple[dt.datetime, int]:
    return (event.occurred_at, event.pk)


def _patient_rows(
    events: QuerySet[AuditEvent],
    *,
    patient_id: str,
    start: dt.datetime | None,
    end: dt.datetime | None,
    after: Cursor | None,
    newest_first: bool,
    batch: int,
) -> Iterator[AuditEvent]:
    """One patient's events in report order: its direct events (keyset
    ranges of the (patient_id, occurred_at) index) and the events that listed
    it among several (`_linked_rows`), merged as they are read; an event in
    both counts once (the same key, so the merge yields the two together).
    Memory is two batches, whatever the length of the trail."""
    own = _keyset_rows(events.filter(patient_id=patient_id), newest_first=newest_first, batch=batch)
    links = _links(patient_id=patient_id, start=start, end=end)
    linked = _linked_rows(events, links, after=after, newest_first=newest_first, batch=batch)
    last: int | None = None
    for event in heapq.merge(own, linked, key=_report_key, reverse=newest_first):
        if event.pk != last:
            yield event
        last = event.pk


def audit_events_filtered(*, query: EventFilter, batch: int = STREAM_BATCH) -> Iterator[AuditEvent]:
    """Every event matching `query`, in report order, read `batch` rows at a
    time by keyset (the CSV streams it): the same index ranges as a page,
    never one statement over the whole trail (ADR 1652)."""
    events = _events(query, None)
    if query.patient_id:
        return _patient_rows(
            events,
            patient_id=query.patient_id,
            start=query.start,
            end=query.end,
            after=None,
            newest_first=query.newest_first,
            batch=batch,
        )
    return _keyset_rows(events, newest_first=query.newest_first, batch=batch)


def _page(rows: Iterator[AuditEvent], size: int) -> tuple[list[AuditEvent], Cursor | None]:
    """The first `size` of `rows` and the cursor of the next page (None: last
    page), from `size` + 1 rows read."""
    read = list(islice(rows, size + 1))
    following = Cursor(read[size - 1].occurred_at, read[size - 1].pk) if len(read) > size else None
    return read[:size], following


def audit_events_page(
    *, query: EventFilter, after: Cursor | None, size: int
) -> tuple[list[AuditEvent], Cursor | None]:
    """One page after `after`, and the cursor of the next page (None: last page)."""
    events = _events(query, after)
    if query.patient_id:
        return _page(
            _patient_rows(
                events,
                patient_id=query.patient_id,
                start=query.start,
                end=query.end,
                after=after,
                newest_first=query.newest_first,
                batch=size + 1,
            ),
            size,
        )
    return _page(iter(_first_rows(events, newest_first=query.newest_first, limit=size + 1)), size)


def patient_accesses(*, patient_id: str, batch: int = STREAM_BATCH) -> Iterator[AuditEvent]:
    """Every recorded access to one patient, oldest first (HIPAA 164.528),
    those that disclosed the patient among several included; read `batch`
    rows at a time (ADR 1652)."""
    return _patient_rows(
        AuditEvent.objects.all(),
        patient_id=patient_id,
        start=None,
        end=None,
        after=None,
        newest_first=False,
        batch=batch,
    )


def patient_accesses_page(
    *, patient_id: str, after: Cursor | None, size: int
) -> tuple[list[AuditEvent], Cursor | None]:
    """One page of `patient_accesses` after `after`, and the next page's cursor."""
    events = _after(AuditEvent.objects.all(), after, newest_first=False)
    return _page(
        _patient_rows(
            events,
            patient_id=patient_id,
            start=None,
            end=None,
            after=after,
            newest_first=False,
            batch=size + 1,
        ),
        size,
    )


def user_id_by_username(*, username: str) -> int | None:
    user_model = get_user_model()
    return user_model.objects.filter(username=username).values_list("pk", flat=True).first()


def user_display_names(*, user_ids: Iterable[int | None]) -> dict[int, str]:
    """Display names (full name, else username) by user id, from identity."""
    wanted = {user_id for user_id in user_ids if user_id is not None}
    if not wanted:
        return {}
    user_model = get_user_model()
    names: dict[int, str] = {}
    for user in user_model.objects.filter(pk__in=wanted).only("pk", "username", "first_name", "last_name"):
        full = getattr(user, "get_full_name", lambda: "")()
        names[int(user.pk)] = full or user.get_username()
    return names


def event_rows(*, events: list[AuditEvent]) -> list[dict[str, Any]]:
    """Events with the actor's display name resolved, for templates and CSV."""
    names = user_display_names(user_ids=[event.actor_id for event in events])
    return [
        {
            "event": event,
            "who": names.get(event.actor_id or 0) or event.actor_username or "unknown",
            "roles": event.actor_roles.replace(",", ", "),
        }
        for event in events
    ]


def audit_events_by_ids(*, event_ids: Iterable[int]) -> list[AuditEvent]:
    """The live events among `event_ids`, in sequence order (ids that were
    archived out of the live table are simply absent). Used to show an
    alert's evidence."""
    wanted = sorted({int(event_id) for event_id in event_ids})
    if not wanted:
        return []
    return list(AuditEvent.objects.filter(pk__in=wanted).order_by("id"))


# --- Reads for the control tests (issue 18; audit/controls.py and
# detection/controls.py; ADR 0920). Index ranges only: (action, occurred_at)
# on the events, primary keys on seals and export cursors.


@dataclass(frozen=True)
class EventFacts:
    """An audit event's non-PHI facts (no reason, no patient)."""

    id: int
    occurred_at: dt.datetime
    actor_id: int | None
    actor_username: str
    outcome: str
    resource_type: str
    resource_id: str
    detail: dict[str, Any]


_FACTS = (
    "id",
    "occurred_at",
    "actor_id",
    "actor_username",
    "outcome",
    "resource_type",
    "resource_id",
    "detail",
)


def event_last_of_action(*, action: str) -> EventFacts | None:
    """The newest event of `action` (one step down the (action, occurred_at) index)."""
    row = (
        AuditEvent.objects.filter(action=action).order_by("-occurred_at", "-id").values_list(*_FACTS).first()
    )
    return EventFacts(*row) if row else None


def events_of_action(
    *, action: str, since: dt.datetime, resource_type: str = "", resource_ids: Iterable[str] | None = None
) -> list[EventFacts]:
    """Events of `action` since `since`, optionally of one resource type and
    only these resource ids (asked 500 ids at a time)."""
    events = AuditEvent.objects.filter(action=action, occurred_at__gte=since)
    if resource_type:
        events = events.filter(resource_type=resource_type)
    if resource_ids is None:
        return [EventFacts(*row) for row in events.order_by("occurred_at", "id").values_list(*_FACTS)]
    ids = sorted(set(resource_ids))
    found: list[EventFacts] = []
    for start in range(0, len(ids), 500):
        found += [
            EventFacts(*row)
            for row in events.filter(resource_id__in=ids[start : start + 500])
            .order_by("occurred_at", "id")
            .values_list(*_FACTS)
        ]
    return found


@dataclass(frozen=True)
class ChartRead:
    """A chart opened: who, from where, when; never which patient."""

    id: int
    occurred_at: dt.datetime
    actor_id: int
    client_ip: str


def chart_reads_from(*, client_ips: Iterable[str], start: dt.datetime, end: dt.datetime) -> list[ChartRead]:
    """Successful patient-record reads by a signed-in user from these addresses,
    start < occurred_at <= end (the occurred_at index, then the addresses)."""
    ips = sorted(set(client_ips))
    if not ips:
        return []
    rows = (
        AuditEvent.objects.filter(
            occurred_at__gt=start,
            occurred_at__lte=end,
            action=Action.READ,
            outcome=Outcome.SUCCESS,
            client_ip__in=ips,
            actor_id__isnull=False,
        )
        .exclude(patient_id="")
        .order_by("occurred_at", "id")
        .values_list("id", "occurred_at", "actor_id", "client_ip")
    )
    return [ChartRead(pk, moment, int(actor or 0), str(ip)) for pk, moment, actor, ip in rows]


@dataclass(frozen=True)
class SealFacts:
    number: int
    sealed_at: dt.datetime
    watermark: int


def seal_last() -> SealFacts | None:
    from safeward.audit.models import AuditSeal

    row = AuditSeal.objects.order_by("-number").values_list("number", "sealed_at", "watermark").first()
    return SealFacts(*row) if row else None


def seal_after(*, number: int) -> SealFacts | None:
    """The first seal after `number` (the oldest one a sink has not fully acknowledged)."""
    from safeward.audit.models import AuditSeal

    row = (
        AuditSeal.objects.filter(number__gt=number)
        .order_by("number")
        .values_list("number", "sealed_at", "watermark")
        .first()
    )
    return SealFacts(*row) if row else None


@dataclass(frozen=True)
class ExportCursorFacts:
    sink: str
    seal_number: int
    event_id: int
    updated_at: dt.datetime | None
    last_error: str


def export_cursors() -> list[ExportCursorFacts]:
    from safeward.audit.models import AuditExportCursor

    return [
        ExportCursorFacts(*row)
        for row in AuditExportCursor.objects.order_by("sink").values_list(
            "sink", "seal_number", "event_id", "updated_at", "last_error"
        )
    ]


@dataclass(frozen=True)
class MonthlyTouch:
    """What a set of accounts and OAuth clients did to patient records in one
    month: how many events named a patient and how many distinct patients.
    Counts only (added for vendors, issue 16)."""

    month: dt.date
    events: int
    patients: int


@dataclass(frozen=True)
class Tenure[H: (int, str)]:
    """An account (its id) or an OAuth client (its client id) and the time
    its events count: from `start` (inclusive) until `end` (exclusive); None
    leaves that side open."""

    holder: H
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def covers(self, moment: dt.datetime) -> bool:
        """Whether an event at `moment` counts: the bounds `_held` reads by."""
        return (self.start is None or self.start <= moment) and (self.end is None or moment < self.end)


def _held(field: str, tenures: list[Tenure[Any]]) -> Q:
    """The events of these holders, each within its tenure: an OR of
    (holder, time range) conditions, each an index range on (holder, occurred_at)."""
    held = Q()
    for tenure in tenures:
        one = Q(**{field: tenure.holder})
        if tenure.start is not None:
            one &= Q(occurred_at__gte=tenure.start)
        if tenure.end is not None:
            one &= Q(occurred_at__lt=tenure.end)
        held |= one
    return held


def patient_touch_by_month(
    *, accounts: Iterable[Tenure[int]], clients: Iterable[Tenure[str]]
) -> list[MonthlyTouch]:
    """Per month (UTC), the events of these accounts or OAuth clients, each
    within its tenure, that named a patient (directly or among the several
    of a search page or a worklist, ADR 0208) and the distinct patients they
    named. Every month of the trail: the vendor page lists them all and the
    vendor control checks each against the agreements in force (ADR 1218,
    tenures ADR 1219). One grouped statement: the (month, event, patient)
    triples of the direct and the linked events, by the (actor_id,
    occurred_at) and event_id index paths, counted per month by the
    database, so only a row per month leaves it."""
    account_list, client_list = list(accounts), [c for c in clients if c.holder]
    sets: list[QuerySet[AuditEvent]] = []
    if account_list:
        sets.append(AuditEvent.objects.filter(_held("actor_id", account_list)))
    if client_list:
        sets.append(AuditEvent.objects.filter(_held("client_id", client_list)))
    if not sets:
        return []
    # year * 100 + month: an integer on both engines (a truncated date comes
    # back as a string from SQLite's raw cursor, a date from PostgreSQL's).
    month = ExtractYear("occurred_at", tzinfo=dt.UTC) * 100 + ExtractMonth("occurred_at", tzinfo=dt.UTC)
    triples: list[QuerySet[Any]] = []
    for events in sets:
        triples.append(
            events.exclude(patient_id="")
            .order_by()
            .annotate(month_key=month, event=F("id"), patient=F("patient_id"))
            .values_list("month_key", "event", "patient")
        )
        triples.append(
            AuditEventPatient.objects.filter(event_id__in=events.values("id"))
            .order_by()
            .annotate(month_key=month, event=F("event_id"), patient=F("patient_id"))
            .values_list("month_key", "event", "patient")
        )
    # UNION ALL: an event of an account and a client, or named and listed, is counted once by DISTINCT.
    union = triples[0].union(*triples[1:], all=True).order_by()
    sql, params = union.query.get_compiler(using=union.db).as_sql()
    with connections[union.db].cursor() as cursor:
        # The inner SQL is the ORM's, its values bound as parameters.
        grouped = (
            "SELECT t.month_key, COUNT(DISTINCT t.event), COUNT(DISTINCT t.patient) "  # noqa: S608
            f"FROM ({sql}) t GROUP BY t.month_key ORDER BY t.month_key"
        )
        cursor.execute(grouped, params)
        rows = cursor.fetchall()
    return [
        MonthlyTouch(dt.date(int(key) // 100, int(key) % 100, 1), int(events), int(patients))
        for key, events, patients in rows
    ]


def _within[H: (int, str)](
    tenures: Iterable[Tenure[H]], start: dt.datetime, end: dt.datetime
) -> list[Tenure[H]]:
    """The tenures cut to [start, end), those outside it left out (and a
    client tenure without a client id): each then bounds its own index
    range, never wider than the read's window (ADR 1220)."""
    cut: list[Tenure[H]] = []
    for tenure in tenures:
        low = start if tenure.start is None else max(start, tenure.start)
        high = end if tenure.end is None else min(end, tenure.end)
        if tenure.holder and low < high:
            cut.append(Tenure(tenure.holder, low, high))
    return cut


def _breach_events(
    *,
    start: dt.datetime,
    end: dt.datetime,
    actor_ids: Iterable[int],
    client_ids: Iterable[str],
    session_ids: Iterable[str],
    accounts: Iterable[Tenure[int]] = (),
    clients: Iterable[Tenure[str]] = (),
) -> list[QuerySet[AuditEvent]]:
    # The window stays a plain bound beside the tenures' OR: the partitions it prunes to.
    base = AuditEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end, outcome="success")
    sets: list[QuerySet[AuditEvent]] = []
    if actors := list(actor_ids):
        sets.append(base.filter(actor_id__in=actors))
    if held := _within(accounts, start, end):
        sets.append(base.filter(_held("actor_id", held)))
    if client_list := list(client_ids):
        sets.append(base.filter(client_id__in=client_list))
    if held_clients := _within(clients, start, end):
        sets.append(base.filter(_held("client_id", held_clients)))
    if sessions := list(session_ids):
        sets.append(base.filter(session_id__in=sessions))
    return sets


def patients_touched(
    *,
    start: dt.datetime,
    end: dt.datetime,
    actor_ids: Iterable[int] = (),
    client_ids: Iterable[str] = (),
    session_ids: Iterable[str] = (),
    accounts: Iterable[Tenure[int]] = (),
    clients: Iterable[Tenure[str]] = (),
) -> set[str]:
    """Every patient id that successful events of these accounts, OAuth
    clients or sessions named in [start, end): directly, or among the several
    a search page or a worklist disclosed (the per-patient index, ADR 0208).
    The breach clock's scope (incidents, ADR 1402). `accounts` and `clients`
    count each holder's events within its tenure only, as
    `patient_touch_by_month` does (ADR 1220). Index paths: the events
    by (actor_id, occurred_at); their patients by event_id, bounded by time
    so a partitioned trail prunes to the window."""
    found: set[str] = set()
    for events in _breach_events(
        start=start,
        end=end,
        actor_ids=actor_ids,
        client_ids=client_ids,
        session_ids=session_ids,
        accounts=accounts,
        clients=clients,
    ):
        # order_by(): no model ordering in the DISTINCT (it would be DISTINCT id, patient_id).
        found.update(events.exclude(patient_id="").order_by().values_list("patient_id", flat=True).distinct())
        linked = AuditEventPatient.objects.filter(
            event_id__in=events.values("id"), occurred_at__gte=start, occurred_at__lt=end
        )
        found.update(linked.order_by().values_list("patient_id", flat=True).distinct())
    return found


def patients_touched_per_day(
    *,
    end: dt.datetime,
    days: int,
    actor_ids: Iterable[int] = (),
    client_ids: Iterable[str] = (),
    accounts: Iterable[Tenure[int]] = (),
    clients: Iterable[Tenure[str]] = (),
) -> list[int]:
    """The distinct patients these accounts and OAuth clients touched (as
    `patients_touched` counts them, `accounts` and `clients` within their
    tenures) in each of the `days` 24-hour slices
    ending at `end`, latest first: index 0 is [end - 24 h, end). One grouped
    statement (ADR 1217): the (slice, patient) pairs of the direct and the
    linked events, UNIONed (so a patient counts once a slice however it was
    disclosed), counted per slice by the database; the same index paths as
    `patients_touched`, bounded by [end - days, end), so only counts leave it."""
    start = end - dt.timedelta(days=days)
    # A CASE over the slice bounds is portable (no epoch arithmetic that
    # SQLite and PostgreSQL spell differently); the first bound that holds wins.
    day = Case(
        *(When(occurred_at__gte=end - dt.timedelta(days=n + 1), then=Value(n)) for n in range(days)),
        output_field=IntegerField(),
    )
    pairs: list[QuerySet[Any]] = []
    for events in _breach_events(
        start=start,
        end=end,
        actor_ids=actor_ids,
        client_ids=client_ids,
        session_ids=(),
        accounts=accounts,
        clients=clients,
    ):
        pairs.append(
            events.exclude(patient_id="")
            .order_by()
            .annotate(day_index=day, patient=F("patient_id"))
            .values_list("day_index", "patient")
        )
        pairs.append(
            AuditEventPatient.objects.filter(
                event_id__in=events.values("id"), occurred_at__gte=start, occurred_at__lt=end
            )
            .order_by()
            .annotate(day_index=day, patient=F("patient_id"))
            .values_list("day_index", "patient")
        )
    counts = [0] * days
    if not pairs:
        return counts
    # order_by(): the union would otherwise take the event model's ordering, a column it has not.
    union = (pairs[0].union(*pairs[1:]) if len(pairs) > 1 else pairs[0].distinct()).order_by()
    sql, params = union.query.get_compiler(using=union.db).as_sql()
    with connections[union.db].cursor() as cursor:
        # The inner SQL is the ORM's, its values bound as parameters.
        grouped = f"SELECT pairs.day_index, COUNT(*) FROM ({sql}) pairs GROUP BY pairs.day_index"  # noqa: S608
        cursor.execute(grouped, params)
        for index, count in cursor.fetchall():
            counts[index] = count
    return counts


def patients_touched_sql(
    *, start: dt.datetime, end: dt.datetime, actor_ids: Iterable[int] = ()
) -> list[tuple[str, tuple[Any, ...]]]:
    """The two queries `patients_touched` runs for accounts (SQL and parameters), for EXPLAIN."""
    queries: list[tuple[str, tuple[Any, ...]]] = []
    for events in _breach_events(start=start, end=end, actor_ids=actor_ids, client_ids=(), session_ids=()):
        direct = events.exclude(patient_id="").order_by().values_list("patient_id", flat=True).distinct()
        linked = (
            AuditEventPatient.objects.filter(
                event_id__in=events.values("id"), occurred_at__gte=start, occurred_at__lt=end
            )
            .order_by()
            .values_list("patient_id", flat=True)
            .distinct()
        )
        for query in (direct, linked):
            sql, params = query.query.sql_with_params()
            queries.append((sql, tuple(params)))
    return queries
