"""Re-encryption in large batches (many rows, two sets of columns per batch):
counts stay exact, a concurrent edit keeps its newer value, and an
interrupted run resumes where it stopped."""

from __future__ import annotations

import pytest

from safeward.crypto.fields import EncryptedField
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
