"""HR integration: a file with good and bad rows applies nothing and reports
every bad line; the corrected file applies fully. CLI, web page and REST API."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from safeward.audit.models import AuditEvent
from safeward.identity.models import Department
from safeward.workforce import importer
from safeward.workforce.models import Person, Termination
from tests.conftest import sign_in

HEADER = "employee_number,first_name,last_name,kind,department,position,manager,start_date,end_date\n"
BAD = (
    HEADER
    + "M-1,Mara,Manager,employee,icu,physician,,2024-03-01,\n"  # line 2 good
    + "N-1,Nico,Nurse,employee,icu,staff-nurse,M-1,2026-12-01,\n"  # line 3 good
    + "N-2,Nell,,employee,icu,staff-nurse,M-1,2026-12-01,\n"  # line 4: no last name
    + "N-3,Ned,Nurse,robot,icu,staff-nurse,M-1,2026-12-01,\n"  # line 5: bad kind
    + "N-4,Noa,Nurse,employee,mars,surgeon,M-9,2026-13-01,\n"  # line 6: four problems
    + "N-1,Nico,Again,employee,icu,staff-nurse,,2026-12-01,\n"  # line 7: duplicate
    + "C-1,Cleo,Contractor,contractor,icu,clerk,M-1,2026-12-01,2026-11-30\n"  # line 8: end before start
    + "S-1,Sam,Student,student,icu,clerk\n"  # line 9: too few fields
)
GOOD = (
    HEADER
    + "M-1,Mara,Manager,employee,icu,physician,,2024-03-01,\n"
    + "N-1,Nico,Nurse,employee,icu,staff-nurse,M-1,2026-12-01,\n"
    + "N-2,Nell,Nurse,employee,icu,staff-nurse,M-1,2026-12-01,\n"
    + "N-3,Ned,Nurse,vendor_staff,icu,staff-nurse,M-1,2026-12-01,\n"
    + "N-4,Noa,Nurse,employee,icu,clerk,M-1,2026-12-01,\n"
    + "C-1,Cleo,Contractor,contractor,icu,clerk,M-1,2026-12-01,2027-05-31\n"
    + "S-1,Sam,Student,student,icu,clerk,N-1,2026-12-01,\n"
)


@pytest.fixture
def icu(catalog):
    return Department.objects.create(code="icu", name="Intensive care")


def test_mixed_file_applies_nothing_and_reports_every_bad_line(icu, hr):
    result = importer.csv_import(actor=hr, data=BAD.encode())
    assert not result.ok
    assert sorted({e.line for e in result.errors}) == [4, 5, 6, 7, 8, 9]
    reasons = {(e.line, e.reason) for e in result.errors}
    assert (4, "last_name is required for a new person") in reasons
    assert any(line == 5 and reason.startswith("kind must be one of") for line, reason in reasons)
    assert {r for line, r in reasons if line == 6} >= {
        "unknown department code 'mars'",
        "unknown position code 'surgeon'",
        "unknown manager 'M-9'",
        "start_date must be a date written YYYY-MM-DD",
    }
    assert (7, "employee N-1 appears more than once in this batch") in reasons
    assert (8, "end_date is before start_date") in reasons
    assert (9, "expected 9 fields, found 6") in reasons
    assert not Person.objects.exists()
    rejected = AuditEvent.objects.get(resource_type="WorkforceImport")
    assert rejected.outcome == "denied"
    assert rejected.detail["bad_rows"] == 6


def test_corrected_file_applies_fully(icu, hr):
    result = importer.csv_import(actor=hr, data=GOOD.encode())
    assert result.ok, result.errors
    assert result.created == 7
    assert Person.objects.count() == 7
    nico = Person.objects.get(employee_number="N-1")
    assert nico.manager.employee_number == "M-1"
    assert Person.objects.get(employee_number="S-1").manager == nico
    assert Termination.objects.get(person__employee_number="C-1").status == "scheduled"
    # A second file changes a position and is applied the same way.
    change = HEADER + "N-1,,,,,clerk,,,\n"
    result = importer.csv_import(actor=hr, data=change.encode())
    assert result.ok
    assert result.position_changes == 1
    assert Person.objects.get(employee_number="N-1").position.code == "clerk"


def test_file_level_problems(icu, hr):
    assert importer.csv_import(actor=hr, data=b"").errors[0].reason == "the file is empty"
    assert (
        importer.csv_import(actor=hr, data=b"\xff\xfe\x00").errors[0].reason == "the file is not UTF-8 text"
    )
    result = importer.csv_import(actor=hr, data=b"name,salary\nx,1\n")
    assert result.errors[0].line == 1
    assert "unknown: name, salary" in result.errors[0].reason


def test_the_command(icu, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD)
    with pytest.raises(CommandError, match="6 bad line"):
        call_command("workforce", "import", str(bad))
    assert "line 4: last_name is required" in capsys.readouterr().err
    assert not Person.objects.exists()
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    call_command("workforce", "import", str(good))
    assert "created 7" in capsys.readouterr().out
    assert Person.objects.count() == 7


def test_the_web_page(icu, hr, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    sign_in(client, hr)
    response = client.post("/workforce/import/", {"file": SimpleUploadedFile("hr.csv", BAD.encode())})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing applied" in page
    assert "last_name is required for a new person" in page
    assert not Person.objects.exists()
    response = client.post("/workforce/import/", {"file": SimpleUploadedFile("hr.csv", GOOD.encode())})
    assert response.status_code == 200
    assert Person.objects.count() == 7


def test_the_rest_api(icu, hr, client):
    sign_in(client, hr)
    rows = [
        dict(zip(HEADER.strip().split(","), line.split(","), strict=False)) for line in BAD.splitlines()[1:8]
    ]
    response = client.post(
        "/api/v1/workforce/changes/", json.dumps({"changes": rows}), content_type="application/json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["applied"] is False
    assert sorted({e["index"] for e in body["errors"]}) == [2, 3, 4, 5, 6]
    assert not Person.objects.exists()
    rows = [
        dict(zip(HEADER.strip().split(","), line.split(","), strict=True)) for line in GOOD.splitlines()[1:]
    ]
    response = client.post(
        "/api/v1/workforce/changes/", json.dumps({"changes": rows}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["created"] == 7
    listing = client.get("/api/v1/workforce/people/").json()
    assert {p["employee_number"] for p in listing} == {"M-1", "N-1", "N-2", "N-3", "N-4", "C-1", "S-1"}
    assert client.get("/api/v1/workforce/people/N-1/").json()["manager"] == "M-1"


def test_the_api_needs_the_permission(icu, signed_in):
    client, _ = signed_in("nurse")
    response = client.post(
        "/api/v1/workforce/changes/", json.dumps({"changes": []}), content_type="application/json"
    )
    assert response.status_code == 403
    assert client.get("/api/v1/workforce/people/").status_code == 403


def test_the_schema_lists_the_workforce_api(signed_in):
    client, _ = signed_in("nurse")
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    text = response.content.decode()
    assert "/api/v1/workforce/changes/" in text
    assert "/api/v1/me/" in text
