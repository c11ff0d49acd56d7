"""Rotation: rotate, re-encrypt with an interruption half-way, resume, every
value still reads, then the old key retires. Every operation is audited."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from allauth.mfa.models import Authenticator
from django.core.management import CommandError, call_command

from safeward.audit.models import AuditEvent
from safeward.audit.vocabulary import Action, Outcome
from safeward.crypto.errors import IntegrityError, KeyOperationRefused, KeyringError
from safeward.crypto.keyring import Keyring, Purpose, header_key_id, keyring
from safeward.crypto.models import DataKey
from safeward.crypto.secrets import decrypt_secret, secret_key_id
from safeward.crypto.selectors import keyring_status
from safeward.crypto.services import Actor, key_retire, key_rotate, keys_reencrypt
from safeward.crypto.stores import ModelStore
from tests.crypto.testapp.models import Note, Record

pytestmark = pytest.mark.django_db
ACTOR = Actor(name="test-operator")


def populate(count=24):
    records = [
        Record.objects.create(
            mrn=f"MRN-{i:04d}",
            family_name=f"Family{i}",
            birth_date=dt.date(1950, 1, 1) + dt.timedelta(days=400 * i),
            notes={"i": i},
            phone=f"+1 555 010 {i:04d}" if i % 2 else None,
        )
        for i in range(count)
    ]
    notes = [Note.objects.create(body=f"note {i}", written_on=dt.date(2026, 1, 1 + i)) for i in range(5)]
    return records, notes


def everything_reads(records, notes):
    for record in records:
        loaded = Record.objects.get(pk=record.pk)
        i = int(loaded.mrn.reveal()[4:])
        assert loaded.family_name.reveal() == f"Family{i}"
        assert loaded.notes.reveal() == {"i": i}
        assert loaded.birth_date.reveal() == dt.date(1950, 1, 1) + dt.timedelta(days=400 * i)
    for i, note in enumerate(notes):
        assert Note.objects.get(pk=note.pk).body.reveal() == f"note {i}"


def data_key(version):
    return DataKey.objects.get(purpose=Purpose.DATA, version=version)


def key_events():
    return list(AuditEvent.objects.filter(action=Action.KEY_OPERATION).order_by("occurred_at", "pk"))


def test_rotate_interrupt_resume_retire(frozen_clock, make_user):
    records, notes = populate()
    user = make_user("nurse")  # its TOTP secret is sealed under the data key (MFAAdapter)
    totp = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    old = keyring().primary()
    total = keyring_status().key(Purpose.DATA, old.version).protects
    assert (
        total == 24 * 4 + 12 + 5 * 2 + 1
    )  # mrn, family, dob, notes; half the phones; notes; one TOTP secret

    new = key_rotate(actor=ACTOR)
    assert new.version == old.version + 1
    assert data_key(old.version).state == DataKey.State.ACTIVE
    assert keyring().primary().key_id == new.key_id
    everything_reads(records, notes)  # old values still decrypt under the active key

    batches = 0

    def interrupt(moved):
        nonlocal batches
        batches += 1
        if batches == 3:
            raise KeyboardInterrupt  # the operator's Ctrl-C half-way

    with pytest.raises(KeyboardInterrupt):
        keys_reencrypt(actor=ACTOR, batch_size=4, on_batch=interrupt)
    half = keyring_status()
    left = half.key(Purpose.DATA, old.version).protects
    assert 0 < left < total
    assert half.key(Purpose.DATA, new.version).protects == total - left
    everything_reads(records, notes)  # a mix of old and new keys

    with pytest.raises(KeyOperationRefused, match=f"still protects {left} values"):
        key_retire(actor=ACTOR, version=old.version)

    keyring().reset()  # a new process resumes: nothing but the database carries state
    result = keys_reencrypt(actor=ACTOR, batch_size=4)
    assert result.remaining == 0
    assert result.moved == left
    assert keyring_status().key(Purpose.DATA, old.version).protects == 0
    assert keyring_status().pending == 0
    everything_reads(records, notes)
    totp.refresh_from_db()
    assert secret_key_id(totp.data["secret"]) == new.key_id
    assert decrypt_secret(totp.data["secret"], purpose="mfa") == user.test_totp_secret

    with pytest.raises(KeyOperationRefused, match="stopped being primary less than"):
        key_retire(actor=ACTOR, version=old.version)
    frozen_clock.advance(minutes=11)  # past the FHIR cursors' lifetime (a transient store)
    with pytest.raises(KeyOperationRefused, match="is the primary"):
        key_retire(actor=ACTOR, version=new.version)
    retired = key_retire(actor=ACTOR, version=old.version)
    assert retired.state == DataKey.State.RETIRED
    assert bytes(data_key(old.version).wrapped_key) == b""
    with pytest.raises(KeyOperationRefused, match="already retired"):
        key_retire(actor=ACTOR, version=old.version)

    keyring().reset()
    everything_reads(records, notes)

    events = key_events()
    operations = [(e.detail["operation"], e.detail.get("stage"), e.outcome) for e in events]
    assert ("rotate", None, Outcome.SUCCESS) in operations
    assert ("reencrypt", "start", Outcome.SUCCESS) in operations
    assert ("reencrypt", "stopped", Outcome.ERROR) in operations
    assert ("reencrypt", "finish", Outcome.SUCCESS) in operations
    assert ("retire", None, Outcome.DENIED) in operations
    assert ("retire", None, Outcome.SUCCESS) in operations
    assert all(e.actor_username == "test-operator" for e in events if e.detail["operation"] != "create")


def test_value_under_a_retired_key_is_an_error_not_garbage(frozen_clock):
    record = Record.objects.create(mrn="MRN-R", family_name="Retired")
    old = keyring().primary()
    key_rotate(actor=ACTOR)
    frozen_clock.advance(minutes=5)
    # Retire without re-encrypting, the way only a forged status could: straight in the table.
    DataKey.objects.filter(key_id=old.key_id).update(state=DataKey.State.RETIRED, wrapped_key=b"")
    keyring().reset()
    with pytest.raises(IntegrityError, match=f"retired key v{old.version}"):
        Record.objects.get(pk=record.pk).family_name.reveal()


def test_a_concurrent_edit_wins_over_reencryption(monkeypatch):
    records, _ = populate(count=3)
    key_rotate(actor=ACTOR)
    target = records[1]
    original_reseal = Keyring.reseal_many
    edited = False

    def reseal_while_the_app_writes(self, values):  # after the batch was read, before its UPDATE
        nonlocal edited
        name = Record._meta.get_field("family_name").associated_data(target.pk)
        if not edited and any(associated_data == name for _, associated_data in values):
            edited = True
            app_copy = Record.objects.get(pk=target.pk)
            app_copy.family_name = "Edited meanwhile"
            app_copy.save()
        return original_reseal(self, values)

    monkeypatch.setattr(Keyring, "reseal_many", reseal_while_the_app_writes)
    first = keys_reencrypt(actor=ACTOR, batch_size=10)
    assert edited
    assert first.remaining > 0  # the edited row was skipped, not overwritten
    monkeypatch.undo()
    assert keys_reencrypt(actor=ACTOR, batch_size=10).remaining == 0
    assert Record.objects.get(pk=target.pk).family_name.reveal() == "Edited meanwhile"


def test_signing_keys_rotate_and_old_signatures_verify(frozen_clock):
    from safeward.crypto.signing import sign, verify

    key_id, signature = sign(b"checkpoint 1")
    key_rotate(actor=ACTOR, purpose=Purpose.SIGNING)
    new_id, new_signature = sign(b"checkpoint 2")
    assert new_id != key_id
    frozen_clock.advance(minutes=5)
    key_retire(actor=ACTOR, version=1, purpose=Purpose.SIGNING)
    verify(b"checkpoint 1", signature, key_id=key_id)  # the public half stays
    verify(b"checkpoint 2", new_signature, key_id=new_id)


def test_status_counts_by_header_without_decrypting(monkeypatch):
    populate(count=2)
    monkeypatch.setattr(Keyring, "open", lambda *a, **k: pytest.fail("status decrypted a value"))
    status = keyring_status()
    primary = status.key(Purpose.DATA, keyring().primary().version)
    assert primary.by_store["crypto_testapp.Record.family_name"] == 2
    assert primary.by_store["crypto_testapp.Note.body"] == 5


def test_model_store_sees_every_encrypted_column():
    stores = {
        store.label: store for store in __import__("safeward.crypto.stores").crypto.stores.model_stores()
    }
    record_store: ModelStore = stores["crypto_testapp.Record"]
    assert {f.name for f in record_store.fields} == {
        "mrn",
        "family_name",
        "given_name",
        "birth_date",
        "national_id",
        "phone",
        "email",
        "notes",
        "scan",
    }


class TestCommand:
    def run(self, *args):
        out = io.StringIO()
        call_command("keys", *args, stdout=out, stderr=io.StringIO())
        return out.getvalue()

    def test_status_rotate_reencrypt_retire(self, frozen_clock):
        records, notes = populate(count=6)
        text = self.run("status")
        assert "data" in text
        assert "primary" in text
        assert "Every value is under the primary data key" in text
        assert "rotate" not in text
        text = self.run("rotate")
        assert "data key v2" in text
        assert "is now primary" in text
        assert "values wait for `safeward keys reencrypt`" in self.run("status")
        assert "Moved" in self.run("reencrypt", "--batch-size", "3", "--no-progress")
        with pytest.raises(CommandError, match="less than"):
            self.run("retire", "--version", "1")
        frozen_clock.advance(minutes=11)
        assert "retired" in self.run("retire", "--version", "1")
        assert "retired" in self.run("status")
        everything_reads(records, notes)
        assert all(
            e.actor_username.startswith("cli:") for e in key_events() if e.detail["operation"] != "create"
        )

    def test_refusals_are_command_errors(self):
        with pytest.raises(CommandError, match="There is no data key v9"):
            self.run("retire", "--version", "9")
        with pytest.raises(CommandError, match="is the primary"):
            self.run("retire", "--version", "1")


def test_header_names_the_primary_after_rotation():
    key_rotate(actor=ACTOR)
    record = Record.objects.create(mrn="MRN-H", family_name="Header")
    assert header_key_id(
        bytes(Record.objects.values_list("family_name", flat=True).get(pk=record.pk)._ciphertext)
    ) == (keyring().primary().key_id)


def test_key_events_go_through_the_writer_audit_registered(make_user, monkeypatch):
    # The keyring imports nothing of audit (ADR 0566): audit registers its writer.
    from safeward.crypto import services

    officer = make_user("security_officer")
    before = data_key(keyring().primary().version)
    key = key_rotate(actor=Actor(user=officer))
    event = key_events()[-1]
    assert (event.resource_type, event.resource_id) == ("crypto.datakey", f"data:v{key.version}")
    assert (event.actor_id, event.actor_roles, event.outcome) == (
        officer.pk,
        "security_officer",
        Outcome.SUCCESS,
    )
    assert event.detail == {
        "operation": "rotate",
        "purpose": "data",
        "version": key.version,
        "previous_version": before.version,
    }

    monkeypatch.setattr(services, "_KEY_EVENT_RECORDERS", [])
    count = len(key_events())
    with pytest.raises(KeyringError, match="No audit writer"):
        key_rotate(actor=ACTOR)
    assert keyring().primary().key_id == key.key_id  # the rotation rolled back with its event
    assert DataKey.objects.filter(purpose=Purpose.DATA).count() == 2
    assert len(key_events()) == count
