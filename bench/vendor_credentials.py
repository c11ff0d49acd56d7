"""Benchmark for issue 16 (vendor credentials bound to agreements, ADR 1200).

1. Agreement lapse → next request refused, no sweep: a vendor staff account
   signed in and an OAuth bearer token of a vendor client, both bound to a BAA;
   the agreement's end moment passes (its term is set to have ended, as the
   calendar would), and the next request with each credential is timed until
   refused (the lapse is applied on that request). Also termination: from the
   start of the termination call to the refused next request.
2. Per-request cost of the credential check: the same authenticated page
   (the sessions page) with the check registered and unregistered,
   interleaved in the same run, for a non-vendor account (the common case:
   no vendor binding flagged it, ADR 1210, so the check is never asked) and
   for a vendor account (a row found); and the bearer API call (/api/v1/me/)
   with a non-vendor client's token, with a vendor client's token, and with a
   vendor staff account's token through a vendor client (both flagged: one
   ask for the two since ADR 1212).
   Reported as ratios.

Run: .venv/bin/python bench/vendor_credentials.py [--rounds 500] [--lapses 20]
(in-memory SQLite test database; set SAFEWARD_DATABASE_URL for PostgreSQL.)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(value: float) -> str:
    return f"{value * 1000:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--lapses", type=int, default=20)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, keepdb=False)
    try:
        from safeward import clock
        from safeward.identity import selectors as identity_selectors
        from safeward.vendors import access, services
        from safeward.vendors.models import Agreement
        from tests.conftest import sign_in
        from tests.factories import UserFactory
        from tests.fhir.helpers import bearer, token
        from tests.vendors.conftest import make_agreement, make_client, make_vendor

        officer = UserFactory(username="bench.po", roles=["privacy_officer"], totp_secret=True)
        counter = iter(range(10**6))

        def make_user(*roles: str) -> object:
            return UserFactory(username=f"bench.u{next(counter)}", roles=list(roles), totp_secret=True)

        def bound(n: int) -> tuple[Agreement, Client, Client, str]:
            vendor = make_vendor(officer, name=f"Vendor {n}")
            agreement = make_agreement(officer, vendor)
            staff = make_user("vendor")
            services.credential_bind_account(actor=officer, vendor=vendor, agreement=agreement, user=staff)
            registration = make_client(make_user, name=f"client {n}")
            services.credential_bind_client(
                actor=officer, vendor=vendor, agreement=agreement, registration_id=registration.pk
            )
            session = Client(HTTP_USER_AGENT="bench")
            sign_in(session, staff)
            assert session.get("/identity/sessions/").status_code == 200
            raw = token(registration.application.user, "read", application=registration.application)
            api = Client(HTTP_USER_AGENT="bench")
            assert api.get("/api/v1/me/", **bearer(raw)).status_code == 200
            return agreement, session, api, raw

        lapse_session: list[float] = []
        lapse_token: list[float] = []
        for n in range(args.lapses):
            agreement, session, api, raw = bound(n)
            yesterday = services.today() - dt.timedelta(days=1)
            Agreement.objects.filter(pk=agreement.pk).update(
                end_date=yesterday, current_end_at=clock.now()
            )  # the end moment is now: no sweep will run
            start = time.perf_counter()
            assert session.get("/identity/sessions/").status_code == 401
            lapse_session.append(time.perf_counter() - start)
            start = time.perf_counter()
            assert api.get("/api/v1/me/", **bearer(raw)).status_code == 401
            lapse_token.append(time.perf_counter() - start)

        terminate: list[float] = []
        for n in range(args.lapses):
            agreement, session, api, raw = bound(1000 + n)
            start = time.perf_counter()
            services.agreement_terminate(actor=officer, agreement=agreement, reason="bench")
            assert api.get("/api/v1/me/", **bearer(raw)).status_code == 401
            assert session.get("/identity/sessions/").status_code == 401
            terminate.append(time.perf_counter() - start)

        # --- 2. per-request cost --------------------------------------------------------------
        plain = Client(HTTP_USER_AGENT="bench")
        nurse = make_user("nurse")
        sign_in(plain, nurse)
        hospital_app = make_client(make_user, name="hospital app")
        plain_raw = token(nurse, "read", application=hospital_app.application)
        plain_api = Client(HTTP_USER_AGENT="bench")
        _, vendor_session, vendor_api, vendor_raw = bound(5000)
        # A vendor staff account through a vendor client: both flagged, asked once (ADR 1212).
        both_vendor = make_vendor(officer, name="Vendor both")
        both_agreement = make_agreement(officer, both_vendor)
        both_staff = make_user("vendor")
        services.credential_bind_account(
            actor=officer, vendor=both_vendor, agreement=both_agreement, user=both_staff
        )
        both_client = make_client(make_user, name="client both")
        services.credential_bind_client(
            actor=officer, vendor=both_vendor, agreement=both_agreement, registration_id=both_client.pk
        )
        both_raw = token(both_staff, "read", application=both_client.application)
        both_api = Client(HTTP_USER_AGENT="bench")

        def once(client: Client, path: str, **extra: str) -> float:
            start = time.perf_counter()
            response = client.get(path, **extra)
            elapsed = time.perf_counter() - start
            assert response.status_code == 200, response.status_code
            return elapsed

        def compare(client: Client, path: str, **extra: str) -> tuple[float, float]:
            with_check: list[float] = []
            without: list[float] = []
            for _ in range(20):
                once(client, path, **extra)
            for _ in range(args.rounds):
                with_check.append(once(client, path, **extra))
                identity_selectors.credential_check_unregister(access.credential_refusal)
                try:
                    without.append(once(client, path, **extra))
                finally:
                    identity_selectors.credential_check_register(access.credential_refusal)
            return statistics.median(with_check), statistics.median(without)

        results = {
            "session page, non-vendor account": compare(plain, "/identity/sessions/"),
            "bearer API (/api/v1/me/), non-vendor client and account": compare(
                plain_api, "/api/v1/me/", **bearer(plain_raw)
            ),
            "session page, vendor account": compare(vendor_session, "/identity/sessions/"),
            "bearer API (/api/v1/me/), vendor client": compare(
                vendor_api, "/api/v1/me/", **bearer(vendor_raw)
            ),
            "bearer API (/api/v1/me/), vendor account through a vendor client": compare(
                both_api, "/api/v1/me/", **bearer(both_raw)
            ),
        }
        query: list[float] = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            access.credential_refusal(user_id=officer.pk)
            query.append(time.perf_counter() - start)

        print(f"database: {connection.vendor}; rounds {args.rounds}; lapses {args.lapses}")
        for label, values in (
            ("lapse → next session request refused", lapse_session),
            ("lapse → next bearer request refused", lapse_token),
            ("terminate call + both next requests refused", terminate),
        ):
            print(
                f"{label}: median {ms(statistics.median(values))}, p95 {ms(percentile(values, 0.95))}, "
                f"max {ms(max(values))}"
            )
        for label, (with_check, without) in results.items():
            print(
                f"{label}: with {ms(with_check)} vs without {ms(without)}, ratio {with_check / without:.3f}"
            )
        print(f"the check alone (no row): median {ms(statistics.median(query))}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
