"""Scan a raw database dump for the identifiers of imported FHIR bundles.

The evidence behind "a stolen database holds no readable PHI" for real data:
the needles come from the bundles themselves (each Patient's birth date in
every common spelling, names, identifiers such as the MRN and SSN, address
lines, phone numbers), the haystack is the raw storage — the bytes of a
SQLite database file (with its WAL) or a `pg_dump` of PostgreSQL. Used by
`tests/crypto/test_raw_storage.py` and `bench/raw_dump_scan.py`; it reads
files and the database connection's raw storage, never the clinical models.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection

BIRTH_DATE = "birth date"
NAME = "name"
IDENTIFIER = "identifier"
ADDRESS = "address"
TELECOM = "phone or e-mail"
KINDS = (BIRTH_DATE, NAME, IDENTIFIER, ADDRESS, TELECOM)
EPOCH = dt.date(1970, 1, 1)
MIN_NEEDLE = 4  # shorter strings are in any dump by chance


def date_forms(day: dt.date) -> set[str]:
    """A date as a database, an export or a log may spell it: ISO date (also
    the prefix of an ISO date-time), compact yyyymmdd, day/month/year and
    month/day/year, and the epoch second of its midnight (UTC)."""
    seconds = (day - EPOCH).days * 86_400
    return {
        day.isoformat(),
        day.strftime("%Y%m%d"),
        day.strftime("%d/%m/%Y"),
        day.strftime("%m/%d/%Y"),
        str(seconds),
    }


@dataclass
class Needles:
    """What a dump must not hold, by kind; each patient's birth date separately."""

    by_kind: dict[str, set[str]] = field(default_factory=lambda: {kind: set() for kind in KINDS})
    birth_dates: dict[str, set[str]] = field(default_factory=dict)  # patient key -> its date forms
    patients: int = 0

    def add_patient(self, resource: dict[str, Any]) -> None:
        self.patients += 1
        for name in resource.get("name", []):
            self._add(NAME, [name.get("family", ""), *name.get("given", [])])
        for identifier in resource.get("identifier", []):
            self._add(IDENTIFIER, [identifier.get("value", "")])
        for address in resource.get("address", []):
            self._add(ADDRESS, address.get("line", []))
        for telecom in resource.get("telecom", []):
            self._add(TELECOM, [telecom.get("value", "")])
        birth = resource.get("birthDate")
        if birth:
            forms = date_forms(dt.date.fromisoformat(birth))
            self.birth_dates[resource.get("id") or f"#{self.patients}"] = forms
            self.by_kind[BIRTH_DATE] |= forms

    def _add(self, kind: str, values: Iterable[str]) -> None:
        self.by_kind[kind].update(v for v in values if isinstance(v, str) and len(v) >= MIN_NEEDLE)

    def without(self, baseline: bytes) -> Needles:
        """The needles that are not already in `baseline` (a dump taken before
        the import: words such as role names are not the import's)."""
        kept = Needles(patients=self.patients)
        for kind, values in self.by_kind.items():
            kept.by_kind[kind] = {v for v in values if not _present(v, baseline)}
        kept.birth_dates = {
            key: {f for f in forms if not _present(f, baseline)} for key, forms in self.birth_dates.items()
        }
        return kept


def needles_from_bundles(paths: Iterable[Path]) -> Needles:
    """The Patient identifiers of every bundle (other resources are ignored)."""
    needles = Needles()
    for path in paths:
        bundle = json.loads(Path(path).read_bytes())
        for entry in bundle.get("entry", []):
            resource = entry.get("resource", {})
            if resource.get("resourceType") == "Patient":
                needles.add_patient(resource)
    return needles


def _encodings(text: str) -> tuple[bytes, ...]:
    data = text.encode("utf-8")
    return (data, text.encode("utf-16-le"), data.hex().encode("ascii"))


def _present(text: str, raw: bytes) -> bool:
    return any(form in raw for form in _encodings(text))


@dataclass
class ScanResult:
    patients: int
    searched: dict[str, int]  # kind -> distinct values looked for
    found: dict[str, list[str]]  # kind -> values found (the caller decides what to print)
    birth_dates_found: int  # patients with at least one spelling of their birth date in the dump

    @property
    def clean(self) -> bool:
        return not any(self.found.values())

    def counts(self) -> dict[str, int]:
        return {kind: len(values) for kind, values in self.found.items()}


def scan(raw: bytes, needles: Needles) -> ScanResult:
    found = {kind: sorted(v for v in values if _present(v, raw)) for kind, values in needles.by_kind.items()}
    birth_hits = sum(1 for forms in needles.birth_dates.values() if any(_present(f, raw) for f in forms))
    return ScanResult(
        patients=needles.patients,
        searched={kind: len(values) for kind, values in needles.by_kind.items()},
        found=found,
        birth_dates_found=birth_hits,
    )


def raw_database() -> bytes:
    """The raw storage of the default database: a byte copy of the SQLite
    database (the online backup API, so pages still in the WAL are included),
    or the plain-text `pg_dump` of PostgreSQL."""
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            target = Path(folder) / "dump.sqlite3"
            destination = sqlite3.connect(target)
            connection.connection.backup(destination)
            destination.close()
            return target.read_bytes()
    settings = connection.settings_dict
    pg_dump = shutil.which("pg_dump") or "/usr/bin/pg_dump"
    args = [pg_dump, "--no-owner", "--dbname", settings["NAME"]]
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if settings.get(key):
            args += [flag, str(settings[key])]
    env = {**os.environ, "PGPASSWORD": settings.get("PASSWORD") or ""}
    return subprocess.run(args, check=True, capture_output=True, env=env, timeout=1800).stdout  # noqa: S603 - fixed program, arguments from settings
