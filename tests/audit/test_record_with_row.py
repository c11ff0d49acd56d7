"""A row and its audit event in one statement (ADR 0815): on PostgreSQL
`audit_record_with_row` writes the caller's row and an event each naming
the other, the event built and checked as `audit_record` builds it."""

from __future__ import annotations

import pytest
from django.db import connection

from safeward import clock
from safeward.assets import manifests
from safeward.assets.models import ExportManifest
from safeward.audit.models import AuditEvent
from safeward.audit.services import AuditWriteError, audit_record, audit_record_with_row
from safeward.audit.vocabulary import Action, PurposeOfUse
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

EVENT = {"action": Action.CREATE, "resource_type": "ExportManifest", "purpose": PurposeOfUse.OPERATIONS}
ROW = {
    "table": ExportManifest._meta.db_table,
    "columns": manifests._COLUMNS,
    "event_column": "audit_event_id",
}


def _values() -> list[object]:
    manifest = ExportManifest(
        created_at=clock.now(),
        kind="csv",
        route="tests",
        purpose="HOPERAT",
        patient_count=0,
        sha256="0" * 64,
        byte_count=0,
    )
    return [f.get_db_prep_save(f.pre_save(manifest, True), connection) for f in manifests._FIELDS]


postgresql = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="one statement is PostgreSQL's")


@postgresql
def test_the_row_and_the_event_name_each_other_and_the_event_is_audit_records():
    doctor = UserFactory(roles=["physician"])
    detail = {"route": "tests"}
    event, row_id = audit_record_with_row(**ROW, values=_values(), actor=doctor, detail=detail, **EVENT)
    row = ExportManifest.objects.get(pk=row_id)
    stored = AuditEvent.objects.get(pk=row.audit_event_id)
    assert (stored.pk, stored.resource_id) == (event.pk, str(row_id))
    alike = audit_record(actor=doctor, detail=detail, resource_id=row_id, **EVENT)
    for field in AuditEvent._meta.concrete_fields:
        if field.name not in ("id", "occurred_at"):
            assert getattr(stored, field.attname) == getattr(alike, field.attname), field.name


@postgresql
def test_a_resource_id_or_patients_are_refused_and_nothing_is_written():
    before = (AuditEvent.objects.count(), ExportManifest.objects.count())
    with pytest.raises(TypeError):
        audit_record_with_row(**ROW, values=_values(), resource_id="7", **EVENT)
    with pytest.raises(AuditWriteError):
        audit_record_with_row(**ROW, values=_values(), patient_ids=["p-1"], **EVENT)
    assert (AuditEvent.objects.count(), ExportManifest.objects.count()) == before


@pytest.mark.skipif("connection.vendor == 'postgresql'", reason="the other engines")
def test_elsewhere_it_is_refused():
    assert connection.vendor != "postgresql"
    with pytest.raises(NotImplementedError):
        audit_record_with_row(**ROW, values=_values(), **EVENT)
