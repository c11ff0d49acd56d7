"""Login latency: password (argon2id at SafeWard's parameters) then TOTP,
through the real views and the full middleware stack with Django's test
client, on a throwaway database.

Why the test client and not HTTP: a TOTP code is single use (replay
markers in the cache), so an HTTP load generator could log one account in at
most a few times per 30-second period. In-process, the script clears the
cache between iterations (outside the timed part) and logs in as often as it
likes; the work measured (form, argon2id, session, audit rows, MFA check,
redirects) is the same, only the loopback HTTP hop (well under 1 ms) is
missing.

    .venv/bin/python bench/login.py [--iterations 100]
"""

from __future__ import annotations

import argparse
import time

from _setup import (  # bench/ is run as a folder of scripts
    BENCH_PASSWORD,
    configure,
    machine,
    make_user,
    summary_ms,
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--iterations", type=int, default=100)
    args = parser.parse_args()

    configure()
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
    from django.conf import settings
    from django.contrib.auth.hashers import Argon2PasswordHasher, get_hasher
    from django.core.cache import cache
    from django.test import Client

    user, secret = make_user("bench.login")
    hasher = get_hasher()
    assert isinstance(hasher, Argon2PasswordHasher), hasher
    encoded = hasher.encode(BENCH_PASSWORD, hasher.salt())
    verify = []
    for _ in range(min(20, args.iterations)):
        start = time.perf_counter()
        hasher.verify(BENCH_PASSWORD, encoded)
        verify.append(time.perf_counter() - start)

    password_step, totp_step, total, dashboard = [], [], [], []
    for iteration in range(args.iterations + 1):  # the first one warms up (imports the URLconf)
        cache.clear()  # TOTP replay markers and throttle counters; not timed
        client = Client()
        code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))
        start = time.perf_counter()
        response = client.post(
            "/accounts/login/", {"login": user.username, "password": BENCH_PASSWORD}, secure=True
        )
        after_password = time.perf_counter()
        assert response.status_code == 302, response.status_code
        assert "/2fa/" in response["Location"], response["Location"]
        response = client.post("/accounts/2fa/authenticate/", {"code": code}, secure=True)
        after_totp = time.perf_counter()
        assert response.status_code == 302, response.status_code
        response = client.get("/", secure=True)
        after_dashboard = time.perf_counter()
        assert response.status_code == 200, response.status_code
        if iteration == 0:
            continue
        password_step.append(after_password - start)
        totp_step.append(after_totp - after_password)
        total.append(after_totp - start)
        dashboard.append(after_dashboard - after_totp)

    params = f"argon2id m={hasher.memory_cost // 1024} MiB, t={hasher.time_cost}, p={hasher.parallelism}"
    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"machine:  {machine()}")
    print(f"hasher:   {params}; database: {database}")
    print(f"argon2id verify alone      {summary_ms(verify)}")
    print(f"password step (POST login) {summary_ms(password_step)}")
    print(f"TOTP step (POST code)      {summary_ms(totp_step)}")
    print(f"login = password + TOTP    {summary_ms(total)}")
    print(f"first dashboard after      {summary_ms(dashboard)}")


if __name__ == "__main__":
    main()
