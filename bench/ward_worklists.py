"""The ward census and the physician's worklist on the scale data set
(issue 12): through the gateway (relationship facts, policy per patient,
decryption of the allowed fields, one audit event in its transaction)
against the same queries and the same decryption without policy and audit,
alternating in one process, same run.

    .venv/bin/python bench/ward_worklists.py --patients 100000 --iterations 300
    .venv/bin/python bench/ward_worklists.py --patients 2000 --keep      # prints BENCH_VAR_DIR
    BENCH_VAR_DIR=... .venv/bin/python bench/ward_worklists.py --reuse --profile
    .venv/bin/python bench/ward_worklists.py --sqlite --patients 4000 --keep   # the same on SQLite

Creates the database bench_ward on 127.0.0.1:5432 (user postgres), loads the
patients with `safeward demo scale` (two loaders), then three wards of 30
beds of which 80 are taken, a bench physician attending 40 of the inpatients,
on the care team of 60 patients, with 20 clinic appointments today and 30
lab results to review (5 critical). The database is dropped at the end
unless --keep (a --reuse run leaves it: drop it with `dropdb`). With
--sqlite: the var folder's SQLite file instead, loaded by one `demo scale`
in this process (SQLite takes one writer). In-process timing (no HTTP):
the two paths differ only by the security work, which is what the ratio
is about.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import clinical_common as cc

DB = "bench_ward"
WARDS = 3
BEDS = 30
INPATIENTS = 80
ATTENDING = 40
CARE_TEAM = 60
CLINIC = 20
RESULTS = 30
CRITICAL = 5


def prepare() -> dict[str, Any]:
    from _setup import make_user
    from django.utils import timezone

    from safeward.audit.vocabulary import PurposeOfUse
    from safeward.clinical import gateway
    from safeward.clinical.models import Patient
    from safeward.clinical.types import SessionContext, SystemActor
    from safeward.identity.models import Department, StaffProfile

    system, seeder = SessionContext.system(), SystemActor("bench-ward")
    ward_session = SessionContext(session_id="bench", reachable=True, reachable_reason="clinical_zone")
    ops = PurposeOfUse.OPERATIONS
    medicine, _ = Department.objects.get_or_create(code="bench-medicine", defaults={"name": "Medicine"})
    physician, _ = make_user("bench.ward.physician", "physician")
    colleague, _ = make_user("bench.ward.colleague", "physician")
    nurse, _ = make_user("bench.ward.nurse", "nurse")
    lab, _ = make_user("bench.ward.lab", "lab_technician")
    StaffProfile.objects.update_or_create(user=nurse, defaults={"department": medicine})
    wards = [
        gateway.ward_create(
            actor=seeder,
            department_id=medicine.pk,
            code=f"bench-{w}",
            name=f"Bench ward {w}",
            beds=[f"{b:02d}" for b in range(1, BEDS + 1)],
        )
        for w in range(WARDS)
    ]
    # Scale patients spread over the data set (bench set-up reads ids directly).
    ids = [str(pid) for pid in Patient.objects.order_by("mrn_index").values_list("pk", flat=True)[:400:2]]
    beds = gateway.beds_free()
    for n, patient in enumerate(ids[:INPATIENTS]):
        gateway.admission_admit(
            actor=seeder,
            session=system,
            purpose=ops,
            patient_id=patient,
            bed_id=beds[n].id,
            attending_id=(physician if n < ATTENDING else colleague).pk,
        )
    for patient in ids[INPATIENTS : INPATIENTS + CARE_TEAM]:
        gateway.care_team_add(
            actor=seeder,
            session=system,
            purpose=ops,
            patient_id=patient,
            user_id=physician.pk,
            role="physician",
        )
    today = timezone.localdate()
    gateway.slots_create(
        actor=seeder,
        session=system,
        department_id=medicine.pk,
        day=today,
        start=dt.time(0),
        end=dt.time(23),
        minutes=30,
        clinician_id=physician.pk,
    )
    slots = gateway.schedule_day(
        actor=seeder, session=system, purpose=ops, department_id=medicine.pk, day=today
    )
    for slot, patient in zip(slots, ids[150 : 150 + CLINIC], strict=False):
        gateway.appointment_book(
            actor=seeder, session=system, purpose=ops, patient_id=patient, slot_id=slot.id
        )
    for n, patient in enumerate(ids[:RESULTS]):
        order = gateway.order_create(
            actor=seeder,
            session=system,
            purpose=ops,
            patient_id=patient,
            code="2823-3",
            display="Potassium",
            ordering_clinician_id=physician.pk,
        )
        gateway.order_result(
            actor=lab,
            session=ward_session,
            purpose=ops,
            patient_id=patient,
            order_id=order.id,
            value="7.2" if n < CRITICAL else "4.1",
            unit="mmol/L",
        )
    return {"physician": physician, "nurse": nurse, "ward": wards[0].id, "session": ward_session}


def prepared() -> dict[str, Any]:
    """What `prepare` set up, found again in a kept database (--reuse)."""
    from safeward.clinical.models import Ward
    from safeward.clinical.types import SessionContext
    from safeward.identity.models import User

    return {
        "physician": User.objects.get(username="bench.ward.physician"),
        "nurse": User.objects.get(username="bench.ward.nurse"),
        "ward": str(Ward.objects.get(code="bench-0").pk),
        "session": SessionContext(session_id="bench", reachable=True, reachable_reason="clinical_zone"),
    }


# --- the same queries and decryption, without facts, policy or audit ---------------------------------
def census_direct(ward_id: str) -> list[Any]:
    from safeward.clinical.gateway._core import plain, user_label
    from safeward.clinical.gateway._patients import list_patients, patient_view
    from safeward.clinical.models import Bed, BedOccupancy, Ward
    from safeward.clinical.policy import Section

    ward = Ward.objects.select_related("department").get(pk=ward_id)
    beds = list(Bed.objects.filter(ward=ward).order_by("label"))
    stays = {
        s.bed_id: s
        for s in BedOccupancy.objects.filter(bed__ward=ward, current=True).select_related(
            "encounter", "encounter__attending"
        )
    }
    patients = list_patients(s.patient_id for s in stays.values())
    demographics = frozenset({Section.DEMOGRAPHICS})
    rows: list[Any] = []
    for bed in beds:
        stay = stays.get(bed.pk)
        if stay is not None:
            rows.append(
                (
                    bed.label,
                    patient_view(patients[stay.patient_id], demographics),
                    user_label(stay.encounter.attending),
                    plain(stay.encounter, "started_at"),
                )
            )
        else:
            rows.append((bed.label, None, "", None))
    return rows


def worklist_direct(physician: Any) -> list[Any]:
    from django.db.models import Q
    from django.utils import timezone

    from safeward import clock
    from safeward.clinical.gateway._patients import list_patients, observation_view, patient_view
    from safeward.clinical.models import (
        Appointment,
        BedOccupancy,
        CareTeamMembership,
        Encounter,
        ResultNotification,
    )
    from safeward.clinical.policy import Section

    now = clock.now()
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    memberships = list(
        CareTeamMembership.objects.filter(user=physician, starts_at__lte=now)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .order_by("-starts_at")[:100]
    )
    inpatients = list(
        Encounter.objects.filter(
            attending=physician, kind="inpatient", status__in=Encounter.ACTIVE_STATUSES
        ).select_related("department")[:100]
    )
    beds = {
        s.encounter_id: s
        for s in BedOccupancy.objects.filter(encounter__in=inpatients, current=True).select_related(
            "bed__ward"
        )
    }
    appointments = list(
        Appointment.objects.filter(
            clinician=physician,
            starts_at__gte=start,
            starts_at__lt=start + dt.timedelta(days=1),
            status__in=["booked", "checked_in"],
        )
        .select_related("department")
        .order_by("starts_at")[:100]
    )
    notifications = list(
        ResultNotification.objects.filter(recipient=physician, acknowledged_at__isnull=True)
        .select_related("observation")
        .order_by("-critical", "-created_at")[:100]
    )
    demographics = frozenset({Section.DEMOGRAPHICS})
    rows: list[Any] = [*memberships, *inpatients, *appointments, *notifications]
    patients = list_patients(row.patient_id for row in rows)
    views = {pid: patient_view(p, demographics) for pid, p in patients.items()}
    return [
        [views[m.patient_id] for m in memberships],
        [(views[e.patient_id], beds.get(e.pk)) for e in inpatients],
        [views[a.patient_id] for a in appointments],
        [(views[n.patient_id], observation_view(n.observation)) for n in notifications],
    ]


def _sequential(call: Callable[[], Any]) -> Callable[[], Any]:
    """The gateway call with `prepared.overlapped()` turned off: every
    statement waited for in turn, as before ADR 0592 (for --sequential).
    The lists' overlapped blocks are all in the gateway's `_admission`."""
    import contextlib

    from safeward.clinical.gateway import _admission

    def run() -> Any:
        block = getattr(_admission, "overlapped")  # noqa: B009 - not re-exported
        setattr(_admission, "overlapped", contextlib.nullcontext)  # noqa: B010 - the same
        try:
            return call()
        finally:
            setattr(_admission, "overlapped", block)  # noqa: B010 - the same

    return run


def _bare(call: Callable[[], Any], decided: dict[Any, tuple[Any, Any]]) -> Callable[[], Any]:
    """The gateway call with its policy and its audit taken out, and nothing
    else: no permission check, no facts statement, no decisions (each
    patient's, as the gateway decided it in the warm-up, is a constant
    here), no READ event. The same queries, the same decryption and the same
    rows as the gateway's, which `measure` asserts: the issue's baseline,
    "the same queries without policy and audit". `census direct` and
    `worklist direct` are hand-written ORM code that skips the lists' own
    presentation work too (roles, result flags, sorting)."""
    import contextlib

    from safeward.clinical.gateway import _admission, _worklists
    from safeward.clinical.gateway._patients import list_patients

    def listed(actor: Any, session: Any, purpose: Any, ids: Any) -> dict[Any, Any]:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return {}
        patients = list_patients(unique)
        return {pid: _admission.Shown(patient, *decided[pid]) for pid, patient in patients.items()}

    @contextlib.contextmanager
    def no_event(**_: Any) -> Any:
        yield

    def no_check(*_: Any) -> None:
        return None

    taken_out = {"listed_patients": listed, "list_event": no_event, "_require": no_check}

    def run() -> Any:
        kept = {
            (module, name): getattr(module, name) for module in (_admission, _worklists) for name in taken_out
        }
        for module, name in kept:
            setattr(module, name, taken_out[name])
        try:
            return call()
        finally:
            for (module, name), value in kept.items():
                setattr(module, name, value)

    return run


def _decisions(calls: list[Callable[[], Any]]) -> dict[Any, tuple[Any, Any]]:
    """Each listed patient's decisions as the gateway makes them (for `_bare`)."""
    from safeward.clinical.gateway import _admission, _worklists

    decided: dict[Any, tuple[Any, Any]] = {}
    real = _admission.listed_patients

    def recording(*args: Any) -> dict[Any, Any]:
        shown = real(*args)
        decided.update({pid: (who.search, who.read) for pid, who in shown.items()})
        return shown

    for module in (_admission, _worklists):
        setattr(module, "listed_patients", recording)  # noqa: B010 - not re-exported
    try:
        for call in calls:
            call()
    finally:
        for module in (_admission, _worklists):
            setattr(module, "listed_patients", real)  # noqa: B010 - the same
    return decided


def measure(
    iterations: int, data: dict[str, Any], *, sequential: bool = False
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Each path's wall times, and its mean CPU time in this process (the
    client's share: less shaken by the other processes on a loaded machine)."""
    from safeward.audit.vocabulary import PurposeOfUse
    from safeward.clinical import gateway

    treat, session = PurposeOfUse.TREATMENT, data["session"]

    def census_call() -> Any:
        return gateway.ward_census(actor=data["nurse"], session=session, purpose=treat, ward_id=data["ward"])

    def worklist_call() -> Any:
        return gateway.physician_worklist(actor=data["physician"], session=session, purpose=treat)

    decided = _decisions([census_call, worklist_call])
    calls: dict[str, Callable[[], Any]] = {
        "census gateway": census_call,
        "census bare": _bare(census_call, decided),
        "census direct": lambda: census_direct(data["ward"]),
        "worklist gateway": worklist_call,
        "worklist bare": _bare(worklist_call, decided),
        "worklist direct": lambda: worklist_direct(data["physician"]),
    }
    for what in ("census", "worklist"):
        same = calls[f"{what} bare"]() == calls[f"{what} gateway"]()
        assert same, f"the {what} without policy and audit shows other rows than the gateway's"
    if sequential:
        calls["census sequential"] = _sequential(census_call)
        calls["worklist sequential"] = _sequential(worklist_call)
    checks = gateway.ward_census(actor=data["nurse"], session=session, purpose=treat, ward_id=data["ward"])
    assert sum(1 for b in checks.beds if b.occupant) == BEDS, "the bench ward is full"
    worklist = gateway.physician_worklist(actor=data["physician"], session=session, purpose=treat)
    sizes = (
        len(worklist.my_patients),
        len(worklist.inpatients),
        len(worklist.clinic_today),
        len(worklist.results),
    )
    print(f"worklist rows (my patients, inpatients, clinic today, results): {sizes}")
    times: dict[str, list[float]] = {name: [] for name in calls}
    cpu: dict[str, float] = dict.fromkeys(calls, 0.0)
    for call in calls.values():  # warm caches and connections
        for _ in range(5):
            call()
    # As a served worker does after start-up (safeward/wsgi.py, ADR 0594).
    gc.collect()
    gc.freeze()
    for _ in range(iterations):
        for name, call in calls.items():  # alternating: the same load on both paths
            started, started_cpu = time.perf_counter(), time.process_time()
            call()
            times[name].append(time.perf_counter() - started)
            cpu[name] += time.process_time() - started_cpu
    return times, {name: total / iterations for name, total in cpu.items()}


def profile(iterations: int, data: dict[str, Any]) -> None:
    """Where the gateway's time goes (pyinstrument, the census then the worklist)."""
    from pyinstrument import Profiler

    from safeward.audit.vocabulary import PurposeOfUse
    from safeward.clinical import gateway

    treat, session = PurposeOfUse.TREATMENT, data["session"]
    for name, call in (
        (
            "census",
            lambda: gateway.ward_census(
                actor=data["nurse"], session=session, purpose=treat, ward_id=data["ward"]
            ),
        ),
        (
            "worklist",
            lambda: gateway.physician_worklist(actor=data["physician"], session=session, purpose=treat),
        ),
    ):
        call()
        profiler = Profiler()
        profiler.start()
        for _ in range(iterations):
            call()
        profiler.stop()
        print(f"--- {name} x{iterations}")
        print(profiler.output_text(unicode=False, color=False, show_all=False))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2, help="scale loaders")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="do not drop the database at the end (--reuse never drops it)",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="a kept database (with BENCH_VAR_DIR): no load, no set-up"
    )
    parser.add_argument("--profile", action="store_true", help="pyinstrument of the two gateway paths")
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="also the gateway with every statement waited for in turn (before ADR 0592), alternating",
    )
    parser.add_argument("--database", default=DB, help=f"the database to create and drop (default {DB})")
    parser.add_argument("--sqlite", action="store_true", help="the var folder's SQLite file, not PostgreSQL")
    args = parser.parse_args()
    db = args.database
    var_dir = os.environ.get("BENCH_VAR_DIR") or tempfile.mkdtemp(prefix="safeward-bench-ward-")
    if args.sqlite:
        from _setup import configure

        os.environ.pop("SAFEWARD_DATABASE_URL", None)
        os.environ["SAFEWARD_DEMO"] = "1"  # `demo scale` writes to the development database only in demo mode
        configure(Path(var_dir))
        created = not args.reuse
    else:
        created = cc.create_database(db, reuse=args.reuse)
        cc.configure(db, Path(var_dir))
    from _setup import machine, percentile, summary_ms

    print(machine())
    try:
        if created and args.sqlite:
            rate = cc.scale_here(args.patients)
            print(f"loaded {args.patients} patients at {rate:.0f} patients/s")
            data = prepare()
            print(f"var dir (for --reuse --sqlite): BENCH_VAR_DIR={var_dir}")
        elif created:
            rate = cc.load(db, args.patients, args.workers)
            print(f"loaded {args.patients} patients at {rate:.0f} patients/s")
            data = prepare()
            print(f"var dir (for --reuse): BENCH_VAR_DIR={var_dir}")
        else:
            data = prepared()
        if args.profile:
            profile(args.iterations, data)
            return
        times, cpu = measure(args.iterations, data, sequential=args.sequential)
        for name, values in times.items():
            print(f"{name:<20} {summary_ms(values)}   cpu {cpu[name] * 1000:6.1f} ms")
        for what in ("census", "worklist"):
            for baseline in ("bare", "direct"):
                base = times[f"{what} {baseline}"]
                for path in ("gateway", "sequential"):
                    gate = times.get(f"{what} {path}")
                    if gate is None:
                        continue
                    p99 = percentile(gate, 0.99) / percentile(base, 0.99)
                    p50 = percentile(gate, 0.50) / percentile(base, 0.50)
                    in_cpu = cpu[f"{what} {path}"] / cpu[f"{what} {baseline}"]
                    print(f"{what}: {path} / {baseline}  p50 {p50:.2f}x  p99 {p99:.2f}x  cpu {in_cpu:.2f}x")
    finally:
        if not (args.keep or args.reuse or args.sqlite):  # a reused database was kept on purpose
            from django.db import connections

            connections.close_all()
            cc.drop_database(db)


if __name__ == "__main__":
    main()
