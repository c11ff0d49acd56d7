"""Downtime kits: enrolled per ward, read through the gateway as one audited
bulk disclosure, encrypted to the ward's workstation key (no plaintext in the
file), opened offline with no Django and no database, fresh-kit control, and
the download during declared downtime for the ward's own staff only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import NotFound, SystemActor
from safeward.continuity import offline, services
from safeward.continuity.models import Kit
from safeward.identity.models import StaffProfile
from tests.conftest import sign_in
from tests.continuity.conftest import enrol as _enrol

pytestmark = pytest.mark.django_db

CLI = SystemActor("cli")
TREAT = PurposeOfUse.TREATMENT
ROOT = Path(__file__).resolve().parents[2]


def test_a_kit_is_encrypted_to_the_unit_and_opens_offline(ward_with_patient, tmp_path):
    _ward, patient = ward_with_patient
    unit, key = _enrol(tmp_path)
    kit = services.kit_generate(unit=unit)
    assert kit.patients == 1
    path = Path(unit.folder) / kit.file_name
    raw = path.read_bytes()
    for secret in (b"Zebrowski", b"KIT-0001", b"Penicillin", b"Amlodipine", b"%PDF"):
        assert secret not in raw
    header, pdf = offline.open_kit(raw, key.read_text())
    assert header["ward_code"] == "m1"
    assert pdf.startswith(b"%PDF")
    event = AuditEvent.objects.get(resource_type="DowntimeKit", action="disclose")
    assert event.actor_username == "system:continuity.kits"
    assert patient in json.dumps(event.detail)
    # another unit's key does not open it; an altered kit does not open
    _other_unit, other_private = services.kit_unit_enrol(actor=None, ward_code="m1")
    with pytest.raises(offline.KitError):
        offline.open_kit(raw, other_private)
    altered = bytearray(raw)
    altered[-3] ^= 1
    with pytest.raises(offline.KitError):
        offline.open_kit(bytes(altered), key.read_text())


def test_the_offline_viewer_needs_no_django_and_no_database(ward_with_patient, tmp_path):
    unit, key = _enrol(tmp_path)
    kit = services.kit_generate(unit=unit)
    out = tmp_path / "kit.pdf"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}  # no settings, no database URL
    code = (
        "import sys, runpy; sys.modules['django'] = None; "
        "sys.argv = ['offline'] + sys.argv[1:]; "
        "runpy.run_module('safeward.continuity.offline', run_name='__main__')"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(Path(unit.folder) / kit.file_name),
            "--key",
            str(key),
            "--out",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"%PDF")
    bad = subprocess.run(
        [sys.executable, "-c", code, str(key), "--key", str(key)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    assert "not a SafeWard downtime kit" in bad.stderr


def test_the_kit_commands(ward_with_patient, tmp_path, capsys):
    with pytest.raises(CommandError, match="No ward is enrolled for downtime kits") as waiting:
        call_command("continuity", "kits")
    assert waiting.value.returncode == 3
    with pytest.raises(CommandError, match="No ward"):
        call_command("continuity", "kit-key", "nope", "--out", str(tmp_path / "k.json"))
    call_command("continuity", "kit-key", "m1", "--out", str(tmp_path / "k.json"))
    with pytest.raises(CommandError, match="exists"):
        call_command("continuity", "kit-key", "m1", "--out", str(tmp_path / "k.json"))
    call_command("continuity", "kits")
    kit = Kit.objects.get()
    call_command(
        "continuity",
        "open-kit",
        str(Path(kit.unit.folder) / kit.file_name),
        "--key",
        str(tmp_path / "k.json"),
        "--out",
        str(tmp_path / "out.pdf"),
    )
    assert (tmp_path / "out.pdf").read_bytes().startswith(b"%PDF")
    assert "1 downtime kits written" in capsys.readouterr().out


def test_only_the_kit_writer_reads_kits(ward_with_patient, make_user):
    ward, _patient = ward_with_patient
    with pytest.raises(NotFound):
        gateway.downtime_kit(actor=make_user("physician"), ward_id=ward.id)
    with pytest.raises(NotFound):
        gateway.downtime_kit(actor=CLI, ward_id=ward.id)
    assert AuditEvent.objects.filter(resource_type="DowntimeKit", outcome="denied").count() == 2


def test_the_charge_nurse_downloads_the_ward_kit_during_downtime(
    ward_with_patient, tmp_path, make_user, medicine
):
    unit, key = _enrol(tmp_path)
    services.kit_generate(unit=unit)
    nurse = make_user("nurse")
    StaffProfile.objects.update_or_create(user=nurse, defaults={"department": medicine})
    other = make_user("nurse")
    client, stranger = Client(), Client()
    sign_in(client, nurse)
    sign_in(stranger, other)
    url = "/continuity/kits/m1/download/"
    assert client.get("/continuity/kits/").status_code == 200
    assert client.get(url).status_code == 404  # no declared downtime
    services.downtime_declare(actor=make_user("it_admin"), kind="unplanned", reason="EHR outage")
    page = client.get("/continuity/kits/")
    assert b"Download kit" in page.content
    response = client.get(url)
    assert response.status_code == 200
    _header, pdf = offline.open_kit(response.content, key.read_text())
    assert pdf.startswith(b"%PDF")
    assert stranger.get(url).status_code == 404  # another department's nurse
    assert AuditEvent.objects.filter(resource_type="continuity.kit", action="export").count() == 1
