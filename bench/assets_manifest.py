"""What an export manifest costs (issue 13, goal: at most 1.1x the export
without it): the audit report CSV of 1,000 events (each naming a patient),
streamed end to end through the view, with its manifest (hashing every
chunk as it streams, then one manifest row and its audit event) and with
`manifest_response` replaced by a pass-through.

    .venv/bin/python bench/assets_manifest.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import configure, machine, make_user

ROWS = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    configure()
    from django.test import RequestFactory

    from safeward.assets.models import ExportManifest
    from safeward.audit.services import audit_record
    from safeward.audit.vocabulary import Action, PurposeOfUse
    from safeward.identity.models import RoleAssignment
    from safeward.oversight import audit_views as views  # the audit report moved to oversight (ADR 0566)

    officer, _ = make_user("bench.officer", role="security_officer")
    RoleAssignment.objects.filter(user=officer).update(status=RoleAssignment.Status.ACTIVE)
    for _ in range(ROWS):
        audit_record(action=Action.READ, patient_id=str(uuid.uuid4()), purpose=PurposeOfUse.TREATMENT)
    factory = RequestFactory()

    def export() -> int:
        request = factory.get("/audit/report.csv")
        request.user = officer
        response = views.report_csv(request)
        body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
        response.close()
        return body.count(b"\n")

    with_manifest = views.manifest_response

    def timed(rounds: int) -> list[float]:
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            lines = export()
            times.append(time.perf_counter() - start)
            assert lines >= ROWS, lines
        return times

    export()  # warm up both paths
    views.manifest_response = lambda response, **_: response  # type: ignore[assignment]
    export()
    without: list[float] = []
    manifested: list[float] = []
    for _ in range(args.rounds):  # interleaved, so machine load falls on both alike
        views.manifest_response = lambda response, **_: response  # type: ignore[assignment]
        without += timed(1)
        views.manifest_response = with_manifest
        manifested += timed(1)
    assert ExportManifest.objects.filter(route="audit:report_csv").count() >= args.rounds
    base, cost = statistics.median(without), statistics.median(manifested)
    print(machine())
    print(f"{ROWS}-row audit report CSV, {args.rounds} rounds each, median:")
    print(f"  without manifest {base * 1000:.1f} ms, with manifest {cost * 1000:.1f} ms")
    print(f"  ratio {cost / base:.3f}")


if __name__ == "__main__":
    main()
