"""The asset inventory import: the whole file or nothing, every bad row
named with its line, through the importer and the command line."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from safeward.assets import importer, services
from safeward.assets.models import Asset
from tests.factories import DepartmentFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "name,kind,owner,hosting,vendor,classification,phi_categories,record_count,criticality,"
    "rto_minutes,rpo_minutes,clinical_services,departments,depends_on,next_assessment_due\n"
)


def test_a_clean_inventory_is_applied(person):
    owner = person("E42")
    DepartmentFactory(name="Radiology")
    data = (
        HEADER
        + "PACS,application,E42,on_premises,,highly_sensitive,clinical;demographic,250000,critical,240,15,"
        "Radiology,Radiology,PACS archive,2027-01-01\n"
        + "PACS archive,object_store,,vendor,Imaging Co,highly_sensitive,clinical,,high,,,,,,\n"
    ).encode()
    result = importer.csv_import(actor=None, data=data)
    assert result.ok, result.errors
    assert (result.created, result.updated) == (2, 0)
    pacs = Asset.objects.get(name="PACS")
    assert pacs.owner_person_id == owner.pk
    assert pacs.source == Asset.Source.IMPORTED
    assert pacs.record_count_estimate == 250000
    assert pacs.phi_categories == ["clinical", "demographic"]
    assert len(pacs.department_ids) == 1
    assert list(pacs.depends_on.values_list("name", flat=True)) == ["PACS archive"]
    assert Asset.objects.get(name="PACS archive").vendor_name == "Imaging Co"
    again = importer.csv_import(actor=None, data=data)
    assert (again.created, again.updated) == (0, 2)


@pytest.mark.parametrize(
    ("rows", "line", "reason"),
    [
        ("X,spaceship,,,,,,,,,,,,,\n", 2, "kind: Select a valid choice"),
        ("X,application,E999,,,,,,,,,,,,\n", 2, "owner: no active person with employee number 'E999'"),
        ("X,application,,,,,gossip,,,,,,,,\n", 2, "phi_categories: Select a valid choice"),
        (
            "X,application,,,,,,-5,,,,,,,\n",
            2,
            "record_count: Ensure this value is greater than or equal to 0",
        ),
        ("X,application,,,,,,,,,,,Nowhere,,\n", 2, "departments: no department named 'Nowhere'"),
        ("X,application,,,,,,,,,,,,Ghost,\n", 2, "depends_on: no asset named 'Ghost'"),
        ("X,application,,,,,,,,,,,,X,\n", 2, "depends_on: an asset cannot depend on itself"),
        ("X,application,,,,,,,,,,,,,tomorrow\n", 2, "next_assessment_due: Enter a valid date"),
        ("X,application,,,,,,,,,,,,,\nX,server,,,,,,,,,,,,,\n", 3, "is also on line 2"),
        ("Ok,application,,,,,,,,,,,,,\n,application,,,,,,,,,,,,,\n", 3, "name: This field is required"),
    ],
)
def test_a_bad_row_is_named_and_nothing_is_applied(rows, line, reason):
    result = importer.csv_import(actor=None, data=(HEADER + rows).encode())
    assert not result.ok
    assert [(e.line, reason in e.reason) for e in result.errors] == [(line, True)], result.errors
    assert not Asset.objects.exists()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"name,kind,colour\nX,application,red\n", "unknown column 'colour'"),
        (b"name\nX\n", "missing column 'kind'"),
        (b"name,kind\n\xff\xfe,application\n", "not UTF-8"),
        (b"name,kind\nX,application,extra\n", "more cells than the header"),
        (b"name,kind\n" + b"x" * (importer.MAX_BYTES + 1), "larger than"),
    ],
)
def test_an_unreadable_file_is_refused_with_a_reason(data, reason):
    result = importer.csv_import(actor=None, data=data)
    assert not result.ok
    assert reason in result.errors[0].reason


def test_safewards_own_stores_are_not_imported():
    services.assets_register_self(actor=None)
    result = importer.csv_import(actor=None, data=b"name,kind\nSafeWard database,database\n")
    assert "kept by SafeWard" in result.errors[0].reason


def test_the_command_line_import_and_list(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"name,kind\nX,spaceship\n")
    with pytest.raises(CommandError, match="1 bad line"):
        call_command("assets", "import", str(bad))
    assert "line 2: kind:" in capsys.readouterr().err
    with pytest.raises(CommandError, match="cannot read"):
        call_command("assets", "import", str(tmp_path / "missing.csv"))
    good = tmp_path / "good.csv"
    good.write_bytes(b"name,kind\nLab interface,integration_endpoint\n")
    call_command("assets", "import", str(good))
    assert "applied: 1 registered, 0 updated." in capsys.readouterr().out
    call_command("assets", "register-self")
    call_command("assets", "list")
    out = capsys.readouterr().out
    assert "Lab interface" in out
    assert "7 asset(s)." in out
    call_command("assets", "sweep")
    # SafeWard's exports are external storage that nobody has assessed yet.
    assert "1 asset(s) with a lapsed review or assessment recorded" in capsys.readouterr().out
