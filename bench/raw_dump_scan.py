"""Scan the raw storage of a SafeWard database for the identifiers of the
FHIR bundles imported into it: each patient's birth date (ISO date and the
prefix of an ISO date-time, compact yyyymmdd, dd/mm/yyyy, mm/dd/yyyy, epoch
second of midnight), names, identifiers (MRN, SSN, driver's licence,
passport), address lines, phone numbers and e-mail addresses.

    # a fresh throwaway PostgreSQL database bench_raw_dump_scan: import, dump, scan, drop
    .venv/bin/python bench/raw_dump_scan.py --import /work/shared/data/synthea/synthea-r4-100.tar.gz

    # an existing database (SAFEWARD_DATABASE_URL, or the embedded SQLite) into which
    # these bundles were imported already: dump and scan only
    SAFEWARD_DATABASE_URL=postgres://... .venv/bin/python bench/raw_dump_scan.py bundles/ more.json

The dump is `pg_dump` (plain text) on PostgreSQL and the database file's
bytes (the SQLite backup API, WAL included) on SQLite. Prints the counts of
each kind searched and found, and how many patients' birth dates were found
in any spelling; exits 1 when anything was found. Values found are printed
only with --show (they are synthetic; never run --show on real data).
"""

from __future__ import annotations

import argparse
import os
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

DB = "bench_raw_dump_scan"


def bundle_files(sources: list[str], folder: Path) -> list[Path]:
    """Bundle files from folders, files and .tar.gz archives (extracted into `folder`)."""
    from safeward.clinical.importer import bundle_paths

    plain: list[str] = []
    for source in sources:
        if source.endswith((".tar.gz", ".tgz")):
            target = folder / Path(source).name
            with tarfile.open(source) as archive:
                archive.extractall(target, filter="data")
            plain.extend(str(p) for p in sorted(target.rglob("*.json")))
        else:
            plain.append(source)
    return bundle_paths(plain)


def scan_database(files: list[Path], *, do_import: bool, show: bool) -> int:
    from django.core.management import call_command

    from safeward.clinical.dumpscan import KINDS, needles_from_bundles, raw_database, scan

    needles = needles_from_bundles(files)
    if do_import:
        needles = needles.without(raw_database())  # words the empty database already holds
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="raw-dump-scan-") as staging:
            for n, path in enumerate(files):  # one folder, whatever the sources were
                (Path(staging) / f"{n:06d}-{path.name}").symlink_to(path.resolve())
            call_command("import", "fhir", staging, "--no-progress")
        print(f"imported in {time.monotonic() - started:.0f} s")
    started = time.monotonic()
    raw = raw_database()
    result = scan(raw, needles)
    kind = "pg_dump" if b"PostgreSQL database dump" in raw[:200] else "SQLite file"
    print(
        f"raw database: {len(raw) / 1e6:.1f} MB ({kind}), "
        f"scanned in {time.monotonic() - started:.0f} s; {result.patients} patients"
    )
    print(f"{'kind':<16} {'searched':>9} {'found':>6}")
    for kind in KINDS:
        print(f"{kind:<16} {result.searched[kind]:>9} {len(result.found[kind]):>6}")
    print(f"patients whose birth date is in the dump (any spelling): {result.birth_dates_found}")
    if show:
        for kind in KINDS:
            for value in result.found[kind]:
                print(f"  {kind}: {value}")
    return 0 if result.clean else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "sources", nargs="*", help="bundle files, folders or .tar.gz archives already imported"
    )
    parser.add_argument(
        "--import",
        dest="to_import",
        nargs="+",
        default=[],
        metavar="SOURCE",
        help="import these into a fresh PostgreSQL database bench_raw_dump_scan first (dropped at the end)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--show", action="store_true", help="print the values found (synthetic data only)")
    args = parser.parse_args()
    if bool(args.sources) == bool(args.to_import):
        parser.error("give either bundles already imported, or --import SOURCE...")
    with tempfile.TemporaryDirectory(prefix="raw-dump-scan-") as folder:
        if not args.to_import:  # the configured database as it is: no migration, no write
            import django

            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safeward.settings")
            django.setup()
            return scan_database(bundle_files(args.sources, Path(folder)), do_import=False, show=args.show)
        import clinical_common as cc

        cc.create_database(DB)
        try:
            cc.configure(DB, Path(tempfile.mkdtemp(prefix="safeward-raw-scan-")))
            return scan_database(bundle_files(args.to_import, Path(folder)), do_import=True, show=args.show)
        finally:
            from django.db import connections

            connections.close_all()
            if not args.keep:
                cc.drop_database(DB)


if __name__ == "__main__":
    sys.exit(main())
