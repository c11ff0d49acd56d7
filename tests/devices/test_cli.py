"""`safeward devices`: imports, the list and the controls sweep; bad files
stop with a message and write nothing."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from safeward.devices.management.commands.devices import SUBCOMMANDS
from safeward.devices.models import CompensatingControl, Device, SegmentFlow
from tests.devices.conftest import MDS2_CSV, segment

pytestmark = pytest.mark.django_db


def test_the_subcommands_come_from_one_list():
    assert [sub.name for sub in SUBCOMMANDS] == [
        "list",
        "import-inventory",
        "import-flows",
        "import-flow-export",
        "import-mds2",
        "controls",
        "import-posture",
        "report-lost",
        "wipes",
        "confirm-wipe",
        "client-links",
        "link-client",
        "unlink-client",
        "purge-consents",
    ]


def test_imports_list_and_controls(tmp_path, capsys, engineer, frozen_clock):
    segment("pumps")
    inventory = tmp_path / "inventory.csv"
    inventory.write_text(
        "asset_tag,kind,manufacturer,model,segment,end_of_support\n"
        "PUMP-1,medical,Acme Medical,InfuseRx 300,pumps,2020-01-01\n"
    )
    call_command("devices", "import-inventory", str(inventory), "--as", engineer.username)
    flows = tmp_path / "flows.csv"
    flows.write_text("from,to,port,protocol,purpose\npumps,internet,443,tcp,vendor cloud\n")
    call_command("devices", "import-flows", str(flows))
    sheet = tmp_path / "irx.csv"
    sheet.write_bytes(MDS2_CSV)
    call_command("devices", "import-mds2", str(sheet), "--as", engineer.username)
    out = capsys.readouterr().out
    assert "5 compensating control(s) derived." in out
    call_command("devices", "list", "--legacy")
    out = capsys.readouterr().out
    assert "PUMP-1" in out
    assert "RED" in out
    call_command("devices", "controls", "--sweep")
    out = capsys.readouterr().out
    assert "compensating-control:" in out
    assert "1 failing or expired control(s) recorded" in out
    assert Device.objects.count() == 1
    assert SegmentFlow.objects.count() == 1
    assert CompensatingControl.objects.count() == 5


def test_bad_files_stop_with_the_rows_and_write_nothing(tmp_path, capsys, engineer):
    bad = tmp_path / "bad.csv"
    bad.write_text("asset_tag,kind\nA-1,toaster\n")
    with pytest.raises(CommandError, match="1 bad row"):
        call_command("devices", "import-inventory", str(bad))
    assert "line 2" in capsys.readouterr().err
    with pytest.raises(CommandError, match="cannot read"):
        call_command("devices", "import-flows", str(tmp_path / "missing.csv"))
    sheet = tmp_path / "irx.csv"
    sheet.write_bytes(MDS2_CSV)
    with pytest.raises(CommandError, match="owner"):
        call_command("devices", "import-mds2", str(sheet))
    with pytest.raises(CommandError, match="no active SafeWard account"):
        call_command("devices", "import-mds2", str(sheet), "--as", "nobody")
    assert not Device.objects.exists()
    assert not CompensatingControl.objects.exists()
