"""Retention: old seals go to a signed, encrypted archive that verifies
offline and loads back; the live trail still verifies afterwards."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from safeward import clock
from safeward.audit import signing
from safeward.audit.archive import ArchiveError, archive_load, archive_verify_offline, audit_archive_create
from safeward.audit.models import AuditArchive, AuditEvent, AuditSeal
from safeward.audit.verification import audit_verify
from tests.audit.conftest import seal_all
from tests.audit.helpers import record_reads

pytestmark = pytest.mark.django_db


@pytest.fixture
def old_and_new(frozen_clock):
    old = record_reads(4, patient="p-old")
    seal_all()
    frozen_clock.advance(days=3000)
    new = record_reads(3, patient="p-new")
    seal_all()
    return old, new


def _public_key(tmp_path):
    path = tmp_path / "seal.pub"
    path.write_text("".join(signing.get_signer().public_keys_pem().values()))
    return path


def test_archive_moves_old_period_out_and_trail_still_verifies(old_and_new, tmp_path, settings):
    old, new = old_and_new
    cutoff = clock.now() - dt.timedelta(days=settings_retention(settings))
    plan = audit_archive_create(actor=None, before=cutoff)
    assert plan is not None
    assert (plan.first_seal, plan.last_seal) == (1, 1)
    assert not AuditEvent.objects.filter(pk__in=old).exists()
    assert AuditEvent.objects.filter(pk__in=new).count() == 3
    assert AuditEvent.objects.filter(action="audit_archive").exists()
    seal_all()
    report = audit_verify()
    assert report.ok, report.problems
    assert report.archived_seals == 1

    archive = settings.SAFEWARD_AUDIT_ARCHIVE_DIR / plan.file_name
    assert b"p-old" not in archive.read_bytes()  # encrypted
    assert (
        archive_verify_offline(
            path=archive,
            verifier=signing.PublicKeyVerifier.from_pem([_public_key(tmp_path).read_bytes()]),
            checkpoint_path=settings.SAFEWARD_AUDIT_CHECKPOINT_FILE,
        )
        == []
    )
    call_command("audit", "verify-archive", str(archive), "--public-key", str(_public_key(tmp_path)))
    output = tmp_path / "loaded.jsonl"
    assert archive_load(path=archive, output=output) >= 4
    loaded = [json.loads(line) for line in output.read_text().splitlines()]
    assert [row["id"] for row in loaded if row["patient_id"] == "p-old"] == old


def settings_retention(settings):
    settings.SAFEWARD_AUDIT_RETENTION_DAYS = 6 * 365 + 2
    return settings.SAFEWARD_AUDIT_RETENTION_DAYS


def test_tampered_archive_fails_offline_and_on_load(old_and_new, tmp_path, settings):
    plan = audit_archive_create(actor=None, before=clock.now() - dt.timedelta(days=100))
    archive = settings.SAFEWARD_AUDIT_ARCHIVE_DIR / plan.file_name
    data = bytearray(archive.read_bytes())
    data[-40] ^= 1
    archive.write_bytes(bytes(data))
    problems = archive_verify_offline(path=archive, verifier=signing.get_signer())
    assert any("does not match the hash" in problem for problem in problems)
    with pytest.raises(CommandError):
        call_command("audit", "verify-archive", str(archive), "--public-key", str(_public_key(tmp_path)))
    from safeward.crypto.errors import IntegrityError as CryptoIntegrityError

    with pytest.raises(CryptoIntegrityError):
        archive_load(path=archive, output=tmp_path / "x.jsonl")


def test_nothing_to_archive_and_unarchived_rows_stay_protected(old_and_new):
    assert audit_archive_create(actor=None, before=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)) is None
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(pk=old_and_new[0][0]).delete()
    assert not AuditArchive.objects.exists()
    assert AuditSeal.objects.count() == 2


def test_archive_waits_for_siem_delivery(old_and_new):
    from safeward.audit.models import AuditExportCursor

    AuditExportCursor.objects.create(sink="syslog", seal_number=0)
    assert audit_archive_create(actor=None, before=clock.now()) is None


def test_archive_command_dry_run(old_and_new, capsys):
    call_command("audit", "archive", "--dry-run")
    assert "would archive seals 1-1" in capsys.readouterr().out
    assert not AuditArchive.objects.exists()


def test_load_rejects_wrong_format(tmp_path):
    with pytest.raises((ArchiveError, OSError, ValueError)):
        archive_load(path=tmp_path / "missing.swa", output=tmp_path / "out.jsonl")
