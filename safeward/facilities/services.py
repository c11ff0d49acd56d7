"""Facilities writes. Each takes `actor` (keyword-only), checks its permission,
runs in one transaction and audits there. Door events are ingested
all-or-nothing and run through the badge rules in the same transaction, so an
alert exists when the import commits (ADR 1100). Disposal is refused without a
validated certificate of sanitization, whatever the entry point (ADR 1100)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from django.db import transaction

from safeward import clock
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.facilities import nwipe
from safeward.facilities.models import (
    Area,
    Authorisation,
    Badge,
    Certificate,
    CustodyEvent,
    Door,
    DoorEvent,
    Medium,
    Site,
    Visitor,
    Workstation,
)
from safeward.identity.errors import NotPermitted
from safeward.identity.models import User
from safeward.identity.permissions import Perm

if TYPE_CHECKING:
    from safeward.clinical.types import SessionContext
    from safeward.workforce.extensions import RecoveryLine

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_IMPORT_ROWS = 2_000_000
PATIENT_VISIT = "Patient visit"
ESCORTED = "Escorted by the ward (confidential patient)"


class FacilityError(Exception):
    """A write refused with a reason the person can act on (no PHI in it)."""


class ImportRejected(FacilityError):
    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} row error(s); nothing was imported.")


def _require(actor: User | None, perm: Perm) -> None:
    if actor is not None and not actor.has_perm(perm):
        raise NotPermitted(perm)


def _audit(actor: User | None, action: Action, resource: str, pk: Any, **detail: Any) -> int:
    event = audit_record(
        action=action,
        actor=actor,
        resource_type=resource,
        resource_id=pk,
        purpose=PurposeOfUse.SECURITY,
        detail=detail,
    )
    return int(event.pk)


def time_zone_check(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise FacilityError(
            f"Unknown time zone {name[:64]!r}; use an IANA name such as America/New_York."
        ) from None
    return name


# --- sites, areas, doors, authorisations ---------------------------------------------------------


@transaction.atomic
def site_create(*, actor: User | None, name: str, time_zone: str) -> Site:
    _require(actor, Perm.FACILITY_AREA_MANAGE)
    site = Site.objects.create(
        name=name.strip()[:120], time_zone=time_zone_check(time_zone), created_at=clock.now()
    )
    _audit(actor, Action.CREATE, "FacilitySite", site.pk, time_zone=site.time_zone)
    return site


@transaction.atomic
def area_create(
    *,
    actor: User | None,
    site: Site,
    code: str,
    name: str,
    kind: str,
    classification: str,
    building: str = "",
    floor: str = "",
    room: str = "",
    secure: bool = True,
) -> Area:
    _require(actor, Perm.FACILITY_AREA_MANAGE)
    if kind not in Area.Kind.values:
        raise FacilityError("Choose the kind of area.")
    if classification not in Area.Classification.values:
        raise FacilityError("Choose a classification.")
    if not code.strip() or Area.objects.filter(code=code.strip()).exists():
        raise FacilityError("The area needs a code not used by another area.")
    area = Area.objects.create(
        site=site,
        code=code.strip()[:40],
        name=name.strip()[:120] or code.strip()[:120],
        kind=kind,
        classification=classification,
        building=building[:80],
        floor=floor[:20],
        room=room[:40],
        secure=secure,
        created_at=clock.now(),
    )
    _audit(actor, Action.CREATE, "FacilityArea", area.pk, area=area.code, kind=str(kind))
    return area


@transaction.atomic
def door_create(*, actor: User | None, area: Area, code: str, time_zone: str = "") -> Door:
    _require(actor, Perm.FACILITY_AREA_MANAGE)
    if time_zone:
        time_zone_check(time_zone)
    if not code.strip() or Door.objects.filter(code=code.strip()).exists():
        raise FacilityError("The door needs a code not used by another door.")
    door = Door.objects.create(area=area, code=code.strip()[:40], time_zone=time_zone)
    _audit(actor, Action.CREATE, "FacilityDoor", door.pk, area=area.code)
    return door


@transaction.atomic
def workstation_place(*, actor: User | None, device_id: int, area: Area) -> Workstation:
    """Place an inventory device inside a secure area (or move it to another);
    charts opened from it are then checked against badge-ins (ADR 1110)."""
    from safeward.devices.selectors import device_get

    _require(actor, Perm.FACILITY_AREA_MANAGE)
    if device_get(device_id=device_id) is None:
        raise FacilityError("No such device in the inventory.")
    placement, _ = Workstation.objects.update_or_create(
        device_id=device_id, defaults={"area": area, "placed_at": clock.now()}
    )
    _audit(actor, Action.UPDATE, "FacilityWorkstation", placement.pk, device=device_id, area=area.code)
    return placement


def chart_access_sweep(*, now: dt.datetime | None = None) -> int:
    """Alert on charts opened from workstations in secure areas without a
    badge-in (rule chart_without_badge_in). Returns alerts raised or grown."""
    from safeward.facilities import rules

    return rules.chart_access_sweep(now=now or clock.now())


def weekdays_clean(value: str | Iterable[str]) -> str:
    days = [
        d.strip().lower()[:3] for d in (value.split(",") if isinstance(value, str) else value) if d.strip()
    ]
    bad = [d for d in days if d not in WEEKDAYS]
    if bad or not days:
        raise FacilityError("Weekdays are a comma-separated list of mon, tue, wed, thu, fri, sat, sun.")
    return ",".join(d for d in WEEKDAYS if d in days)


@transaction.atomic
def authorisation_grant(
    *,
    actor: User | None,
    area: Area,
    position_code: str = "",
    person_id: int | None = None,
    weekdays: str | Iterable[str] = "mon,tue,wed,thu,fri,sat,sun",
    start_time: dt.time = dt.time(0, 0),
    end_time: dt.time = dt.time(23, 59, 59),
) -> Authorisation:
    _require(actor, Perm.FACILITY_AREA_MANAGE)
    if bool(position_code) == (person_id is not None):
        raise FacilityError("Authorise either a position or one person.")
    if start_time == end_time:
        raise FacilityError("The window's start and end must differ.")
    authorisation = Authorisation.objects.create(
        area=area,
        position_code=position_code[:40],
        person_id=person_id,
        weekdays=weekdays_clean(weekdays),
        start_time=start_time,
        end_time=end_time,
        created_at=clock.now(),
    )
    _audit(
        actor,
        Action.CREATE,
        "FacilityAuthorisation",
        authorisation.pk,
        area=area.code,
        position=position_code,
        person_id=person_id,
    )
    return authorisation


@transaction.atomic
def authorisation_revoke(*, actor: User | None, authorisation_id: int, reason: str = "") -> None:
    _require(actor, Perm.FACILITY_AREA_MANAGE)
    authorisation = Authorisation.objects.select_for_update().filter(pk=authorisation_id).first()
    if authorisation is None:
        raise FacilityError("No such authorisation.")
    _audit(actor, Action.DELETE, "FacilityAuthorisation", authorisation.pk, reason=reason[:200])
    authorisation.delete()


@transaction.atomic
def badge_issue(*, actor: User | None, credential_id: str, person_id: int) -> Badge:
    _require(actor, Perm.FACILITY_AREA_MANAGE)
    credential_id = credential_id.strip()
    if not credential_id or Badge.objects.filter(credential_id=credential_id).exists():
        raise FacilityError("The badge needs a credential id not already issued.")
    badge = Badge.objects.create(credential_id=credential_id[:64], person_id=person_id, issued_at=clock.now())
    _audit(actor, Action.CREATE, "FacilityBadge", badge.pk, person_id=person_id)
    return badge


def person_changed(*, person: Any, event: str, reason: str) -> int:
    """The workforce hook (inside workforce's transaction): a leaver or a person
    who changed position loses the authorisations granted to them by name; a
    leaver's badges stop opening doors and go on the recovery list. Position
    authorisations follow the position on their own. Returns what it ended."""
    now = clock.now()
    ended = Authorisation.objects.filter(person_id=person.pk).delete()[0]
    badges = 0
    if event == "termination":
        badges = Badge.objects.filter(person_id=person.pk, status=Badge.Status.ACTIVE).update(
            status=Badge.Status.TO_RECOVER, revoked_at=now
        )
    if ended or badges:
        _audit(
            None,
            Action.UPDATE,
            "FacilityPersonAccess",
            person.pk,
            event=event,
            authorisations_ended=ended,
            badges_to_recover=badges,
        )
    return ended + badges


def badges_to_recover(person: Any) -> list[RecoveryLine]:
    from safeward.workforce.extensions import RecoveryLine

    return [
        RecoveryLine(kind="badge", identifier=credential, description="door badge (facilities)")
        for credential in Badge.objects.filter(person_id=person.pk)
        .exclude(status=Badge.Status.REVOKED)
        .values_list("credential_id", flat=True)
    ]


@transaction.atomic
def badge_recovered(*, actor: User | None, credential_id: str) -> Badge:
    _require(actor, Perm.FACILITY_AREA_MANAGE)
    badge = Badge.objects.select_for_update().filter(credential_id=credential_id).first()
    if badge is None:
        raise FacilityError("No such badge.")
    badge.status = Badge.Status.REVOKED
    badge.revoked_at = badge.revoked_at or clock.now()
    badge.save(update_fields=["status", "revoked_at"])
    _audit(actor, Action.UPDATE, "FacilityBadge", badge.pk, status="revoked")
    return badge


# --- door events -----------------------------------------------------------------------------------

FIELDS = ("credential_id", "door", "area", "time", "result", "direction")


class DoorFacts(NamedTuple):
    """What the ingest and the rules need of a door, read once per import
    instead of through the Door, Area and Site instances for every event."""

    pk: int
    code: str
    area_id: int
    area_code: str
    secure: bool
    zone: str  # the door's zone, else its site's


class ParsedEvent(NamedTuple):
    # A tuple, not a frozen dataclass: built once per event (ADR 1116).
    credential_id: str
    door: DoorFacts
    occurred_at: dt.datetime  # UTC
    granted: bool
    direction: str


def parse_time(value: str) -> dt.datetime:
    """ISO 8601 with an offset (2026-03-08T02:10:00-05:00 or ...Z); a time
    without a zone is refused, never guessed."""
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("time needs a time zone offset, e.g. 2026-03-08T02:10:00-05:00")
    return moment.astimezone(dt.UTC)


def parse_rows(rows: Sequence[dict[str, Any]], *, first_row: int = 1) -> tuple[list[ParsedEvent], list[str]]:
    """Check every row: (events, errors with row numbers). Door and area must be
    known and agree."""
    doors = {
        door.code: DoorFacts(
            door.pk,
            door.code,
            door.area_id,
            door.area.code,
            door.area.secure,
            door.time_zone or door.area.site.time_zone,
        )
        for door in Door.objects.select_related("area__site")
    }
    events: list[ParsedEvent] = []
    errors: list[str] = []
    for number, row in enumerate(rows, start=first_row):
        if not isinstance(row, dict):
            errors.append(f"row {number}: not an object with the fields {', '.join(FIELDS)}")
            continue
        problems: list[str] = []
        credential = str(row.get("credential_id") or "").strip()
        if not credential or len(credential) > 64:
            problems.append("credential_id is required (at most 64 characters)")
        door = doors.get(str(row.get("door") or "").strip())
        if door is None:
            problems.append("door is not a known door code")
        elif str(row.get("area") or "").strip() not in ("", door.area_code):
            problems.append(f"area does not match door {door.code} (area {door.area_code})")
        try:
            moment = parse_time(str(row.get("time") or ""))
        except ValueError as error:
            problems.append(f"time: {str(error)[:120]}")
            moment = None
        result = str(row.get("result") or "").strip().lower()
        if result not in ("granted", "denied"):
            problems.append("result must be granted or denied")
        direction = str(row.get("direction") or "in").strip().lower()
        if direction not in ("in", "out"):
            problems.append("direction must be in or out")
        if problems:
            errors.append(f"row {number}: " + "; ".join(problems))
            continue
        assert door is not None
        assert moment is not None
        events.append(ParsedEvent(credential, door, moment, result == "granted", direction))
    return events, errors


@dataclass(frozen=True)
class IngestResult:
    events: int
    alerts: int
    audit_event_id: int
    duplicates: int = 0


# Events per INSERT statement: each column travels as one parameter (a JSON
# array on SQLite, a PostgreSQL array), so the statement size, not the
# bound-variable limit, sets the chunk.
INSERT_CHUNK = 10_000


def _utc(value: dt.datetime) -> dt.datetime:
    """A stored instant as read back raw: aware on PostgreSQL, naive UTC on SQLite."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def sqlite_instant(value: dt.datetime) -> str:
    """An aware instant as Django's SQLite backend stores it (naive UTC text,
    `adapt_datetimefield_value` with the connection in UTC), without its
    per-value settings lookups: the unique key compares these strings."""
    return str(value.astimezone(dt.UTC).replace(tzinfo=None))


def _events_insert(
    parsed: Sequence[ParsedEvent], people: dict[str, int], *, source: str, now: dt.datetime
) -> list[Any]:
    """Insert the events and return the rules' view of those actually inserted.
    One statement per 10,000 events with one parameter per column: a JSON array
    read by `json_each` on SQLite, arrays read by `unnest` on PostgreSQL (ADR
    1116). Django's bulk_create compiles every value through the field machinery
    (ADR 1110), and a multi-row VALUES list with a placeholder per value spent
    its time converting and binding placeholders. ON CONFLICT DO NOTHING on the
    event's natural key makes a resent or re-imported event a no-op, even when
    two ingests race."""
    from django.db import connection

    from safeward.facilities.rules import Hit

    ops = connection.ops
    meta = DoorEvent._meta
    column = {field.name: str(field.column) for field in meta.concrete_fields}
    names = [
        "credential_id",
        "person_id",
        "door",
        "area",
        "occurred_at",
        "granted",
        "direction",
        "source",
        "received_at",
    ]
    insert = "INSERT INTO {} ({}) ".format(
        ops.quote_name(meta.db_table), ", ".join(ops.quote_name(column[n]) for n in names)
    )
    tail = " ON CONFLICT ({}) DO NOTHING RETURNING {}".format(
        ", ".join(
            ops.quote_name(column[n])
            for n in ("credential_id", "door", "occurred_at", "granted", "direction")
        ),
        ", ".join(
            ops.quote_name(c)
            for c in (
                "id",
                *(column[n] for n in ("credential_id", "door", "occurred_at", "granted", "direction")),
            )
        ),
    )
    postgres = connection.vendor == "postgresql"
    if postgres:
        select = (
            "SELECT c, p, d, a, o, g, r, %s, %s FROM unnest(%s::varchar[], %s::bigint[], %s::bigint[], "
            "%s::bigint[], %s::timestamptz[], %s::boolean[], %s::varchar[]) AS v(c, p, d, a, o, g, r)"
        )
        received: Any = now
    else:
        # WHERE true: SQLite's parser would otherwise read ON CONFLICT as a join's ON.
        select = (
            "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), "
            "json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'), "
            "json_extract(value, '$[6]'), %s, %s FROM json_each(%s) WHERE true"
        )
        received = sqlite_instant(now)
    source = source[:40]
    pending: dict[tuple[Any, ...], ParsedEvent] = {}
    for event in parsed:
        # A row repeated inside one file is one event.
        pending.setdefault(
            (event.credential_id, event.door.pk, event.occurred_at, event.granted, event.direction), event
        )
    keys = list(pending)
    hits: list[Hit] = []
    with connection.cursor() as cursor:
        for start in range(0, len(keys), INSERT_CHUNK):
            chunk = keys[start : start + INSERT_CHUNK]
            if postgres:
                params: list[Any] = [
                    source,
                    received,
                    [k[0] for k in chunk],
                    [people.get(k[0]) for k in chunk],
                    [k[1] for k in chunk],
                    [pending[k].door.area_id for k in chunk],
                    [k[2] for k in chunk],
                    [k[3] for k in chunk],
                    [k[4] for k in chunk],
                ]
            else:
                values = [
                    (c, people.get(c), d, pending[k].door.area_id, sqlite_instant(o), g, r)
                    for k in chunk
                    for c, d, o, g, r in (k,)
                ]
                params = [source, received, json.dumps(values, separators=(",", ":"))]
            cursor.execute(insert + select + tail, params)
            for pk, credential, door_id, occurred, granted, direction in cursor.fetchall():
                event = pending[(credential, door_id, _utc(occurred), bool(granted), direction)]
                door = event.door
                hits.append(
                    Hit(
                        pk,
                        credential,
                        people.get(credential),
                        door.area_id,
                        door.area_code,
                        door.secure,
                        door.zone,
                        event.occurred_at,
                        event.granted,
                        event.direction,
                    )
                )
    return hits


def events_ingest(
    *, actor: User | None, rows: Sequence[dict[str, Any]], source: str, first_row: int = 1
) -> IngestResult:
    """Import door events all-or-nothing (ImportRejected lists every bad row),
    map credentials to people and run the badge rules over the new ones in the
    same transaction. Events already stored (the same badge, door, instant,
    result and direction) are counted as duplicates and judged only once."""
    from safeward.facilities import rules

    _require(actor, Perm.FACILITY_AREA_MANAGE)
    if len(rows) > MAX_IMPORT_ROWS:
        raise ImportRejected([f"at most {MAX_IMPORT_ROWS} rows per import"])
    parsed, errors = parse_rows(rows, first_row=first_row)
    if errors:
        raise ImportRejected(errors)
    with transaction.atomic():
        now = clock.now()
        credentials = sorted({event.credential_id for event in parsed})
        people: dict[str, int] = {}
        for start in range(0, len(credentials), 5000):
            people.update(
                Badge.objects.filter(credential_id__in=credentials[start : start + 5000]).values_list(
                    "credential_id", "person_id"
                )
            )
        hits = _events_insert(parsed, people, source=source, now=now)
        audit_id = _audit(
            actor,
            Action.CREATE,
            "FacilityDoorEventImport",
            "",
            source=source[:40],
            events=len(hits),
            duplicates=len(parsed) - len(hits),
        )
        alerts = rules.evaluate(hits, evidence_id=audit_id, now=now)
    return IngestResult(len(hits), alerts, audit_id, len(parsed) - len(hits))


# --- visitors ---------------------------------------------------------------------------------------


@transaction.atomic
def visitor_sign_in(
    *,
    actor: User,
    name: str,
    host: str,
    purpose: str,
    badge_number: str,
    organisation: str = "",
    areas: str = "",
    escort: str = "",
    expected_minutes: int = 120,
    flagged_patient_visit: bool = False,
    patient_id: str = "",
    session: SessionContext | None = None,
) -> Visitor:
    """Sign a visitor in. With `patient_id` (a patient the desk found through
    `gateway.visitor_patient_lookup`) the visit is registered against that
    inpatient through the gateway, in this transaction: the badge shows ward
    and bed, a VIP or confidential patient's visit is flagged for the privacy
    officer, and a confidential patient's visitor needs an escort (ADR 1111)."""
    from safeward.clinical import gateway

    _require(actor, Perm.FACILITY_VISITOR_MANAGE)
    name, host, purpose, badge_number = (v.strip() for v in (name, host, purpose, badge_number))
    if patient_id and not host:
        host = PATIENT_VISIT
    if not (name and host and purpose and badge_number):
        raise FacilityError("A visitor needs a name, a host, a purpose and a badge number.")
    if not 5 <= expected_minutes <= 24 * 60:
        raise FacilityError("The expected length of the visit is 5 minutes to 24 hours.")
    if Visitor.objects.filter(badge_number=badge_number, signed_out_at__isnull=True).exists():
        raise FacilityError(f"Visitor badge {badge_number[:20]} is still out: sign its holder out first.")
    visitor = Visitor.objects.create(
        name=name[:120],
        host=host[:120],
        purpose=purpose[:200],
        badge_number=badge_number[:20],
        organisation=organisation.strip()[:120],
        areas=areas.strip()[:200],
        escort=escort.strip()[:120],
        expected_minutes=expected_minutes,
        flagged_patient_visit=flagged_patient_visit,
        signed_in_at=clock.now(),
        signed_in_by=actor,
    )
    if patient_id:
        if session is None:
            raise FacilityError("A patient visit is signed in from the visitor desk's session.")
        try:
            patient = gateway.visitor_patient_visit(
                actor=actor, session=session, patient_id=patient_id, visitor_id=visitor.pk
            )
        except (gateway.NotFound, gateway.Forbidden):
            raise FacilityError(
                "That patient is not on a ward now (or the desk may not look them up): "
                "find the patient again."
            ) from None
        if not patient.visiting_allowed and not visitor.escort:
            raise FacilityError(
                "This patient's visits are confirmed by the ward: name the escort who takes the visitor."
            )
        visitor.flagged_patient_visit = visitor.flagged_patient_visit or patient.flagged
        visitor.destination = (
            f"{patient.ward}, bed {patient.bed}"[:160] if patient.visiting_allowed else ESCORTED
        )
        visitor.save(update_fields=["flagged_patient_visit", "destination"])
    # The visitor's id and badge, never their name: audit rows outlive the visit.
    _audit(
        actor,
        Action.CREATE,
        "FacilityVisitor",
        visitor.pk,
        badge=visitor.badge_number,
        patient_visit=bool(patient_id),
        flagged=visitor.flagged_patient_visit,
    )
    return visitor


@transaction.atomic
def visitor_sign_out(*, actor: User, visitor_id: int) -> Visitor:
    _require(actor, Perm.FACILITY_VISITOR_MANAGE)
    visitor = Visitor.objects.select_for_update().filter(pk=visitor_id).first()
    if visitor is None:
        raise FacilityError("No such visitor.")
    if visitor.signed_out_at is not None:
        raise FacilityError("This visitor has already signed out.")
    visitor.signed_out_at = clock.now()
    visitor.save(update_fields=["signed_out_at"])
    _audit(actor, Action.UPDATE, "FacilityVisitor", visitor.pk, event="sign_out")
    return visitor


def visitors_overstay_sweep(*, now: dt.datetime | None = None) -> int:
    """Raise a visitor_overstay alert for every visitor still in past the
    expected end plus the grace. Returns the alerts raised or grown."""
    from safeward.facilities import rules

    return rules.overstays(now=now or clock.now())


# --- custody, certificates, disposal --------------------------------------------------------------


def _item_check(device_id: int | None, medium_id: int | None) -> tuple[int | None, Medium | None]:
    from safeward.devices.selectors import device_get

    if (device_id is None) == (medium_id is None):
        raise FacilityError("Name either a device or a medium.")
    if device_id is not None:
        if device_get(device_id=device_id) is None:
            raise FacilityError(f"No device with id {device_id}.")
        return device_id, None
    medium = Medium.objects.filter(pk=medium_id or 0).first()
    if medium is None:
        raise FacilityError(f"No medium with id {medium_id}.")
    return None, medium


@transaction.atomic
def medium_create(
    *, actor: User, property_number: str, kind: str, make: str = "", model: str = "", serial: str = ""
) -> Medium:
    _require(actor, Perm.FACILITY_CUSTODY_MANAGE)
    if kind not in Medium.Kind.values:
        raise FacilityError("Choose the kind of medium.")
    if not property_number.strip() or Medium.objects.filter(property_number=property_number.strip()).exists():
        raise FacilityError("The medium needs a property number not used by another.")
    medium = Medium.objects.create(
        property_number=property_number.strip()[:64],
        kind=kind,
        make=make[:120],
        model=model[:120],
        serial=serial[:120],
        created_at=clock.now(),
    )
    _audit(actor, Action.CREATE, "FacilityMedium", medium.pk, kind=kind)
    return medium


@dataclass(frozen=True)
class CustodyResult:
    event: CustodyEvent
    patients_affected: int | None
    incident_id: int | None


def custody_record(
    *,
    actor: User,
    kind: str,
    device_id: int | None = None,
    medium_id: int | None = None,
    holder_person_id: int | None = None,
    location: str = "",
    note: str = "",
) -> CustodyResult:
    """One link of the chain of custody. A device or medium reported lost gives
    the count of patients whose data may have been on it at once, and opens an
    incident, in the same transaction."""
    from safeward.facilities import selectors
    from safeward.incidents.services import incident_open_for

    _require(actor, Perm.FACILITY_CUSTODY_MANAGE)
    if kind not in CustodyEvent.Kind.values:
        raise FacilityError("Choose what happened to the item.")
    with transaction.atomic():
        device_id, medium = _item_check(device_id, medium_id)
        event = CustodyEvent.objects.create(
            device_id=device_id,
            medium=medium,
            kind=kind,
            holder_person_id=holder_person_id,
            location=location[:200],
            note=note[:300],
            occurred_at=clock.now(),
            recorded_by=actor,
        )
        _audit(actor, Action.CREATE, "FacilityCustodyEvent", event.pk, kind=kind, device_id=device_id)
        affected = incident_id = None
        if kind == CustodyEvent.Kind.LOST:
            affected = selectors.patients_in_scope(
                device_id=device_id, medium_id=medium.pk if medium else None
            )
            label = (
                f"device {device_id}" if device_id else f"medium {medium.property_number if medium else ''}"
            )
            incident = incident_open_for(
                actor=actor,
                title=f"Lost before disposal: {label}",
                severity="high" if affected else "medium",
                summary=(
                    "Reported lost in the chain of custody. "
                    f"Patients whose data may have been on it: {affected}."
                ),
                source="facilities.custody_lost",
            )
            incident_id = incident.pk
            if device_id is not None:
                from safeward.devices.selectors import device_get
                from safeward.devices.services import TRANSITIONS

                device = device_get(device_id=device_id)
                # A retired device has no "lost" state in the inventory: the custody
                # event and the incident are its record.
                if device is not None and "lost" in TRANSITIONS.get(device.lifecycle, frozenset()):
                    _device_state(actor, device_id, "lost", "reported lost in custody")
    return CustodyResult(event, affected, incident_id)


def _device_state(
    actor: User | None, device_id: int, state: str, reason: str, certificate: int | None = None
) -> None:
    from safeward.devices import services as device_services
    from safeward.devices.selectors import device_get

    device = device_get(device_id=device_id)
    if device is None or device.lifecycle == state:
        return
    try:
        device_services.device_lifecycle_set(
            actor=actor,
            device_id=device_id,
            state=state,
            reason=reason,
            sanitization_certificate_id=certificate,
        )
    except device_services.DeviceError as error:
        raise FacilityError(str(error)) from None


CERTIFICATE_REQUIRED = (
    "person_name",
    "person_title",
    "person_organisation",
    "person_location",
    "person_phone",
    "media_make",
    "media_model",
    "media_serial",
    "media_property_number",
    "media_type",
    "media_source",
    "classification",
    "tool",
    "tool_version",
    "post_classification",
)
CHOICES = {
    "method_type": Certificate.MethodType.values,
    "method": Certificate.Method.values,
    "verification": Certificate.Verification.values,
    "destination": Certificate.Destination.values,
    "standard": Certificate.Standard.values,
}


def _nwipe_text(evidence: bytes, name: str) -> bool:
    """A text log (not nwipe's PDF report, which is kept by its hash only)."""
    lowered = name.lower()
    if lowered.endswith(".pdf") or evidence.startswith(b"%PDF"):
        return False
    return lowered.endswith((".log", ".txt")) or nwipe.looks_like_nwipe(evidence)


def certificate_record(
    *,
    actor: User,
    fields: dict[str, Any],
    device_id: int | None = None,
    medium_id: int | None = None,
    evidence: bytes | None = None,
    evidence_name: str = "",
) -> Certificate:
    """Record a certificate of sanitization (the operator signs it now). It
    counts for nothing until a different person validates it."""
    from safeward.facilities import selectors

    _require(actor, Perm.FACILITY_CUSTODY_MANAGE)
    errors = [
        f"{name} is required" for name in CERTIFICATE_REQUIRED if not str(fields.get(name) or "").strip()
    ]
    errors += [
        f"{name} must be one of {', '.join(values)}"
        for name, values in CHOICES.items()
        if fields.get(name) not in values
    ]
    backed_up = fields.get("backed_up")
    if not isinstance(backed_up, bool):
        errors.append("backed_up must be true or false")
    elif backed_up and not str(fields.get("backup_location") or "").strip():
        errors.append("backup_location is required when the data was backed up")
    if not errors and evidence and _nwipe_text(evidence, evidence_name):
        try:
            log = nwipe.parse(evidence)
        except nwipe.BadLog as bad:
            errors += bad.errors[:20]
        else:
            errors += nwipe.certificate_problems(
                log, media_serial=str(fields["media_serial"]), verification=str(fields["verification"])
            )
    if errors:
        raise FacilityError("; ".join(errors) + ".")
    with transaction.atomic():
        device_id, medium = _item_check(device_id, medium_id)
        values = {name: str(fields[name]).strip()[:200] for name in CERTIFICATE_REQUIRED}
        values.update({name: fields[name] for name in CHOICES})
        certificate = Certificate.objects.create(
            device_id=device_id,
            medium=medium,
            backed_up=bool(backed_up),
            backup_location=str(fields.get("backup_location") or "")[:200],
            signed_at=clock.now(),
            operator=actor,
            evidence_name=evidence_name[:200],
            evidence_sha256=hashlib.sha256(evidence).hexdigest() if evidence else "",
            patients_in_scope=selectors.patients_in_scope(
                device_id=device_id, medium_id=medium.pk if medium else None
            ),
            pickup=str(fields.get("pickup") or "")[:64],
            created_at=clock.now(),
            **values,
        )
        _audit(
            actor,
            Action.CREATE,
            "FacilityCertificate",
            certificate.pk,
            device_id=device_id,
            method=certificate.method,
            standard=certificate.standard,
            evidence_sha256=certificate.evidence_sha256,
            patients_in_scope=certificate.patients_in_scope,
        )
    return certificate


@transaction.atomic
def certificate_validate(*, actor: User, certificate_id: int) -> Certificate:
    """The validator: a different person from the operator. A validated
    certificate marks its device sanitized."""
    _require(actor, Perm.FACILITY_CUSTODY_MANAGE)
    certificate = Certificate.objects.select_for_update().filter(pk=certificate_id).first()
    if certificate is None:
        raise FacilityError("No such certificate.")
    if certificate.validated_at is not None:
        raise FacilityError("This certificate is already validated.")
    if certificate.operator_id == actor.pk:
        raise FacilityError("The validator must be a different person from the operator who signed it.")
    certificate.validator = actor
    certificate.validated_at = clock.now()
    certificate.save(update_fields=["validator", "validated_at"])
    _audit(actor, Action.UPDATE, "FacilityCertificate", certificate.pk, event="validate")
    if certificate.device_id is not None:
        _device_state(
            actor, certificate.device_id, "sanitized", "certificate of sanitization", certificate.pk
        )
    return certificate


def disposal_record(*, actor: User, certificate_id: int | None, pickup: str = "") -> Certificate:
    """Let the item leave the hospital. Refused without a validated certificate."""
    _require(actor, Perm.FACILITY_CUSTODY_MANAGE)
    with transaction.atomic():
        certificate = (
            Certificate.objects.select_for_update().filter(pk=certificate_id).first()
            if certificate_id
            else None
        )
        if certificate is None:
            raise FacilityError("Record a certificate of sanitization before the item leaves the hospital.")
        if certificate.validated_at is None or certificate.validator_id is None:
            raise FacilityError("The certificate of sanitization must be validated by a second person first.")
        if certificate.validator_id == certificate.operator_id:
            raise FacilityError(
                "The certificate's validator is its operator: have a different person validate."
            )
        if certificate.disposed_at is not None:
            raise FacilityError("This item has already left the hospital.")
        certificate.disposed_at = clock.now()
        if pickup:
            certificate.pickup = pickup.strip()[:64]
        certificate.save(update_fields=["disposed_at", "pickup"])
        if certificate.device_id is not None and certificate.destination != Certificate.Destination.INTERNAL:
            _device_state(
                actor, certificate.device_id, "disposed", f"left: {certificate.destination}", certificate.pk
            )
        if certificate.medium_id is not None:
            Medium.objects.filter(pk=certificate.medium_id).update(disposed_at=certificate.disposed_at)
        _audit(
            actor,
            Action.UPDATE,
            "FacilityCertificate",
            certificate.pk,
            event="disposal",
            destination=certificate.destination,
            pickup=certificate.pickup,
        )
    return certificate


def device_dispose_request(*, actor: User, device_id: int, pickup: str = "") -> Certificate:
    """Dispose of a device by id (the CLI's and bulk's door): finds its validated,
    not yet used certificate, or refuses."""
    certificate = (
        Certificate.objects.filter(device_id=device_id, validated_at__isnull=False, disposed_at__isnull=True)
        .order_by("-validated_at")
        .first()
    )
    return disposal_record(actor=actor, certificate_id=certificate.pk if certificate else None, pickup=pickup)


def disposals_bulk(*, actor: User, certificate_ids: Sequence[int], pickup: str = "") -> int:
    """A pallet at once: all-or-nothing. One certificate missing or not
    validated and nothing leaves (the error names it)."""
    _require(actor, Perm.FACILITY_CUSTODY_MANAGE)
    with transaction.atomic():
        for certificate_id in sorted(set(certificate_ids)):
            try:
                disposal_record(actor=actor, certificate_id=certificate_id, pickup=pickup)
            except FacilityError as error:
                raise FacilityError(f"Certificate {certificate_id}: {error} Nothing was disposed.") from None
    return len(set(certificate_ids))
