"""A worker process for the concurrency and crash tests: each access writes
a marker row (a session row stands in for a clinical record) and its audit
event in one transaction; every `--rollback-every`th access rolls back,
leaving a hole in the sequence. Run with DJANGO_SETTINGS_MODULE=tests.settings."""

from __future__ import annotations

import argparse
import datetime as dt
import os

import django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writer", required=True)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--rollback-every", type=int, default=7)
    parser.add_argument("--seal-every", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    django.setup()
    from django.contrib.sessions.models import Session
    from django.db import transaction

    from safeward.audit.sealing import audit_seal_pending
    from safeward.audit.services import audit_record
    from safeward.audit.vocabulary import Action, PurposeOfUse

    class Rollback(Exception):
        pass

    index = 0
    while args.count == 0 or index < args.count:
        key = f"w{args.writer}-{index}"
        try:
            with transaction.atomic():
                Session.objects.create(
                    session_key=key, session_data="", expire_date=dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
                )
                audit_record(
                    action=Action.READ,
                    resource_type="Marker",
                    resource_id=key,
                    patient_id=f"p-{index % 10}",
                    purpose=PurposeOfUse.TREATMENT,
                )
                if args.rollback_every and index % args.rollback_every == args.rollback_every - 1:
                    raise Rollback
        except Rollback:
            pass
        if args.seal_every and index % args.seal_every == 0:
            audit_seal_pending()
        index += 1
    print("done", flush=True)


if __name__ == "__main__":
    main()
