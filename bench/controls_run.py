"""The control-test runner at scale (issue 18, ADR 0900): every registered
control test timed inside a real run, the whole run (tests, storing every
resource row, canonical JSON, SHA-256, Ed25519 signature, audit event), and
the runner's own cost per judged resource with synthetic tests, plus
verification of the stored run.

    .venv/bin/python bench/controls_run.py --accounts 2000 --resources 200000
    .venv/bin/python bench/controls_run.py --postgres --patients 100000 --resources 200000

Embedded SQLite in a temporary folder by default; `--postgres` creates the
database bench_controls on 127.0.0.1:5432 (user postgres), optionally loads
scale patients with `safeward demo scale`, and drops it at the end unless
--keep. `--accounts` adds accounts with a role (what the identity and
workforce tests judge, one resource each). Synthetic tests yield
`--resources` checks in total over `--tests` tests, one in 50 failing, with
evidence like the real tests' (a few keys), so the runner's storing and
signing are measured at the size of the largest real test.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

DB = "bench_controls"


def _accounts(count: int) -> None:
    from django.contrib.auth.hashers import make_password

    from safeward import clock
    from safeward.identity.models import Role, RoleAssignment, User

    now = clock.now()
    nurse = Role.objects.get(code="nurse")
    password = make_password("bench-unused-" + "x" * 12)
    users = User.objects.bulk_create(
        User(username=f"bench.account.{n:06d}", first_name="Bench", last_name=f"{n}", password=password)
        for n in range(count)
    )
    RoleAssignment.objects.bulk_create(
        RoleAssignment(
            user=user, role=nurse, status=RoleAssignment.Status.ACTIVE, requested_at=now, decided_at=now
        )
        for user in users
    )


def _synthetic(tests: int, resources: int) -> dict[str, Any]:
    from safeward.compliance import Check, ControlTest

    per_test = max(1, resources // tests)

    def make(index: int) -> Any:
        def judge(now: Any) -> Iterator[Check]:
            for n in range(per_test):
                yield Check(
                    "account",
                    str(index * per_test + n),
                    f"bench.account.{n:06d}",
                    passed=n % 50 != 0,
                    evidence={
                        "mfa_types": ["totp"],
                        "last_login": "2026-11-30T08:00:00+00:00",
                        "days": n % 90,
                    },
                )

        return judge

    return {
        f"bench.synthetic_{i:02d}": ControlTest(
            f"bench.synthetic_{i:02d}", f"Synthetic {i}", "", ("hicp:3.M.A",), make(i)
        )
        for i in range(tests)
    }


def _timed_run(registry: Any | None, label: str) -> Any:
    from safeward.assessments import services

    timings: list[tuple[str, str, float]] = []

    def progress(number: int, total: int, test: Any, outcome: str, seconds: float) -> None:
        timings.append((test.id, outcome, seconds))

    started = time.perf_counter()
    run = services.controls_run(actor=None, trigger="scheduled", registry=registry, progress=progress)
    total = time.perf_counter() - started
    tests_time = sum(seconds for _, _, seconds in timings)
    print(f"\n{label}: run {run.pk}, {run.controls_total} tests, {run.resources_total} resources")
    for control_id, outcome, seconds in sorted(timings, key=lambda t: -t[2]):
        print(f"  {seconds:8.3f} s  {outcome:14s} {control_id}")
    print(
        f"  total {total:.2f} s: tests {tests_time:.2f} s,"
        f" storing + signing + audit {total - tests_time:.2f} s"
        f" ({(total - tests_time) / max(1, run.resources_total) * 1e6:.1f} µs per resource)"
    )
    slowest = max((seconds for _, _, seconds in timings), default=0.0)
    print(
        f"  slowest test {slowest:.2f} s (goal: none above 10 s); whole run {total:.2f} s (goal: under 60 s)"
    )
    return run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--patients", type=int, default=0, help="scale patients to load (PostgreSQL only)")
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--resources", type=int, default=200_000)
    parser.add_argument("--tests", type=int, default=4)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    var_dir = Path(tempfile.mkdtemp(prefix="safeward-bench-controls-"))
    if args.postgres:
        import clinical_common as cc

        cc.create_database(DB)
        cc.configure(DB, var_dir)
    else:
        from _setup import configure

        configure(var_dir)
    from _setup import machine

    from safeward.assessments import services
    from safeward.compliance import discover

    print(machine())
    print(f"database: {'PostgreSQL' if args.postgres else 'SQLite'}")
    try:
        if args.postgres and args.patients:
            import clinical_common as cc

            rate = cc.scale(DB, args.patients)
            print(f"loaded {args.patients} scale patients ({rate:.0f}/s)")
        started = time.perf_counter()
        _accounts(args.accounts)
        print(f"added {args.accounts} accounts in {time.perf_counter() - started:.1f} s")
        print(f"registered control tests: {len(discover())}")
        _timed_run(None, "every registered control test")
        _timed_run(None, "again (a previous run exists, warm caches)")
        run = _timed_run(_synthetic(args.tests, args.resources), "synthetic tests (runner cost per resource)")
        started = time.perf_counter()
        verification = services.verify_run(run)
        print(
            f"\nverify_run of {run.resources_total} resources:"
            f" {time.perf_counter() - started:.2f} s, ok={verification.ok}"
        )
    finally:
        if args.postgres and not args.keep:
            import clinical_common as cc
            from django.db import connections

            connections.close_all()
            cc.drop_database(DB)


if __name__ == "__main__":
    main()
