"""How a manifest is written (ADR 0815): on PostgreSQL one statement,
prepared on the server, writes the manifest and its audit event, each naming
the other; elsewhere three in the caller's transaction (the manifest, its
event, the link). Either way the manifest and its event are all or nothing,
and the sealed hash is the manifest's canonical JSON."""

from __future__ import annotations

import hashlib

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from safeward.assets import manifests
from safeward.assets.models import ExportManifest
from safeward.audit import services as audit_services
from safeward.audit.manifests import ManifestDraft
from safeward.audit.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DRAFT = ManifestDraft(
    kind="api",
    route="clinical_api:chart",
    purpose="TREAT",
    patient_ids=("p-2", "p-1", "p-2"),
    sections=("notes",),
)
CONTENT = b'{"chart": "synthetic"}'


def _record(actor=None, draft: ManifestDraft = DRAFT) -> ExportManifest:
    return manifests.manifest_record(
        actor=actor,
        draft=draft,
        sha256=hashlib.sha256(CONTENT).hexdigest(),
        byte_count=len(CONTENT),
        complete=True,
    )


def test_the_manifest_and_its_event_are_one_statement_on_postgresql_and_no_savepoint():
    _record()  # the first use in a connection prepares the statements
    with CaptureQueriesContext(connection) as queries:
        manifest = _record()
    # A server-bound statement is logged as "QUERY = '<sql>' - PARAMS = ...".
    statements = [q["sql"].removeprefix("QUERY = '").split(None, 1)[0] for q in queries.captured_queries]
    expected = ["WITH"] if connection.vendor == "postgresql" else ["INSERT", "INSERT", "UPDATE"]
    assert statements == expected, queries.captured_queries
    assert not any("SAVEPOINT" in q["sql"].upper() for q in queries.captured_queries)
    assert ExportManifest.objects.get(pk=manifest.pk).audit_event_id == manifest.audit_event_id


def test_the_written_row_is_the_sealed_manifest_and_its_event_names_it():
    doctor = UserFactory(roles=["physician"])
    manifest = _record(actor=doctor)
    stored = ExportManifest.objects.get(pk=manifest.pk)
    for field in ExportManifest._meta.concrete_fields:
        assert getattr(stored, field.attname) == getattr(manifest, field.attname), field.name
    assert (stored.patient_ids, stored.patient_count, stored.actor_id) == (["p-1", "p-2"], 2, doctor.pk)
    assert manifests.manifest_verify(manifest=stored)
    assert stored.manifest_sha256 == hashlib.sha256(manifests._canonical(stored)).hexdigest()
    event = AuditEvent.objects.get(pk=stored.audit_event_id)
    assert (event.action, event.resource_type) == ("create", "ExportManifest")
    assert event.resource_id == str(stored.pk)
    assert event.detail["manifest_sha256"] == stored.manifest_sha256
    assert event.detail["content_sha256"] == stored.sha256


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="prepared statements of PostgreSQL")
def test_on_postgresql_the_manifest_and_its_event_are_prepared_on_the_server():
    _record()
    _record()
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        prepared = [row[0] for row in cursor.fetchall()]
    table, events = ExportManifest._meta.db_table, AuditEvent._meta.db_table
    both = [sql for sql in prepared if f'INSERT INTO "{table}"' in sql and f'INSERT INTO "{events}"' in sql]
    assert both, prepared


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="column compression of PostgreSQL")
def test_on_postgresql_a_manifests_patient_list_is_compressed_with_lz4():
    """ADR 0814: lz4, not pglz, for the one column that grows with the export."""
    ids = [f"p-{n:05}" for n in range(3000)]
    many = ManifestDraft(kind="report", route="audit:report_csv", purpose="HOPERAT", patient_ids=ids)
    manifest = manifests.manifest_record(actor=None, draft=many, sha256="0" * 64, byte_count=0, complete=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attcompression FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attname = 'patient_ids'",
            [ExportManifest._meta.db_table],
        )
        assert cursor.fetchone() == ("l",)
        cursor.execute(
            f"SELECT pg_column_compression(patient_ids) FROM {ExportManifest._meta.db_table} WHERE id = %s",  # noqa: S608 - the model's table
            [manifest.pk],
        )
        assert cursor.fetchone() == ("lz4",)
    assert ExportManifest.objects.get(pk=manifest.pk).patient_ids == ids


def test_an_event_that_fails_after_it_was_written_leaves_neither_it_nor_the_manifest(monkeypatch):
    if connection.vendor == "postgresql":
        # One statement: its event part fails after the manifest part ran (a value too long for its column).
        real_sql = audit_services._with_row_sql

        def event_fails(table: str, columns: tuple[str, ...], event_column: str) -> str:
            return real_sql(table, columns, event_column).replace(
                "(SELECT CAST(id AS text) FROM r)", "(SELECT repeat('x', 100) || CAST(id AS text) FROM r)"
            )

        monkeypatch.setattr(audit_services, "_with_row_sql", event_fails)
    else:
        written = audit_services._write

        def written_then_failed(event: AuditEvent, patient_ids: list[str]) -> None:
            written(event, patient_ids)
            assert AuditEvent.objects.filter(pk=event.pk).exists()  # the INSERT ran, in the transaction
            raise DatabaseError("the event could not be written")

        monkeypatch.setattr(audit_services, "_write", written_then_failed)
    before = AuditEvent.objects.count()
    with pytest.raises(DatabaseError), transaction.atomic():  # the caller's transaction (the chart's)
        _record()
    assert not ExportManifest.objects.exists()
    assert AuditEvent.objects.count() == before


def test_an_event_refused_before_it_is_written_leaves_no_manifest(monkeypatch):
    doctor = UserFactory(roles=["physician"])
    monkeypatch.setattr(audit_services, "_ACTOR_ROLES", [])  # no provider of roles: refused (fail closed)
    with pytest.raises(audit_services.AuditWriteError), transaction.atomic():
        _record(actor=doctor)
    assert not ExportManifest.objects.exists()


@pytest.mark.skipif("connection.vendor == 'postgresql'", reason="PostgreSQL links them in the one statement")
def test_a_link_that_finds_no_manifest_fails_the_write(monkeypatch):
    """The link is checked as `save(update_fields=...)` checks it."""
    real_save = ExportManifest.save

    def elsewhere(manifest: ExportManifest, *args: object, **kwargs: object) -> None:
        real_save(manifest, *args, **kwargs)
        if kwargs.get("force_insert"):
            manifest.pk = manifest.pk + 1_000_000

    monkeypatch.setattr(ExportManifest, "save", elsewhere)
    with pytest.raises(DatabaseError), transaction.atomic():
        _record()
    assert not ExportManifest.objects.exists()
    assert not AuditEvent.objects.filter(resource_type="ExportManifest").exists()
