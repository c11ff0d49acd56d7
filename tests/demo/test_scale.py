"""`safeward demo scale`: many synthetic patients through the gateway's bulk path."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import PurposeOfUse
from safeward.clinical import gateway
from safeward.clinical.types import SessionContext
from safeward.demo import scale
from tests.one_door import clinical_test_data

pytestmark = pytest.mark.django_db

WARD = SessionContext(session_id="test", reachable=True, reachable_reason="clinical_zone", step_up_fresh=True)


def test_scale_refuses_outside_demo_mode_and_on_other_databases(settings):
    settings.SAFEWARD_DEMO = False
    with pytest.raises(CommandError, match="SAFEWARD_DEMO"):
        call_command("demo", "scale", "--patients", "5")
    with pytest.raises(CommandError, match="benchmark"):
        call_command("demo", "scale", "--patients", "5", "--benchmark-database", "safeward")
    assert not AuditEvent.objects.filter(detail__bulk="demo-scale").exists()


def test_scale_writes_encrypted_searchable_patients_with_one_audit_event_per_batch(seeded_demo, capsys):
    physician = gateway_user("demo.physician")
    before = AuditEvent.objects.count()

    call_command("demo", "scale", "--patients", "50", "--batch-size", "20")

    assert "Patient 50" in capsys.readouterr().out
    events = list(AuditEvent.objects.order_by("id")[before:])
    assert len(events) == 3  # batches of 20, 20, 10; counts only
    assert "Patient=20" in events[0].detail["counts"]
    assert not events[0].patient_id

    pools = scale.Pools.build()
    number, record = next(scale.records(20, 20, pools))  # a charted, cared-for patient
    found = gateway.patient_search(
        actor=physician, session=WARD, purpose=PurposeOfUse.TREATMENT, name=record.patient.family_name[:4]
    )
    assert any(result.mrn == scale.mrn(number) for result in found.results)
    by_mrn = gateway.patient_search(
        actor=physician, session=WARD, purpose=PurposeOfUse.TREATMENT, mrn=scale.mrn(number)
    )
    chart = gateway.chart_read(
        actor=physician, session=WARD, purpose=PurposeOfUse.TREATMENT, patient_id=by_mrn.results[0].id
    )
    assert chart.encounters
    assert chart.results

    with clinical_test_data(), connection.cursor() as cursor:  # the raw columns, as a dump holds them
        cursor.execute("SELECT family_name, mrn FROM clinical_patient")
        raw = b"".join(bytes(a) + bytes(b) for a, b in cursor.fetchall())
    assert record.patient.family_name.encode() not in raw
    assert scale.mrn(number).encode() not in raw

    call_command("demo", "scale", "--patients", "50")  # a rerun adds nothing
    assert "Patient 0" in capsys.readouterr().out


def gateway_user(username):
    from safeward.identity.models import User

    return User.objects.get(username=username)
