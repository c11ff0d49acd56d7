"""A row and its audit event in one statement (ADR 0815): on PostgreSQL
`audit_record(with_row=...)` writes the caller's row and the event, each
naming the other; the event is built and checked as any other."""

from __future__ import annotations

import pytest
from django.db import connection

from safeward import clock
from safeward.assets import manifests
from safeward.assets.models import ExportManifest
from safeward.audit.models import AuditEvent
from safeward.audit.services import AuditWriteError, RowWithEvent, audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

EVENT = {"action": Action.CREATE, "resource_type": "ExportManifest", "purpose": PurposeOfUse.OPERATIONS}


def _row() -> RowWithEvent:
    manifest = ExportManifest(
        created_at=clock.now(),
        kind="csv",
        route="tests",
        purpose="HOPERAT",
        patient_count=0,
        sha256="0" * 64,
        byte_count=0,
    )
    return RowWithEvent(
        table=ExportManifest._meta.db_table,
        columns=manifests._COLUMNS,
        values=[f.get_db_prep_save(f.pre_save(manifest, True), connection) for f in manifests._FIELDS],
        event_column="audit_event_id",
    )


postgresql = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="one statement is PostgreSQL's")


@postgresql
def test_the_row_and_the_event_name_each_other_and_the_event_is_as_any_other():
    doctor = UserFactory(roles=["physician"])
    detail = {"route": "tests"}
    event = audit_record(with_row=_row(), actor=doctor, detail=detail, **EVENT)
    row = ExportManifest.objects.get(pk=int(event.resource_id))
    stored = AuditEvent.objects.get(pk=row.audit_event_id)
    assert (stored.pk, stored.resource_id) == (event.pk, str(row.pk))
    alike = audit_record(actor=doctor, detail=detail, resource_id=row.pk, **EVENT)
    for field in AuditEvent._meta.concrete_fields:
        if field.name not in ("id", "occurred_at"):
            assert getattr(stored, field.attname) == getattr(alike, field.attname), field.name


@postgresql
def test_a_resource_id_or_patients_beside_a_row_are_refused_and_nothing_is_written():
    before = (AuditEvent.objects.count(), ExportManifest.objects.count())
    with pytest.raises(AuditWriteError):
        audit_record(with_row=_row(), resource_id="7", **EVENT)
    with pytest.raises(AuditWriteError):
        audit_record(with_row=_row(), patient_ids=["p-1"], **EVENT)
    assert (AuditEvent.objects.count(), ExportManifest.objects.count()) == before


@pytest.mark.skipif("connection.vendor == 'postgresql'", reason="the other engines")
def test_elsewhere_a_row_beside_the_event_is_refused():
    with pytest.raises(NotImplementedError):
        audit_record(with_row=_row(), **EVENT)
    assert not AuditEvent.objects.filter(resource_type="ExportManifest").exists()
