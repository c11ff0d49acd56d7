"""Immunization, Procedure and DiagnosticReport in the Synthea import (issue
12): counted per kind, one audit event per bundle with the counts, reports
linked to their results, bad items refused with the whole bundle."""

from __future__ import annotations

import json
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from safeward.audit.models import AuditEvent
from safeward.clinical.importer import bundle_paths, import_bundle
from tests.clinical.test_import import SAMPLE, _first, _last, _one_patient_bundle, needs_sample
from tests.one_door import clinical_test_data

pytestmark = pytest.mark.django_db
ARCHIVE = SAMPLE.parent / "synthea-r4-100.tar.gz"
NEW_KINDS = ("Immunization", "Procedure", "DiagnosticReport")


def _import_all(paths: list[Path]) -> tuple[Counter[str], Counter[str]]:
    counts: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    for path in paths:
        result = import_bundle(path)
        assert not result.error, (path.name, result.error)
        counts.update(result.counts)
        skipped.update(result.skipped)
    return counts, skipped


def _in_bundles(paths: list[Path]) -> Counter[str]:
    found: Counter[str] = Counter()
    for path in paths:
        for entry in json.loads(path.read_bytes())["entry"]:
            found[entry["resource"]["resourceType"]] += 1
    return found


@needs_sample
def test_the_sample_imports_every_immunization_procedure_and_report_with_one_audit_event_per_bundle():
    paths = bundle_paths([str(SAMPLE)])
    counts, skipped = _import_all(paths)
    assert {kind: counts[kind] for kind in NEW_KINDS} == {
        "Immunization": 120,
        "Procedure": 42,
        "DiagnosticReport": 61,
    }
    assert {kind: counts[kind] for kind in NEW_KINDS} == {
        kind: _in_bundles(paths)[kind] for kind in NEW_KINDS
    }
    assert not any(kind.startswith(NEW_KINDS) for kind in skipped)
    events = AuditEvent.objects.filter(
        action="create", resource_type="Patient", actor_username="system:fhir-import"
    )
    assert events.count() == counts["Patient"] == 19
    logged: Counter[str] = Counter()
    for event in events:
        for pair in event.detail["counts"]:
            kind, _, number = pair.partition("=")
            logged[kind] += int(number)
    assert {kind: logged[kind] for kind in NEW_KINDS} == {kind: counts[kind] for kind in NEW_KINDS}
    assert {"immunization", "procedure", "diagnostic_report"} <= set(events.first().fields)


@needs_sample
def test_a_report_is_linked_to_the_observations_it_groups():
    bundle = _one_patient_bundle()
    report = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "DiagnosticReport" and len(e["resource"].get("result", [])) > 3
    )
    path = next(p for p in bundle_paths([str(SAMPLE)]) if "practitioner" not in p.name)
    assert import_bundle(path).imported
    with clinical_test_data():
        from safeward.clinical.models import DiagnosticReport

        links = Counter(
            DiagnosticReport.results.through.objects.values_list("diagnosticreport_id", flat=True)
        )
        reports = DiagnosticReport.objects.count()
    assert reports == sum(1 for e in bundle["entry"] if e["resource"]["resourceType"] == "DiagnosticReport")
    assert len(report["result"]) in links.values()


@pytest.mark.skipif(not ARCHIVE.is_file(), reason=f"the Synthea archive is not at {ARCHIVE}")
@pytest.mark.slow
def test_the_100_bundle_archive_imports_every_item(tmp_path):
    with tarfile.open(ARCHIVE) as archive:
        archive.extractall(tmp_path, filter="data")
    paths = bundle_paths([str(p) for p in tmp_path.iterdir() if p.is_dir()] or [str(tmp_path)])
    counts, _ = _import_all(paths)
    assert counts["Patient"] == 99
    assert {kind: counts[kind] for kind in NEW_KINDS} == {
        "Immunization": 1075,
        "Procedure": 441,
        "DiagnosticReport": 379,
    }


@needs_sample
@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: _last("Immunization", b)["vaccineCode"]["coding"][0].update(code="12345"), "rejected"),
        (lambda b: _last("Procedure", b)["code"]["coding"][0].update(code="12"), "rejected"),
        (lambda b: _last("DiagnosticReport", b)["code"]["coding"][0].update(code="x-1"), "rejected"),
        (
            lambda b: _last("DiagnosticReport", b)["result"].append({"reference": "urn:uuid:nowhere"}),
            "result that is not in the bundle",
        ),
        (
            lambda b: _last("Immunization", b).update(patient={"reference": "urn:uuid:someone-else"}),
            "subject is not",
        ),
        (
            lambda b: _last("Procedure", b).update(encounter={"reference": "urn:uuid:nowhere"}),
            "encounter that is not",
        ),
        (lambda b: _last("Procedure", b).update(performedPeriod={"start": "2020-13-01"}), "invalid FHIR R4"),
        (lambda b: _last("Immunization", b).update(occurrenceDateTime="2020-02-31"), "invalid FHIR R4"),
    ],
)
def test_a_bad_item_refuses_the_whole_bundle(tmp_path, mutate, message):
    bundle = _one_patient_bundle()
    mutate(bundle)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bundle))
    result = import_bundle(path)
    assert message in result.error, result.error
    assert not result.imported
    assert not AuditEvent.objects.filter(action="create").exists()


@needs_sample
def test_items_without_a_usable_code_or_date_are_skipped_and_counted(tmp_path):
    bundle = _one_patient_bundle()
    _last("Immunization", bundle)["vaccineCode"]["coding"][0]["system"] = "urn:local"
    _last("Procedure", bundle).pop("performedPeriod")
    _first("DiagnosticReport", bundle)["code"]["coding"][0]["system"] = "urn:local"
    path = tmp_path / "partial.json"
    path.write_text(json.dumps(bundle))
    result = import_bundle(path)
    assert result.imported, result.error
    assert result.skipped["Immunization (no CVX code)"] == 1
    assert result.skipped["Procedure (no performed time)"] == 1
    assert result.skipped["DiagnosticReport (no LOINC code)"] == 1
    in_bundle = Counter(e["resource"]["resourceType"] for e in bundle["entry"])
    for kind in NEW_KINDS:
        assert result.counts[kind] == in_bundle[kind] - 1
