"""`safeward import fhir` with the Synthea sample (read from /work/shared/data,
never committed): resources validated and mapped, bad bundles skipped whole,
and a raw dump of the database holds none of the imported identifiers."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from safeward.audit.models import AuditEvent
from safeward.clinical.importer import bundle_paths, import_bundle

SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "synthea" / "bundles"
needs_sample = pytest.mark.skipif(
    not SAMPLE.is_dir(), reason=f"the Synthea sample is not at {SAMPLE} (see docs/clinical.md)"
)


def _sample_files() -> list[Path]:
    return bundle_paths([str(SAMPLE)])


def _one_patient_bundle() -> dict:
    path = next(p for p in _sample_files() if "practitioner" not in p.name)
    return json.loads(path.read_bytes())


def _identifiers(bundle: dict) -> set[str]:
    """The plaintexts that must never appear in a dump."""
    found: set[str] = set()
    for entry in bundle.get("entry", []):
        r = entry["resource"]
        if r["resourceType"] != "Patient":
            continue
        for name in r.get("name", []):
            found.add(name.get("family", ""))
            found.update(name.get("given", []))
        found.add(r.get("birthDate", ""))
        for identifier in r.get("identifier", []):
            found.add(identifier.get("value", ""))
        for address in r.get("address", []):
            found.update(address.get("line", []))
        for telecom in r.get("telecom", []):
            found.add(telecom.get("value", ""))
    return {f for f in found if len(f) >= 4}


def _raw_database() -> bytes:
    if connection.vendor == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            target = Path(folder) / "dump.sqlite3"
            destination = sqlite3.connect(target)
            connection.ensure_connection()
            connection.connection.backup(destination)
            destination.close()
            return target.read_bytes()
    settings = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": settings.get("PASSWORD") or ""}
    return subprocess.run(
        [
            "pg_dump",
            "-h",
            settings.get("HOST") or "127.0.0.1",
            "-p",
            str(settings.get("PORT") or 5432),
            "-U",
            settings.get("USER") or "postgres",
            "--data-only",
            settings["NAME"],
        ],
        check=True,
        capture_output=True,
        env=env,
    ).stdout


@needs_sample
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_import_sample_then_dump_holds_no_plaintext(capsys):
    files = _sample_files()
    baseline = _raw_database()  # words already there (role names...) are not the import's
    call_command("import", "fhir", str(SAMPLE), "--no-progress")
    out = capsys.readouterr().out
    patients = len(files) - 1  # one bundle holds only practitioners
    assert f"{patients} imported" in out
    assert "0 failed" in out
    assert "Skipped (not modelled):" in out
    assert "Claim" in out
    assert (
        AuditEvent.objects.filter(
            action="create", resource_type="Patient", actor_username="system:fhir-import"
        ).count()
        == patients
    )
    needles: set[str] = set()
    for path in files:
        needles |= _identifiers(json.loads(path.read_bytes()))
    needles = {n for n in needles if n.encode() not in baseline}
    assert len(needles) > 5 * patients
    raw = _raw_database()
    leaked = sorted(n for n in needles if n.encode() in raw or n.encode().hex().encode() in raw)
    assert not leaked, f"{len(leaked)} plaintext identifiers found in the raw database"
    # Re-running is harmless: everything is already present.
    call_command("import", "fhir", str(SAMPLE), "--no-progress")
    assert f"{patients} already present" in capsys.readouterr().out


@needs_sample
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b.update(resourceType="Patient"), "not a FHIR Bundle"),
        (
            lambda b: b["entry"].append({"resource": {"resourceType": "Spaceship", "id": "x"}}),
            "unknown resource type",
        ),
        (lambda b: b["entry"][-1]["resource"].update(meta=5), "invalid FHIR R4"),
        (
            lambda b: _last("Condition", b).update(subject={"reference": "urn:uuid:someone-else"}),
            "subject is not",
        ),
        (
            lambda b: _last("Observation", b).update(encounter={"reference": "urn:uuid:nowhere"}),
            "encounter that is not",
        ),
        (lambda b: _first("Patient", b)["name"][0].update(family="x" * 300), "rejected"),
        (lambda b: _first("Patient", b).update(birthDate="1980-02-31"), "invalid FHIR R4"),
        (lambda b: _last("Condition", b)["code"]["coding"][0].update(code="not a code!"), "rejected"),
    ],
)
def test_a_bad_bundle_is_reported_and_leaves_nothing(tmp_path, mutate, message):
    import re

    from safeward.audit.models import AuditEvent

    bundle = _one_patient_bundle()
    mutate(bundle)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bundle))
    result = import_bundle(path)
    assert re.search(message, result.error), result.error
    assert not result.imported
    assert not AuditEvent.objects.filter(action="create").exists()
    for needle in _identifiers(_one_patient_bundle()):
        assert needle not in result.error


def _first(kind, bundle):
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind)


def _last(kind, bundle):
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind][-1]


@pytest.mark.django_db
def test_malformed_json_and_missing_files(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert import_bundle(broken).error == "not valid JSON"
    assert "cannot read" in import_bundle(tmp_path / "missing.json").error
    with pytest.raises(CommandError):
        call_command("import", "fhir", str(broken), "--no-progress")
