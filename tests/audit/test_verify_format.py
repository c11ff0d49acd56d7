"""Format 2 of the event encoding (ADR 1610): every column is covered,
seals made with format 1 still verify next to format 2 ones, and the
segmented verification reports exactly what a single pass reports."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from django.db import connection

from safeward.audit import chain, context
from safeward.audit.models import AuditEvent, AuditSeal
from safeward.audit.services import audit_record
from safeward.audit.verification import audit_verify
from safeward.audit.vocabulary import Action
from tests.audit.conftest import seal_all
from tests.audit.helpers import record_reads, sql, superuser_bypass

pytestmark = pytest.mark.django_db


def _first_bad(report):
    assert not report.ok
    return report.first_bad.event_id, report.first_bad.kind


def _row(**changes):
    values = {
        "id": 7,
        "occurred_at": dt.datetime(2026, 12, 6, 1, 2, 3, 456789, tzinfo=dt.UTC),
        "actor_id": 12,
        **dict.fromkeys(chain.TEXT_COLUMNS, ""),
        "client_ip": "10.1.2.3",
        "fields": ["code", "value"],
        "detail": {"b": 1, "a": [1, 2]},
        "actor_username": "nurse.a",
        **changes,
    }
    return [values[column] for column in chain.EVENT_COLUMNS]


def test_format_2_layout_is_documented_and_unambiguous():
    encoded = chain.canonical_event_v2(_row())
    moment = dt.datetime(2026, 12, 6, 1, 2, 3, 456789, tzinfo=dt.UTC)
    micros = int(moment.timestamp()) * 1_000_000 + 456789
    assert chain.V2_HEAD.unpack_from(encoded) == (2, 7, micros, 12, 0)
    lengths = chain.V2_LENGTHS.unpack_from(encoded, chain.V2_HEAD.size)
    body = encoded[chain.V2_HEAD.size + chain.V2_LENGTHS.size :]
    assert sum(lengths) == len(body)
    assert b'{"a":[1,2],"b":1}' in body  # canonical JSON: sorted keys, compact
    # Moving a character across a column boundary changes the bytes.
    assert chain.canonical_event_v2(_row(actor_username="ab", actor_roles="c")) != chain.canonical_event_v2(
        _row(actor_username="a", actor_roles="bc")
    )
    # Null and empty differ; non-ASCII text counts bytes, not characters.
    assert chain.canonical_event_v2(_row(actor_id=None)) != chain.canonical_event_v2(_row(actor_id=0))
    assert chain.canonical_event_v2(_row(client_ip=None)) != chain.canonical_event_v2(_row(client_ip=""))
    accented = chain.canonical_event_v2(_row(reason="Ärztin"))
    lengths = chain.V2_LENGTHS.unpack_from(accented, chain.V2_HEAD.size)
    assert lengths[chain.TEXT_COLUMNS.index("reason")] == len("Ärztin".encode())
    # The archive keeps format 1 JSON; re-encoding it gives the same bytes.
    as_json = chain.event_columns(json.loads(chain.canonical_event(_row())))
    assert chain.canonical_event_v2(list(as_json.values())) == chain.canonical_event_v2(_row())


def test_rows_fetched_for_verification_encode_as_sealed():
    """What verification fetches (PostgreSQL: pieces assembled by the
    database) encodes to the bytes sealing encodes from the ORM row, for
    null, non-ASCII and JSON values alike."""
    from safeward.audit import verification

    record_reads(1)
    token = context.bind(context.AuditContext(client_ip="2001:db8::1", user_agent="Navigateur é"))
    try:
        audit_record(action=Action.READ, reason="Ärztin prüft", detail={"z": "ü", "a": [1.5, None]})
    finally:
        context.reset(token)
    audit_record(action=Action.READ, actor_username="ghost")  # no actor, no IP
    assembled = verification._assembled()
    assert assembled == (connection.vendor == "postgresql")
    encode = verification._encode_v2_assembled if assembled else verification._encode_v2
    rows = list(verification._event_rows(0, 2**62, assembled=assembled))
    expected = [
        chain.canonical_event_v2(row)
        for row in AuditEvent.objects.order_by("id").values_list(*chain.EVENT_COLUMNS)
    ]
    assert [encode(row) for row in rows] == expected
    hash_v1 = verification._HASHERS_ASSEMBLED[1] if assembled else verification._HASHERS[1]
    assert [hash_v1(row) for row in rows] == [
        chain.event_hash(chain.canonical_event(row))
        for row in AuditEvent.objects.order_by("id").values_list(*chain.EVENT_COLUMNS)
    ]


def test_new_seals_use_format_2():
    record_reads(3)
    assert [seal.format_version for seal in seal_all()] == [2]


def test_sealer_hashes_the_documented_encoding_of_each_row(settings):
    """The sealer reads events as verification does (ADR 1650); what it
    seals must still be SHA-256 of format 2 of the row as stored, for null,
    non-ASCII and JSON values, across seals (late commits into a hole:
    test_tamper's test_late_commit_is_sealed_later_not_reported)."""
    settings.SAFEWARD_AUDIT_SEAL_BATCH = 2
    token = context.bind(context.AuditContext(client_ip="2001:db8::1", user_agent="Navigateur é"))
    try:
        audit_record(action=Action.READ, reason="Ärztin prüft", detail={"z": "ü", "a": [1.5, None]})
    finally:
        context.reset(token)
    audit_record(action=Action.READ, actor_username="ghost")  # no actor, no IP
    record_reads(2)
    seals = seal_all()
    assert len(seals) > 1
    assert max(seal.event_count for seal in seals) == 2
    rows = AuditEvent.objects.order_by("id").values_list(*chain.EVENT_COLUMNS)
    expected = b"".join(chain.event_hash(chain.canonical_event_v2(row))[: chain.TAG_BYTES] for row in rows)
    assert b"".join(bytes(seal.leaf_tags) for seal in seals) == expected
    assert all(
        seal.events_digest
        == chain.events_digest(
            chain.event_hash(chain.canonical_event_v2(row))
            for row in rows.filter(id__in=list(chain.range_ids(seal.ranges)))
        )
        for seal in seals
    )
    assert audit_verify().ok


# One SQL change per column of the event: each must be caught as "changed".
TAMPERING = {
    "occurred_at": "occurred_at = occurred_at + interval '1 microsecond'",
    "actor_id": "actor_id = actor_id + 1",
    "actor_username": "actor_username = 'someone'",
    "actor_roles": "actor_roles = 'admin'",
    "session_id": "session_id = 's'",
    "client_ip": "client_ip = '10.9.9.9'",
    "network_zone": "network_zone = 'dmz'",
    "user_agent": "user_agent = 'curl'",
    "request_id": "request_id = 'r'",
    "action": "action = 'export'",
    "outcome": "outcome = 'denied'",
    "resource_type": "resource_type = 'Patient'",
    "resource_id": "resource_id = '999'",
    "patient_id": "patient_id = 'p-999'",
    "purpose_of_use": "purpose_of_use = 'HRESCH'",
    "reason": "reason = 'edited'",
    "fields": "fields = '[\"value\"]'",
    "detail": "detail = '{\"page\": 2}'",
    "source": "source = 'cli'",
    "client_id": "client_id = 'app'",
    "client_name": "client_name = 'App'",
}


def test_every_column_is_in_the_tampering_table():
    assert set(TAMPERING) == set(chain.EVENT_COLUMNS) - {"id"}


@pytest.mark.parametrize("column", sorted(TAMPERING))
def test_each_column_changed_is_named(column):
    token = context.bind(context.AuditContext(client_ip="10.1.2.3", request_id="req-1"))
    try:
        ids = [
            audit_record(action=Action.READ, actor_username="nurse", patient_id="p-1", detail={"page": 1}).pk
            for _ in range(3)
        ]
    finally:
        context.reset(token)
    with superuser_bypass():
        sql("UPDATE audit_auditevent SET actor_id = 40 WHERE id = %s", [ids[1]])
    seal_all()
    assert audit_verify().ok
    statement = TAMPERING[column]
    if column == "occurred_at" and connection.vendor != "postgresql":
        statement = "occurred_at = strftime('%Y-%m-%d %H:%M:%f', occurred_at, '+1 seconds')"
    with superuser_bypass():
        sql(f"UPDATE audit_auditevent SET {statement} WHERE id = %s", [ids[1]])  # noqa: S608 - fixed table
    assert _first_bad(audit_verify()) == (ids[1], "changed")


def _seal_with_format(monkeypatch, version: int) -> list[AuditSeal]:
    monkeypatch.setattr(chain, "FORMAT_VERSION", version)
    return seal_all()


def test_mixed_format_chain_verifies_and_names_tampering_in_both(monkeypatch):
    old = record_reads(4)
    assert [seal.format_version for seal in _seal_with_format(monkeypatch, 1)] == [1]
    new = record_reads(4)
    assert [seal.format_version for seal in _seal_with_format(monkeypatch, 2)] == [2]
    report = audit_verify()
    assert report.ok, report.problems
    assert report.events == AuditEvent.objects.count() - report.unsealed

    with superuser_bypass():
        sql("UPDATE audit_auditevent SET reason = 'edited' WHERE id IN (%s, %s)", [old[2], new[1]])
    report = audit_verify()
    assert [(problem.event_id, problem.kind) for problem in sorted(report.problems)] == [
        (old[2], "changed"),
        (new[1], "changed"),
    ]


def test_format_version_of_a_seal_cannot_be_switched(monkeypatch):
    record_reads(3)
    _seal_with_format(monkeypatch, 1)
    with superuser_bypass():
        sql("UPDATE audit_auditseal SET format_version = 2 WHERE number = 1")
    problems = audit_verify().problems
    assert any(problem.kind == "seal" and "header" in problem.message for problem in problems)


# --- segmented verification = single pass ---------------------------------


def _report(**kwargs):
    return dataclasses.asdict(audit_verify(**kwargs))


SCENARIOS = {
    "intact": [],
    "changed": ["UPDATE audit_auditevent SET patient_id = 'p-9' WHERE id = {e7}"],
    "deleted": ["DELETE FROM audit_auditevent WHERE id = {e3}"],
    "swapped": [
        "UPDATE audit_auditevent SET id = -1 WHERE id = {e2}",
        "UPDATE audit_auditevent SET id = {e2} WHERE id = {e8}",
        "UPDATE audit_auditevent SET id = {e8} WHERE id = -1",
    ],
    "seal header": ["UPDATE audit_auditseal SET event_count = 1 WHERE number = 2"],
    "seal gone": ["DELETE FROM audit_auditseal WHERE number = 3"],
    "newest gone": [
        "DELETE FROM audit_auditseal WHERE number = 4",
        "DELETE FROM audit_auditevent WHERE id >= {e9}",
    ],
    "forged unsealed": ["UPDATE audit_auditevent SET id = {e10} + 1000 WHERE id = {e5}"],
    "many": ["UPDATE audit_auditevent SET reason = 'x'"],
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_segments_report_what_one_pass_reports(scenario, settings):
    settings.SAFEWARD_AUDIT_SEAL_BATCH = 3
    ids = record_reads(11)
    seal_all()
    record_reads(2)  # not sealed yet
    names = {f"e{index}": value for index, value in enumerate(ids)}
    with superuser_bypass():
        for statement in SCENARIOS[scenario]:
            sql(statement.format(**names))
    single = _report()
    for size in (1, 3, 4, 7):
        assert _report(segment_events=size) == single, size
    since = AuditSeal.objects.get(number=2).sealed_at if AuditSeal.objects.filter(number=2).exists() else None
    assert _report(since=since, segment_events=2) == _report(since=since)
    assert (single["problems"] == []) == (scenario == "intact")


@pytest.mark.django_db(transaction=True)
def test_worker_processes_report_what_one_pass_reports(settings):
    if connection.vendor != "postgresql":
        pytest.skip("segments are verified by worker processes on PostgreSQL only")
    from django.db import transaction

    settings.SAFEWARD_AUDIT_SEAL_BATCH = 3
    ids = record_reads(10)
    seal_all()
    assert _report(workers=2, segment_events=3) == _report()
    with transaction.atomic(), superuser_bypass():
        sql("UPDATE audit_auditevent SET reason = 'edited' WHERE id IN (%s, %s)", [ids[1], ids[8]])
        sql("DELETE FROM audit_auditevent WHERE id = %s", [ids[5]])
    single = _report()
    assert [(problem["event_id"], problem["kind"]) for problem in single["problems"]] == [
        (ids[1], "changed"),
        (ids[5], "deleted"),
        (ids[8], "changed"),
    ]
    assert _report(workers=2, segment_events=3) == single
