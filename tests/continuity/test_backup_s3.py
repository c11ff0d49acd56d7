"""Backups to an S3-compatible bucket (ADR 1507), against moto's in-process
S3: multipart round trip with only ciphertext in the bucket, verify and
restore-test read back from it, a changed object or manifest refused,
rotation deletes objects, and bucket / permission / network errors become
command errors that say what to do and never show the credentials."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from safeward.audit.models import AuditEvent
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action
from safeward.continuity import s3, services
from safeward.continuity.bundle import BackupError
from safeward.continuity.models import Backup
from tests.crypto.testapp.models import Note

moto = pytest.importorskip("moto", reason="moto[s3] is in requirements-dev.lock")
boto3 = pytest.importorskip("boto3")

pytestmark = pytest.mark.django_db(transaction=True)

BUCKET = "sw-backups"
TARGET = f"s3://{BUCKET}/nightly/main"
SECRET = "S3-Canary-Zebra-4471"
SECRET_KEY = "Secret-Key-Canary-9c1f"


@pytest.fixture
def data(make_user):
    user = make_user("it_admin")
    for number in range(3):
        Note.objects.create(body=f"{SECRET}-{number}")
    audit_record(action=Action.READ, actor=user, resource_type="test", resource_id="1")
    return user


@pytest.fixture
def bucket(settings, backup_dir, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "backup-user")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    settings.SAFEWARD_BACKUP_S3_REGION = "us-east-1"
    settings.SAFEWARD_BACKUP_TARGET = TARGET
    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def keys(client) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_round_trip_through_the_bucket(bucket, backup_dir, data, monkeypatch, capsys):
    # Small parts, so the multipart upload really has several (S3's 5 MiB minimum lowered in moto).
    monkeypatch.setattr("moto.s3.models.S3_UPLOAD_PART_MIN_SIZE", 64 * 1024)
    monkeypatch.setattr("safeward.continuity.conf.backup_s3_part_bytes", lambda: 64 * 1024)
    call_command("backup", "create")
    backup = Backup.objects.get()
    assert (backup.state, backup.location) == (Backup.State.VERIFIED, TARGET)
    name = backup.file_name
    assert keys(bucket) == [f"nightly/main/{name}", f"nightly/main/{name}.manifest.json"]
    assert not list(backup_dir.iterdir())  # the folder only staged it
    head = bucket.head_object(Bucket=BUCKET, Key=f"nightly/main/{name}")
    parts = int(head["ETag"].strip('"').rsplit("-", 1)[1])
    assert parts == -(-backup.size_bytes // (64 * 1024)) > 1
    raw = bucket.get_object(Bucket=BUCKET, Key=f"nightly/main/{name}")["Body"].read()
    assert len(raw) == backup.size_bytes
    assert SECRET.encode() not in raw
    assert b"SQLite format" not in raw
    assert b"PGDMP" not in raw

    call_command("backup", "verify", "--deep")
    assert f"{name}: signature and hash verified and every member decrypted" in capsys.readouterr().out
    result = services.backup_restore_test(actor=data, sample=5)
    assert result.passed, result.problems
    assert result.rows_checked >= 3
    assert not list(backup_dir.iterdir())  # the downloaded copy is gone again


def test_changed_object_or_manifest_refused(bucket, data):
    backup = services.backup_create(actor=data)
    key = f"nightly/main/{backup.file_name}"
    original = bucket.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    changed = bytearray(original)
    changed[len(changed) // 2] ^= 0x01
    bucket.put_object(Bucket=BUCKET, Key=key, Body=bytes(changed))
    with pytest.raises(CommandError, match="does not match its manifest"):
        call_command("backup", "verify")
    result = services.backup_restore_test(actor=data)
    assert not result.passed
    assert "does not match its manifest" in result.problems[0]

    bucket.put_object(Bucket=BUCKET, Key=key, Body=original)
    manifest_key = key + ".manifest.json"
    manifest = json.loads(bucket.get_object(Bucket=BUCKET, Key=manifest_key)["Body"].read())
    manifest["body"]["tables"][Note._meta.db_table] = 0
    bucket.put_object(Bucket=BUCKET, Key=manifest_key, Body=json.dumps(manifest).encode())
    with pytest.raises(CommandError, match="signature does not verify"):
        call_command("backup", "verify")


def test_missing_object_is_a_failed_restore_test(bucket, data):
    backup = services.backup_create(actor=data)
    bucket.delete_object(Bucket=BUCKET, Key=f"nightly/main/{backup.file_name}")
    result = services.backup_restore_test(actor=data)
    assert not result.passed
    assert "object is missing" in result.problems[0]


def test_rotation_deletes_the_objects_of_old_backups(bucket, data, settings):
    settings.SAFEWARD_BACKUP_TARGET = ""
    settings.SAFEWARD_BACKUP_KEEP = 2
    for _ in range(3):
        call_command("backup", "create", "--target", TARGET)
    oldest, *newest = Backup.objects.order_by("created_at")
    assert oldest.state == Backup.State.ROTATED
    assert all(backup.state == Backup.State.VERIFIED for backup in newest)
    names = {backup.file_name for backup in newest}
    assert keys(bucket) == sorted(
        f"nightly/main/{name}{suffix}" for name in names for suffix in ("", ".manifest.json")
    )
    assert AuditEvent.objects.filter(
        action=Action.DELETE.value, resource_type="continuity.backup", resource_id=str(oldest.pk)
    ).exists()


def _refused(backup_dir, match: str) -> str:
    with pytest.raises(CommandError, match=match) as refused:
        call_command("backup", "create")
    failed = Backup.objects.get()
    assert (failed.state, failed.location) == (Backup.State.FAILED, TARGET)
    assert not list(backup_dir.glob("backup-*"))  # nothing left half-made
    message = str(refused.value)
    assert SECRET_KEY not in message
    assert SECRET_KEY not in failed.error
    assert not AuditEvent.objects.filter(detail__icontains=SECRET_KEY).exists()
    return message


def test_a_missing_bucket_says_so(bucket, backup_dir, data):
    bucket.delete_bucket(Bucket=BUCKET)
    message = _refused(backup_dir, "the bucket sw-backups does not exist")
    assert "SAFEWARD_BACKUP_TARGET" in message


def test_access_denied_says_which_permissions(bucket, backup_dir, data, monkeypatch):
    from botocore.stub import Stubber

    denied = boto3.client("s3", region_name="us-east-1")
    stubber = Stubber(denied)
    stubber.add_client_error("head_bucket", service_error_code="AccessDenied", http_status_code=403)
    stubber.activate()
    monkeypatch.setattr(s3, "client", lambda: denied)
    message = _refused(backup_dir, r"access denied \(AccessDenied\)")
    assert "s3:PutObject" in message


def test_an_unreachable_endpoint_says_so(backup_dir, data, settings, monkeypatch):
    # No moto here: a real connection to a port nothing listens on.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "backup-user")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    settings.SAFEWARD_BACKUP_TARGET = TARGET
    settings.SAFEWARD_BACKUP_S3_REGION = "us-east-1"
    # discard (port 9): nothing listens; the user:password in the URL is never shown
    settings.SAFEWARD_BACKUP_S3_ENDPOINT_URL = f"http://backup:{SECRET_KEY}@127.0.0.1:9"
    settings.SAFEWARD_BACKUP_S3_TIMEOUT_SECONDS = 1
    message = _refused(backup_dir, "cannot reach http://127.0.0.1:9")
    assert "SAFEWARD_BACKUP_S3_ENDPOINT_URL" in message


def test_a_bad_target_is_refused_before_anything_runs(settings, backup_dir, db):
    with pytest.raises(CommandError, match="not an S3 bucket name"):
        call_command("backup", "create", "--target", "s3://Bad_Bucket/x")
    with pytest.raises(BackupError, match="give s3://bucket/prefix"):
        s3.parse("ftp://host/x")
    assert not Backup.objects.exists()
