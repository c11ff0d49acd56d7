"""What encrypted service dates cost the queries that used to sort or filter
on them (issue 11, ADR 0557): chart reads of imported Synthea patients (their
encounters and results are picked by year and ordered after decryption),
the care-relationship facts of a clinic list, the lab worklist (open orders
ordered after decryption) and detection's access facts for a batch.

    .venv/bin/python bench/clinical_dates.py [--bundles 40] [--orders 300] [--repeat 5] [--database bench_x]

Imports the first --bundles patient bundles of the 100-bundle archive into a
fresh PostgreSQL database (--database, default bench_clinical_dates) on
127.0.0.1:5432 (dropped at the end), puts a bench physician on every
imported patient's care team, in a ward where each patient has an encounter
the physician attends (in progress for half of them, discharged three days
ago for the other half: the care relationship decrypts their times, ADR
0565), and orders --orders lab tests through the gateway. In-process
timings (no HTTP): median and 95th percentile in milliseconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import clinical_common as cc

DB = "bench_clinical_dates"
TARBALL = Path("/work/shared/data/synthea/synthea-r4-100.tar.gz")


def timed(label: str, call: Callable[[], object], repeat: int) -> None:
    """Wall time, and this process's CPU time (less disturbed by other load on
    a shared machine; it leaves out the database server's share)."""
    wall, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        call()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    wall.sort()
    p95 = wall[min(len(wall) - 1, int(len(wall) * 0.95))]
    print(
        f"{label:<40} wall median {statistics.median(wall):7.2f} ms  p95 {p95:7.2f} ms  "
        f"cpu median {statistics.median(cpu):7.2f} ms  n={len(wall)}"
    )


def run(args: argparse.Namespace, folder: Path) -> None:
    from django.core.management import call_command

    from safeward import clock
    from safeward.audit.vocabulary import PurposeOfUse
    from safeward.clinical import gateway
    from safeward.clinical.gateway import detection
    from safeward.clinical.gateway._core import facts_for
    from safeward.clinical.models import CareTeamMembership, Encounter, Patient
    from safeward.clinical.types import SessionContext

    chosen = sorted(p for p in folder.rglob("*.json") if "practitioner" not in p.name.lower())
    selected = folder / "selected"
    selected.mkdir()
    for path in chosen[: args.bundles]:
        path.rename(selected / path.name)
    call_command("import", "fhir", str(selected), "--no-progress")

    from _setup import make_user

    physician, _ = make_user("bench.physician", "physician")
    lab, _ = make_user("bench.lab", "lab_technician")
    now = clock.now()
    ids = list(Patient.objects.order_by("pk").values_list("pk", flat=True))
    CareTeamMembership.objects.bulk_create(  # bench set-up, not the product path
        CareTeamMembership(patient_id=pid, user=physician, role="physician", starts_at=now) for pid in ids
    )
    from safeward.identity.models import Department, StaffProfile

    bench_ward = Department.objects.create(code="bench-ward", name="Bench ward")
    StaffProfile.objects.update_or_create(user=physician, defaults={"department": bench_ward})
    for n, pid in enumerate(ids):  # bench set-up: one attended encounter per patient in the ward
        discharged = n % 2 == 1
        Encounter.objects.create(
            patient_id=pid,
            kind="inpatient",
            department=bench_ward,
            attending=physician,
            status="finished" if discharged else "in_progress",
            started_at=now - dt.timedelta(days=5),
            ended_at=now - dt.timedelta(days=3) if discharged else None,
        )
    ward = SessionContext(
        session_id="bench", reachable=True, reachable_reason="clinical_zone", step_up_fresh=True
    )
    for n in range(args.orders):
        gateway.order_create(
            actor=physician,
            session=ward,
            purpose=PurposeOfUse.TREATMENT,
            patient_id=ids[n % len(ids)],
            code="2345-7",
            display="Glucose",
        )
    charts = [
        gateway.chart_read(actor=physician, session=ward, purpose=PurposeOfUse.TREATMENT, patient_id=pid)
        for pid in ids
    ]
    results = sum(len(c.results or []) for c in charts)
    encounters = sum(len(c.encounters or []) for c in charts)
    print(f"{len(ids)} patients, {encounters} encounters and {results} results shown in their charts")

    queue = iter(ids * args.repeat)
    timed(
        "chart_read (each patient, repeated)",
        lambda: gateway.chart_read(
            actor=physician, session=ward, purpose=PurposeOfUse.TREATMENT, patient_id=next(queue)
        ),
        len(ids) * args.repeat,
    )
    page = ids[:50]
    timed("facts_for (50 patients)", lambda: facts_for(physician, page), 20 * args.repeat)
    timed(
        f"lab_worklist ({args.orders} open orders)",
        lambda: gateway.lab_worklist(actor=lab, session=ward, purpose=PurposeOfUse.TREATMENT),
        4 * args.repeat,
    )
    batch = [
        detection.AccessQuery(
            user_id=physician.pk, patient_id=str(pid), at=now + dt.timedelta(minutes=n % 30)
        )
        for n, pid in enumerate(ids * 4)
    ]
    timed(
        f"detection_access_facts ({len(batch)} accesses)",
        lambda: detection.detection_access_facts(queries=batch),
        4 * args.repeat,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bundles", type=int, default=40)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database", default=DB, help="a bench_* database name (created and dropped)")
    args = parser.parse_args()
    cc.create_database(args.database)
    try:
        cc.configure(args.database, Path(tempfile.mkdtemp(prefix="safeward-bench-dates-")))
        from _setup import machine

        print(machine())
        with tempfile.TemporaryDirectory(prefix="synthea-100-") as folder:
            with tarfile.open(TARBALL) as archive:
                archive.extractall(folder, filter="data")
            run(args, Path(folder))
    finally:
        from django.db import connections

        connections.close_all()
        cc.drop_database(args.database)


if __name__ == "__main__":
    main()
