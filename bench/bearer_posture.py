"""Device posture on bearer tokens (ADR 1016): what the posture lookup adds to a FHIR
chart read with a bearer token.

    .venv/bin/python bench/bearer_posture.py --rounds 300

In one process against a throwaway test database (tests.settings; SQLite unless
SAFEWARD_DATABASE_URL is given): a physician on the care team reads one patient
(`GET /fhir/Patient/<id>`, the whole request: middleware, token, scope decision,
gateway, policy, audit) with a token bound to a compliant laptop (`TokenDevice`).
"with": the token posture provider registered (one read: the binding, its device,
the device's posture, and the client's linked device with its posture, ADR 1018; the
client is not linked here, so the join finds no link, as for most clients).
"without": the provider unregistered, as before ADR 1016
(the request's own device only: no certificate, no query). Requests alternate; the
ratio of medians is reported. The lookup writes nothing (tests/devices/test_bearer_posture.py).

    .venv/bin/python bench/bearer_posture.py --rounds 300 --against main

`--against COMMIT` adds a third request to each round: the provider as it was at that
commit (`safeward/devices/identity.py` loaded from git), so old and new code are
measured in the same run, under the same load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--against", metavar="COMMIT", help="also time the provider at this commit")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, keepdb=False)
    try:
        from oauth2_provider.models import AccessToken

        from safeward import clock
        from safeward.devices.identity import posture_for_token
        from safeward.devices.models import Device, TokenDevice
        from safeward.devices.posture import posture_import
        from safeward.identity import access
        from safeward.identity.models import NetworkZone
        from safeward.identity.network import zone_table
        from tests.clinical.conftest import new_patient, relate
        from tests.factories import UserFactory
        from tests.fhir.helpers import bearer, token

        NetworkZone.objects.create(name="ward", cidrs=["127.0.0.0/8"], clinical=True)
        zone_table.clear()
        doctor = UserFactory(username="bench.doctor", roles=["physician"], totp_secret=True)
        patient = new_patient()
        relate(doctor, patient, "care_team")
        now = clock.now()
        laptop = Device.objects.create(
            kind="laptop", asset_tag="BENCH-LT", serial="BENCH1", created_at=now, updated_at=now
        )
        csv = (
            "SerialNumber,CompliantState,EncryptionStatusString,JailBroken,LastContact\n"
            f"BENCH1,Compliant,Encrypted,False,{now:%Y-%m-%d %H:%M:%S}\n"
        )
        posture_import(actor=None, source="intune", data=csv.encode())
        raw = token(doctor, "user/Patient.rs")
        TokenDevice.objects.create(
            access_token=AccessToken.objects.get(), device=laptop, fingerprint="", bound_at=now
        )
        api = Client(HTTP_USER_AGENT="bench")
        path = f"/fhir/Patient/{patient}"

        def once() -> float:
            start = time.perf_counter()
            response = api.get(path, **bearer(raw))
            elapsed = time.perf_counter() - start
            assert response.status_code == 200, response.status_code
            return elapsed

        baseline = None
        if args.against:
            from bench._setup import module_at

            old = module_at(args.against, "safeward/devices/identity.py", "bench_old_device_identity")
            baseline = old.posture_for_token
        for _ in range(20):
            once()
        with_posture: list[float] = []
        without: list[float] = []
        with_old: list[float] = []
        for _ in range(args.rounds):
            if baseline is not None:
                access.token_posture_provider_register(baseline)
                try:
                    with_old.append(once())
                finally:
                    access.token_posture_provider_register(posture_for_token)
            with_posture.append(once())
            access._token_posture_provider.clear()  # as before ADR 1016
            try:
                without.append(once())
            finally:
                access.token_posture_provider_register(posture_for_token)
        w, wo = statistics.median(with_posture), statistics.median(without)
        print(f"load average {os.getloadavg()[0]:.1f}, {args.rounds} rounds, {connection.vendor}")
        print(
            f"bearer FHIR Patient read: without posture {wo * 1000:.2f} ms, with posture {w * 1000:.2f} ms, "
            f"ratio {w / wo:.3f}x"
        )
        if with_old:
            old_median = statistics.median(with_old)
            print(
                f"  with the provider at {args.against}: {old_median * 1000:.2f} ms, "
                f"ratio {old_median / wo:.3f}x"
            )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
