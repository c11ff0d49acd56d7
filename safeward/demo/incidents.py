"""The demo hospital's incident cases (issue 19).

* An open snooping case: the demo physician opened five charts in the demo's
  own audited reads (through the gateway, on the clinical network), and the
  case's breach clock is computed from exactly those audit events; the
  deadlines run from the case's opening (no linked alert).
* A closed lost-laptop case: contained, recovered and closed, with its
  lessons learned and a follow-up action.
* A ransomware tabletop exercise held last month (the annual-exercise control
  passes on it).
* The deadline sweep, once: the snooping case's tasks due within hours become
  `incident_deadline` alerts (ADR 1410).

Idempotent: a case whose title is already there is not written again."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from safeward import clock
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import SessionContext
from safeward.identity.models import User
from safeward.incidents import case_services, deadlines, selectors, services

if TYPE_CHECKING:
    from safeward.demo.seed import SeedContext

SNOOPING = "Snooping: charts opened without a care reason (demo)"
LAPTOP = "Lost laptop LT-0042 from the cardiology clinic (demo)"
EXERCISE = "Ransomware tabletop exercise (demo)"
SNOOPED = (1, 2, 5, 11, 12)  # the physician's care-team patients (safeward.demo.clinical)
WARD_SESSION = SessionContext(
    session_id="demo-incident", reachable=True, reachable_reason="clinical_zone", step_up_fresh=True
)


def _exists(title: str) -> bool:
    rows, _ = selectors.incidents_page(status="", before_id=None, size=500)
    return any(incident.title == title for incident in rows)


def _snooping(ctx: SeedContext, security: User, privacy: User) -> None:
    physician = User.objects.filter(username="demo.physician").first()
    if physician is None:
        return
    start = clock.now() - dt.timedelta(minutes=5)
    opened = 0
    for number in SNOOPED:
        page = gateway.patient_search(
            actor=physician, session=WARD_SESSION, purpose=PurposeOfUse.TREATMENT, mrn=f"DEMO-{number:05d}"
        )
        for result in page.results:
            gateway.chart_read(
                actor=physician, session=WARD_SESSION, purpose=PurposeOfUse.TREATMENT, patient_id=result.id
            )
            opened += 1
    end = clock.now() + dt.timedelta(seconds=1)
    incident = case_services.incident_create(
        actor=security,
        title=SNOOPING,
        category="snooping",
        severity="high",
        summary="A co-worker reported that the demo physician looked up neighbours' records.",
        reviewer_id=privacy.pk,
    )
    services.incident_status_set(actor=security, incident_id=incident.pk, status="triage")
    case_services.breach_scope_compute(
        actor=security,
        session=SessionContext.system(),
        incident_id=incident.pk,
        window_start=start,
        window_end=end,
        usernames=[physician.username],
    )
    ctx.write(f"incidents: snooping case #{incident.pk}, breach clock over {opened} audited chart openings")


def _laptop(ctx: SeedContext, security: User, privacy: User) -> None:
    incident = case_services.incident_create(
        actor=security,
        title=LAPTOP,
        category="lost_device",
        severity="medium",
        summary="Left on a train; full-disk encryption confirmed by the device register (safe harbour).",
        reviewer_id=privacy.pk,
    )
    for status in ("contained", "recovered", "closed"):
        services.incident_status_set(
            actor=security,
            incident_id=incident.pk,
            status=status,
            reason="Encrypted: not a reportable breach",
        )
    case_services.lessons_set(
        actor=security,
        incident_id=incident.pk,
        lessons="Encryption made this a non-event. Clinic laptops now need a cable lock when travelling.",
    )
    case_services.follow_up_add(
        actor=security, incident_id=incident.pk, title="Buy cable locks for clinic laptops"
    )
    ctx.write(f"incidents: closed lost-laptop case #{incident.pk}")


def _exercise(ctx: SeedContext, security: User) -> None:
    incident = case_services.incident_create(
        actor=security,
        title=EXERCISE,
        category="ransomware",
        severity="high",
        is_exercise=True,
        scenario="02:00 Sunday: the EHR database is encrypted and a ransom note appears on the ward PCs.",
        participants="Security officer, Privacy officer, IT administrator, Night nursing supervisor",
    )
    case_services.exercise_record(
        actor=security, incident_id=incident.pk, kind="inject", text="The backups are found encrypted too"
    )
    case_services.exercise_record(
        actor=security,
        incident_id=incident.pk,
        kind="measurement",
        text="time to declare downtime",
        minutes=25,
    )
    case_services.exercise_record(
        actor=security,
        incident_id=incident.pk,
        kind="finding",
        text="Downtime kits were not at the nurses' station",
    )
    services.incident_status_set(
        actor=security, incident_id=incident.pk, status="closed", reason="Exercise done"
    )
    ctx.write(f"incidents: tabletop exercise #{incident.pk}")


def seed_incidents(ctx: SeedContext) -> None:
    security = User.objects.filter(username="demo.security_officer").first()
    privacy = User.objects.filter(username="demo.privacy_officer").first()
    if security is None or privacy is None:
        return
    first_seed = not _exists(SNOOPING)
    if first_seed:
        _snooping(ctx, security, privacy)
    if not _exists(LAPTOP):
        _laptop(ctx, security, privacy)
    if not _exists(EXERCISE):
        _exercise(ctx, security)
    # The snooping case's first playbook tasks (lock the account within 4 hours, name an
    # owner within 24) are due soon: the sweep records them and `safeward detect` shows
    # a newcomer the `incident_deadline` alerts an hourly cron would raise. Once: a second
    # seed records nothing.
    if not first_seed:
        return
    due = deadlines.deadlines_sweep()
    ctx.write(f"incidents: {len(due)} deadline(s) near or past recorded (safeward incidents check-deadlines)")
