"""PHI discovery end to end on the database: exact match against our own
patients through the gateway, findings, assets, alerts, incremental
rescans, the command line and triage."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from safeward.assets import discovery_services as services
from safeward.assets.models import Asset, DiscoveryFinding, DiscoveryScan, ScannedFile
from safeward.audit.models import AuditEvent
from safeward.clinical import gateway
from safeward.clinical.types import ImportedPatient, PatientInput, SessionContext, SystemActor
from safeward.demo.share_files import write_csv, write_encrypted_zip
from safeward.detection.models import Alert

pytestmark = pytest.mark.django_db


def import_patient(
    mrn: str, *, birth: dt.date, national_id: str | None = None, phone: str | None = None
) -> str:
    outcome = gateway.patient_import(
        actor=SystemActor("tests"),
        session=SessionContext.system(),
        record_in=ImportedPatient(
            patient=PatientInput(
                given_name="Test",
                family_name=f"Patient{mrn[-2:]}",
                birth_date=birth,
                mrn=mrn,
                sex="female",
                national_id=national_id,
                phone=phone,
            )
        ),
    )
    assert outcome.patient_id
    return outcome.patient_id


@pytest.fixture
def patients():
    return {
        "by_mrn": import_patient("HOSP-10001", birth=dt.date(1960, 1, 1)),
        "by_national_id": import_patient("HOSP-10002", birth=dt.date(1961, 2, 2), national_id="078-05-1120"),
        "by_phone_and_birth": import_patient(
            "HOSP-10003", birth=dt.date(1975, 11, 30), phone="+1 555 201 4567"
        ),
        "birth_only": import_patient("HOSP-10004", birth=dt.date(1990, 4, 4), phone="+1 555 777 8888"),
        "absent": import_patient("HOSP-10005", birth=dt.date(1950, 5, 5)),
    }


PLANTED = [
    ["HOSP-10001", "Alma Doe", "1999-09-09", "", ""],
    ["", "Bert Doe", "1961-02-02", "078 05 1120", ""],
    ["", "Cleo Doe", "1975-11-30", "", "+1 (555) 201-4567"],
    ["", "Dana Doe", "1990-04-04", "", ""],
    ["HOSP-99999", "Nobody Known", "1970-01-01", "219-09-9998", "555-303-1212"],
]
HEADER = ["mrn", "name", "dob", "ssn", "phone"]


@pytest.fixture
def share(tmp_path):
    root = tmp_path / "share"
    root.mkdir()
    write_csv(root / "export.csv", HEADER, PLANTED)
    (root / "minutes.txt").write_text("Staff meeting on 2024-05-06: budget and rota.\n")
    write_encrypted_zip(root / "locked.zip", {"export.csv": b"HOSP-10001,1960-01-01"}, password="pw")
    (root / "escape.csv").symlink_to(tmp_path / "elsewhere.csv")
    (tmp_path / "elsewhere.csv").write_text("HOSP-10005\n")
    return root


def run(root: Path, actor=None, **kwargs):
    return services.scan_run(actor=actor, roots=[str(root)], trigger=DiscoveryScan.Trigger.COMMAND, **kwargs)


def test_exact_match_names_our_patients_without_storing_values(patients, share):
    summary = run(share)
    finding = DiscoveryFinding.objects.get(path=str(share / "export.csv"))
    assert set(finding.patient_ids) == {
        patients["by_mrn"],
        patients["by_national_id"],
        patients["by_phone_and_birth"],
    }
    assert finding.patients_matched == 3
    assert finding.matched_by["mrn"] == 1
    assert finding.matched_by["national_id"] == 1
    assert finding.matched_by["phone"] == 1
    assert not finding.encrypted
    assert finding.status == DiscoveryFinding.Status.OPEN
    assert finding.counts["dob_with_name"] == 5
    assert len(finding.sha256) == 64
    stored = json.dumps([finding.counts, finding.matched_by, finding.notes, finding.formats])
    for value in ("HOSP-10001", "078-05-1120", "1975-11-30", "555", "Doe"):
        assert value not in stored
    # The lookup went through the one door and names the patients it found.
    event = AuditEvent.objects.get(resource_type="PhiDiscovery", outcome="success")
    assert event.actor_username == "system:phi-discovery"
    assert str(share) not in json.dumps(event.detail)
    assert summary.scan.patients_matched == 3


def test_clean_files_make_no_finding_and_encrypted_ones_are_recorded_as_protected(patients, share):
    run(share)
    assert not DiscoveryFinding.objects.filter(path=str(share / "minutes.txt")).exists()
    locked = DiscoveryFinding.objects.get(path=str(share / "locked.zip"))
    assert locked.encrypted
    assert locked.protection == "encrypted_zip"
    assert locked.status == DiscoveryFinding.Status.PROTECTED
    assert locked.patients_matched == 0
    assert locked.alert_id is None


def test_plaintext_phi_opens_an_alert_on_a_new_unreviewed_asset(patients, share):
    run(share)
    finding = DiscoveryFinding.objects.get(path=str(share / "export.csv"))
    asset = finding.asset
    assert asset.location == str(share)
    assert asset.review_state == Asset.ReviewState.UNREVIEWED
    alert = Alert.objects.get(pk=finding.alert_id)
    assert alert.rule == "phi_discovered"
    assert alert.detail["finding_id"] == finding.pk
    assert alert.detail["patients_matched"] == 3


def test_a_registered_share_keeps_its_asset(patients, share):
    registered = services.register_discovered_share(actor=None, path=str(share))
    run(share, asset=registered)
    assert set(DiscoveryFinding.objects.values_list("asset_id", flat=True)) == {registered.pk}


def test_link_leaving_the_root_is_recorded_not_followed(patients, share):
    summary = run(share)
    row = ScannedFile.objects.get(path=str(share / "escape.csv"))
    assert row.reason_code == "link_outside"
    assert row.reason
    assert [result.code for result in summary.skipped] == ["link_outside"]
    assert not DiscoveryFinding.objects.filter(path__endswith="elsewhere.csv").exists()


def test_rescan_reads_nothing_unchanged(patients, share):
    run(share)
    lookups = AuditEvent.objects.filter(resource_type="PhiDiscovery").count()
    findings = DiscoveryFinding.objects.count()
    second = run(share).scan
    assert second.files_read == 0
    assert second.files_unchanged == 3
    assert AuditEvent.objects.filter(resource_type="PhiDiscovery").count() == lookups
    assert DiscoveryFinding.objects.count() == findings
    with (share / "export.csv").open("a") as handle:
        handle.write("HOSP-10005,Eve Doe,1950-05-05,,\n")
    third = run(share).scan
    assert third.files_read == 1
    newest = DiscoveryFinding.objects.filter(path=str(share / "export.csv")).order_by("-pk").first()
    assert newest is not None
    assert patients["absent"] in newest.patient_ids


def test_birth_date_alone_names_nobody(patients, tmp_path):
    write_csv(tmp_path / "dates.csv", ["name", "dob"], [["Dana Doe", "1990-04-04"]])
    run(tmp_path)
    finding = DiscoveryFinding.objects.get()
    assert finding.patients_matched == 0
    assert finding.counts == {"dob_with_name": 1}


def test_scan_needs_the_permission(make_user, share):
    with pytest.raises(PermissionError):
        run(share, actor=make_user("physician"))
    assert not DiscoveryScan.objects.exists()


def test_gateway_refuses_a_user_without_the_permission(make_user):
    with pytest.raises(gateway.Forbidden):
        gateway.discovery_match(
            actor=make_user("physician"), session=SessionContext.system(), scan_ref="scan:1", probes={}
        )
    assert AuditEvent.objects.filter(resource_type="PhiDiscovery", outcome="denied").count() == 1


@pytest.mark.parametrize(
    ("probes", "scan_ref"),
    [({"name": [b"x"]}, "scan:1"), ({"mrn": [b"x"]}, ""), ({"mrn": [b"x"]}, "s" * 200)],
)
def test_gateway_rejects_bad_input(make_user, probes, scan_ref):
    with pytest.raises(gateway.InvalidInput):
        gateway.discovery_match(
            actor=make_user("privacy_officer"),
            session=SessionContext.system(),
            scan_ref=scan_ref,
            probes=probes,
        )


def test_command_line_summary(patients, share):
    out = StringIO()
    call_command("scan", "phi", str(share), "--no-progress", stdout=out)
    text = out.getvalue()
    assert "holds 3 of our patients" in text
    assert "protected" in text
    assert "locked.zip" in text
    assert "link_outside 1" in text
    assert "1 finding(s) opened" in text


def test_command_line_size_limit_and_bad_size(patients, share):
    out = StringIO()
    call_command("scan", "phi", str(share), "--no-progress", "--max-file-size", "10", stdout=out)
    assert "too_large" in out.getvalue()
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not a size"):
        call_command("scan", "phi", str(share), "--max-file-size", "lots")


def test_shares_command_with_no_share_says_there_is_nothing_to_scan_and_succeeds():
    """A hospital without file shares: exit 0, how to register one, nothing recorded."""
    events = AuditEvent.objects.count()
    out = StringIO()
    call_command("scan", "shares", "--no-progress", stdout=out)  # returns: exit status 0
    text = out.getvalue()
    assert "No file share is registered, so there is nothing to scan." in text
    assert "`safeward assets import FILE.csv`" in text
    assert 'kind "File share"' in text
    assert not DiscoveryScan.objects.exists()
    assert AuditEvent.objects.count() == events


def test_shares_command_fails_when_no_registered_share_is_readable_here(tmp_path):
    """Registered but not mounted here (a lost mount, a UNC path): a failure, not nothing to do."""
    from django.core.management.base import CommandError

    from safeward.assets.services import register_discovered_share

    register_discovered_share(actor=None, path=str(tmp_path / "unmounted"))
    register_discovered_share(actor=None, path="//fileserver/finance")
    with pytest.raises(CommandError, match="No registered file share has a local directory"):
        call_command("scan", "shares", "--no-progress")
    assert not DiscoveryScan.objects.exists()


def test_shares_command_scans_the_readable_shares_and_names_the_others(patients, share, tmp_path):
    """One share mounted, one not: the first is scanned and reported, the
    other named as not scanned (a share kept in the register only is no
    failure of the run)."""
    services.register_discovered_share(actor=None, path=str(share))
    services.register_discovered_share(actor=None, path="//fileserver/finance")
    out = StringIO()
    call_command("scan", "shares", "--no-progress", stdout=out)
    text = out.getvalue()
    assert f"Scan {DiscoveryScan.objects.get().pk} of {share}" in text
    assert "Not scanned: asset" in text
    assert "(//fileserver/finance): no local directory here" in text


def test_scheduled_scan_covers_registered_shares(patients, share):
    services.register_discovered_share(actor=None, path=str(share))
    (summary,) = services.shares_scan(actor=None)
    assert summary.scan.trigger == DiscoveryScan.Trigger.SCHEDULE
    assert summary.scan.findings_opened == 1


# --- triage ------------------------------------------------------------------------------------------
@pytest.fixture
def finding(patients, share, settings, tmp_path):
    settings.SAFEWARD_DISCOVERY_QUARANTINE = tmp_path / "quarantine"
    run(share)
    return DiscoveryFinding.objects.get(path=str(share / "export.csv"))


def test_confirm_then_remediate_by_moving(make_user, finding, tmp_path):
    officer = make_user("privacy_officer")
    services.finding_triage(actor=officer, finding_id=finding.pk, action="confirm")
    done = services.finding_triage(
        actor=officer,
        finding_id=finding.pk,
        action="remediate",
        remediation="moved",
        note="Moved off the share.",
    )
    assert done.status == DiscoveryFinding.Status.REMEDIATED
    assert done.remediation == "moved"
    assert not Path(finding.path).exists()
    assert Path(done.moved_to).parent == tmp_path / "quarantine"
    assert Path(done.moved_to).exists()
    events = AuditEvent.objects.filter(resource_type="DiscoveryFinding", action="update")
    assert [event.detail["to"] for event in events.order_by("pk")] == ["confirmed", "remediated"]


def test_remediate_by_deleting(make_user, finding):
    services.finding_triage(
        actor=make_user("privacy_officer"), finding_id=finding.pk, action="remediate", remediation="deleted"
    )
    assert not Path(finding.path).exists()


def test_remediate_refuses_a_changed_file(make_user, finding):
    Path(finding.path).write_text("something else entirely\n")
    with pytest.raises(services.DiscoveryError, match="changed since the scan"):
        services.finding_triage(
            actor=make_user("privacy_officer"),
            finding_id=finding.pk,
            action="remediate",
            remediation="deleted",
        )
    assert Path(finding.path).exists()
    finding.refresh_from_db()
    assert finding.status == DiscoveryFinding.Status.OPEN


def test_encrypted_remediation_is_verified(make_user, finding):
    officer = make_user("privacy_officer")
    with pytest.raises(services.DiscoveryError, match="unencrypted"):
        services.finding_triage(
            actor=officer, finding_id=finding.pk, action="remediate", remediation="encrypted"
        )
    path = Path(finding.path)
    write_encrypted_zip(path.with_suffix(".zip"), {"export.csv": path.read_bytes()}, password="pw")
    path.unlink()
    path.with_suffix(".zip").rename(path)
    done = services.finding_triage(
        actor=officer, finding_id=finding.pk, action="remediate", remediation="encrypted"
    )
    assert done.status == DiscoveryFinding.Status.REMEDIATED


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"action": "false_positive"}, "Say why"),
        ({"action": "explode"}, "Choose one of"),
        ({"action": "remediate", "remediation": "burn"}, "Choose how"),
        ({"action": "confirm", "note": "x" * 501}, "under 500"),
    ],
)
def test_bad_triage_changes_nothing(make_user, finding, kwargs, message):
    with pytest.raises(services.DiscoveryError, match=message):
        services.finding_triage(actor=make_user("privacy_officer"), finding_id=finding.pk, **kwargs)
    finding.refresh_from_db()
    assert finding.status == DiscoveryFinding.Status.OPEN


def test_false_positive_with_reason_then_closed(make_user, finding):
    officer = make_user("privacy_officer")
    services.finding_triage(
        actor=officer, finding_id=finding.pk, action="false_positive", note="Synthetic test data."
    )
    with pytest.raises(services.DiscoveryError, match="already false positive"):
        services.finding_triage(actor=officer, finding_id=finding.pk, action="confirm")


def test_triage_needs_the_permission(make_user, finding):
    with pytest.raises(PermissionError):
        services.finding_triage(actor=make_user("it_admin"), finding_id=finding.pk, action="confirm")


def test_command_line_workers_and_bad_workers(patients, share, settings):
    from django.core.management.base import CommandError

    out = StringIO()
    call_command("scan", "phi", str(share), "--no-progress", "--workers", "2", stdout=out)
    assert "holds 3 of our patients" in out.getvalue()
    for bad in ("0", "65"):
        with pytest.raises(CommandError, match="from 1 to 64"):
            call_command("scan", "phi", str(share), "--workers", bad)
    settings.SAFEWARD_DISCOVERY_WORKERS = 3
    assert services.scanner_from_settings().workers == 3
    assert services.scanner_from_settings(workers=1).workers == 1


def test_a_family_name_beside_a_birth_date_names_the_patient(patients, tmp_path):
    """No identifier in the file: the name and birth date on one line match
    through the name + birth date blind index (ADR 0813); a name with
    another birth date, or a birth date with another name, matches no one."""
    outcome = gateway.patient_import(
        actor=SystemActor("tests"),
        session=SessionContext.system(),
        record_in=ImportedPatient(
            patient=PatientInput(
                given_name="Maren", family_name="O'Lindgren", birth_date=dt.date(1950, 5, 5), sex="female"
            )
        ),
    )
    root = tmp_path / "letters"
    root.mkdir()
    (root / "list.txt").write_text(
        "Letter to Mrs O'Lindgren, born 05/05/1950, about her appointment.\n"
        "Maren O'Lindgren 1950-05-06 (another day)\n"
        "Test Patient04 1990-04-04 (a name that is not hers)\n"
    )
    run(root)
    finding = DiscoveryFinding.objects.get(path=str(root / "list.txt"))
    assert finding.patient_ids == [outcome.patient_id]
    assert finding.matched_by == {"name_dob": 1, "birth_date": 1}
    stored = json.dumps([finding.counts, finding.matched_by, finding.notes, finding.formats])
    for value in ("Lindgren", "1950-05-05", "05/05/1950"):
        assert value not in stored
    event = AuditEvent.objects.get(resource_type="PhiDiscovery", outcome="success")
    assert event.detail["probes_name_dob"] > 0
    assert "Lindgren" not in json.dumps(event.detail)


def test_the_name_and_birth_date_index_is_backfilled_for_existing_patients(patients):
    import importlib

    from django.apps import apps

    from safeward.clinical.models import Patient

    backfill = importlib.import_module("safeward.clinical.migrations.0007_patient_name_dob_index").backfill
    from tests.one_door import clinical_test_data

    with clinical_test_data():
        indexed = dict(Patient.objects.values_list("pk", "name_dob_index"))
        assert all(indexed.values())
        Patient.objects.update(name_dob_index=None)
        backfill(apps, None)
        assert dict(Patient.objects.values_list("pk", "name_dob_index")) == indexed


def test_a_scans_keying_equals_the_blind_indexer_value_by_value():
    """Keying normalises a name + birth date pair from its parts (ADR 1641):
    the same hashes as keying each whole pair, refused values dropped alike."""
    from django.core.exceptions import ValidationError

    from safeward.clinical.types import PATIENT_DISCOVERY_INDEXES
    from safeward.crypto.fields import blind_index_keys, blind_indexer

    candidates = {
        "mrn": {"EXT-0012345", "MRN-00 12", " "},
        "national_id": {"123-45-6789", "900 01 0001"},
        "phone": {"+1 555 201 4567", "(555) 303-1212", "no digits"},
        "birth_date": {"1980-02-03", "2001-02-29"},
        "name_dob": {
            "Quist|1980-02-03",
            "O'Neil|1980-02-03",
            "Jos\u00e9|1975-11-30",
            "Roe|2001-02-29",
            "--|1980-02-03",
        },
    }
    expected: dict[str, set[bytes]] = {}
    for kind, values in candidates.items():
        normaliser, scope = PATIENT_DISCOVERY_INDEXES[kind]
        for key in blind_index_keys():
            index = blind_indexer(normaliser=normaliser, scope=scope, key=key)
            for value in values:
                try:
                    expected.setdefault(kind, set()).add(
                        index(tuple(value.split("|", 1)) if kind == "name_dob" else value)
                    )
                except ValidationError:
                    continue
    keying = services.Keying()
    for _ in range(2):  # the second time from the scan's caches
        probes = keying.probes(candidates)
        assert {kind: set(hashes) for kind, hashes in probes.items()} == expected
    assert len(expected["name_dob"]) == 3 * len(blind_index_keys())
