"""The demo hospital's continuity record (issue 19): the last seven nightly
backups at 02:00 and a restore test of the night before last that passed in
41 s, so the dashboard and the controls `continuity.backup_recent` and
`continuity.restore_test_within_90_days` have a history to show.

These are records only (``file_name`` says so). The real backup and restore
test come from the schedule's first tick, `seed_scheduled_runs` (ADR 1506).
Idempotent: the demo rows are replaced on every run.

This morning's unplanned downtime, too (ADR 1420): the emergency
observation unit charted two doses on its paper MAR; now the demo nurse
queues them and enters them against the orders, and the demo physician
verifies them, so the chart, REST and FHIR show verified paper doses.
Written once (the downtime's reason marks it), the downtime at its past
times."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from safeward import clock
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical.types import SessionContext
from safeward.continuity import selectors, services
from safeward.demo.clinical import SEEDER

if TYPE_CHECKING:
    from safeward.demo.seed import SeedContext


KIT_WARDS = 2
CONTROLS_JOB = "controls"


PAPER_WARD = "ed-obs"
PAPER_PREFIX = "EDOBS-"
DOWNTIME_REASON = "Demo: core network switch failed; the wards worked on paper"
# (medication, dosage, dose, UCUM unit, route, minutes into the downtime)
PAPER_DOSES = (
    ("Paracetamol 1 g oral tablet", "1 g by mouth every 6 hours", "1", "g", "oral", 35),
    ("Ondansetron 4 mg injection", "4 mg IV every 8 hours as needed", "4", "mg", "iv", 95),
)
# A clinical workstation on the ward (the demo's clinical network zone).
WARD_SESSION = SessionContext(session_id=None, reachable=True, reachable_reason="clinical_zone")


def seed_paper_mar(ctx: SeedContext) -> str:
    """The downtime with its verified paper doses (once); what was done."""
    from safeward.clinical import gateway

    if any(d.reason == DOWNTIME_REASON for d in selectors.downtimes_recent(limit=50)):
        return "already there"
    staff = {credential.role: user for credential, user in ctx.credentials}
    admin, nurse, physician = staff.get("it_admin"), staff.get("nurse"), staff.get("physician")
    ward = next((w for w in gateway.wards_list() if w.code == PAPER_WARD), None)
    if admin is None or nurse is None or physician is None or ward is None:
        return "no ward or staff for it"
    treat = PurposeOfUse.TREATMENT
    census = gateway.ward_census(actor=nurse, session=WARD_SESSION, purpose=treat, ward_id=ward.id)
    # The downtime, the orders before it and so the doses given on paper fall
    # within the patient's stay: admitted overnight (demo.clinical.ADMITTED_AGO).
    started = clock.now().replace(second=0, microsecond=0) - dt.timedelta(hours=6)
    ordered = started - dt.timedelta(hours=2)
    stay = next(
        (
            bed.occupant
            for bed in census.beds
            if bed.occupant is not None
            and bed.occupant.encounter_id is not None
            and bed.occupant.admitted_at is not None
            and bed.occupant.admitted_at <= ordered
        ),
        None,
    )
    if stay is None:
        return "nobody admitted before it"
    patient = stay.patient.id
    # Ordered before the downtime by the seeder, which writes the demo's clinical past.
    with clock.frozen_at(ordered):
        orders = [
            gateway.medication_request_create(
                actor=SEEDER,
                session=SessionContext.system(),
                purpose=PurposeOfUse.OPERATIONS,
                patient_id=patient,
                medication=medication,
                dosage=dosage,
            ).id
            for medication, dosage, *_rest in PAPER_DOSES
        ]
    # The pharmacy had verified them before the downtime (its worklist keeps
    # the one order the demo leaves waiting, ADR 0584).
    pharmacist = staff.get("pharmacist")
    if pharmacist is not None:
        for order in orders:
            gateway.medication_verify(
                actor=pharmacist,
                session=WARD_SESSION,
                purpose=treat,
                patient_id=patient,
                medication_id=order,
                outcome="verified",
            )
    unit = selectors.kit_unit_by_code(ward_code=PAPER_WARD)
    if unit is None:
        return "the ward has no downtime kit"
    with clock.frozen_at(started):
        services.number_range_assign(actor=admin, unit=unit, prefix=PAPER_PREFIX, count=50)
        downtime = services.downtime_declare(actor=admin, kind="unplanned", reason=DOWNTIME_REASON)
    with clock.frozen_at(started + dt.timedelta(hours=3)):
        downtime = services.downtime_end(actor=admin, downtime=downtime)
    # Back on SafeWard: the nurse queues and enters the paper MAR, the physician checks it.
    for n, ((*_order, dose, unit_code, route, minutes), order) in enumerate(
        zip(PAPER_DOSES, orders, strict=True)
    ):
        entry = services.paper_entry_record(
            actor=nurse,
            downtime=downtime,
            encounter_number=f"{PAPER_PREFIX}{n + 1}",
            kind="medication_given",
            occurred_at=started + dt.timedelta(minutes=minutes),
            performed_by=nurse,
        )
        entry = services.paper_mar_chart(
            actor=nurse,
            session=WARD_SESSION,
            entry=entry,
            patient_id=patient,
            doses=[(order, dose, unit_code, route)],  # the full order id works as the kit's number does
            encounter_id=stay.encounter_id,
        )
        services.paper_entry_verify(actor=physician, entry=entry, session=WARD_SESSION)
    return f"{len(PAPER_DOSES)} paper doses entered by the nurse and verified by the physician"


def seed_continuity(ctx: SeedContext) -> None:
    nights = services.backup_history_seed_demo(now=clock.now())
    ctx.write(f"Continuity: {nights} nightly backup records, one restore test passed.")
    for code, key_path in services.kits_seed_demo(wards=KIT_WARDS):
        ctx.write(f"Downtime kit for ward {code}; its workstation key (demo only): {key_path}")
    ctx.write(f"Continuity: this morning's downtime on {PAPER_WARD}: {seed_paper_mar(ctx)}.")


def seed_scheduled_runs(ctx: SeedContext) -> None:
    """The schedule's first tick, for real (ADR 1506): each periodic job that
    has never succeeded runs once through the scheduler, as cron's first
    `schedule run-due` would, so the schedule page and
    `continuity.scheduled_jobs_current` show true runs of this demo hospital.
    The `controls` job goes last, so its control run sees the others' runs.

    Jobs that already succeeded are left alone, however long ago: seeding
    again runs nothing (a seed step leaves the database as it found it), and
    keeping the schedule current afterwards is cron's job (`safeward schedule
    run-due`, or Run now on the schedule page)."""
    never = [state.job.code for state in selectors.schedule_states() if state.last_success is None]
    first = [code for code in never if code != CONTROLS_JOB]
    runs = services.schedule_run_due(actor=None, only=first, force=True) if first else []
    if CONTROLS_JOB in never:
        runs += services.schedule_run_due(actor=None, only=[CONTROLS_JOB], force=True)
    for run in runs:
        ctx.write(f"Scheduled job {run.job}: {run.outcome} in {run.duration_seconds:.1f} s.")
