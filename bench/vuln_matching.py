"""Vulnerability matching at scale (issue 17, ADR 1302): 10,000 components
against the full shared OSV export (the PyPA advisory database, about 2,660
records), the indexed match SafeWard does against the naive loop over every
advisory for every component, in the same run; then 1,000 new advisories
matched incrementally (only the components with their names) against a
full re-match.

    .venv/bin/python bench/vuln_matching.py [--osv ../shared/data/osv/pypa-...tar.gz]
        [--components 10000] [--new 1000] [--rounds 3] [--naive-rounds 1]

Embedded SQLite unless SAFEWARD_DATABASE_URL points at PostgreSQL.
Goals: full match < 10 s; incremental match of 1,000 new advisories < 1 s.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

from _setup import ROOT, configure, machine

DEFAULT_OSV = ROOT.parent / "shared" / "data" / "osv" / "pypa-advisory-database-2024-10-10.tar.gz"


def _sbom(components: list[tuple[str, str]]) -> bytes:
    return json.dumps(
        {
            "bomFormat": "CycloneDX",
            "specVersion": "1.6",
            "version": 1,
            "components": [
                {"type": "library", "name": n, "version": v, "purl": f"pkg:pypi/{n}@{v}", "bom-ref": f"c{i}"}
                for i, (n, v) in enumerate(components)
            ],
        }
    ).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--osv", type=Path, default=DEFAULT_OSV)
    parser.add_argument("--components", type=int, default=10_000)
    parser.add_argument("--new", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--naive-rounds", type=int, default=1)
    args = parser.parse_args()
    configure()
    from safeward.assets.services import asset_create
    from safeward.patching import keys, matching, services
    from safeward.patching.models import AffectedPackage, Component, Finding

    rng = random.Random(17)
    raw = args.osv.read_bytes()
    started = time.perf_counter()
    stats = services.osv_import(actor=None, raw=raw, filename=args.osv.name)
    osv_seconds = time.perf_counter() - started
    affected = list(AffectedPackage.objects.select_related("advisory"))
    names: dict[str, list[str]] = {}
    for row in affected:
        if row.match_key.startswith("PyPI:"):
            names.setdefault(row.match_key[5:], []).extend(row.versions[-20:] or ["0.1"])
    vulnerable = sorted(names)
    components = []
    for index in range(args.components):
        if index % 2 == 0 and vulnerable:  # half the components share a name with some advisory
            name = rng.choice(vulnerable)
            version = rng.choice(names[name] or ["1.0"])
        else:
            name = f"internal-package-{index}"
            version = f"{rng.randint(0, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
        components.append((name, version))
    asset = asset_create(actor=None, values={"name": "bench application server", "kind": "server"})
    started = time.perf_counter()
    inventory, first = services.inventory_import(
        actor=None, target_kind="asset", target_id=asset.pk, raw=_sbom(components), fmt="cyclonedx_json"
    )
    import_seconds = time.perf_counter() - started
    stored = list(Component.objects.filter(inventory=inventory))

    def indexed() -> int:
        stats_ = services.MatchStats()
        index = services._affected_index(services._component_keys(stored))
        return len(services._matches(stored, index, stats_))

    def naive() -> int:
        # Every advisory entry against every component: what a scanner without an index does.
        hits = set()
        for component in stored:
            for row in affected:
                if (
                    row.advisory.withdrawn is None
                    and row.match_key == component.match_key
                    and matching.is_affected(row.match_key, component.version, row.ranges, row.versions)
                ):
                    # One match per vulnerability, however many records name it (ADR 1307).
                    hits.add((component.match_key, component.version, row.advisory.vuln_id))
        return len(hits)

    def incremental_match(advisory_ids: set[int]) -> int:
        # What `advisories_match` does before it stores findings: only the new
        # advisories' keys, only the current components with those keys.
        keys = set(
            AffectedPackage.objects.filter(advisory_id__in=advisory_ids).values_list("match_key", flat=True)
        )
        index = services._affected_index(keys, advisory_ids)
        candidates = list(Component.objects.filter(inventory__current=True, match_key__in=keys))
        return len(services._matches(candidates, index, services.MatchStats()))

    def incremental_uncompiled(advisory_ids: set[int]) -> int:
        # The same, each (component, entry) pair evaluated from the raw ranges as
        # before ADR 1307's change (ranges parsed and sorted again for every pair).
        keys_ = set(
            AffectedPackage.objects.filter(advisory_id__in=advisory_ids).values_list("match_key", flat=True)
        )
        index = services._affected_index(keys_, advisory_ids)
        found = set()
        for component in Component.objects.filter(inventory__current=True, match_key__in=keys_):
            for row in index.get(component.match_key, []):
                vuln = (component.match_key, component.version, row.advisory.vuln_id)
                if vuln not in found and matching.is_affected(
                    row.match_key, component.version, row.ranges, row.versions
                ):
                    found.add(vuln)
        return len(found)

    affected = list(AffectedPackage.objects.select_related("advisory"))  # both paths read them from memory
    indexed_times, naive_times = [], []
    hits_indexed = hits_naive = 0
    for round_ in range(args.rounds):
        started = time.perf_counter()
        hits_indexed = indexed()
        indexed_times.append(time.perf_counter() - started)
        if round_ < args.naive_rounds:  # three minutes a round: once is enough for the ratio
            started = time.perf_counter()
            hits_naive = naive()
            naive_times.append(time.perf_counter() - started)
    # Incremental: new advisories for names the inventory holds.
    templates = [row for row in affected if row.match_key.startswith("PyPI:")]
    records = []
    for number in range(args.new):
        row = rng.choice(templates)
        records.append(
            {
                "id": f"BENCH-{number}",
                "modified": "2026-01-01T00:00:00Z",
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": row.match_key[5:]},
                        "ranges": row.ranges,
                        "versions": row.versions,
                    }
                ],
            }
        )
    started = time.perf_counter()
    incremental = services.osv_import(actor=None, raw=json.dumps(records).encode(), filename="bench.json")
    incremental_seconds = time.perf_counter() - started
    from safeward.patching.models import Advisory

    new_ids = set(Advisory.objects.filter(osv_id__startswith="BENCH-").values_list("pk", flat=True))
    incremental_times = []
    uncompiled_times = []
    for _ in range(args.rounds):
        # Both start from an empty parsed-version cache, as a fresh import process does.
        keys._PARSED.clear()
        started = time.perf_counter()
        incremental_hits = incremental_match(new_ids)
        incremental_times.append(time.perf_counter() - started)
        keys._PARSED.clear()
        started = time.perf_counter()
        uncompiled_hits = incremental_uncompiled(new_ids)
        uncompiled_times.append(time.perf_counter() - started)
    started = time.perf_counter()
    indexed()
    full_after = time.perf_counter() - started
    print(machine())
    print(f"OSV import: {stats.read} records ({len(affected)} affected entries) in {osv_seconds:.2f} s")
    print(
        f"inventory import of {len(stored)} components (parse + store + match): {import_seconds:.2f} s;"
        f" {first.created} findings"
    )
    med_i, med_n = statistics.median(indexed_times), statistics.median(naive_times)
    print(f"full match, indexed: median {med_i:.3f} s over {args.rounds} rounds ({hits_indexed} matches)")
    print(f"full match, naive loop over every advisory: median {med_n:.3f} s ({hits_naive} matches)")
    print(f"ratio naive / indexed: {med_n / med_i:.1f}x")
    print(
        f"incremental: {args.new} new advisories imported, matched and stored in {incremental_seconds:.3f} s"
        f" ({incremental.match.evaluated} range evaluations, {incremental.match.created} new findings)"
    )
    med_inc = statistics.median(incremental_times)
    med_unc = statistics.median(uncompiled_times)
    print(
        f"incremental match, ranges parsed again for every pair (the path before): median {med_unc:.3f} s"
        f" ({uncompiled_hits} matches); ratio before / now: {med_unc / med_inc:.2f}x"
    )
    print(
        f"incremental match alone (new advisories x components with their names): median {med_inc:.3f} s"
        f" ({incremental_hits} matches); a full re-match instead: {full_after:.3f} s"
        f" (ratio {full_after / med_inc:.1f}x)"
    )
    print(f"findings stored: {Finding.objects.count()}")


if __name__ == "__main__":
    main()
