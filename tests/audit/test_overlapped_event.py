"""A list's event written while its rows are decrypted (ADR 0592): sent in
`prepared.overlapped()`, not waited for until the block ends, and the block
fails when the event could not be written (fail closed) — on both engines."""

from __future__ import annotations

import time

import pytest
from django.db import DatabaseError, connection, transaction

from safeward.audit.models import AuditEvent, AuditEventPatient
from safeward.audit.services import audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.prepared import in_pipeline, overlapped
from tests.audit.test_record import _refuse_audit_inserts

pytestmark = pytest.mark.django_db

PATIENTS = ["p-3", "p-1", "p-2"]


def _list_event() -> AuditEvent:
    return audit_record(
        action=Action.READ, resource_type="WardCensus", purpose=PurposeOfUse.TREATMENT, patient_ids=PATIENTS
    )


def test_the_event_is_written_by_the_end_of_the_block_with_its_index_rows():
    before = AuditEvent.objects.count()
    with overlapped():
        _list_event()
    event = AuditEvent.objects.order_by("-pk").first()
    assert AuditEvent.objects.count() == before + 1
    assert event is not None
    assert event.detail["patients"] == sorted(PATIENTS)
    rows = AuditEventPatient.objects.filter(event_id=event.pk).order_by("id")
    assert [row.patient_id for row in rows] == sorted(PATIENTS)


def test_on_postgresql_the_event_is_sent_and_not_waited_for_inside_the_block():
    if connection.vendor != "postgresql":
        pytest.skip("pipeline mode is PostgreSQL's")
    before = AuditEvent.objects.count()
    with overlapped():
        assert in_pipeline()
        sent = _list_event()
        # Not waited for: no answer read, so no primary key yet.
        assert sent.pk is None
        # A query in the block waits for its own answer (and the event's before it).
        assert AuditEvent.objects.count() == before + 1
    assert not in_pipeline()
    assert AuditEvent.objects.count() == before + 1


def test_outside_the_block_the_event_is_waited_for():
    assert not in_pipeline()
    assert _list_event().pk is not None


def test_an_event_that_cannot_be_written_fails_the_block():
    """The list the block guards never returns: its caller gets the database's error."""
    _refuse_audit_inserts()
    reached: list[str] = []

    def guarded_list() -> None:
        with transaction.atomic():
            with overlapped():
                _list_event()
            reached.append("the rows left")

    with pytest.raises(DatabaseError):
        guarded_list()
    assert reached == []
    assert not in_pipeline()


def test_an_error_in_the_block_still_ends_the_pipeline():
    def failing_list() -> None:
        with overlapped():
            _list_event()
            raise RuntimeError("decryption failed")

    with pytest.raises(RuntimeError):
        failing_list()
    assert not in_pipeline()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_server_commits_the_event_before_the_block_ends():
    """The Sync is sent with the event (`sync_sent`): outside a transaction
    the server commits it while the block's Python runs, so another
    connection sees it before the block has waited for anything."""
    if connection.vendor != "postgresql":
        pytest.skip("pipeline mode is PostgreSQL's")
    import psycopg

    settings = connection.settings_dict
    watcher = psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
        autocommit=True,
    )
    try:
        before = watcher.execute("SELECT count(*) FROM audit_auditevent").fetchone()
        seen = before
        with overlapped():
            _list_event()
            for _ in range(200):  # up to 2 s for the server's commit
                seen = watcher.execute("SELECT count(*) FROM audit_auditevent").fetchone()
                if seen != before:
                    break
                time.sleep(0.01)
        assert before is not None
        assert seen == (before[0] + 1,)
    finally:
        watcher.close()


def test_a_transaction_begun_in_the_block_waits_for_what_was_sent():
    """psycopg cannot begin a transaction while a statement is in flight: an
    `atomic` block inside `overlapped()` (a future write in a list's row
    building) first waits for the event, then runs as anywhere else."""
    before = AuditEvent.objects.count()
    with overlapped():
        _list_event()
        with transaction.atomic():
            inside = AuditEvent.objects.count()
    assert inside == before + 1
    assert not in_pipeline()
    assert AuditEvent.objects.count() == before + 1
