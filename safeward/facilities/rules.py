"""The badge rules over the door-event stream (ADR 1100). They use detection's
rule catalog (codes, severities, parameters an operator tunes on the rule
configuration page) and its alert grouping (`alerts_raise`); the evidence of a
door alert is the audit event of the import that brought the door events in,
and the alert's detail names the door events. Evaluated in the ingest
transaction: an alert exists the moment the events commit. They judge a batch
with one query per lookup (configs, people, badges, authorisations, sessions,
earlier denials), never one per event (ADR 1110)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from safeward.detection.rules import Code, RuleConfig
from safeward.detection.selectors import rule_configs
from safeward.detection.services import Finding, alerts_raise
from safeward.facilities.models import Authorisation, Badge, DoorEvent, Visitor, Workstation

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_EVENT_IDS = 20


@lru_cache(maxsize=64)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


class Hit(NamedTuple):
    """A stored door event as the rules see it: plain values, no model instance
    (building 10,000 of those per batch cost more than the rules themselves),
    and a tuple rather than a frozen dataclass, whose constructor cost more
    than the rule it fed (ADR 1116)."""

    pk: int
    credential_id: str
    person_id: int | None
    area_id: int
    area_code: str
    secure: bool
    zone: str  # the door's zone, else its site's
    occurred_at: dt.datetime
    granted: bool
    direction: str


def local_time(event: Hit) -> dt.datetime:
    """The event's wall-clock time at its door."""
    return event.occurred_at.astimezone(_zone(event.zone))


@lru_cache(maxsize=256)
def _days(weekdays: str) -> frozenset[str]:
    return frozenset(weekdays.split(","))


def window_allows(authorisation: Authorisation, local: dt.datetime) -> bool:
    """Inside the weekday/time window. A window ending before it starts runs past
    midnight: the early hours belong to the previous day's window."""
    days = _days(authorisation.weekdays)
    moment = local.time().replace(tzinfo=None)
    start, end = authorisation.start_time, authorisation.end_time
    if start < end:
        return WEEKDAYS[local.weekday()] in days and start <= moment <= end
    if moment >= start:
        return WEEKDAYS[local.weekday()] in days
    previous = WEEKDAYS[(local.weekday() - 1) % 7]
    return moment <= end and previous in days


def _finding(
    config: RuleConfig,
    title: str,
    subject: str,
    events: Sequence[Hit],
    evidence_id: int,
    **detail: object,
) -> Finding:
    return Finding(
        rule=config.code,
        severity=config.severity,
        title=title,
        subject=subject,
        evidence=[(evidence_id, max(e.occurred_at for e in events))],
        detail={
            "stream": "door",
            "door_events": [e.pk for e in events][:MAX_EVENT_IDS],
            "areas": sorted({e.area_code for e in events}),
            **detail,
        },
    )


def evaluate(events: Sequence[Hit], *, evidence_id: int, now: dt.datetime) -> int:
    """Run the badge rules over newly ingested events; returns alerts raised or grown."""
    if not events:
        return 0
    from safeward.identity.selectors import clinical_zone_names, session_spans
    from safeward.workforce.selectors import people_brief

    configs = rule_configs()
    person_ids = {e.person_id for e in events if e.person_id is not None}
    people = people_brief(person_ids=person_ids)
    badges = dict(
        Badge.objects.filter(credential_id__in={e.credential_id for e in events}).values_list(
            "credential_id", "status"
        )
    )
    area_ids = {e.area_id for e in events}
    by_area: dict[int, list[Authorisation]] = defaultdict(list)
    for authorisation in Authorisation.objects.filter(area_id__in=area_ids):
        by_area[authorisation.area_id].append(authorisation)
    # The authorisations that apply, per (area, person, position): computed once per batch.
    applicable: dict[tuple[int, int | None, str], list[Authorisation]] = {}
    findings: list[Finding] = []
    grouped: dict[tuple[str, str], list[Hit]] = defaultdict(list)

    terminated = configs[Code.BADGE_TERMINATED]
    unauthorised = configs[Code.BADGE_UNAUTHORISED_ENTRY]
    schedule = configs[Code.BADGE_OUTSIDE_SCHEDULE]
    entries: list[Hit] = []
    for event in events:
        person = people.get(event.person_id) if event.person_id is not None else None
        status = badges.get(event.credential_id)
        if terminated.enabled and (
            (person is not None and person.status == "terminated")
            or status in (Badge.Status.TO_RECOVER, Badge.Status.REVOKED)
        ):
            grouped[(Code.BADGE_TERMINATED, f"badge:{event.credential_id}")].append(event)
            continue
        if not event.granted or event.direction != "in" or not event.secure:
            continue
        entries.append(event)
        position = person.position_code if person is not None else ""
        mine_key = (event.area_id, event.person_id, position)
        mine = applicable.get(mine_key)
        if mine is None:
            mine = applicable[mine_key] = [
                a
                for a in by_area.get(event.area_id, [])
                if (a.person_id is not None and a.person_id == event.person_id)
                or (position and a.position_code == position)
            ]
        if not mine:
            if unauthorised.enabled:
                grouped[(Code.BADGE_UNAUTHORISED_ENTRY, f"badge:{event.credential_id}")].append(event)
            continue
        local = local_time(event)
        if schedule.enabled and not any(window_allows(a, local) for a in mine):
            grouped[(Code.BADGE_OUTSIDE_SCHEDULE, f"badge:{event.credential_id}")].append(event)

    titles = {
        Code.BADGE_TERMINATED: "Badge of a leaver or on the recovery list presented",
        Code.BADGE_UNAUTHORISED_ENTRY: "Entry to a secure area without authorisation",
        Code.BADGE_OUTSIDE_SCHEDULE: "Secure-area entry outside the authorised schedule",
    }
    for (code, subject), hits in grouped.items():
        person_id = hits[0].person_id
        findings.append(
            _finding(configs[code], titles[code], subject, hits, evidence_id, person_id=person_id)
        )

    denials = configs[Code.BADGE_REPEATED_DENIALS]
    if denials.enabled:
        findings += _repeated_denials(events, denials, evidence_id)

    travel = configs[Code.BADGE_IMPOSSIBLE_TRAVEL]
    if travel.enabled and entries:
        user_of = {pid: p.user_id for pid, p in people.items() if p.user_id is not None}
        users = sorted(set(user_of.values()))
        if users:
            start = min(e.occurred_at for e in entries)
            end = max(e.occurred_at for e in entries)
            idle = dt.timedelta(minutes=int(travel.params["idle_minutes"]))
            lifetime = dt.timedelta(days=1)
            clinical = clinical_zone_names()
            spans = [
                s
                for s in session_spans(user_ids=users, start=start - idle, end=end, lifetime=lifetime)
                if s.network_zone and s.network_zone not in clinical
            ]
            by_user: dict[int, list[Any]] = defaultdict(list)
            for span in spans:
                by_user[span.user_id].append(span)
            hits_by: dict[int, list[Hit]] = defaultdict(list)
            zones: dict[int, set[str]] = defaultdict(set)
            for event in entries:
                user_id = user_of.get(event.person_id) if event.person_id is not None else None
                for span in by_user.get(user_id or -1, []):
                    if span.live_at(event.occurred_at, idle=idle, lifetime=lifetime):
                        hits_by[event.person_id or 0].append(event)
                        zones[event.person_id or 0].add(span.network_zone)
            for person_id, hits in hits_by.items():
                findings.append(
                    _finding(
                        travel,
                        "Badge entry while signed in from a remote zone",
                        f"person:{person_id}",
                        hits,
                        evidence_id,
                        person_id=person_id,
                        remote_zones=sorted(zones[person_id]),
                    )
                )
    return len(alerts_raise(findings, now=now))


def _repeated_denials(events: Sequence[Hit], config: RuleConfig, evidence_id: int) -> list[Finding]:
    window = dt.timedelta(minutes=int(config.params["window_minutes"]))
    threshold = int(config.params["threshold"])
    denied: dict[str, list[Hit]] = defaultdict(list)
    for event in events:
        if not event.granted:
            denied[event.credential_id].append(event)
    findings: list[Finding] = []
    if not denied:
        return findings
    # Earlier denials of the same badges within the window, from earlier imports.
    first = min(e.occurred_at for hits in denied.values() for e in hits)
    new_ids = {e.pk for hits in denied.values() for e in hits}
    earlier = DoorEvent.objects.filter(
        credential_id__in=list(denied), granted=False, occurred_at__gte=first - window
    ).values_list(
        "pk",
        "credential_id",
        "person_id",
        "area_id",
        "area__code",
        "area__secure",
        "door__time_zone",
        "area__site__time_zone",
        "occurred_at",
        "direction",
    )
    for pk, credential, person, area, code, secure, door_zone, site_zone, moment, direction in earlier:
        if pk not in new_ids:
            denied[credential].append(
                Hit(
                    pk,
                    credential,
                    person,
                    area,
                    code,
                    secure,
                    door_zone or site_zone,
                    moment,
                    False,
                    direction,
                )
            )
    for credential, hits in denied.items():
        hits.sort(key=lambda e: e.occurred_at)
        lo = 0
        for hi in range(len(hits)):
            while hits[hi].occurred_at - hits[lo].occurred_at > window:
                lo += 1
            if hi - lo + 1 >= threshold:
                burst = hits[lo : hi + 1]
                findings.append(
                    _finding(
                        config,
                        "Repeated denials at secure doors",
                        f"badge:{credential}",
                        burst,
                        evidence_id,
                        denials=len(burst),
                        person_id=burst[0].person_id,
                    )
                )
                break
    return findings


def overstays(*, now: dt.datetime) -> int:
    from django.db import transaction

    from safeward.audit.services import audit_record
    from safeward.audit.vocabulary import Action, PurposeOfUse

    config = rule_configs()[Code.VISITOR_OVERSTAY]
    if not config.enabled:
        return 0
    grace = dt.timedelta(minutes=int(config.params["grace_minutes"]))
    late = [
        v
        for v in Visitor.objects.filter(signed_out_at__isnull=True)
        if v.signed_in_at + dt.timedelta(minutes=v.expected_minutes) + grace < now
    ]
    if not late:
        return 0
    with transaction.atomic():
        event = audit_record(
            action=Action.EXECUTE,
            resource_type="FacilityVisitorSweep",
            purpose=PurposeOfUse.SECURITY,
            detail={"overstays": len(late)},
        )
        findings = [
            Finding(
                rule=config.code,
                severity=config.severity,
                title=f"Visitor badge {v.badge_number} overstayed",
                subject=f"visitor:{v.pk}",
                evidence=[(event.pk, now)],
                detail={"stream": "visitors", "visitor_id": v.pk, "badge": v.badge_number},
            )
            for v in late
        ]
        return len(alerts_raise(findings, now=now))


@dataclass(frozen=True, slots=True)
class UnbadgedRead:
    """A chart read from a workstation in a secure area with no granted badge-in
    to that area in the shift before it: who, where, when — never the patient."""

    event_id: int
    occurred_at: dt.datetime
    actor_id: int
    person_id: int | None
    area_id: int
    area_code: str
    device_id: int


def unbadged_reads(*, start: dt.datetime, end: dt.datetime, shift: dt.timedelta) -> list[UnbadgedRead]:
    """Chart reads start < time <= end from placed workstations that lack a
    badge-in by their reader (the rule's judgement, without raising anything:
    the sweep alerts on them, the workstations page lists them)."""
    from safeward.audit.selectors import chart_reads_from
    from safeward.devices.selectors import device_get
    from safeward.workforce.selectors import active_accounts_people

    # Few workstations sit inside secure areas: one inventory read each.
    area_of_ip: dict[str, tuple[int, str, int]] = {}
    for placed in Workstation.objects.select_related("area"):
        device = device_get(device_id=placed.device_id)
        if device is not None and device.ip_address:
            area_of_ip[device.ip_address] = (placed.area_id, placed.area.code, placed.device_id)
    reads = chart_reads_from(client_ips=area_of_ip, start=start, end=end)
    if not reads:
        return []
    actors = {r.actor_id for r in reads}
    person_of = {user: person for user, _, person in active_accounts_people() if user in actors and person}
    entries: dict[tuple[int, int], list[dt.datetime]] = defaultdict(list)
    for person_id, area_id, moment in DoorEvent.objects.filter(
        person_id__in=set(person_of.values()),
        area_id__in={area for area, _, _ in area_of_ip.values()},
        granted=True,
        direction=DoorEvent.Direction.IN,
        occurred_at__gte=min(r.occurred_at for r in reads) - shift,
        occurred_at__lte=max(r.occurred_at for r in reads),
    ).values_list("person_id", "area_id", "occurred_at"):
        entries[(int(person_id or 0), area_id)].append(moment)
    found: list[UnbadgedRead] = []
    for read in reads:
        area_id, area_code, device_id = area_of_ip[read.client_ip]
        person = person_of.get(read.actor_id)
        times = entries.get((person, area_id), []) if person is not None else []
        if not any(read.occurred_at - shift <= moment <= read.occurred_at for moment in times):
            found.append(
                UnbadgedRead(read.id, read.occurred_at, read.actor_id, person, area_id, area_code, device_id)
            )
    return found


def chart_access_sweep(*, now: dt.datetime) -> int:
    """Charts opened from a workstation placed in a secure area, judged once each
    (an event already evidence of this rule is skipped) after a settle delay so
    a door-event file imported a little late is not a false alarm. Chart reads
    come from the audit trail's facts (who, from where, when), never the patient."""
    from django.db import transaction

    from safeward.detection.selectors import evidenced_event_ids

    config = rule_configs()[Code.CHART_WITHOUT_BADGE_IN]
    if not config.enabled:
        return 0
    end = now - dt.timedelta(minutes=int(config.params["settle_minutes"]))
    start = end - dt.timedelta(minutes=int(config.params["lookback_minutes"]))
    shift = dt.timedelta(hours=int(config.params["shift_hours"]))
    reads = unbadged_reads(start=start, end=end, shift=shift)
    done = evidenced_event_ids(rule=config.code, event_ids=[r.event_id for r in reads])
    unbadged: dict[int, list[UnbadgedRead]] = defaultdict(list)
    for read in reads:
        if read.event_id not in done:
            unbadged[read.actor_id].append(read)
    findings = [
        Finding(
            rule=config.code,
            severity=config.severity,
            title="Chart opened in a secure area without a badge-in",
            subject=f"user:{user_id}",
            evidence=[(r.event_id, r.occurred_at) for r in hits],
            subject_user_id=user_id,
            detail={
                "stream": "chart_access",
                "areas": sorted({r.area_code for r in hits}),
                "devices": sorted({r.device_id for r in hits}),
                "charts_opened": len(hits),
                "person_id": hits[0].person_id,
            },
        )
        for user_id, hits in unbadged.items()
    ]
    if not findings:
        return 0
    with transaction.atomic():
        return len(alerts_raise(findings, now=now))
