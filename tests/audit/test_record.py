"""audit_record: written in the caller's transaction, fail closed, and no PHI
or secret value in any audit row, export line or log line."""

from __future__ import annotations

import json
import logging

import pytest
from django.db import DatabaseError, connection, transaction

from safeward.audit import export
from safeward.audit.fhir import fhir_audit_event
from safeward.audit.models import AuditEvent
from safeward.audit.services import AuditWriteError, audit_record
from safeward.audit.vocabulary import Action, PurposeOfUse
from safeward.identity import services as identity_services
from safeward.identity.models import User
from tests.audit.conftest import seal_all
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db


def _refuse_audit_inserts():
    """Simulate the audit write failing (disk full, lost connection...) at the database."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'simulated audit write failure'; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER refuse_insert BEFORE INSERT ON audit_auditevent "
                "FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER refuse_insert BEFORE INSERT ON audit_auditevent "
                "BEGIN SELECT RAISE(ABORT, 'simulated audit write failure'); END"
            )


def test_event_rolls_back_with_the_access():
    before = AuditEvent.objects.count()

    def access():
        with transaction.atomic():
            audit_record(action=Action.READ, patient_id="p-1")
            raise RuntimeError("the access failed")

    with pytest.raises(RuntimeError):
        access()
    assert AuditEvent.objects.count() == before


def test_failed_audit_write_fails_the_guarded_access(make_user):
    admin = make_user("it_admin")
    target = make_user("nurse")
    _refuse_audit_inserts()
    with pytest.raises(DatabaseError), transaction.atomic():
        identity_services.user_lock(actor=admin, user=target, reason="left the hospital")
    assert User.objects.get(pk=target.pk).locked_at is None


def test_detail_with_a_secret_key_is_refused_and_nothing_written():
    before = AuditEvent.objects.count()
    with pytest.raises(AuditWriteError):
        audit_record(action=Action.LOGIN, detail={"password": "hunter2"})
    with pytest.raises(AuditWriteError):
        audit_record(action=Action.LOGIN, detail={"note": "x" * 500})
    assert AuditEvent.objects.count() == before


def test_the_actors_roles_come_from_identitys_registered_provider(make_user, monkeypatch):
    # The audit writer sits below identity (ADR 0566): identity hands it the roles.
    from safeward.audit import services

    user = make_user("nurse", "physician")
    assert audit_record(action=Action.READ, actor=user).actor_roles == "nurse,physician"
    monkeypatch.setattr(services, "_ACTOR_ROLES", [])
    before = AuditEvent.objects.count()
    with pytest.raises(AuditWriteError, match="roles"):
        audit_record(action=Action.READ, actor=user)
    assert AuditEvent.objects.count() == before
    assert audit_record(action=Action.LOGIN, actor_username="nobody").actor_roles == ""


SEEDED = {
    "name": "Zebulon Quackenbush-Orr",
    "ssn": "078-05-1120",
    "diagnosis": "Hypothetical Syndrome Type Q",
    "password": "Seeded-Secret-Passw0rd!",
}


def test_no_seeded_phi_or_secret_in_rows_exports_or_logs(client, make_user, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    nurse = make_user("nurse")
    # A read of a record holding the seeded values records field names only.
    audit_record(
        action=Action.READ,
        actor=nurse,
        resource_type="Patient",
        resource_id="p-123",
        patient_id="p-123",
        purpose=PurposeOfUse.TREATMENT,
        fields=["family_name", "national_id", "problem_list"],
    )
    # A failed login with the seeded password as the attempt.
    client.post("/accounts/login/", {"login": nurse.username, "password": SEEDED["password"]})
    client.post("/accounts/login/", {"login": "no-such-user", "password": SEEDED["password"]})
    assert client.post("/accounts/login/", {"login": nurse.username, "password": TEST_PASSWORD})
    seal_all()

    texts = []
    for row in AuditEvent.objects.values_list():
        texts.append(json.dumps([str(value) for value in row]))
    memory = export.MemorySink()
    export.audit_export_pending(sink=memory, encode=lambda item: export.item_syslog(item, hostname="h"))
    texts += [message.decode() for message in memory.messages]
    jsonl = export.MemorySink(name="jsonl")
    export.audit_export_pending(sink=jsonl, encode=export.item_json_line)
    texts += [message.decode() for message in jsonl.messages]
    texts += [export.event_cef(event) for event in AuditEvent.objects.all()]
    texts += [json.dumps(fhir_audit_event(event)) for event in AuditEvent.objects.all()]
    texts += [record.getMessage() for record in caplog.records]
    assert AuditEvent.objects.filter(action="login", outcome="denied").count() >= 2
    blob = "\n".join(texts)
    for label, value in SEEDED.items():
        assert value not in blob, label


def test_patient_index_rows_are_the_sealed_list_in_one_fixed_statement():
    """The index rows of a multi-patient event are exactly the patients its
    detail seals (distinct, sorted, the event's id and time), written by one
    INSERT whose text does not grow with the list (one array parameter)."""
    from safeward.audit.models import AuditEventPatient
    from safeward.audit.verification import audit_verify

    inserts: list[list[tuple[str, int]]] = []

    def statements(execute, sql, params, many, context):
        if "audit_auditeventpatient" in sql:
            inserts[-1].append((sql, len(params)))
        return execute(sql, params, many, context)

    for ids in (["p-2", "p-1", "", "p-2"], [f"p-{n:03d}" for n in range(300, 0, -1)]):
        inserts.append([])
        with connection.execute_wrapper(statements), transaction.atomic():
            event = audit_record(
                action=Action.SEARCH, resource_type="Patient", purpose=PurposeOfUse.TREATMENT, patient_ids=ids
            )
        expected = sorted({pid for pid in ids if pid})
        assert AuditEvent.objects.get(pk=event.pk).detail["patients"] == expected
        rows = list(AuditEventPatient.objects.filter(event_id=event.pk).order_by("id"))
        assert [row.patient_id for row in rows] == expected
        assert {row.occurred_at for row in rows} == {event.occurred_at}
    (small,), (large,) = inserts
    assert large == small  # one text, three parameters: not three per patient
    seal_all()
    assert audit_verify().ok
