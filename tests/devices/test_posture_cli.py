"""The `import-posture` and `report-lost` subcommand modules, run the way the
`safeward devices` command runs them (parser from add_arguments, then run)."""

from __future__ import annotations

import argparse
import io
import os
import time
from pathlib import Path

import pytest
from django.core.management.base import BaseCommand, CommandError

from safeward.devices import cli_posture, cli_report_lost
from safeward.devices.models import Device, DevicePosture
from tests.devices.posture_support import FIXTURES, fixture, make_device

pytestmark = pytest.mark.django_db


def call(module, *argv: str) -> tuple[str, str]:
    parser = argparse.ArgumentParser(prog=module.NAME)
    module.add_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    module.run(BaseCommand(stdout=out, stderr=err), vars(parser.parse_args(argv)))
    return out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _clock(frozen_clock):
    return frozen_clock


def test_import_one_file_prints_a_summary():
    make_device("LT-001", serial="C02PW0001")
    out, _ = call(cli_posture, str(FIXTURES / "posture_fleet.json"))
    assert "1 device(s) updated from 3 row(s): 1 compliant, 0 not compliant" in out
    assert "2 not in the inventory (PF4XW0002, NOTINVENTORY9)" in out


def test_bad_rows_are_listed_and_nothing_is_imported():
    make_device("PH-001", kind="phone", serial="F17ZQ0001")
    with pytest.raises(CommandError, match=r"(?s)Nothing was imported.*Line 3: CompliantState"):
        call(cli_posture, str(FIXTURES / "posture_intune_bad.csv"), "--format", "intune")
    assert not DevicePosture.objects.exists()


def test_no_file_and_no_watch_says_what_to_do():
    with pytest.raises(CommandError, match="Name the export"):
        call(cli_posture)


def _drop(folder: Path, name: str, data: bytes) -> None:
    path = folder / name
    path.write_bytes(data)
    old = time.time() - 60
    os.utime(path, (old, old))


def test_the_watched_folder_moves_files_to_done_and_failed(tmp_path):
    make_device("PH-001", kind="phone", serial="F17ZQ0001")
    make_device("LT-001", serial="C02PW0001")
    _drop(tmp_path, "fleet.json", fixture("posture_fleet.json"))
    _drop(tmp_path, "bad.csv", fixture("posture_intune_bad.csv"))
    _drop(tmp_path, "notes.txt", b"ignored")
    (tmp_path / "fresh.csv").write_bytes(fixture("posture_intune.csv"))  # still being written
    out, err = call(cli_posture, "--watch", "--once", "--dir", str(tmp_path))
    assert "Watched folder: 1 imported, 1 refused." in out
    assert "bad.csv: refused, 2 error(s)" in err
    done = list((tmp_path / "done").iterdir())
    failed = sorted(p.name for p in (tmp_path / "failed").iterdir())
    assert [p.name.endswith("-fleet.json") for p in done] == [True]
    assert failed[0].endswith("-bad.csv")
    assert failed[1].endswith("-bad.csv.errors.txt")
    errors = (tmp_path / "failed" / failed[1]).read_text()
    assert "Line 3: CompliantState 'Sideways'" in errors
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["fresh.csv", "notes.txt"]


def test_a_missing_watched_folder_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call(cli_posture, "--watch", "--once", "--dir", str(tmp_path / "nope"))


def test_report_lost_from_the_command_line(make_user):
    make_user("it_admin", username="desk")
    make_user("nurse", username="nurse1")
    device = make_device("LT-900")
    out, _ = call(
        cli_report_lost, "LT-900", "--stolen", "--reason", "taken from the ward 5 station", "--as", "desk"
    )
    assert "LT-900 reported stolen" in out
    device.refresh_from_db()
    assert device.lifecycle == Device.Lifecycle.STOLEN
    with pytest.raises(CommandError, match="not an account that manages devices"):
        call(cli_report_lost, "LT-900", "--reason", "x", "--as", "nurse1")
    with pytest.raises(CommandError, match="No device"):
        call(cli_report_lost, "LT-404", "--reason", "x", "--as", "desk")
