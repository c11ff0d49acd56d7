"""Benchmark for issue 7 (workforce lifecycle drives access).

1. Termination to refusal: a signed-in clinician's session; HR's termination
   call (immediate), then the clinician's next request through the full
   middleware stack. Measured: the time from the start of the termination
   call to the refused response. Also the planned case: the end moment
   passes with no worker running; the next request is refused (and applies
   the termination) on the request path.
2. Cost of the per-request account-state check: the same authenticated page
   (the dashboard) with and without the workforce check (middleware,
   permission filter, API account check and banner), same process, same run;
   reported as a ratio.

Run: .venv/bin/python bench/termination.py [--rounds 200]
(SQLite in a temporary file; set SAFEWARD_DATABASE_URL for PostgreSQL.)
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
    parser.add_argument(
        "--rounds", type=int, default=1000, help="requests per variant for the overhead ratio"
    )
    parser.add_argument("--terminations", type=int, default=30)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings, setup_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, keepdb=False)
    try:
        from safeward import clock
        from safeward.identity import selectors as identity_selectors
        from safeward.workforce import policy, services
        from safeward.workforce.models import Person
        from tests.conftest import sign_in
        from tests.factories import UserFactory

        hr = UserFactory(username="bench.hr", roles=["hr_officer"], totp_secret=True)

        def clinician(n: int) -> tuple[Client, Person]:
            user = UserFactory(username=f"bench.dr{n}", roles=["physician"], totp_secret=True)
            person = Person.objects.create(
                employee_number=f"B{n}",
                first_name="Bench",
                last_name=f"Doctor{n}",
                user=user,
                start_date=dt.date(2025, 1, 1),
                status=Person.Status.ACTIVE,
            )
            client = Client(HTTP_USER_AGENT="bench")
            sign_in(client, user)
            assert client.get("/").status_code == 200
            return client, person

        # --- 1a. immediate termination -> refusal of the next request -------
        immediate: list[float] = []
        call_only: list[float] = []
        for n in range(args.terminations):
            client, person = clinician(n)
            start = time.perf_counter()
            services.termination_schedule(actor=hr, person=person, effective_at=clock.now(), reason="bench")
            called = time.perf_counter()
            response = client.get("/")
            end = time.perf_counter()
            assert response.status_code in {302, 401}, response.status_code
            immediate.append(end - start)
            call_only.append(called - start)

        # --- 1b. planned: the end moment passes, no worker -----------------
        planned: list[float] = []
        for n in range(args.terminations):
            client, person = clinician(1000 + n)
            moment = clock.now() + dt.timedelta(milliseconds=50)
            services.termination_schedule(actor=hr, person=person, effective_at=moment, reason="bench")
            while clock.now() < moment:
                time.sleep(0.001)
            response = client.get("/")
            end = clock.now()
            assert response.status_code == 401, response.status_code
            planned.append((end - moment).total_seconds())

        # --- 2. per-request cost of the account-state check ----------------
        # Two clients on the same session: one whose handler was built with the
        # workforce middleware, one without it. For the "without" requests the
        # permission filter and API check are unregistered and the banner's
        # state lookup returns "unmanaged" at once, so no workforce query runs.
        from safeward.workforce import context_processors

        client, _ = clinician(5000)
        bare = Client(HTTP_USER_AGENT="bench")
        bare.cookies = client.cookies
        with override_settings(MIDDLEWARE=[m for m in settings.MIDDLEWARE if "workforce" not in m]):
            bare.handler.load_middleware()
        real_state = context_processors.workforce_state

        def timed(rounds: int, on: Client = client) -> list[float]:
            samples = []
            for _ in range(rounds):
                start = time.perf_counter()
                response = on.get("/")
                samples.append(time.perf_counter() - start)
                assert response.status_code == 200
            return samples

        def run_without(rounds: int) -> list[float]:
            filters = list(identity_selectors._permission_filters)
            checks = list(identity_selectors._account_checks)
            identity_selectors._permission_filters.clear()
            identity_selectors._account_checks.clear()
            context_processors.workforce_state = lambda user: policy.UNMANAGED  # type: ignore[assignment]
            try:
                return timed(rounds, bare)
            finally:
                identity_selectors._permission_filters.extend(filters)
                identity_selectors._account_checks.extend(checks)
                context_processors.workforce_state = real_state

        timed(20)
        run_without(20)  # warm-up both
        with_check: list[float] = []
        without_check: list[float] = []
        for _ in range(args.rounds // 10):  # interleave to spread noise over both variants
            with_check += timed(10)
            without_check += run_without(10)
        assert policy.filter_permissions in identity_selectors._permission_filters

        # The check by itself: one indexed query per request.
        from safeward.identity.models import User

        user = User.objects.get(username="bench.dr5000")
        state_only = []
        for _ in range(args.rounds):
            user.__dict__.pop(policy.STATE_ATTRIBUTE, None)
            start = time.perf_counter()
            policy.workforce_state(user)
            state_only.append(time.perf_counter() - start)

        ratio = statistics.median(with_check) / statistics.median(without_check)
        engine = connection.vendor
        print(f"database: {engine}")
        print(
            f"immediate termination -> next request refused: median {ms(statistics.median(immediate))}, "
            f"p95 {ms(percentile(immediate, 0.95))}, max {ms(max(immediate))} "
            f"(termination call alone: median {ms(statistics.median(call_only))}); n={len(immediate)}"
        )
        print(
            f"planned termination, end moment passed, no worker -> refused after: median "
            f"{ms(statistics.median(planned))}, p95 {ms(percentile(planned, 0.95))}, max {ms(max(planned))}; "
            f"n={len(planned)}"
        )
        print(
            f"dashboard with workforce check: median {ms(statistics.median(with_check))}; without: "
            f"median {ms(statistics.median(without_check))}; ratio {ratio:.3f} (n={len(with_check)} each)"
        )
        print(f"the workforce state query alone: median {ms(statistics.median(state_only))}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
