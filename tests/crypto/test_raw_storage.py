"""A stolen database holds nothing readable: write records with known synthetic
PHI through the encrypted fields, then read the raw storage (a pg_dump of the
PostgreSQL test database; the bytes of a SQLite database file and its WAL)
and find none of the values, nor their lowercase or normalised forms."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.db import connection

from safeward.crypto.normalise import NORMALISERS

ROOT = Path(__file__).resolve().parents[2]

PHI = {
    "mrn": "MRN-7734021",
    "family_name": "Quintanilla-Bérubé",
    "given_name": "Xiomara",
    "birth_date": dt.date(1962, 8, 17),
    "national_id": "512-44-9087",
    "phone": "+1 (555) 014-2299",
    "email": "X.Quintanilla@Example.test",
    "notes": {"diagnosis": "Synthetic Hyperkalemia", "ward": "Rosewood"},
    "scan": b"SYNTHETIC-SCAN-PAYLOAD-4471",
}
NOTE_BODY = "Patient reports synthetic vertigo after Zanzibar trip"

WRITE_RECORDS = textwrap.dedent(
    """
    import datetime as dt, json, sys
    import django
    django.setup()
    from tests.crypto.testapp.models import Note, Record
    from tests.factories import UserFactory
    phi = json.loads(sys.argv[1])
    phi["birth_date"] = dt.date.fromisoformat(phi["birth_date"])
    phi["scan"] = bytes.fromhex(phi["scan"])
    for _ in range(3):
        Record.objects.create(**phi)
    Note.objects.create(body=sys.argv[2], written_on=phi["birth_date"])
    user = UserFactory(totp_secret=True)
    print(user.test_totp_secret)
    """
)


def forms_of(value) -> set[bytes]:
    """The value as written, lowercased, upper-cased, normalised every way that applies."""
    texts: set[str] = set()
    if isinstance(value, bytes):
        return {value, value.lower(), value.hex().encode()}
    if isinstance(value, dt.date):
        texts |= {value.isoformat(), value.strftime("%Y%m%d"), value.strftime("%d/%m/%Y")}
    elif isinstance(value, dict):
        for item in value.values():
            texts |= {item, item.lower(), item.upper()}
    else:
        texts |= {value, value.lower(), value.upper(), value.casefold()}
        for normaliser in NORMALISERS.values():
            try:
                texts.add(normaliser(value))
            except Exception:  # noqa: S112 - not every normaliser applies to every value
                continue
    found = set()
    for text in texts:
        if len(text) >= 4:
            found |= {text.encode("utf-8"), text.encode("utf-16-le"), text.encode("utf-8").hex().encode()}
    return found


def needles(totp_secret: str) -> dict[bytes, str]:
    result: dict[bytes, str] = {}
    for name, value in PHI.items():
        for form in forms_of(value):
            result[form] = name
    for word in ("Quintanilla", "Bérubé", "berube", "Rosewood", "Hyperkalemia"):  # parts of names and notes
        for form in forms_of(word):
            result[form] = "a word of a name or note"
    for form in forms_of(NOTE_BODY):
        result[form] = "note body"
    for word in ("Zanzibar", "vertigo"):
        result[word.encode()] = result[word.lower().encode()] = "note body"
    result[totp_secret.encode()] = result[totp_secret.lower().encode()] = "TOTP secret"
    return result


def test_the_scan_would_see_a_leak():
    for planted in (b"mrn7734021", b"xiomara quintanilla berube", b"+15550142299", b"19620817"):
        with pytest.raises(AssertionError, match="found in"):
            assert_nothing_readable(b"...." + planted + b"....", "SECRET", "a planted leak")


def assert_nothing_readable(raw: bytes, totp_secret: str, where: str):
    leaks = sorted(
        {f"{name} ({needle[:40]!r})" for needle, name in needles(totp_secret).items() if needle in raw}
    )
    assert not leaks, f"plaintext of {leaks} found in {where}"


def _payload() -> str:
    import json

    birth_date, scan = PHI["birth_date"], PHI["scan"]
    assert isinstance(birth_date, dt.date)
    assert isinstance(scan, bytes)
    return json.dumps(PHI | {"birth_date": birth_date.isoformat(), "scan": scan.hex()})


@pytest.mark.slow
def test_sqlite_file_holds_no_plaintext(tmp_path):
    database = tmp_path / "raw.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAFEWARD_", "DATABASE_URL", "PYTEST_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        SAFEWARD_DATABASE_URL=f"sqlite:///{database}",
        SAFEWARD_KEY_DIR=str(tmp_path / "keys"),
        PYTHONPATH=str(ROOT),
        HOME=str(tmp_path),
    )
    migrate = subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--run-syncdb", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    write = subprocess.run(
        [sys.executable, "-c", WRITE_RECORDS, _payload(), NOTE_BODY],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert write.returncode == 0, write.stderr[-3000:]
    totp_secret = write.stdout.strip().splitlines()[-1]
    files = [p for p in tmp_path.iterdir() if p.name.startswith("raw.sqlite3")]
    assert database in files
    raw = b"".join(p.read_bytes() for p in files)  # the database, its WAL and shared memory
    assert b"crypto_testapp_record" in raw  # the scan reads the real file
    assert_nothing_readable(raw, totp_secret, "the SQLite file")


@pytest.mark.postgres
@pytest.mark.slow
def test_pg_dump_holds_no_plaintext(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: set SAFEWARD_DATABASE_URL (the SQLite file is scanned by the test above)"
        )
    pg_dump = shutil.which("pg_dump") or "/usr/bin/pg_dump"
    from tests.crypto.testapp.models import Note, Record
    from tests.factories import UserFactory

    for _ in range(3):
        Record.objects.create(**PHI)
    Note.objects.create(body=NOTE_BODY, written_on=PHI["birth_date"])
    user = UserFactory(totp_secret=True)

    settings_dict = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": settings_dict.get("PASSWORD") or ""}
    args = [pg_dump, "--no-owner", "--dbname", settings_dict["NAME"]]
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if settings_dict.get(key):
            args += [flag, str(settings_dict[key])]
    dump = subprocess.run(args, env=env, capture_output=True, timeout=120, check=False)
    assert dump.returncode == 0, dump.stderr.decode(errors="replace")[-2000:]
    assert b"crypto_testapp_record" in dump.stdout
    assert dump.stdout.count(b"\\\\x01") + dump.stdout.count(b"\\x01") > 0  # ciphertext headers are there
    assert_nothing_readable(dump.stdout, user.test_totp_secret, "the pg_dump")


# The reference data beside the checkout (docs/clinical.md); another place through the environment.
SYNTHEA_100 = Path(
    os.environ.get(
        "SAFEWARD_SYNTHEA_ARCHIVE", ROOT.parent / "shared" / "data" / "synthea" / "synthea-r4-100.tar.gz"
    )
)


def _bundles_dated_on_the_birth_date(archive: Path, folder: Path) -> list[Path]:
    """The bundles of the archive whose encounters or observations fall on the
    patient's birth date (newborns: 7 of the 93 patients)."""
    import json
    import tarfile

    chosen = []
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    for path in sorted(folder.rglob("*.json")):
        entries = [e["resource"] for e in json.loads(path.read_bytes()).get("entry", [])]
        birth = next((r.get("birthDate") for r in entries if r["resourceType"] == "Patient"), None)
        if birth and any(
            r["resourceType"] in ("Encounter", "Observation") and birth in json.dumps(r) for r in entries
        ):
            chosen.append(path)
    return chosen


@pytest.mark.skipif(not SYNTHEA_100.is_file(), reason=f"the Synthea archive is not at {SYNTHEA_100}")
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_imported_synthea_set_leaves_no_birth_date_name_or_identifier_in_the_raw_database(tmp_path):
    """Service dates are dates of the patient too: a newborn's first encounter
    and observations fall on its birth date (issue 11)."""
    from django.core.management import call_command

    from safeward.clinical.dumpscan import BIRTH_DATE, needles_from_bundles, raw_database, scan

    files = _bundles_dated_on_the_birth_date(SYNTHEA_100, tmp_path / "synthea")
    assert len(files) >= 5
    selected = tmp_path / "selected"
    selected.mkdir()
    for path in files:
        shutil.copy(path, selected / path.name)
    baseline = raw_database()
    call_command("import", "fhir", str(selected), "--no-progress")
    needles = needles_from_bundles(files).without(baseline)
    assert needles.patients == len(files)
    assert len(needles.by_kind[BIRTH_DATE]) >= 3 * needles.patients
    result = scan(raw_database(), needles)
    assert all(result.searched.values())
    assert result.clean, f"found in the raw database: {result.counts()}"
    assert result.birth_dates_found == 0


def test_the_dump_scan_sees_each_spelling_of_a_birth_date():
    from safeward.clinical.dumpscan import BIRTH_DATE, IDENTIFIER, Needles, scan

    needles = Needles()
    needles.add_patient(
        {"id": "p1", "birthDate": "2011-03-09", "identifier": [{"value": "999-12-3456"}], "name": []}
    )
    for planted in (b"2011-03-09T04:05:06Z", b"20110309", b"09/03/2011", b"03/09/2011", b"1299628800"):
        result = scan(b"...." + planted + b"....", needles)
        assert result.found[BIRTH_DATE], planted
        assert result.birth_dates_found == 1, planted
    assert scan("999-12-3456".encode("utf-16-le"), needles).found[IDENTIFIER] == ["999-12-3456"]
    assert scan(b"nothing here", needles).clean
