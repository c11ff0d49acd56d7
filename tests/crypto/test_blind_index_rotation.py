"""Rotating the blind-index key (issue 11 item 2): a new key version, indexes
and prefix tokens recomputed resumably by `keys reencrypt`, exact and prefix
searches working before, during (both keys asked) and after, and the old key
retired once nothing is under it."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward.crypto.errors import KeyOperationRefused
from safeward.crypto.fields import blind_filter, blind_index_keys, blind_prefix_filter
from safeward.crypto.keyring import Purpose, keyring
from safeward.crypto.models import DataKey
from safeward.crypto.selectors import keyring_status
from safeward.crypto.services import Actor, key_retire, key_rotate, keys_reencrypt
from tests.crypto.testapp.models import Record

pytestmark = pytest.mark.django_db
ACTOR = Actor(name="test")
FAMILIES = ["García", "Nuñez", "Okafor", "Lindqvist", "Abernathy", "Oyelaran"]


def people(count=12):
    for i in range(count):
        Record.objects.create(
            mrn=f"MRN-{i:04d}",
            family_name=FAMILIES[i % len(FAMILIES)] + ("" if i < len(FAMILIES) else " Smith"),
            birth_date=dt.date(1970, 1, 1) + dt.timedelta(days=97 * i),
            phone=f"+1 555 010 {i:04d}",
        )


def by_mrn(mrn):
    return {r.mrn.reveal() for r in Record.objects.filter(blind_filter(Record, "mrn_index", mrn))}


def by_prefix(text):
    query = blind_prefix_filter(Record, "family_name_prefixes", text)
    return {r.mrn.reveal() for r in Record.objects.filter(query)}


def searches_work():
    assert by_mrn("mrn 0003") == {"MRN-0003"}
    assert by_mrn("MRN-0011") == {"MRN-0011"}
    assert by_prefix("garc") == {"MRN-0000", "MRN-0006"}
    assert by_prefix("lindq smi") == {"MRN-0009"}
    assert Record.objects.filter(blind_filter(Record, "birth_date_index", dt.date(1970, 1, 1))).count() == 1


def under(version):
    return keyring_status().key(Purpose.BLIND_INDEX, version).protects


def test_rotate_recompute_with_an_interruption_and_retire(frozen_clock):
    people()
    searches_work()
    before = under(1)
    assert before == 12 * 5  # per row: mrn, phone, birth date, name+birth date indexes and the prefix tokens

    new = key_rotate(actor=ACTOR, purpose=Purpose.BLIND_INDEX)
    assert [k.version for k in blind_index_keys()] == [new.version, 1]
    searches_work()  # nothing recomputed yet: found under the old key
    Record.objects.create(mrn="MRN-0100", family_name="Quist", phone="+1 555 010 0100")
    assert by_mrn("mrn-0100") == {"MRN-0100"}  # written under the new key, found too
    assert by_prefix("quis") == {"MRN-0100"}

    batches = 0

    def interrupt(moved: int) -> None:
        nonlocal batches
        batches += 1
        if batches == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        keys_reencrypt(actor=ACTOR, batch_size=5, on_batch=interrupt)
    assert 0 < under(1) < before
    searches_work()  # half the rows under each key
    assert by_prefix("quis") == {"MRN-0100"}

    frozen_clock.advance(minutes=30)
    with pytest.raises(KeyOperationRefused, match="still protects"):
        key_retire(actor=ACTOR, version=1, purpose=Purpose.BLIND_INDEX)

    keyring().reset()  # another process resumes
    assert keys_reencrypt(actor=ACTOR, batch_size=5).remaining == 0
    assert under(1) == 0
    assert under(new.version) == before + 3  # the new row: mrn, phone, prefix tokens
    searches_work()

    key_retire(actor=ACTOR, version=1, purpose=Purpose.BLIND_INDEX)
    keyring().reset()
    assert [k.version for k in blind_index_keys()] == [new.version]
    assert DataKey.objects.get(purpose=Purpose.BLIND_INDEX, version=1).state == DataKey.State.RETIRED
    searches_work()
    assert by_prefix("quis") == {"MRN-0100"}


def test_an_index_stays_put_when_nothing_rotated():
    people(2)
    assert keys_reencrypt(actor=ACTOR).moved == 0
    assert len(bytes(Record.objects.get(blind_filter(Record, "mrn_index", "MRN-0001")).mrn_index)) == 16
