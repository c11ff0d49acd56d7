"""Benchmark for issue 18: the apps' control tests (identity, crypto, audit,
detection, workforce; ADR 0920) over a large synthetic state.

Rows are bulk-inserted straight into the tables the controls read (accounts,
second factors, role assignments, sessions, people, training, access
reviews, terminations, alerts, audit events with break-glass starts and
reviews), far faster than the services would write them; the controls read
them as they read production rows. Each control runs --rounds times;
reported: the median and the worst, and the number of resources judged.

Run: .venv/bin/python bench/controls_apps.py [--accounts 5000] [--events 300000]
(SQLite in a temporary file; set SAFEWARD_DATABASE_URL for PostgreSQL.)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

BATCH = 5000
# Django's mark of an account that has no usable password.
UNUSABLE = "!"


def seed(*, accounts: int, events: int) -> None:
    from allauth.mfa.models import Authenticator

    from safeward import clock
    from safeward.audit.models import AuditEvent
    from safeward.detection.models import Alert
    from safeward.identity.models import Role, RoleAssignment, User, UserSession
    from safeward.workforce.models import (
        Person,
        ReviewCampaign,
        ReviewItem,
        TrainingAssignment,
        TrainingCourse,
    )

    now = clock.now()
    roles = {role.code: role for role in Role.objects.all()}
    users = User.objects.bulk_create(
        [User(username=f"bench{i:06d}", password=UNUSABLE) for i in range(accounts)], batch_size=BATCH
    )
    Authenticator.objects.bulk_create(
        [Authenticator(user=u, type=Authenticator.Type.TOTP, data={}) for u in users[: accounts * 9 // 10]],
        batch_size=BATCH,
    )
    cycle = ["nurse", "physician", "registration_clerk", "it_admin", "security_officer"]
    assignments = RoleAssignment.objects.bulk_create(
        [
            RoleAssignment(
                user=u,
                role=roles[cycle[i % len(cycle)]],
                status=RoleAssignment.Status.ACTIVE,
                requested_at=now - dt.timedelta(days=100),
                decided_at=now - dt.timedelta(days=99),
            )
            for i, u in enumerate(users)
        ],
        batch_size=BATCH,
    )
    UserSession.objects.bulk_create(
        [
            UserSession(
                user=users[i % accounts],
                session_key=f"s{i}",
                created_at=now - dt.timedelta(hours=i % 400),
                last_seen_at=now - dt.timedelta(hours=i % 400) + dt.timedelta(minutes=10),
                ended_at=None if i % 3 else now - dt.timedelta(hours=i % 400) + dt.timedelta(minutes=20),
            )
            for i in range(accounts * 10)
        ],
        batch_size=BATCH,
    )
    people = Person.objects.bulk_create(
        [
            Person(
                employee_number=f"B{i:07d}",
                first_name="Bench",
                last_name="Person",
                user=u,
                start_date=dt.date(2020, 1, 1),
                status=Person.Status.TERMINATED if i % 50 == 0 else Person.Status.ACTIVE,
                activated_at=now - dt.timedelta(days=500),
                access_ends_at=now - dt.timedelta(days=i % 300) if i % 50 == 0 else None,
                terminated_at=now - dt.timedelta(days=i % 300) if i % 50 == 0 else None,
            )
            for i, u in enumerate(users[: accounts * 95 // 100])
        ],
        batch_size=BATCH,
    )
    courses = [
        TrainingCourse.objects.create(code=f"bench-{c}", title=f"Course {c}", required_for_onboarding=False)
        for c in range(4)
    ]
    TrainingAssignment.objects.bulk_create(
        [
            TrainingAssignment(
                person=p,
                course=course,
                assigned_at=now - dt.timedelta(days=60),
                due_at=now - dt.timedelta(days=30 - (i % 60)),
                completed_at=None if i % 7 == 0 else now - dt.timedelta(days=40),
            )
            for i, p in enumerate(people)
            for course in courses
        ],
        batch_size=BATCH,
    )
    campaign = ReviewCampaign.objects.create(
        name="bench", created_at=now - dt.timedelta(days=90), deadline=now - dt.timedelta(days=60)
    )
    by_user = {a.user_id: a for a in assignments}
    ReviewItem.objects.bulk_create(
        [
            ReviewItem(
                campaign=campaign,
                person=p,
                role_assignment=by_user[p.user_id],
                role_code="nurse",
                due_at=now - dt.timedelta(days=60),
                decision=ReviewItem.Decision.PENDING if i % 20 == 0 else ReviewItem.Decision.ATTESTED,
                decided_at=None if i % 20 == 0 else now - dt.timedelta(days=70),
            )
            for i, p in enumerate(people)
        ],
        batch_size=BATCH,
    )
    Alert.objects.bulk_create(
        [
            Alert(
                rule="mass_lookup",
                severity=["low", "medium", "high", "critical"][i % 4],
                status="dismissed" if i % 10 else "new",
                title="bench",
                group_key=f"bench:{i}",
                first_event_id=1,
                last_event_id=1,
                first_event_at=now - dt.timedelta(minutes=i),
                last_event_at=now - dt.timedelta(minutes=i),
                created_at=now - dt.timedelta(minutes=i),
                updated_at=now - dt.timedelta(minutes=i),
                triaged_at=None if i % 10 == 0 else now - dt.timedelta(minutes=i - 5),
            )
            for i in range(accounts * 4)
        ],
        batch_size=BATCH,
    )
    grants = [str(uuid.uuid4()) for _ in range(max(1, events // 500))]
    rows = []
    for i in range(events):
        moment = now - dt.timedelta(seconds=(events - i) * 20)
        kind = i % 500
        if kind == 0 and grants:
            grant = grants[(i // 500) % len(grants)]
            rows.append(
                AuditEvent(
                    occurred_at=moment,
                    action="break_glass",
                    outcome="success",
                    resource_type="BreakGlassGrant",
                    resource_id=grant,
                    detail={"event": "start", "break_glass_grant": grant},
                )
            )
        elif kind == 1 and grants and i % 1000 == 1:
            grant = grants[(i // 500) % len(grants)]
            rows.append(
                AuditEvent(
                    occurred_at=moment,
                    action="update",
                    outcome="success",
                    resource_type="BreakGlassGrant",
                    resource_id=grant,
                    detail={"event": "review", "justified": True},
                )
            )
        else:
            rows.append(
                AuditEvent(
                    occurred_at=moment,
                    action="read" if i % 3 else "update",
                    outcome="success",
                    actor_id=users[i % accounts].pk,
                    resource_type="Chart",
                    resource_id=str(i),
                    patient_id=f"p{i % 100000}",
                )
            )
        if len(rows) >= BATCH:
            AuditEvent.objects.bulk_create(rows)
            rows = []
    AuditEvent.objects.bulk_create(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, keepdb=False)
    try:
        from safeward import clock
        from safeward.compliance import discover

        started = time.perf_counter()
        seed(accounts=args.accounts, events=args.events)
        print(f"seeded in {time.perf_counter() - started:.1f} s ({connection.vendor})")
        now = clock.now()
        print("| control | resources | failing | median | worst |")
        print("|---|---|---|---|---|")
        total = 0.0
        for control_id, test in discover().items():
            if control_id.split(".")[0] not in {"identity", "crypto", "audit", "detection", "workforce"}:
                continue
            times = []
            for _ in range(args.rounds):
                begin = time.perf_counter()
                checks = test.run(now)
                times.append(time.perf_counter() - begin)
            failing = sum(not c.passed for c in checks)
            total += statistics.median(times)
            print(
                f"| `{control_id}` | {len(checks):,} | {failing:,} | "
                f"{statistics.median(times) * 1000:.0f} ms | {max(times) * 1000:.0f} ms |"
            )
        print(f"total of medians: {total:.2f} s")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
