"""Re-encryption in large batches (many rows, two sets of columns per batch):
counts stay exact, a concurrent edit keeps its newer value (ciphertexts and
blind indexes), an interrupted run resumes where it stopped, a crash inside
a batch's write leaves that batch untouched, and recomputed blind indexes
equal what a save computes, so search finds every row under the new key."""

from __future__ import annotations

import pytest

from safeward.crypto import stores
from safeward.crypto.fields import EncryptedField, blind_fields
from safeward.crypto.keyring import Keyring, Purpose, keyring
from safeward.crypto.selectors import keyring_status
from safeward.crypto.services import key_rotate, keys_reencrypt
from tests.crypto.test_rotation import ACTOR, everything_reads, populate
from tests.crypto.testapp.models import Record

pytestmark = pytest.mark.django_db


def _encrypted_values(record: Record) -> int:
    loaded = Record._default_manager.get(pk=record.pk)
    return sum(
        getattr(loaded, f.attname) is not None
        for f in Record._meta.concrete_fields
        if isinstance(f, EncryptedField)
    )


def test_a_concurrent_edit_in_a_large_batch_keeps_the_newer_value_and_counts_stay_exact(monkeypatch):
    records, _ = populate(count=24)  # half with a phone: two sets of columns per batch
    old = keyring().primary()
    total = keyring_status().key(Purpose.DATA, old.version).protects
    key_rotate(actor=ACTOR)
    target = records[3]  # has a phone
    edited = False
    original_reseal = Keyring.reseal_many

    def reseal_while_the_app_writes(self, values):  # after the batch was read, before its UPDATE
        nonlocal edited
        name = Record._meta.get_field("family_name").associated_data(target.pk)
        if not edited and any(associated_data == name for _, associated_data in values):
            edited = True
            app_copy = Record.objects.get(pk=target.pk)
            app_copy.family_name = "Edited meanwhile"
            app_copy.save()  # the new name under the new key; its other values stay as they were
        return original_reseal(self, values)

    monkeypatch.setattr(Keyring, "reseal_many", reseal_while_the_app_writes)
    first = keys_reencrypt(actor=ACTOR, batch_size=1000)  # one batch for the whole table
    assert edited
    in_row = _encrypted_values(target)
    assert first.moved == total - in_row  # the edited row's CAS failed as a whole; nothing else did
    assert first.remaining == 1  # that row still waits (pending counts rows); the app moved its name
    assert Record.objects.get(pk=target.pk).family_name.reveal() == "Edited meanwhile"

    monkeypatch.setattr(Keyring, "reseal_many", original_reseal)
    second = keys_reencrypt(actor=ACTOR, batch_size=1000)
    assert (second.moved, second.remaining) == (in_row - 1, 0)
    assert Record.objects.get(pk=target.pk).family_name.reveal() == "Edited meanwhile"


def test_an_interrupted_batched_run_resumes_and_moves_every_value_once():
    records, notes = populate(count=40)
    old = keyring().primary()
    total = keyring_status().key(Purpose.DATA, old.version).protects
    key_rotate(actor=ACTOR)
    seen: list[int] = []

    def stop_after_two(moved: int) -> None:
        seen.append(moved)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        keys_reencrypt(actor=ACTOR, batch_size=15, on_batch=stop_after_two)
    done = sum(seen)
    assert 0 < done < total
    assert keyring_status().key(Purpose.DATA, old.version).protects == total - done
    everything_reads(records, notes)

    keyring().reset()  # a new process: only the database carries the progress
    rest = keys_reencrypt(actor=ACTOR, batch_size=15)
    assert (rest.moved, rest.remaining) == (total - done, 0)
    everything_reads(records, notes)


def test_a_crash_inside_a_batch_write_leaves_that_batch_as_it_was_and_a_rerun_moves_it(monkeypatch):
    records, notes = populate(count=40)
    old = keyring().primary()
    total = keyring_status().key(Purpose.DATA, old.version).protects
    key_rotate(actor=ACTOR)
    original_write = stores._CasWriter.write
    writes: list[int] = []

    def crash_after_the_second_update(self, changes):
        writes.append(original_write(self, changes))
        if len(writes) == 2:
            raise RuntimeError("the process died after the UPDATE, before the COMMIT")
        return writes[-1]

    monkeypatch.setattr(stores._CasWriter, "write", crash_after_the_second_update)
    with pytest.raises(RuntimeError):
        keys_reencrypt(actor=ACTOR, batch_size=15)
    assert writes[1] > 0
    assert (
        keyring_status().key(Purpose.DATA, old.version).protects == total - writes[0]
    )  # batch 2 rolled back
    everything_reads(records, notes)

    monkeypatch.setattr(stores._CasWriter, "write", original_write)
    keyring().reset()
    rest = keys_reencrypt(actor=ACTOR, batch_size=15)
    assert (rest.moved, rest.remaining) == (total - writes[0], 0)
    everything_reads(records, notes)


def _blind_under(version: int) -> int:
    return keyring_status().key(Purpose.BLIND_INDEX, version).protects


def test_a_concurrent_edit_during_blind_index_recompute_keeps_its_indexes_and_search_finds_it(monkeypatch):
    records, _ = populate(count=24)
    before = _blind_under(1)
    key_rotate(actor=ACTOR, purpose=Purpose.BLIND_INDEX)
    target = records[5]  # has a phone: mrn, phone, birth date, name + birth date, prefix tokens
    original_write = stores._CasWriter.write
    edited = False

    def edit_before_the_blind_update(self, changes):
        nonlocal edited
        if not edited and "phone_index" in self.columns:
            edited = True
            app_copy = Record.objects.get(pk=target.pk)
            app_copy.phone = "+1 555 999 0000"
            app_copy.save()  # its phone index now under the new key, its other indexes still the old ones
        return original_write(self, changes)

    monkeypatch.setattr(stores._CasWriter, "write", edit_before_the_blind_update)
    first = keys_reencrypt(actor=ACTOR, batch_size=1000)
    assert edited
    assert first.moved == before - 5  # every row but the edited one, which kept the edit
    assert first.remaining == 4
    phone = Record._meta.get_field("phone_index")
    assert Record.objects.get(phone_index=phone.compute("+1 555 999 0000")).pk == target.pk

    monkeypatch.setattr(stores._CasWriter, "write", original_write)
    second = keys_reencrypt(actor=ACTOR, batch_size=1000)
    assert (second.moved, second.remaining) == (4, 0)
    assert Record.objects.get(phone_index=phone.compute("+1 555 999 0000")).pk == target.pk


def test_recomputed_blind_indexes_equal_what_a_save_computes_under_the_new_key():
    records, _ = populate(count=12)
    key_rotate(actor=ACTOR, purpose=Purpose.BLIND_INDEX)
    result = keys_reencrypt(actor=ACTOR, batch_size=5)
    assert result.remaining == 0
    primary = keyring().primary(Purpose.BLIND_INDEX)
    mrn = Record._meta.get_field("mrn_index")
    prefixes = Record._meta.get_field("family_name_prefixes")
    for record in records:
        stored = Record.objects.get(pk=record.pk)
        value = stored.mrn.reveal()
        assert bytes(stored.mrn_index) == mrn.compute(value, key=primary)
        # Search under the new key alone finds the row, by exact value and by prefix.
        assert (
            Record.objects.get(mrn_index=mrn.compute(value.lower().replace("-", " "), key=primary)) == stored
        )
        token = prefixes.query_tokens(stored.family_name.reveal()[:5], key=primary)[0]
        assert token in stored.family_name_prefixes.split()
        computed = {f.attname: getattr(stored, f.attname) for f in blind_fields() if f.model is Record}
        stored.family_name = stored.family_name.reveal()  # a save recomputes the name's indexes
        stored.save()
        stored.refresh_from_db()
        assert {name: getattr(stored, name) for name in computed} == computed
