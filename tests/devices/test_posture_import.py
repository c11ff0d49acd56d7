"""Posture imports from Fleet JSON, Intune CSV and Jamf CSV: matching, the computed
verdict, unknown devices reported, bad rows refusing the whole file."""

from __future__ import annotations

import json

import pytest

from safeward.audit.models import AuditEvent
from safeward.devices.models import DevicePosture, PostureReport
from safeward.devices.posture import PostureImportError, posture_import, source_detect
from tests.devices.posture_support import fixture, make_device

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock(frozen_clock):
    return frozen_clock


def test_fleet_json_computes_the_verdict_and_reports_unknown_devices():
    good = make_device("LT-001", serial="C02PW0001")
    bad = make_device("LT-002", serial="PF4XW0002")
    result = posture_import(actor=None, source="fleet", data=fixture("posture_fleet.json"))
    assert (result.rows, result.imported, result.compliant, result.non_compliant) == (3, 2, 1, 1)
    assert result.unmatched == ["NOTINVENTORY9"]
    assert DevicePosture.objects.get(device=good).compliant
    posture = DevicePosture.objects.get(device=bad)
    assert not posture.compliant
    assert posture.compliance_reasons == ["disk_not_encrypted"]
    assert posture.passcode_set is True
    assert posture.os_version.startswith("Windows 11")
    event = AuditEvent.objects.get(resource_type="PostureImport")
    assert event.detail["unmatched"] == 1


def test_intune_csv_keeps_the_mdm_verdict_and_adds_its_own_checks():
    phone = make_device("PH-001", kind="phone", serial="F17ZQ0001")
    rooted = make_device("PH-002", kind="phone", serial="F17ZQ0002")
    tablet = make_device("TB-001", kind="tablet", serial="R52TB0001")
    result = posture_import(actor=None, source="intune", data=fixture("posture_intune.csv"))
    assert result.imported == 3
    assert DevicePosture.objects.get(device=phone).compliant
    assert DevicePosture.objects.get(device=rooted).compliance_reasons == ["mdm_non_compliant", "jailbroken"]
    assert DevicePosture.objects.get(device=tablet).compliance_reasons == ["disk_not_encrypted"]


def test_jamf_csv_marks_a_stale_check_in():
    make_device("MAC-01", serial="C02JM0001")
    stale = make_device("MAC-02", serial="C02JM0002")
    posture_import(actor=None, source="jamf", data=fixture("posture_jamf.csv"))
    assert DevicePosture.objects.get(device=stale).compliance_reasons == [
        "disk_not_encrypted",
        "check_in_stale",
    ]


def test_asset_tag_and_fingerprint_match_before_the_serial():
    tagged = make_device("TAG-77", serial="SAME")
    other = make_device("TAG-78", serial="SAME")
    data = (
        "Computer Name,Serial Number,Asset Tag,Operating System Version,FileVault 2 Status,"
        "Passcode Status,Jailbreak Detected,Last Check-in\n"
        "a,SAME,TAG-77,15.1,All Partitions Encrypted,Present,No,2026-11-02 08:00:00\n"
    )
    posture_import(actor=None, source="jamf", data=data.encode())
    assert DevicePosture.objects.filter(device=tagged).exists()
    assert not DevicePosture.objects.filter(device=other).exists()
    ambiguous = data.replace("TAG-77", "")
    with pytest.raises(PostureImportError) as refused:
        posture_import(actor=None, source="jamf", data=ambiguous.encode())
    assert refused.value.errors == [
        "Line 2: the serial number belongs to more than one device; add the asset tag."
    ]


def test_bad_rows_refuse_the_whole_file_with_line_numbers():
    make_device("PH-001", kind="phone", serial="F17ZQ0001")
    with pytest.raises(PostureImportError) as refused:
        posture_import(actor=None, source="intune", data=fixture("posture_intune_bad.csv"))
    errors = refused.value.errors
    assert errors[0].startswith("Line 3: CompliantState 'Sideways'")
    assert errors[1].startswith("Line 4: JailBroken must be yes/no")
    assert not PostureReport.objects.exists()
    assert not AuditEvent.objects.filter(resource_type="PostureImport").exists()


@pytest.mark.parametrize(
    ("source", "data", "message"),
    [
        (
            "intune",
            b"DeviceName,OS\nx,iOS\n",
            "Line 1: missing column(s) SerialNumber, CompliantState, LastContact.",
        ),
        ("fleet", b"{not json", "Line 1: not valid JSON"),
        ("fleet", b'{"items": []}', 'The JSON has no "hosts" list'),
        ("fleet", b'{"hosts": []}', "The file holds no devices."),
        ("jamf", b"\xff\xfe", "The file is not UTF-8 text."),
        ("mdm", b"x", "Unknown format 'mdm'"),
    ],
)
def test_unreadable_files_are_refused_clearly(source, data, message):
    with pytest.raises(PostureImportError) as refused:
        posture_import(actor=None, source=source, data=data)
    assert refused.value.errors[0].startswith(message)


def test_the_same_device_twice_and_a_future_check_in_are_row_errors():
    make_device("LT-001", serial="C02PW0001")
    host = {
        "hardware_serial": "C02PW0001",
        "seen_time": "2026-11-02T08:00:00Z",
        "disk_encryption_enabled": True,
    }
    future = dict(host, hardware_serial="C02PW0001", seen_time="2027-01-01T00:00:00Z")
    data = json.dumps({"hosts": [host, host, future, {"hostname": "nothing"}]}).encode()
    with pytest.raises(PostureImportError) as refused:
        posture_import(actor=None, source="fleet", data=data)
    assert refused.value.errors == [
        "Line 2: the same device as line 1.",
        "Line 3: the last check-in is in the future.",
        "Line 4: no serial number, asset tag or certificate fingerprint.",
    ]


def test_each_import_adds_history_and_replaces_the_current_posture():
    device = make_device("LT-002", serial="PF4XW0002")
    posture_import(actor=None, source="fleet", data=fixture("posture_fleet.json"))
    fixed = fixture("posture_fleet.json").replace(
        b'"disk_encryption_enabled": false', b'"disk_encryption_enabled": true'
    )
    posture_import(actor=None, source="fleet", data=fixed)
    assert PostureReport.objects.filter(device=device).count() == 2
    assert DevicePosture.objects.get(device=device).compliant


@pytest.mark.parametrize(
    ("name", "expected"),
    [("posture_fleet.json", "fleet"), ("posture_intune.csv", "intune"), ("posture_jamf.csv", "jamf")],
)
def test_the_format_of_a_dropped_file_is_recognised(name, expected):
    assert source_detect(filename=name, data=fixture(name)) == expected


def test_an_unrecognised_file_is_refused():
    with pytest.raises(PostureImportError):
        source_detect(filename="x.csv", data=b"a,b\n1,2\n")
