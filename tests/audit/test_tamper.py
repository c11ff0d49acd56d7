"""Tampering directly in SQL, bypassing the application, is caught by verify
and named by sequence number; the database itself refuses the plain attempt."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, IntegrityError, connection, transaction

from safeward.audit import sealing
from safeward.audit.models import AuditEvent, AuditSeal
from safeward.audit.sealing import audit_seal_pending
from safeward.audit.services import audit_record
from safeward.audit.verification import audit_verify
from safeward.audit.vocabulary import Action
from tests.audit.conftest import seal_all
from tests.audit.helpers import record_reads, sql, superuser_bypass

pytestmark = pytest.mark.django_db


def _first_bad(report):
    assert not report.ok
    return report.first_bad.event_id, report.first_bad.kind


@pytest.fixture
def trail():
    ids = record_reads(6)
    seal_all()
    ids += record_reads(4)
    seal_all()
    assert audit_verify().ok
    return ids


def test_database_refuses_update_and_delete(trail):
    before = AuditEvent.objects.count()
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(pk=trail[2]).update(actor_username="someone")
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(pk=trail[2]).delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        sql("UPDATE audit_auditevent SET reason = 'x' WHERE id = %s", [trail[0]])
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditSeal.objects.filter(number=1).update(event_count=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditSeal.objects.filter(number=1).delete()
    assert AuditEvent.objects.count() == before


@pytest.mark.postgres
def test_postgres_refuses_truncate(trail):
    if connection.vendor != "postgresql":
        pytest.skip("TRUNCATE triggers exist on PostgreSQL only")
    with pytest.raises(DatabaseError), transaction.atomic():
        sql("TRUNCATE audit_auditevent")


def test_changed_event_is_named(trail):
    with superuser_bypass():
        sql("UPDATE audit_auditevent SET patient_id = 'p-999' WHERE id = %s", [trail[7]])
    assert _first_bad(audit_verify()) == (trail[7], "changed")


def test_deleted_event_is_named(trail):
    with superuser_bypass():
        sql("DELETE FROM audit_auditevent WHERE id = %s", [trail[3]])
    assert _first_bad(audit_verify()) == (trail[3], "deleted")


def test_swapped_events_are_named(trail):
    a, b = trail[2], trail[8]
    with superuser_bypass():
        sql("UPDATE audit_auditevent SET id = -1 WHERE id = %s", [a])
        sql("UPDATE audit_auditevent SET id = %s WHERE id = %s", [a, b])
        sql("UPDATE audit_auditevent SET id = %s WHERE id = -1", [b])
    assert _first_bad(audit_verify()) == (a, "changed")


def _rolled_back_gap() -> int:
    """A sequence number taken by a transaction that rolled back. PostgreSQL
    really leaves one; SQLite reuses rolled-back ids, so there the next event
    is given an explicit id one further, as a sequence jump would."""
    if connection.vendor == "postgresql":
        taken = 0

        def rolled_back():
            nonlocal taken
            with transaction.atomic():
                taken = audit_record(action=Action.READ, patient_id="p-1").pk
                raise RuntimeError("roll back")

        with pytest.raises(RuntimeError):
            rolled_back()
        audit_record(action=Action.READ, patient_id="p-1")
        return taken
    later = audit_record(action=Action.READ, patient_id="p-1")
    with superuser_bypass():
        sql("UPDATE audit_auditevent SET id = %s WHERE id = %s", [later.pk + 1, later.pk])
    return later.pk


def _all_earlier_transactions_ended(monkeypatch):
    """On PostgreSQL a gap is given up only once every transaction that was
    running when it was seen has ended (snapshot xmin past the recorded
    xmax). The test's own transaction, and other test runs on a shared
    server, stay open; this says they ended."""
    monkeypatch.setattr(sealing, "_snapshot_bounds", lambda: (2**62, 2**62))


def test_forged_event_in_a_rolled_back_gap_is_named(frozen_clock, settings, monkeypatch):
    settings.SAFEWARD_AUDIT_GAP_HORIZON_SECONDS = 60
    first = record_reads(3)
    gap = _rolled_back_gap()
    seal = seal_all()[-1]
    # (On PostgreSQL earlier tests' rolled-back ids are gaps too.)
    assert [gap, gap] in [entry[:2] for entry in seal.pending]
    frozen_clock.advance(minutes=5)
    record_reads(1)
    _all_earlier_transactions_ended(monkeypatch)
    seal = seal_all()[-1]
    assert [gap, gap] in seal.abandoned
    assert audit_verify().ok
    template = AuditEvent.objects.get(pk=first[0])
    template.pk = gap
    template.actor_username = "forger"
    template.save(force_insert=True)
    assert _first_bad(audit_verify()) == (gap, "inserted")


def test_gap_is_kept_while_a_transaction_that_may_hold_it_runs(frozen_clock, settings, monkeypatch):
    settings.SAFEWARD_AUDIT_GAP_HORIZON_SECONDS = 60
    record_reads(1)
    monkeypatch.setattr(sealing, "_snapshot_bounds", lambda: (100, 200))
    gap = _rolled_back_gap()
    assert [gap, gap, int(frozen_clock.now().timestamp()), 200] in seal_all()[-1].pending
    frozen_clock.advance(minutes=5)
    record_reads(1)
    monkeypatch.setattr(sealing, "_snapshot_bounds", lambda: (199, 300))  # one is still running
    seal = seal_all()[-1]
    assert [gap, gap] in [entry[:2] for entry in seal.pending]
    assert seal.abandoned == []
    monkeypatch.setattr(sealing, "_snapshot_bounds", lambda: (200, 300))  # all have ended
    record_reads(1)
    assert [gap, gap] in seal_all()[-1].abandoned
    assert audit_verify().ok


def test_late_commit_is_sealed_later_not_reported(frozen_clock):
    existing = AuditEvent.objects.count()
    record_reads(2)
    late_id = _rolled_back_gap()
    seal_all()
    # The transaction holding late_id commits only now (simulated by inserting that id).
    late = AuditEvent.objects.filter(action="read").first()
    late.pk = late_id
    late.save(force_insert=True)
    seal = seal_all()[-1]
    assert seal.ranges == [[late_id, late_id]]
    report = audit_verify()
    assert report.ok, report.problems
    assert report.events == existing + 4


def test_rewrite_with_recomputed_hashes_is_caught_by_external_checkpoints(trail):
    with superuser_bypass():
        sql("UPDATE audit_auditevent SET actor_username = 'ghost'")
        sql("DELETE FROM audit_auditseal")
    # The attacker re-seals with the real key; the database is consistent again.
    audit_seal_pending(write_checkpoints=False)
    report = audit_verify()
    first = AuditSeal.objects.get(number=1).first_event_id
    assert _first_bad(report) == (first, "disagrees with external checkpoint")


def test_deleting_the_newest_seals_disagrees_with_checkpoints(trail):
    with superuser_bypass():
        sql("DELETE FROM audit_auditseal WHERE number = 2")
        sql("DELETE FROM audit_auditevent WHERE id >= %s", [trail[6]])
    event_id, kind = _first_bad(audit_verify())
    assert (event_id, kind) == (trail[6], "missing from database")


def test_changed_seal_header_is_caught(trail):
    with superuser_bypass():
        sql("UPDATE audit_auditseal SET event_count = 3 WHERE number = 1")
    assert _first_bad(audit_verify())[0] == AuditSeal.objects.get(number=1).first_event_id


def test_verify_command_names_the_sequence_number(trail):
    call_command("audit", "verify", "--no-progress")
    with superuser_bypass():
        sql("UPDATE audit_auditevent SET reason = 'edited' WHERE id = %s", [trail[4]])
    with pytest.raises(CommandError, match=f"first bad sequence number {trail[4]} "):
        call_command("audit", "verify", "--no-progress")
    outcomes = list(
        AuditEvent.objects.filter(action="audit_verify").order_by("id").values_list("outcome", flat=True)
    )
    assert outcomes == ["success", "error"]  # each run audited; detection alerts on the error


def test_verify_since_checks_only_later_seals(trail, frozen_clock):
    first_seal_time = AuditSeal.objects.get(number=2).sealed_at
    with superuser_bypass():
        sql("UPDATE audit_auditevent SET reason = 'edited' WHERE id = %s", [trail[0]])
    assert not audit_verify().ok
    report = audit_verify(since=first_seal_time)
    assert report.ok, report.problems
    assert report.seals == 1
