"""Reports: the PDF renders (and is looked at as pages), the CSVs hold the
computed table, and the OSCAL export has the 1.1 assessment-results shape."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from safeward.assessments import reports, services

pytestmark = pytest.mark.django_db

# The parts of the OSCAL 1.1 assessment-results model SafeWard fills, with
# their required properties (NIST OSCAL oscal_assessment-results_schema.json).
UUID = {
    "type": "string",
    "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[45][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
}
PROPS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name", "value"],
        "additionalProperties": False,
        "properties": {"name": {"type": "string"}, "value": {"type": "string", "minLength": 1}},
    },
}
OSCAL_AR = {
    "type": "object",
    "required": ["assessment-results"],
    "additionalProperties": False,
    "properties": {
        "assessment-results": {
            "type": "object",
            "required": ["uuid", "metadata", "import-ap", "results"],
            "additionalProperties": False,
            "properties": {
                "uuid": UUID,
                "metadata": {
                    "type": "object",
                    "required": ["title", "last-modified", "version", "oscal-version"],
                    "properties": {
                        "oscal-version": {"type": "string", "pattern": r"^1\.1\.\d+$"},
                        "props": PROPS,
                    },
                },
                "import-ap": {"type": "object", "required": ["href"]},
                "results": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["uuid", "title", "description", "start", "reviewed-controls"],
                        "additionalProperties": False,
                        "properties": {
                            "uuid": UUID,
                            "title": {"type": "string"},
                            "description": {"type": "string"},
                            "start": {"type": "string", "format": "date-time"},
                            "end": {"type": "string"},
                            "props": PROPS,
                            "reviewed-controls": {
                                "type": "object",
                                "required": ["control-selections"],
                                "properties": {"control-selections": {"type": "array", "minItems": 1}},
                            },
                            "observations": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["uuid", "description", "methods", "collected"],
                                    "properties": {
                                        "uuid": UUID,
                                        "methods": {
                                            "type": "array",
                                            "items": {"enum": ["EXAMINE", "INTERVIEW", "TEST", "UNKNOWN"]},
                                        },
                                        "props": PROPS,
                                        "subjects": {
                                            "type": "array",
                                            "items": {
                                                "type": "object",
                                                "required": ["subject-uuid", "type"],
                                                "properties": {
                                                    "subject-uuid": UUID,
                                                    "type": {"type": "string"},
                                                    "props": PROPS,
                                                },
                                            },
                                        },
                                    },
                                },
                            },
                            "findings": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["uuid", "title", "description", "target"],
                                    "properties": {
                                        "uuid": UUID,
                                        "target": {
                                            "type": "object",
                                            "required": ["type", "target-id", "status"],
                                            "properties": {
                                                "type": {"enum": ["statement-id", "objective-id"]},
                                                "status": {
                                                    "type": "object",
                                                    "required": ["state"],
                                                    "properties": {
                                                        "state": {"enum": ["satisfied", "not-satisfied"]}
                                                    },
                                                },
                                            },
                                        },
                                        "related-observations": {
                                            "type": "array",
                                            "items": {"type": "object", "required": ["observation-uuid"]},
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


@pytest.fixture
def ran(tests_registry):
    return services.controls_run(actor=None, registry=tests_registry)


def test_the_oscal_export_has_the_assessment_results_shape(ran):
    document = json.loads(json.dumps(reports.oscal_assessment_results(reports.framework_report("hicp"))))
    jsonschema.validate(document, OSCAL_AR)
    result = document["assessment-results"]["results"][0]
    assert {p["value"] for p in result["props"]} >= {ran.snapshot_sha256, ran.key_id}
    findings = {f["target"]["target-id"]: f["target"]["status"]["state"] for f in result["findings"]}
    assert findings["3.M.A"] == "not-satisfied"
    assert findings["4.M.B"] == "satisfied"
    observation_ids = {o["uuid"] for o in result["observations"]}
    assert all(
        f["related-observations"][0]["observation-uuid"] in observation_ids for f in result["findings"]
    )
    mfa = next(
        o for o in result["observations"] if {"name": "control-test", "value": "identity.mfa"} in o["props"]
    )
    assert [s["props"][0]["value"] for s in mfa["subjects"]] == ["2"]


def test_the_oscal_export_before_any_run_is_still_valid():
    jsonschema.validate(reports.oscal_assessment_results(reports.framework_report("csf2")), OSCAL_AR)


def test_the_csvs_hold_the_computed_table(ran):
    table = reports.framework_report("hicp").table
    rows = list(csv.DictReader(io.StringIO(reports.clauses_csv(table))))
    by_clause = {row["clause"]: row for row in rows}
    assert by_clause["all"]["entries"] == str(table.total.count)
    assert sum(int(row["failing"]) for row in rows if row["clause"] != "all") == table.total.failing >= 1
    entries = list(csv.DictReader(io.StringIO(reports.entries_csv(table))))
    assert {"entry": "3.M.A", "status": "fail", "source": "test"}.items() <= next(
        e for e in entries if e["entry"] == "3.M.A"
    ).items()


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler's pdftoppm is not installed")
def test_the_pdf_renders_with_its_parts(ran, tmp_path):
    report = reports.framework_report("hicp")
    html = reports.report_html(report)
    assert "<svg" in html
    assert ran.key_id in html
    assert "user2" in html
    pdf = reports.report_pdf(report)
    assert pdf.startswith(b"%PDF")
    path = tmp_path / "hicp.pdf"
    path.write_bytes(pdf)
    out = Path(os.environ.get("SAFEWARD_REPORT_PNG_DIR", tmp_path))
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(path), str(out / "hicp")], check=True)
    assert sorted(out.glob("hicp*.png"))
