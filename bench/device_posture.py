"""Device posture: (1) what the posture lookup adds to a chart read, (2) importing
posture for 50,000 devices.

    .venv/bin/python bench/device_posture.py --reads 300 --rounds 5 --devices 50000

(1) In one process against a throwaway SafeWard (embedded SQLite unless
SAFEWARD_DATABASE_URL is given): a physician on the care team of one charted
patient reads the chart through the gateway (`gateway.chart_read`, policy +
decryption + audit) from a request built the way a view builds it
(`SessionContext.from_request`). "without": no certificate header (the policy gets
`unidentified`, no lookup). "with": the header from a configured device proxy, so
every read pays the device identification (`DeviceIdentityMiddleware`'s work: the
fingerprint lookup with the device's posture, the DeviceSession touch) and the
posture input of the policy. Rounds alternate; the ratio of medians is reported.

(2) `posture_import` of an Intune CSV of --devices rows, every one matching a
device of the inventory (created in bulk first), one transaction.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import ipaddress
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import configure, machine, make_user


def chart_setup() -> tuple[Any, str, str]:
    from safeward import clock
    from safeward.audit.vocabulary import PurposeOfUse
    from safeward.clinical import gateway
    from safeward.clinical.types import ImportedPatient, PatientInput, SessionContext, SystemActor
    from safeward.devices.models import Device
    from safeward.devices.posture import posture_import
    from safeward.identity.models import NetworkZone, RoleAssignment
    from safeward.identity.network import zone_table

    NetworkZone.objects.get_or_create(name="bench-ward", defaults={"cidrs": ["10.0.0.0/8"], "clinical": True})
    zone_table.clear()
    user, _ = make_user("bench.physician", role="physician")
    RoleAssignment.objects.filter(user=user).update(status="active")
    system, actor = SessionContext.system(), SystemActor("bench")
    outcome = gateway.patient_import(
        actor=actor,
        session=system,
        record_in=ImportedPatient(
            patient=PatientInput(
                given_name="Bench", family_name="Patient", birth_date=dt.date(1970, 1, 1), sex="female"
            )
        ),
    )
    assert outcome.patient_id is not None
    common: dict[str, Any] = {"actor": actor, "session": system, "purpose": PurposeOfUse.OPERATIONS}
    gateway.care_team_add(
        **common, patient_id=outcome.patient_id, user_id=user.pk, role="attending physician"
    )
    for number in range(5):
        gateway.note_create(
            **common,
            patient_id=outcome.patient_id,
            title=f"Review {number}",
            text="Stable; continue the plan.",
        )
    fingerprint = hashlib.sha256(b"bench-laptop").hexdigest()
    now = clock.now()
    Device.objects.create(
        kind="laptop",
        asset_tag="BENCH-LT-1",
        serial="BENCH1",
        certificate_fingerprint=fingerprint,
        created_at=now,
        updated_at=now,
    )
    csv = (
        "DeviceName,SerialNumber,OS,OSVersion,CompliantState,EncryptionStatusString,JailBroken,LastContact\n"
        f"bench,BENCH1,macOS,15.1,Compliant,Encrypted,False,{now:%Y-%m-%d %H:%M:%S}\n"
    )
    posture_import(actor=None, source="intune", data=csv.encode())
    return user, outcome.patient_id, fingerprint


def bench_chart(reads: int, rounds: int) -> tuple[float, float]:
    from django.conf import settings
    from django.contrib.auth.models import AnonymousUser  # noqa: F401 - settings loaded
    from django.test import RequestFactory

    from safeward.audit.vocabulary import PurposeOfUse
    from safeward.clinical import gateway
    from safeward.clinical.types import SessionContext
    from safeward.devices.identity import DeviceIdentityMiddleware
    from safeward.identity import services
    from safeward.identity.network import zone_for

    settings.SAFEWARD_DEVICE_PROXIES = [ipaddress.ip_network("10.0.0.5/32")]
    user, patient_id, fingerprint = chart_setup()
    user_session = services.session_start(
        user=user,
        session_key="bench",
        client_ip="10.0.0.5",
        network_zone="bench-ward",
        user_agent="bench",
        mfa_at_now=True,
    )
    factory = RequestFactory()
    browser_session: dict[str, Any] = {}  # the signed-in browser's session, kept across requests
    zone = zone_for(ipaddress.ip_address("10.0.0.5"))

    def one(with_device: bool) -> None:
        request = factory.get("/", REMOTE_ADDR="10.0.0.5")
        if with_device:
            request.META["HTTP_X_CLIENT_CERT_SHA256"] = fingerprint
        request.session = browser_session  # type: ignore[assignment]  # a dict stands in for the session
        request.user = user
        request.safeward_session = user_session  # type: ignore[attr-defined]
        request.safeward_zone = zone  # type: ignore[attr-defined]
        if with_device:
            DeviceIdentityMiddleware(lambda r: None)(request)  # type: ignore[arg-type,return-value]
        session = SessionContext.from_request(request)
        chart = gateway.chart_read(
            actor=user, session=session, purpose=PurposeOfUse.TREATMENT, patient_id=patient_id
        )
        assert chart.notes, "the chart was read"

    one(True)
    one(False)
    timings: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(rounds):
        for with_device in (False, True):
            start = time.perf_counter()
            for _ in range(reads):
                one(with_device)
            timings[with_device].append((time.perf_counter() - start) / reads * 1000)
    return statistics.median(timings[False]), statistics.median(timings[True])


def bench_import(devices: int) -> float:
    from safeward import clock
    from safeward.devices.models import Device
    from safeward.devices.posture import posture_import

    now = clock.now()
    Device.objects.bulk_create(
        [
            Device(
                kind="laptop", asset_tag=f"IMP-{n:06d}", serial=f"SN{n:08d}", created_at=now, updated_at=now
            )
            for n in range(devices)
        ],
        batch_size=5000,
    )
    stamp = f"{now:%Y-%m-%d %H:%M:%S}"
    lines = [
        "DeviceName,SerialNumber,OS,OSVersion,CompliantState,EncryptionStatusString,JailBroken,LastContact"
    ]
    lines += [
        f"d{n},SN{n:08d},Windows,10.0.22631,{verdict},Encrypted,False,{stamp}"
        for n, verdict in ((n, "Compliant" if n % 10 else "Noncompliant") for n in range(devices))
    ]
    data = ("\n".join(lines) + "\n").encode()
    start = time.perf_counter()
    result = posture_import(actor=None, source="intune", data=data, filename="bench.csv")
    elapsed = time.perf_counter() - start
    assert result.imported == devices, result
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--devices", type=int, default=50_000)
    args = parser.parse_args()
    configure()
    print(machine())
    without, with_device = bench_chart(args.reads, args.rounds)
    print(
        f"chart read: without posture {without:.3f} ms, with posture {with_device:.3f} ms, "
        f"ratio {with_device / without:.3f}x (goal <= 1.05x)"
    )
    if not args.devices:
        return
    seconds = bench_import(args.devices)
    print(f"posture import: {args.devices} devices in {seconds:.1f} s (goal < 60 s)")


if __name__ == "__main__":
    main()
