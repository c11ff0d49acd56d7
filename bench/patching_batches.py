"""Deadline recompute, exception re-test and remediation figures at hospital
scale (issue 17, ADR 1308): the code before (loaded from git, default the
commit this work started from) against the current one, in the same run, on
the same data.

    .venv/bin/python bench/patching_batches.py [--targets 5000] [--per-target 50]
        [--exceptions 1000] [--rounds 3] [--before 76d6be5]

Targets: half servers (DMZ or data centre, one in five with a dependent ward
system carrying clinical services and departments), half bedside medical
devices. Each carries `--per-target` findings of as many vulnerabilities
(CVE-listed, a fifth KEV-listed, all EPSS-scored), one in five of them fixed
over the last six months, the others open and already at their computed
deadline (a steady-state recompute: nothing moves, so reads are measured).
Exceptions are approved on open findings and compensated by a control test
that reads the devices (one query, one check per device), as the devices
work's compensating controls do. Embedded SQLite unless SAFEWARD_DATABASE_URL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

from _setup import configure, machine, make_user, module_at

SERVICES = "safeward/patching/services.py"


def _timed(call: Callable[[], Any], rounds: int) -> tuple[float, Any, int]:
    """(median seconds, last result, queries of one call)."""
    from django.db import connection

    times = []
    result = None
    queries = 0

    def counted(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    for index in range(rounds):
        started = time.perf_counter()
        if index == 0:
            with connection.execute_wrapper(counted):
                result = call()
        else:
            result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result, queries


def _osv(number: int) -> dict[str, Any]:
    vectors = [
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
        "CVSS:3.1/AV:N/AC:H/PR:L/UI:N/S:U/C:L/I:L/A:N",
        "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N",
    ]
    return {
        "id": f"BENCH-{number:04d}",
        "aliases": [f"CVE-2099-{10000 + number}"],
        "modified": "2026-01-01T00:00:00Z",
        "severity": [{"type": "CVSS_V3", "score": vectors[number % 4]}],
        "affected": [
            {
                "package": {"ecosystem": "", "name": f"lib{number}", "purl": f"pkg:generic/lib{number}"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"fixed": "9.0"}]}],
            }
        ],
    }


def _seed(args: argparse.Namespace, rng: random.Random) -> None:
    from django.db import connection

    from safeward import clock
    from safeward.assets.models import AssetDependency
    from safeward.assets.services import asset_create
    from safeward.devices.models import Device, NetworkSegment
    from safeward.patching import services
    from safeward.patching.models import Advisory, Finding

    now = clock.now()
    advisories = [_osv(n) for n in range(args.per_target)]
    services.osv_import(actor=None, raw=json.dumps(advisories).encode(), filename="bench.json")
    cves = [a["aliases"][0] for a in advisories]
    kev = {
        "catalogVersion": "2026.01.01",
        "vulnerabilities": [
            {
                "cveID": cve,
                "vendorProject": "Bench",
                "product": "lib",
                "vulnerabilityName": "bench",
                "dateAdded": "2026-01-01",
                "dueDate": "2026-02-01",
                "requiredAction": "Patch.",
                "knownRansomwareCampaignUse": "Known" if n % 10 == 0 else "Unknown",
            }
            for n, cve in enumerate(cves)
            if n % 5 == 0
        ],
    }
    services.kev_import(actor=None, raw=json.dumps(kev).encode())
    epss = "#model_version:v2025.03.14,score_date:2026-01-01T00:00:00+0000\ncve,epss,percentile\n" + "".join(
        f"{cve},{rng.random():.5f},{rng.random():.5f}\n" for cve in cves
    )
    services.epss_import(actor=None, raw=epss.encode())
    started = time.perf_counter()
    segment = NetworkSegment.objects.create(
        name="Clinical VLAN", zone=NetworkSegment.Zone.CLINICAL_DEVICES, created_at=now, updated_at=now
    )
    servers = args.targets // 2
    keys: list[tuple[str, int]] = []
    for number in range(servers):
        zone = "dmz" if number % 2 else "data_centre"
        engine = asset_create(
            actor=None, values={"name": f"Server {number}", "kind": "server", "network_zone": zone}
        )
        keys.append(("asset", engine.pk))
        if number % 5 == 0:
            ward = asset_create(
                actor=None,
                values={"name": f"Ward system {number}", "kind": "application", "clinical_services": ["ED"]},
            )
            AssetDependency.objects.create(asset=ward, depends_on=engine)
    devices = Device.objects.bulk_create(
        Device(
            kind=Device.Kind.MEDICAL,
            asset_tag=f"PUMP-{number}",
            name=f"Pump {number}",
            segment=segment,
            created_at=now,
            updated_at=now,
        )
        for number in range(args.targets - servers)
    )
    keys.extend(("device", device.pk) for device in devices)
    print(f"  {len(keys):,} targets in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    groups = {a.vuln_id: a for a in Advisory.objects.all()}
    ordered = sorted(groups.values(), key=lambda a: a.osv_id)
    facts_of = services.targets_facts(keys=keys)
    rules = services.deadline_rules()
    batch: list[Finding] = []
    made = 0
    for kind, pk in keys:
        facts = facts_of[(kind, pk)]
        assert facts is not None
        for advisory in ordered:
            detected = now - dt.timedelta(days=rng.uniform(1, 170), seconds=rng.randrange(86400))
            finding = Finding(
                target_kind=kind,
                target_id=pk,
                component_key=f"pkg:generic/{advisory.osv_id.lower()}",
                component_name=advisory.osv_id.lower(),
                component_version="1.0",
                advisory=advisory,
                vuln_id=advisory.vuln_id,
                vuln_ids=sorted({advisory.vuln_id, *advisory.cve_ids}),
                detected_at=detected,
                updated_at=now,
            )
            batch.append(finding)
        if len(batch) >= 20_000:
            made += _store(batch, facts_of, rules, now, rng)
            batch = []
            print(f"  {made:,} findings", flush=True)
    made += _store(batch, facts_of, rules, now, rng)
    print(f"  {made:,} findings in {time.perf_counter() - started:.1f} s", flush=True)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _store(
    batch: list[Any], facts_of: dict[Any, Any], rules: Any, now: dt.datetime, rng: random.Random
) -> int:
    """Findings at their computed deadline (a recompute moves none); one in five fixed."""
    from safeward.patching import services
    from safeward.patching.models import Finding

    with services._feeds_cached(batch):
        for finding in batch:
            services._apply_deadline(finding, facts_of[(finding.target_kind, finding.target_id)], rules)
            if rng.random() < 0.2:
                took = dt.timedelta(days=rng.uniform(0, 60))
                finding.resolved_at = min(finding.detected_at + took, now)
                finding.state = Finding.State.RESOLVED
    Finding.objects.bulk_create(batch, batch_size=2000)
    return len(batch)


def _compensating_control() -> None:
    """A control test like the devices work's: one query, one check per device."""
    from safeward.compliance import Check, ControlTest
    from safeward.devices.models import Device
    from safeward.patching import compensating

    def pumps_isolated(now: dt.datetime) -> Iterator[Check]:
        for pk, tag in Device.objects.values_list("pk", "asset_tag"):
            yield Check("device", f"device:{pk}", tag, passed=True)

    test = ControlTest("bench.pumps_isolated", "Pumps isolated", "", ("hicp:9.M.E",), pumps_isolated)
    real = compensating.discover  # type: ignore[attr-defined]  # the module's import, replaced for the run
    compensating.discover = lambda: {**real(), test.id: test}  # type: ignore[attr-defined]


def _exceptions(count: int) -> int:
    from safeward import clock
    from safeward.patching.models import Finding, RiskException

    requester, _ = make_user("bench-engineer", "security_officer")
    approver, _ = make_user("bench-approver", "compliance_officer")
    now = clock.now()
    findings = list(
        Finding.objects.filter(state__in=Finding.OPEN_STATES, target_kind="device").order_by("pk")[:count]
    )
    RiskException.objects.bulk_create(
        RiskException(
            finding=finding,
            decision=RiskException.Decision.REDUCE,
            justification="Isolated VLAN.",
            controls=[{"control_id": "bench.pumps_isolated", "resource_id": f"device:{finding.target_id}"}],
            expires_on=now.date() + dt.timedelta(days=90),
            status=RiskException.Status.APPROVED,
            requested_by=requester,
            requested_at=now,
            approved_by=approver,
            decided_at=now,
        )
        for finding in findings
    )
    Finding.objects.filter(pk__in=[f.pk for f in findings]).update(excepted=True)
    return len(findings)


def _close(a: Any, b: Any) -> bool:
    """The figures agree: counts and shares exactly, means to float rounding."""
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-9 * max(1.0, abs(b))
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", type=int, default=5_000)
    parser.add_argument("--per-target", type=int, default=50)
    parser.add_argument("--exceptions", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", default="76d6be5")
    args = parser.parse_args()
    configure()
    from safeward import clock
    from safeward.identity.selectors import department_choices
    from safeward.patching import selectors, services
    from tests.patching.remediation_streamed import remediation_streamed

    before = module_at(args.before, SERVICES, "bench_services_before")
    rng = random.Random(17)
    print(machine())
    print(f"seeding {args.targets:,} targets x {args.per_target} findings", flush=True)
    _seed(args, rng)
    _compensating_control()
    excepted = _exceptions(args.exceptions)
    results: list[tuple[str, float, int, float, int]] = []

    def compare(
        what: str, old: Callable[[], Any], new: Callable[[], Any], same: Callable[[Any, Any], bool]
    ) -> None:
        old_s, old_result, old_q = _timed(old, args.rounds)
        new_s, new_result, new_q = _timed(new, args.rounds)
        assert same(old_result, new_result), (what, old_result, new_result)
        results.append((what, old_s, old_q, new_s, new_q))
        print(
            f"{what}: before {old_s:.2f} s ({old_q:,} queries), now {new_s:.2f} s ({new_q:,} queries)",
            flush=True,
        )

    compare(
        "findings_recompute (every open finding, none moves)",
        lambda: before.findings_recompute(actor=None),
        lambda: services.findings_recompute(actor=None),
        lambda a, b: a == b == 0,
    )
    compare(
        f"exceptions_evaluate ({excepted:,} approved, all valid)",
        lambda: before.exceptions_evaluate(),
        lambda: services.exceptions_evaluate(),
        lambda a, b: a == b == {"valid": excepted, "expired": 0, "voided": 0},
    )
    now = clock.now()
    names = dict(department_choices())
    compare(
        "remediation figures (6 months)",
        lambda: remediation_streamed(now=now, months=6, names=names),
        lambda: selectors.remediation(now=now, months=6, names=names),
        lambda a, b: _close(
            [a.mttr, a.sla_met, a.mttr_by_severity, a.mttr_by_department],
            [b.mttr, b.sla_met, b.mttr_by_severity, b.mttr_by_department],
        ),
    )
    print()
    print("| what | before | now | ratio |")
    print("|---|---|---|---|")
    for what, old_s, old_q, new_s, new_q in results:
        print(
            f"| {what} | {old_s:.2f} s ({old_q:,} q) | {new_s:.2f} s ({new_q:,} q) | {old_s / new_s:.1f}x |"
        )


if __name__ == "__main__":
    main()
