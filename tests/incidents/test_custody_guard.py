"""The chain-of-custody trigger is registered with the audit guard (ADR
0941): the test flush and the demo snapshot lift it with the audit tables'
guard and put it back, on both engines."""

from __future__ import annotations

import io

import pytest
from django.db import DatabaseError, connection, transaction

from safeward.audit import dbguard as audit_dbguard
from safeward.incidents import case_services, dbguard
from safeward.incidents.models import CustodyEvent

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_custody_guard_is_lifted_by_the_flush_guard_and_put_back(make_user, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    officer = make_user("security_officer")
    incident = case_services.incident_create(actor=officer, title="x", category="ransomware", severity="high")
    case_services.evidence_add(
        actor=officer,
        incident_id=incident.pk,
        title="log",
        filename="a.log",
        content_type="text/plain",
        source=io.BytesIO(b"abc"),
    )
    assert (dbguard.install_statements, dbguard.remove_statements) in audit_dbguard._OTHER_GUARDS
    with pytest.raises(DatabaseError), transaction.atomic():
        CustodyEvent.objects.all().delete()
    # What the flush does on SQLite (a DELETE per table) goes through while the guard is lifted...
    with audit_dbguard.suspended(connection):
        assert CustodyEvent.objects.all().delete()[0] == 1
    # ...and the guard is back afterwards.
    case_services.evidence_add(
        actor=officer,
        incident_id=incident.pk,
        title="log 2",
        filename="b.log",
        content_type="text/plain",
        source=io.BytesIO(b"def"),
    )
    with pytest.raises(DatabaseError), transaction.atomic():
        CustodyEvent.objects.update(note="edited")
