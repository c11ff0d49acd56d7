"""Synthea import rate: `safeward import fhir` over the sample bundles (and,
with --tarball, the 100-bundle archive extracted to a temporary folder), on
PostgreSQL.

    .venv/bin/python bench/clinical_import.py [--tarball]

Each run imports into a fresh database bench_clinical_import on
127.0.0.1:5432 (user postgres), which is dropped at the end. Prints the
command's own summary (imported resources/s) and the rate over every entry
of the bundles read (validated, imported or skipped).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tarfile
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import clinical_common as cc

DB = "bench_clinical_import"
BUNDLES = Path("/work/shared/data/synthea/bundles")
TARBALL = Path("/work/shared/data/synthea/synthea-r4-100.tar.gz")


def entries(folder: Path) -> int:
    files = [p for p in folder.rglob("*") if p.is_file() and ".json" in p.name]
    return sum(len(json.loads(p.read_text()).get("entry", [])) for p in files)


def run(folder: Path, label: str) -> None:
    from django.core.management import call_command
    from django.db import connections

    connections.close_all()
    cc.create_database(DB)  # a fresh database for each run
    call_command("migrate", interactive=False, verbosity=0)
    total = entries(folder)
    out = io.StringIO()
    started = time.monotonic()
    with redirect_stdout(out):
        call_command("import", "fhir", str(folder), "--no-progress", stdout=out)
    elapsed = time.monotonic() - started
    print(f"--- {label}: {folder}")
    print(out.getvalue().strip())
    print(f"all bundle entries: {total} in {elapsed:.1f} s ({total / elapsed:.0f} entries/s)")
    connections.close_all()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tarball", action="store_true", help="also the 100-bundle archive")
    args = parser.parse_args()
    cc.create_database(DB)
    try:
        cc.configure(DB, Path(tempfile.mkdtemp(prefix="safeward-bench-import-")))
        from _setup import machine

        print(machine())
        run(BUNDLES, "sample bundles")
        if args.tarball:
            with tempfile.TemporaryDirectory(prefix="synthea-100-") as folder:
                with tarfile.open(TARBALL) as archive:
                    archive.extractall(folder, filter="data")
                run(Path(folder), "100-bundle archive")
    finally:
        from django.db import connections

        connections.close_all()
        cc.drop_database(DB)


if __name__ == "__main__":
    main()
