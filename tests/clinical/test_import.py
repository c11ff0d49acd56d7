"""`safeward import fhir` with the Synthea sample (read from /work/shared/data,
never committed): resources validated and mapped, bad bundles skipped whole,
and a raw dump of the database holds none of the imported identifiers."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from safeward.audit.models import AuditEvent
from safeward.clinical.importer import bundle_paths, import_bundle
from safeward.clinical.types import Conflict
from safeward.identity.selectors import department_ids_by_code
from safeward.identity.services import department_ensure

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


# --- the department of imported encounters (identity's service, audited) -----------------------
def _department_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="create", resource_type="Department"))


def _encounter_departments() -> set[int]:
    from safeward.clinical.models import Encounter
    from tests.one_door import clinical_test_data

    with clinical_test_data():
        return set(Encounter.objects.values_list("department_id", flat=True))


@needs_sample
@pytest.mark.django_db
def test_an_import_that_needs_external_records_records_its_creation_once():
    first, second = [p for p in _sample_files() if "practitioner" not in p.name][:2]
    assert import_bundle(first).imported  # the hospital has no department of any kind yet

    [event] = _department_events()
    external = department_ids_by_code(codes=["external-records"])["external-records"]
    assert (event.actor_username, event.resource_id) == ("system:fhir-import", str(external))
    assert event.detail["department"] == "external-records"
    assert _encounter_departments() == {external}

    with CaptureQueriesContext(connection) as queries:
        assert import_bundle(second).imported  # it exists now: found, not created again
    assert len(_department_events()) == 1
    # Every encounter kind of the bundle resolved in one query, not one per encounter or kind.
    assert len([q for q in queries.captured_queries if "identity_department" in q["sql"]]) == 1
    assert _encounter_departments() == {external}


@needs_sample
@pytest.mark.django_db
def test_encounters_land_in_the_hospitals_departments_when_it_has_them():
    emergency = department_ensure(actor=None, code="emergency", name="Emergency")
    medicine = department_ensure(actor=None, code="internal-medicine", name="Internal medicine")
    before = len(_department_events())
    path = next(p for p in _sample_files() if "practitioner" not in p.name)
    assert import_bundle(path).imported
    assert len(_department_events()) == before
    assert not department_ids_by_code(codes=["external-records"])
    assert _encounter_departments() <= {emergency, medicine}


KINDS = ("emergency", "inpatient", "outpatient")


@pytest.mark.django_db
def test_a_bulk_batch_resolves_external_records_once_and_a_failed_batch_leaves_none():
    from safeward.clinical.gateway.bulk import BulkPatient, patients_bulk_create
    from safeward.clinical.types import ImportedEncounter, ImportedPatient, PatientInput, SessionContext
    from tests.clinical.conftest import IMPORTER

    when = dt.datetime(2024, 3, 1, 9, tzinfo=dt.UTC)

    def patient(mrn: str) -> BulkPatient:
        encounters = [ImportedEncounter(f"{mrn}-{k}", k, "finished", when, None, None) for k in KINDS]
        person = PatientInput(given_name="Ada", family_name="Bulk", birth_date=dt.date(1970, 1, 1), mrn=mrn)
        return BulkPatient(record=ImportedPatient(patient=person, encounters=encounters))

    def write(*mrns: str) -> dict[str, int]:
        batch = [patient(mrn) for mrn in mrns]
        return patients_bulk_create(actor=IMPORTER, session=SessionContext.system(), batch=batch, label="t")

    with pytest.raises(Conflict):  # the same MRN twice: the batch rolls back, department and event too
        write("B-1", "B-1")
    assert not department_ids_by_code(codes=["external-records"])
    assert not _department_events()

    assert write("B-1", "B-2")["Encounter"] == 6
    [event] = _department_events()
    assert event.actor_username == "system:tests"
    assert write("B-3")["Encounter"] == 3
    assert len(_department_events()) == 1
    assert _encounter_departments() == set(department_ids_by_code(codes=["external-records"]).values())
