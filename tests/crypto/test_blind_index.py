"""Blind indexes: exact lookups find exactly the matching rows, survive data-key
rotation, and never decrypt; prefix tokens for partial names."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from safeward.crypto.fields import blind_filter, blind_index, blind_prefix_filter, compute_blind_index
from safeward.crypto.services import Actor, key_rotate, keys_reencrypt
from tests.crypto.testapp.models import Record

pytestmark = pytest.mark.django_db
ACTOR = Actor(name="test")

PEOPLE = [
    # mrn, family, given, dob, national id, phone, email
    (
        "MRN-0001",
        "García",
        "Lucía",
        dt.date(1980, 2, 3),
        "078-05-1120",
        "+1 (555) 010-0001",
        "lucia@example.test",
    ),
    (
        "MRN-0002",
        "Garcelon",
        "Amos",
        dt.date(1980, 2, 3),
        "219-09-9999",
        "+1 555 010 0002",
        "amos@example.test",
    ),
    (
        "MRN-0003",
        "Gardner",
        "Ruth",
        dt.date(1955, 7, 1),
        "457-55-5462",
        "+1 555 010 0001",
        "RUTH@example.test",
    ),
    (
        "MRN-0004",
        "Nguyễn Văn",
        "An",
        dt.date(2001, 12, 24),
        "123-45-6789",
        "0044 20 7946 0000",
        "an@example.test",
    ),
    (
        "MRN-0005",
        "O'Brien-Smith",
        "Siobhán",
        dt.date(1990, 1, 1),
        "987-65-4320",
        "+44 20 7946 0000",
        "sb@example.test",
    ),
]


@pytest.fixture
def people():
    return [
        Record.objects.create(
            mrn=m, family_name=f, given_name=g, birth_date=d, national_id=n, phone=p, email=e
        )
        for m, f, g, d, n, p, e in PEOPLE
    ]


def found(field, value):
    return {r.mrn.reveal() for r in Record.objects.filter(blind_filter(Record, field, value))}


def test_exact_lookups_find_exactly_the_matching_rows(people):
    assert found("mrn_index", " mrn 0003") == {"MRN-0003"}
    assert found("national_id_index", "078 05 1120") == {"MRN-0001"}
    assert found("phone_index", "+1-555-010-0001") == {"MRN-0001", "MRN-0003"}
    assert found("phone_index", "+442079460000") == {"MRN-0004", "MRN-0005"}
    assert found("email_index", "ruth@EXAMPLE.test ") == {"MRN-0003"}
    assert found("birth_date_index", dt.date(1980, 2, 3)) == {"MRN-0001", "MRN-0002"}
    assert found("name_dob_index", ("GARCIA", "1980-02-03")) == {"MRN-0001"}
    assert found("name_dob_index", ("nguyen van", dt.date(2001, 12, 24))) == {"MRN-0004"}
    assert found("name_dob_index", ("o brien smith", dt.date(1990, 1, 1))) == {"MRN-0005"}
    assert found("mrn_index", "MRN-9999") == set()
    assert found("name_dob_index", ("García", dt.date(1980, 2, 4))) == set()


def test_lookups_survive_data_key_rotation(people):
    before = {r.pk: (bytes(r.mrn_index), bytes(r.name_dob_index)) for r in Record.objects.all()}
    key_rotate(actor=ACTOR)
    assert keys_reencrypt(actor=ACTOR, batch_size=2).remaining == 0
    after = {r.pk: (bytes(r.mrn_index), bytes(r.name_dob_index)) for r in Record.objects.all()}
    assert after == before
    Record.objects.create(mrn="MRN-0006", family_name="Garcia", birth_date=dt.date(1980, 2, 3))
    assert found("name_dob_index", ("garcía", "1980-02-03")) == {"MRN-0001", "MRN-0006"}
    assert found("phone_index", "555 010 0001") == set()  # national form differs: no country guessing
    assert found("phone_index", "+1 555 010 0001") == {"MRN-0001", "MRN-0003"}


def test_indexes_are_keyed_per_scope(people):
    assert blind_index(Record, "mrn_index", "ABC123") != blind_index(Record, "national_id_index", "ABC123")
    assert compute_blind_index("abc123", normaliser="mrn", scope="x") == compute_blind_index(
        "ABC-123", normaliser="mrn", scope="x"
    )
    assert len(blind_index(Record, "mrn_index", "ABC123")) == 16


def test_index_follows_changes_and_nulls(people):
    record = Record.objects.get(blind_filter(Record, "mrn_index", "MRN-0002"))
    record.phone = "+1 555 999 0000"
    record.save()
    assert found("phone_index", "+15559990000") == {"MRN-0002"}
    record.phone = None
    record.save()
    assert Record.objects.get(pk=record.pk).phone_index is None
    record.phone = "unknown"  # nothing left to index: stored as no index, not refused
    record.save()
    assert Record.objects.get(pk=record.pk).phone_index is None


def test_saving_with_deferred_sources_keeps_the_index(people):
    deferred = Record.objects.only("id", "given_name").get(blind_filter(Record, "mrn_index", "MRN-0001"))
    deferred.given_name = "Lucy"
    deferred.save()
    assert found("mrn_index", "mrn-0001") == {"MRN-0001"}


def test_bad_query_values_are_validation_errors(people):
    with pytest.raises(ValidationError, match="one @"):
        found("email_index", "not-an-address")
    with pytest.raises(ValidationError, match="must be text"):
        found("mrn_index", 1234)
    with pytest.raises(ValidationError, match="needs at least one"):
        found("phone_index", "--")


def prefix(text):
    return {
        r.mrn.reveal()
        for r in Record.objects.filter(blind_prefix_filter(Record, "family_name_prefixes", text))
    }


def test_prefix_search(people):
    assert prefix("gar") == {"MRN-0001", "MRN-0002", "MRN-0003"}
    assert prefix("GARC") == {"MRN-0001", "MRN-0002"}
    assert prefix("garcí") == {"MRN-0001"}
    assert prefix("nguy van") == {"MRN-0004"}
    assert prefix("smi") == {"MRN-0005"}  # every word is tokenised
    assert prefix("obr") == set()  # "o" and "brien" are separate words after normalisation
    assert prefix("bri") == {"MRN-0005"}
    with pytest.raises(ValidationError, match="at least 3 letters"):
        prefix("ga")


def test_prefix_tokens_cap_at_eight_letters():
    Record.objects.create(mrn="MRN-0100", family_name="Vandermeulen")
    Record.objects.create(mrn="MRN-0101", family_name="Vandermeer")
    # Both share the first 8 letters: the token search returns both candidates,
    # the gateway confirms after decryption.
    assert prefix("vandermeulen") == {"MRN-0100", "MRN-0101"}
    assert prefix("vanderm") == {"MRN-0100", "MRN-0101"}


def test_raw_index_columns_hold_no_normalised_plaintext(people):
    record = Record.objects.get(blind_filter(Record, "mrn_index", "MRN-0001"))
    assert b"MRN0001" not in bytes(record.mrn_index)
    assert "garc" not in record.family_name_prefixes


def test_the_batch_indexer_equals_compute_blind_index():
    from safeward.crypto.fields import blind_index_keys, blind_indexer

    for key in blind_index_keys():
        index = blind_indexer(normaliser="phone", scope="tests.scope", key=key)
        for value in ("+1 555 010 0001", "+44 20 7946 0000"):
            assert index(value) == compute_blind_index(
                value, normaliser="phone", scope="tests.scope", key=key
            )
        pair = blind_indexer(normaliser="name_dob", scope="tests.pair", key=key)
        assert pair(("Quist", "1980-02-03")) == compute_blind_index(
            ("Quist", "1980-02-03"), normaliser="name_dob", scope="tests.pair", key=key
        )
        with pytest.raises(ValidationError):
            index("not a phone")
