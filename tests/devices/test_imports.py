"""The CSV imports and the MDS2 import: all or nothing, with row errors;
the derivation rules, one by one."""

from __future__ import annotations

import io

import openpyxl
import pytest

from safeward.devices import importers, mds2, services
from safeward.devices.models import CompensatingControl, Device, Mds2Statement, NetworkSegment, SegmentFlow
from tests.devices.conftest import MDS2_CSV, segment

pytestmark = pytest.mark.django_db


def test_inventory_import_applies_a_clean_file_and_updates_by_asset_tag(frozen_clock, engineer):
    segment("pumps")
    data = (
        b"asset_tag,kind,manufacturer,model,segment,end_of_support,lifecycle\n"
        b"PUMP-1,medical,Acme,X,pumps,2020-01-01,\n"
        b"LAP-1,laptop,Dell,Latitude,,,ordered\n"
    )
    result = importers.inventory_import(actor=engineer, data=data)
    assert result.ok
    assert result.created == 2
    assert Device.objects.get(asset_tag="LAP-1").lifecycle == "ordered"
    again = importers.inventory_import(
        actor=engineer,
        data=b"asset_tag,kind,model,segment\nPUMP-1,medical,X2,pumps\nLAP-1,laptop,Latitude,\n",
    )
    assert again.ok
    assert again.updated == 1
    assert again.unchanged == 1
    assert Device.objects.get(asset_tag="PUMP-1").model == "X2"


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (b"asset_tag,kind\nA-1,toaster\n", 2, "kind"),
        (b"asset_tag,kind,segment\nA-1,medical,nowhere\n", 2, "no segment named"),
        (b"asset_tag,kind\nA-1,medical\nA-1,medical\n", 3, "also on line 2"),
        (b"asset_tag,kind,ip_address\nA-1,medical,999.1.1.1\n", 2, "ip_address"),
        (b"asset_tag,kind,mac_address\nA-1,medical,zz\n", 2, "mac_address"),
        (b"asset_tag,kind,end_of_support\nA-1,medical,someday\n", 2, "end_of_support"),
        (b"asset_tag,kind,lifecycle\nA-1,medical,disposed\n", 2, "lifecycle"),
        (b"asset_tag,colour\nA-1,red\n", 1, "unknown column"),
        (b"kind\nmedical\n", 1, "no column 'asset_tag'"),
        (b"\xff\xfe", 0, "UTF-8"),
        (b"", 1, "empty"),
    ],
)
def test_inventory_import_refuses_bad_rows_and_writes_nothing(engineer, data, line, reason):
    segment("pumps")
    good = b"asset_tag,kind\nGOOD-1,laptop\n"
    # A good row beside the bad one is not written either.
    result = importers.inventory_import(
        actor=engineer, data=data + (b"GOOD-2,laptop\n" if data.startswith(b"asset_tag,kind\n") else b"")
    )
    assert not result.ok
    assert result.errors[0].line == line
    assert reason in result.errors[0].reason
    assert not Device.objects.exists()
    assert importers.inventory_import(actor=engineer, data=good).ok


def test_flows_import_is_all_or_nothing(engineer):
    segment("pumps")
    segment("pacs", NetworkSegment.Zone.DATA_CENTRE)
    bad = (
        b"from,to,port,protocol,purpose\n"
        b"pumps,pacs,104,tcp,DICOM\npumps,mars,1,tcp,x\npumps,pacs,99999,tcp,x\n"
    )
    result = importers.flows_import(actor=engineer, data=bad)
    assert [(e.line, e.reason.split(":")[0]) for e in result.errors] == [(3, "to"), (4, "port")]
    assert not SegmentFlow.objects.exists()
    good = b"from,to,port,protocol,purpose\npumps,pacs,104,tcp,DICOM\npumps,internet,,icmp,ping\n"
    assert importers.flows_import(actor=engineer, data=good).created == 2
    assert importers.flows_import(actor=engineer, data=good).unchanged == 2
    assert SegmentFlow.objects.filter(destination__isnull=True).count() == 1


def test_mds2_csv_import_stores_answers_and_derives_controls(frozen_clock, engineer):
    statement, errors, created = services.mds2_import(actor=engineer, data=MDS2_CSV, filename="irx.csv")
    assert errors == []
    assert statement is not None
    assert (statement.manufacturer, statement.model, statement.document_version) == (
        "Acme Medical",
        "InfuseRx 300",
        "IRX-300-MDS2-2024",
    )
    assert statement.answers.get(question_id="STCF-1").value == "no"
    kinds = sorted(c.kind for c in created)
    assert kinds == sorted(
        ["isolated_segment", "physical", "sanitize_at_disposal", "vendor_ticket", "jump_host"]
    )
    vendor = next(c for c in created if c.kind == "vendor_ticket")
    assert (vendor.expires_on - frozen_clock.now().date()).days == 60
    interim = next(c for c in created if c.kind == "jump_host")
    assert (interim.expires_on - frozen_clock.now().date()).days == 30
    assert all(c.owner == engineer and c.device is None and c.model == "InfuseRx 300" for c in created)
    # Again: the answers are replaced, the controls are not duplicated.
    _, _, again = services.mds2_import(actor=engineer, data=MDS2_CSV, filename="irx.csv")
    assert again == []
    assert Mds2Statement.objects.count() == 1
    assert CompensatingControl.objects.count() == 5


def _xlsx(rows: list[list[str]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["MDS2 form", None, None, None])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_mds2_xlsx_import(frozen_clock, engineer):
    data = _xlsx(
        [
            ["Question ID", "Question", "Answer", "Notes"],
            ["DOC-1", "Manufacturer", "Siemens Healthineers", ""],
            ["DOC-3", "Model", "Somatom X", ""],
            ["MLDP-2", "Anti-malware?", "No", ""],
            ["MLDP-3", "Compensating controls?", "No", ""],
            ["RDMP-4", "End-of-life plan?", "N/A", ""],
        ]
    )
    statement, errors, created = services.mds2_import(actor=engineer, data=data, filename="ct.xlsx")
    assert errors == []
    assert statement is not None
    assert statement.model == "Somatom X"
    assert sorted(c.kind for c in created) == ["anti_malware", "monitoring"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"Question ID,Answer\nSTCF-1,Maybe\n", "must be Yes, No or N/A"),
        (b"Question ID,Answer\nSTCF-1,No\nSTCF-1,Yes\n", "answered twice"),
        (b"Question ID,Answer\nnot a question,No\n", "not an MDS2 question id"),
        (b"Q,A\nSTCF-1,No\n", "No header row"),
        (b"Question ID,Answer\nSTCF-1,No\n", "Name the manufacturer"),
        (b"PK\x03\x04garbage", "not a readable xlsx"),
        (b"\xff\xfe\x00", "neither an xlsx"),
    ],
)
def test_mds2_import_refuses_bad_files_and_writes_nothing(engineer, data, reason):
    statement, errors, created = services.mds2_import(actor=engineer, data=data)
    assert statement is None
    assert created == []
    assert reason in errors[0].reason
    assert not Mds2Statement.objects.exists()
    assert not CompensatingControl.objects.exists()


@pytest.mark.parametrize("rule", mds2.RULES, ids=lambda rule: f"{rule.question_id}={rule.answer}")
def test_every_derivation_rule_fires_on_its_answer_and_not_on_the_other(rule):
    fired = mds2.derive({rule.question_id: rule.answer})
    assert [derived for _, derived in fired] == list(rule.controls)
    other = "yes" if rule.answer == "no" else "no"
    assert all(r.question_id != rule.question_id for r, _ in mds2.derive({rule.question_id: other}))
    assert mds2.derive({rule.question_id: "na"}) == [] or all(
        r.question_id != rule.question_id for r, _ in mds2.derive({rule.question_id: "na"})
    )


def test_the_rules_name_real_kinds_and_tests():
    for rule in mds2.RULES:
        assert mds2.QUESTION_ID.match(rule.question_id)
        for derived in rule.controls:
            assert derived.kind in CompensatingControl.Kind.values
            assert derived.test in CompensatingControl.Test.values
            assert derived.remediation in mds2.EXPIRY_DAYS
