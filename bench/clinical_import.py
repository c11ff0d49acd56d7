"""Synthea import rate: the batched import (parsing workers, COPY) against
the previous path (every bundle parsed in the writing process, rows written
with `bulk_create`), in the same run, on PostgreSQL.

    .venv/bin/python bench/clinical_import.py [--tarball] [--rounds 2] [--workers 1] [--profile]

The schema is migrated once into bench_clinical_import on 127.0.0.1:5432
(user postgres); each measured import gets a fresh copy of it
(bench_clinical_import_run, CREATE DATABASE ... TEMPLATE), dropped after;
--database names another template (its runs go to <name>_run).
Rounds alternate the two paths so that the shared machine's load falls on
both. Prints imported resources/s of each and their ratio; --profile runs
the batched path once more under cProfile (this process only) and prints
the top functions by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import tarfile
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import clinical_common as cc

TEMPLATE = "bench_clinical_import"
RUN = "bench_clinical_import_run"
BUNDLES = Path("/work/shared/data/synthea/bundles")
TARBALL = Path("/work/shared/data/synthea/synthea-r4-100.tar.gz")


def fresh_run_database() -> None:
    """Point Django at a new copy of the migrated template."""
    from django.db import connections

    connections.close_all()
    cc.drop_database(RUN)
    cc._admin(f'CREATE DATABASE "{RUN}" TEMPLATE "{TEMPLATE}"')
    connections["default"].settings_dict["NAME"] = RUN


def previous_path(paths: Sequence[Path]) -> Counter[str]:
    """Before issue 20: one bundle after the other in this process, bulk_create."""
    from unittest import mock

    from safeward.clinical.gateway import _import
    from safeward.clinical.importer import import_bundle

    def bulk_create(model: Any, rows: Sequence[Any]) -> None:
        model._base_manager.bulk_create(rows, batch_size=500)

    counts: Counter[str] = Counter()
    with mock.patch.object(_import, "insert_rows", bulk_create):
        for path in paths:
            counts.update(import_bundle(path).counts)
    return counts


def batched_path(workers: int) -> Callable[[Sequence[Path]], Counter[str]]:
    def run(paths: Sequence[Path]) -> Counter[str]:
        from safeward.clinical.importer import import_bundles

        counts: Counter[str] = Counter()
        for result in import_bundles(paths, workers=workers):
            assert not result.error, result.error
            counts.update(result.counts)
        return counts

    return run


def timed(path: Callable[[Sequence[Path]], Counter[str]], paths: Sequence[Path]) -> tuple[int, float]:
    from safeward.audit import context as audit_context

    fresh_run_database()
    token = audit_context.bind(audit_context.AuditContext(source="cli"))
    try:
        started = time.monotonic()
        resources = sum(path(paths).values())
        return resources, time.monotonic() - started
    finally:
        audit_context.reset(token)


def compare(folder: Path, label: str, args: argparse.Namespace) -> None:
    from safeward.clinical.importer import bundle_paths

    paths = bundle_paths([str(folder)])
    rates: dict[str, list[float]] = {"previous": [], "batched": []}
    print(f"--- {label}: {len(paths)} bundles")
    for round_ in range(args.rounds):
        order = [("previous", previous_path), ("batched", batched_path(args.workers))]
        for name, path in order if round_ % 2 == 0 else order[::-1]:
            resources, elapsed = timed(path, paths)
            rates[name].append(resources / elapsed)
            print(
                f"round {round_ + 1} {name:8}: {resources} resources in {elapsed:5.1f} s = "
                f"{resources / elapsed:6.0f} resources/s"
            )
    previous, batched = statistics.median(rates["previous"]), statistics.median(rates["batched"])
    print(
        f"median: previous {previous:.0f}/s, batched ({args.workers} parsing workers) {batched:.0f}/s, "
        f"ratio {batched / previous:.2f}x"
    )
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        timed(batched_path(args.workers), paths)
        profile.disable()
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue())


def main() -> None:
    global TEMPLATE, RUN
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tarball", action="store_true", help="the 100-bundle archive instead of the sample")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="parsing processes of the batched path")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--database", default=TEMPLATE, help="template database; runs use <name>_run")
    args = parser.parse_args()
    TEMPLATE, RUN = args.database, f"{args.database}_run"
    cc.create_database(TEMPLATE)
    try:
        cc.configure(TEMPLATE, Path(tempfile.mkdtemp(prefix="safeward-bench-import-")))
        from _setup import machine

        print(machine())
        if args.tarball:
            with tempfile.TemporaryDirectory(prefix="synthea-100-") as folder:
                with tarfile.open(TARBALL) as archive:
                    archive.extractall(folder, filter="data")
                compare(Path(folder), "100-bundle archive", args)
        else:
            compare(BUNDLES, "sample bundles", args)
    finally:
        from django.db import connections

        connections.close_all()
        cc.drop_database(RUN)
        cc.drop_database(TEMPLATE)


if __name__ == "__main__":
    main()
