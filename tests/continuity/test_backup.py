"""Backup -> verify -> restore-test round trip (SQLite and PostgreSQL, whichever
the suite runs on), tampered files and manifests refused, no PHI plaintext in
the backup file."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action
from safeward.continuity import bundle, services
from safeward.continuity.bundle import BackupError
from safeward.continuity.models import Backup, RestoreTest
from tests.crypto.testapp.models import Note

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "Backup-Canary-Zebra-8812"


@pytest.fixture
def data(make_user):
    user = make_user("it_admin")
    for number in range(3):
        Note.objects.create(body=f"{SECRET}-{number}")
    audit_record(action=Action.READ, actor=user, resource_type="test", resource_id="1")
    return user


def test_round_trip_and_restore_test(backup_dir, data):
    backup = services.backup_create(actor=data)
    path = backup_dir / backup.file_name
    assert backup.state == Backup.State.VERIFIED
    assert path.exists()
    assert bundle.manifest_path(path).exists()
    body = services.backup_verify_file(path, deep=True)
    assert body["tables"][Note._meta.db_table] == 3
    assert body["keys"]
    raw = path.read_bytes()
    assert SECRET.encode() not in raw
    assert b"SQLite format" not in raw
    assert b"PGDMP" not in raw

    result = services.backup_restore_test(actor=data, sample=5)
    assert result.passed, result.problems
    assert result.rows_checked >= 3
    assert result.phi_values_decrypted >= 3
    assert result.duration_seconds > 0
    assert RestoreTest.objects.count() == 1
    # The drill's evidence lands on the quarter's restore-drill exercise, opened by this first run.
    from safeward.incidents.models import Incident

    exercise = Incident.objects.get(pk=result.exercise_id)
    assert exercise.is_exercise
    assert exercise.exercise["drills"][-1]["ref"] == str(result.pk)
    assert exercise.exercise["drills"][-1]["passed"] is True
    again = services.backup_restore_test(actor=data, sample=5)
    assert again.exercise_id == exercise.pk  # the same quarter's exercise
    with pytest.raises(BackupError, match="no open exercise"):
        services.backup_restore_test(actor=data, exercise_id=999_999)


def test_tampered_file_refused(backup_dir, data):
    backup = services.backup_create(actor=data)
    path = backup_dir / backup.file_name
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(BackupError, match="does not match"):
        services.backup_verify_file(path)
    result = services.backup_restore_test(actor=data)
    assert not result.passed


def test_tampered_manifest_refused(backup_dir, data):
    backup = services.backup_create(actor=data)
    path = backup_dir / backup.file_name
    manifest = bundle.manifest_path(path)
    signed = json.loads(manifest.read_text())
    signed["body"]["tables"][Note._meta.db_table] = 99
    manifest.write_text(json.dumps(signed))
    with pytest.raises(BackupError, match="signature"):
        services.backup_verify_file(path)
    with pytest.raises(CommandError, match="signature"):
        call_command("backup", "verify", str(path))


def test_reencrypted_bundle_with_fixed_hash_still_refused_on_decrypt(backup_dir, data):
    """A forger who re-hashes the file cannot re-sign the manifest."""
    backup = services.backup_create(actor=data)
    path = backup_dir / backup.file_name
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0x01
    path.write_bytes(bytes(raw))
    manifest = bundle.manifest_path(path)
    signed = json.loads(manifest.read_text())
    signed["body"]["sha256"], signed["body"]["size_bytes"] = bundle.file_digest(path)
    manifest.write_text(json.dumps(signed))
    with pytest.raises(BackupError, match="signature"):
        services.backup_verify_file(path)


def test_rotation_keeps_the_newest(backup_dir, data, settings):
    settings.SAFEWARD_BACKUP_KEEP = 1
    first = services.backup_create(actor=data)
    second = services.backup_create(actor=data)
    first.refresh_from_db()
    assert first.state == Backup.State.ROTATED
    assert not (backup_dir / first.file_name).exists()
    assert (backup_dir / second.file_name).exists()


def test_cli(backup_dir, data, capsys):
    call_command("backup", "create")
    call_command("backup", "verify", "--deep")
    call_command("backup", "list")
    out = capsys.readouterr().out
    assert "signature and hash verified" in out


def test_restore_test_without_backup_says_what_to_do(backup_dir, db):
    with pytest.raises(CommandError, match="backup create"):
        call_command("backup", "restore-test")


def test_sqlite_backup_inside_an_open_transaction_copies_what_it_sees(backup_dir, data):
    """The demo seed's first scheduled backup runs inside the seed's
    transaction (ADR 1506): the online backup API would retry SQLITE_LOCKED
    forever there, so the copy is the connection's own view."""
    import faulthandler
    import sys

    from django.db import connection, transaction

    if connection.vendor != "sqlite":
        pytest.skip("pg_dump reads its own exported snapshot; no open-transaction case")
    # A hang (the old behaviour) ends the run with a traceback instead of blocking it.
    faulthandler.dump_traceback_later(600, exit=True, file=sys.stderr)
    try:
        with transaction.atomic():
            Note.objects.create(body=f"{SECRET}-uncommitted")
            backup = services.backup_create(actor=data)
            body = services.backup_verify_file(backup_dir / backup.file_name, deep=True)
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert body["tables"][Note._meta.db_table] == 4  # its own uncommitted row included
