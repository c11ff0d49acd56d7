"""The demo hospital's physical security (issue 15): five secure areas, badges
for every demo person, a day of door events (yesterday, New York time) that
includes a former employee's badge at the records room at 02:10 and a nurse
opening the pharmacy without authorisation, visitors (one visiting a
restricted patient), and three media waiting to leave: one with a validated
certificate, one awaiting its validator, one with no certificate at all.
Idempotent: a second run finds the site and leaves everything as it is."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from typing import TYPE_CHECKING

from safeward import clock
from safeward.clinical.types import SessionContext
from safeward.facilities import selectors, services
from safeward.identity.models import User
from safeward.workforce import selectors as workforce_selectors
from safeward.workforce import services as workforce_services

if TYPE_CHECKING:
    from safeward.demo.seed import SeedContext

SITE = "SafeWard General"
ZONE = "America/New_York"
FORMER = "DEMO-F001"
CERTIFICATE = {
    "person_name": "Ida Tech",
    "person_title": "IT technician",
    "person_organisation": "SafeWard General",
    "person_location": "Building A, IT workshop",
    "person_phone": "+1 555 0100",
    "media_make": "Samsung",
    "media_model": "PM9A1",
    "media_type": "SSD",
    "classification": "Confidential (PHI)",
    "backed_up": False,
    "method_type": "purge",
    "method": "crypto_erase",
    "tool": "nwipe",
    "tool_version": "0.37",
    "verification": "full",
    "post_classification": "Unclassified",
    "destination": "disposal",
    "standard": "800-88r1",
    "pickup": "PALLET-2026-01",
}


def _user(username: str) -> User | None:
    return User.objects.filter(username=username).first()


def _person_id(username: str) -> int | None:
    user = _user(username)
    person = workforce_selectors.person_for_user(user=user) if user else None
    return person.pk if person else None


def seed_facilities(ctx: SeedContext) -> None:
    if selectors.sites_list().filter(name=SITE).exists():
        ctx.write("facilities: already seeded")
        return
    site = services.site_create(actor=None, name=SITE, time_zone=ZONE)
    areas = {}
    for code, name, kind, building, floor, room in [
        ("records", "Health records room", "records_room", "A", "B1", "012"),
        ("pharmacy", "Main pharmacy", "pharmacy", "B", "1", "110"),
        ("nursery", "Nursery", "nursery", "C", "3", "301"),
        ("icu", "Intensive care unit", "icu", "C", "2", "200"),
        ("server", "Server room", "server_room", "A", "B2", "020"),
    ]:
        areas[code] = services.area_create(
            actor=None, site=site, code=code, name=name, kind=kind, classification="restricted",
            building=building, floor=floor, room=room,
        )  # fmt: skip
        services.door_create(actor=None, area=areas[code], code=f"{code.upper()}-1")
    people = workforce_selectors.people_brief(
        person_ids=[pid for pid in (_person_id(f"demo.{role}") for role in (
            "registration_clerk", "pharmacist", "nurse", "physician", "it_admin", "security_officer",
        )) if pid is not None]
    )  # fmt: skip
    by_user = {}
    for person in people.values():
        user = User.objects.filter(pk=person.user_id or 0).first()
        if user is not None:
            by_user[user.username] = person
        services.badge_issue(
            actor=None, credential_id=f"BADGE-{person.person_id:05d}", person_id=person.person_id
        )
    for username, area in [
        ("demo.registration_clerk", "records"),
        ("demo.pharmacist", "pharmacy"),
        ("demo.nurse", "nursery"),
        ("demo.nurse", "icu"),
        ("demo.physician", "icu"),
    ]:
        if username in by_user:
            services.authorisation_grant(
                actor=None,
                area=areas[area],
                position_code=by_user[username].position_code,
                start_time=dt.time(6, 0),
                end_time=dt.time(22, 0),
            )
    if "demo.it_admin" in by_user:
        services.authorisation_grant(
            actor=None, area=areas["server"], person_id=by_user["demo.it_admin"].person_id
        )
    # A former records clerk: left last month, badge never handed back.
    now = clock.now()
    former = workforce_services.person_create(
        actor=None, employee_number=FORMER, first_name="Riley", last_name="Former",
        start_date=(now - dt.timedelta(days=900)).date(),
    )  # fmt: skip
    services.badge_issue(actor=None, credential_id="BADGE-FORMER-1", person_id=former.pk)
    workforce_services.termination_schedule(actor=None, person=former, effective_at=now, reason="resignation")

    local = zoneinfo.ZoneInfo(ZONE)
    yesterday = (now.astimezone(local) - dt.timedelta(days=1)).date()

    def at(hour: int, minute: int) -> str:
        return dt.datetime.combine(yesterday, dt.time(hour, minute), tzinfo=local).isoformat()

    def badge(username: str) -> str:
        person = by_user.get(username)
        return f"BADGE-{person.person_id:05d}" if person else "BADGE-UNKNOWN"

    rows = [
        ("BADGE-FORMER-1", "RECORDS-1", at(2, 10), "denied", "in"),
        (badge("demo.registration_clerk"), "RECORDS-1", at(8, 5), "granted", "in"),
        (badge("demo.registration_clerk"), "RECORDS-1", at(12, 0), "granted", "out"),
        (badge("demo.pharmacist"), "PHARMACY-1", at(9, 0), "granted", "in"),
        (badge("demo.pharmacist"), "PHARMACY-1", at(17, 30), "granted", "out"),
        (badge("demo.nurse"), "NURSERY-1", at(7, 15), "granted", "in"),
        (badge("demo.nurse"), "ICU-1", at(10, 40), "granted", "in"),
        (badge("demo.nurse"), "PHARMACY-1", at(14, 20), "granted", "in"),  # not authorised
        (badge("demo.physician"), "ICU-1", at(11, 0), "granted", "in"),
        (badge("demo.it_admin"), "SERVER-1", at(16, 45), "granted", "in"),
    ]
    result = services.events_ingest(
        actor=None,
        rows=[
            {"credential_id": c, "door": d, "time": t, "result": r, "direction": direction}
            for c, d, t, r, direction in rows
        ],
        source="demo",
    )
    desk = _user("demo.security_desk")
    visitors = 0
    if desk is not None:
        services.visitor_sign_in(
            actor=desk, name="Alex Vendor", organisation="MedTech Inc.", host="Sam IT",
            purpose="Infusion pump service",
            badge_number="V-001", areas="server", escort="demo.it_admin", expected_minutes=180,
        )  # fmt: skip
        services.visitor_sign_in(
            actor=desk, name="Jordan Press", host="patient visit", purpose="Visit", badge_number="V-002",
            flagged_patient_visit=True, expected_minutes=60,
        )  # fmt: skip
        done = services.visitor_sign_in(
            actor=desk, name="Casey Family", host="patient visit", purpose="Visit", badge_number="V-003"
        )
        services.visitor_sign_out(actor=desk, visitor_id=done.pk)
        visitors = 3
    tech, biomed = _user("demo.it_admin"), _user("demo.biomedical_engineer")
    waiting = 0
    if tech is not None and biomed is not None:
        media = [
            services.medium_create(actor=tech, property_number=f"SSD-{n:04d}", kind="ssd", make="Samsung",
                                   model="PM9A1", serial=f"S4EVNX0{n}")
            for n in (101, 102, 103)
        ]  # fmt: skip
        for medium, validate in ((media[0], True), (media[1], False)):
            fields = dict(CERTIFICATE, media_serial=medium.serial,
                          media_property_number=medium.property_number,
                          media_source=f"workstation {medium.property_number}")  # fmt: skip
            certificate = services.certificate_record(
                actor=tech,
                fields=fields,
                medium_id=medium.pk,
                evidence=nwipe_demo_log(medium.serial, model=medium.model),
                evidence_name="nwipe.log",
            )
            if validate:
                services.certificate_validate(actor=biomed, certificate_id=certificate.pk)
        waiting = 3  # the third has no certificate: it cannot leave
    planted = _plant_chart_without_badge_in()
    ctx.write(
        f"facilities: 5 secure areas, {result.events} door events ({result.alerts} alerts), "
        f"{visitors} visitors, {waiting} media waiting for disposal, "
        f"{planted} chart-without-badge-in alert"
    )


RECORDS_PC = "WS-REC-01"
RECORDS_PC_IP = "10.30.0.40"
PLANTED_MRN = "DEMO-00010"  # an ordinary patient: not VIP, employee, confidential or the canary
WARD_SESSION = SessionContext(
    session_id="demo-records-pc", reachable=True, reachable_reason="clinical_zone", step_up_fresh=True
)


def _plant_chart_without_badge_in() -> int:
    """The health records room's PC, placed in the room; the day before the
    demo's day of door events, at 11:00, the demo registration clerk opened a
    patient's record on it with no badge-in to the room that shift; the sweep
    raises the alert a newcomer finds on the alert queue. Runs within the
    facilities step's first seed only (idempotent with it). Registration reads
    demographics with no care relationship (which starts only when the
    clinical step runs), so the read back then is permitted as it would have been."""
    from safeward.audit import context as audit_context
    from safeward.audit.vocabulary import PurposeOfUse
    from safeward.clinical import gateway
    from safeward.devices import selectors as device_selectors
    from safeward.devices import services as device_services
    from safeward.devices.forms import DeviceForm

    clerk = _user("demo.registration_clerk")
    records = selectors.area_by_code(code="records")
    segment = next((s.pk for s in device_selectors.segments_list() if s.name == "ward3-workstations"), None)
    if clerk is None or records is None or segment is None:
        return 0
    form = DeviceForm(
        {
            "kind": "workstation",
            "asset_tag": RECORDS_PC,
            "name": "rec-ws01",
            "manufacturer": "HP",
            "model": "EliteDesk 800 G9",
            "location": "Building A, B1, health records room",
            "segment": segment,
            "ip_address": RECORDS_PC_IP,
        }
    )
    if not form.is_valid():  # pragma: no cover - the demo's own data
        raise ValueError(f"demo device {RECORDS_PC}: {form.errors.as_text()}")
    device = device_services.device_create(actor=None, data=form.cleaned_data)
    services.workstation_place(actor=None, device_id=device.pk, area=records)
    # The day before the demo's day of door events, in office hours (no
    # after-hours alert), when nobody badged into the records room at all.
    local = zoneinfo.ZoneInfo(ZONE)
    day = (clock.now().astimezone(local) - dt.timedelta(days=2)).date()
    read_at = dt.datetime.combine(day, dt.time(11, 0), tzinfo=local)
    previous = clock.install(clock.FrozenClock(read_at))
    token = audit_context.bind(
        dataclasses.replace(audit_context.current(), client_ip=RECORDS_PC_IP, source="web")
    )
    try:
        page = gateway.patient_search(
            actor=clerk, session=WARD_SESSION, purpose=PurposeOfUse.OPERATIONS, mrn=PLANTED_MRN
        )
        for result in page.results:
            gateway.patient_read(
                actor=clerk, session=WARD_SESSION, purpose=PurposeOfUse.OPERATIONS, patient_id=result.id
            )
    finally:
        audit_context.reset(token)
        clock.install(previous)
    # The sweep as it ran half an hour later (its settle delay had passed).
    return services.chart_access_sweep(now=read_at + dt.timedelta(minutes=30))


def nwipe_demo_log(serial: str, *, model: str = "PM9A1") -> bytes:
    """A synthetic nwipe log of one successful, verified wipe of `serial`."""
    return (
        "[2026/11/02 08:00:01] info: nwipe version 0.37\n"
        "[2026/11/02 08:00:05] notice: Invoking method 'PRNG Stream' on /dev/sda\n"
        "[2026/11/02 09:41:12] notice: Verifying that /dev/sda is empty.\n"
        "[2026/11/02 10:02:40] notice: [SUCCESS] Verified that '/dev/sda' is empty.\n"
        "********************************************************************************\n"
        "! Device | Status | Thru-put | HH:MM:SS | Model/Serial Number\n"
        "--------------------------------------------------------------------------------\n"
        f"  sda    | Erased |  154 MB/s | 02:02:35 | {model}/{serial}\n"
        "--------------------------------------------------------------------------------\n"
        "[2026/11/02 10:02:41] Total Throughput  154 MB/s, PRNG Stream, 1R+NB+VL\n"
        "********************************************************************************\n"
    ).encode()
