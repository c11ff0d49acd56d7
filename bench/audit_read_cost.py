"""The cost of read auditing on a record read: a primary-key read of one row
in a transaction, with and without its audit event, on PostgreSQL
(bench_audit). The row stands in for a clinical record.

    .venv/bin/python bench/audit_read_cost.py [--reads 3000]"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.audit_common import fresh_database, machine, use_database


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=3000)
    args = parser.parse_args()
    fresh_database("bench_audit")
    use_database("bench_audit")
    from django.contrib.auth.models import Group
    from django.db import transaction

    from safeward.audit.services import audit_record
    from safeward.audit.vocabulary import Action, PurposeOfUse

    ids = [Group.objects.create(name=f"record-{index}").pk for index in range(200)]

    def read_only() -> float:
        started = time.perf_counter()
        for index in range(args.reads):
            with transaction.atomic():
                Group.objects.get(pk=ids[index % len(ids)])
        return time.perf_counter() - started

    def read_audited() -> float:
        started = time.perf_counter()
        for index in range(args.reads):
            with transaction.atomic():
                record = Group.objects.get(pk=ids[index % len(ids)])
                audit_record(
                    action=Action.READ,
                    resource_type="Record",
                    resource_id=record.pk,
                    patient_id=f"p-{record.pk}",
                    purpose=PurposeOfUse.TREATMENT,
                    fields=["name"],
                )
        return time.perf_counter() - started

    read_only()  # warm up
    plain = min(read_only() for _ in range(3))
    audited = min(read_audited() for _ in range(3))
    print(machine())
    print(f"read alone:        {args.reads / plain:,.0f} reads/s ({plain / args.reads * 1e6:.0f} us each)")
    print(
        f"read + audit event: {args.reads / audited:,.0f} reads/s ({audited / args.reads * 1e6:.0f} us each)"
    )
    print(f"ratio (audited / alone): {audited / plain:.2f}x")


if __name__ == "__main__":
    main()
