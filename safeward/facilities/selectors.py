"""Facilities reads. Pages show patient COUNTS only, never who."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from safeward import clock
from safeward.facilities.models import (
    Area,
    Authorisation,
    Badge,
    Certificate,
    CustodyEvent,
    DoorEvent,
    Medium,
    Site,
    Visitor,
    Workstation,
)

MAX_ROWS = 500


def sites_list() -> QuerySet[Site]:
    return Site.objects.all()


def areas_list() -> QuerySet[Area]:
    return Area.objects.select_related("site").prefetch_related("doors", "authorisations")


def area_get(*, area_id: int) -> Area | None:
    return areas_list().filter(pk=area_id).first()


def area_by_code(*, code: str) -> Area | None:
    return Area.objects.filter(code=code.strip()).first()


def authorisations_for_person(*, person_id: int) -> QuerySet[Authorisation]:
    return Authorisation.objects.filter(person_id=person_id).select_related("area")


def badges_list() -> QuerySet[Badge]:
    return Badge.objects.all()


def events_for_area(*, area_id: int, limit: int = MAX_ROWS) -> list[DoorEvent]:
    return list(
        DoorEvent.objects.filter(area_id=area_id)
        .select_related("door", "area__site")
        .order_by("-occurred_at", "-id")[:limit]
    )


def events_for_person(*, person_id: int, limit: int = MAX_ROWS) -> list[DoorEvent]:
    return list(
        DoorEvent.objects.filter(person_id=person_id)
        .select_related("door", "area__site")
        .order_by("-occurred_at", "-id")[:limit]
    )


def visitors_on_site() -> QuerySet[Visitor]:
    return Visitor.objects.filter(signed_out_at__isnull=True).order_by("signed_in_at")


def visitors_recent(*, days: int = 1) -> QuerySet[Visitor]:
    return Visitor.objects.filter(signed_in_at__gte=clock.now() - dt.timedelta(days=days))


def visitor_get(*, visitor_id: int) -> Visitor | None:
    return Visitor.objects.filter(pk=visitor_id).first()


def visitors_flagged(*, days: int = 30) -> QuerySet[Visitor]:
    """Visits to patients flagged VIP or restricted: the privacy officer's list."""
    return visitors_recent(days=days).filter(flagged_patient_visit=True)


def media_list() -> QuerySet[Medium]:
    return Medium.objects.all()


def custody_log(*, limit: int = MAX_ROWS) -> list[CustodyEvent]:
    return list(CustodyEvent.objects.select_related("medium", "recorded_by")[:limit])


def certificate_get(*, certificate_id: int) -> Certificate | None:
    return (
        Certificate.objects.select_related("medium", "operator", "validator")
        .filter(pk=certificate_id)
        .first()
    )


def disposal_queue() -> QuerySet[Certificate]:
    """Certificates not yet used for a disposal: waiting for validation or pickup."""
    return Certificate.objects.filter(disposed_at__isnull=True).select_related(
        "medium", "operator", "validator"
    )


def certificates_for_pickup(*, pickup: str) -> QuerySet[Certificate]:
    return Certificate.objects.filter(pickup=pickup).select_related("medium", "operator", "validator")


def patients_in_scope(*, device_id: int | None, medium_id: int | None) -> int:
    """Breach scope: how many patients' data may have been on the item. The
    people who held it (its assignment in the device inventory and every
    holder in its chain of custody) and the export manifests of what they took
    out while they held it (from their first custody, or ever for the assigned
    person): the distinct patients in those manifests. A count, never who."""
    from safeward.assets.manifests import manifests_since
    from safeward.devices.selectors import device_get
    from safeward.workforce.selectors import people_brief

    holders: set[int] = set()
    since: dt.datetime | None = None
    if device_id is not None:
        device = device_get(device_id=device_id)
        if device is not None and device.assigned_person_id:
            holders.add(int(device.assigned_person_id))
            since = device.created_at
        custody = CustodyEvent.objects.filter(device_id=device_id)
    else:
        custody = CustodyEvent.objects.filter(medium_id=medium_id or 0)
    for person_id, moment in custody.filter(holder_person_id__isnull=False).values_list(
        "holder_person_id", "occurred_at"
    ):
        holders.add(int(person_id or 0))
        since = moment if since is None else min(since, moment)
    if not holders or since is None:
        return 0
    users = {p.user_id for p in people_brief(person_ids=holders).values() if p.user_id is not None}
    if not users:
        return 0
    patients: set[str] = set()
    for ids in manifests_since(since=since).filter(actor_id__in=users).values_list("patient_ids", flat=True):
        patients.update(str(i) for i in ids or [])
    return len(patients)


def media_without_certificate() -> QuerySet[Medium]:
    """Media still here with no certificate of sanitization: they cannot leave yet."""
    certified = Certificate.objects.filter(medium__isnull=False).values("medium_id")
    return Medium.objects.filter(disposed_at__isnull=True).exclude(pk__in=certified)


# --- workstations in secure areas and rule chart_without_badge_in (ADR 1112) ----------------------


@dataclass(frozen=True)
class PlacedWorkstation:
    device_id: int
    asset_tag: str
    name: str
    ip_address: str
    area: Area
    placed_at: dt.datetime


@dataclass(frozen=True)
class UnbadgedChartRead:
    """Who opened a chart, where and when, with no badge-in — never which patient."""

    occurred_at: dt.datetime
    username: str
    area_code: str
    device: str


def workstations_placed() -> list[PlacedWorkstation]:
    from safeward.devices.selectors import device_get

    placed: list[PlacedWorkstation] = []
    for row in Workstation.objects.select_related("area"):
        device = device_get(device_id=row.device_id)
        placed.append(
            PlacedWorkstation(
                device_id=row.device_id,
                asset_tag=device.asset_tag if device is not None else f"device {row.device_id}",
                name=device.name if device is not None else "",
                ip_address=(device.ip_address or "") if device is not None else "",
                area=row.area,
                placed_at=row.placed_at,
            )
        )
    return placed


def chart_reads_without_badge_in(
    *, hours: int = 24, now: dt.datetime | None = None
) -> list[UnbadgedChartRead]:
    """The last `hours` of chart reads from placed workstations without a
    badge-in, as rule `chart_without_badge_in` judges them (its shift length),
    newest first. Reads of the last minutes are listed before the sweep's
    settle delay has passed: the page shows the judgement, not the alerts."""
    from safeward.detection.rules import Code
    from safeward.detection.selectors import rule_configs
    from safeward.facilities.rules import unbadged_reads
    from safeward.identity.selectors import usernames

    end = now or clock.now()
    shift = dt.timedelta(hours=int(rule_configs()[Code.CHART_WITHOUT_BADGE_IN].params["shift_hours"]))
    reads = unbadged_reads(start=end - dt.timedelta(hours=hours), end=end, shift=shift)
    names = usernames(user_ids={r.actor_id for r in reads})
    tags = {w.device_id: w.asset_tag for w in workstations_placed()}
    return [
        UnbadgedChartRead(
            occurred_at=r.occurred_at,
            username=names.get(r.actor_id, f"user {r.actor_id}"),
            area_code=r.area_code,
            device=tags.get(r.device_id, f"device {r.device_id}"),
        )
        for r in sorted(reads, key=lambda r: (r.occurred_at, r.event_id), reverse=True)[:MAX_ROWS]
    ]
