"""Encrypted fields: round trips, opacity, binding to row and field, tampering,
bad input. Synthetic values only."""

from __future__ import annotations

import copy
import datetime as dt
import pickle
import uuid

import pytest
from django.core.exceptions import FieldError, ValidationError
from django.db import connection
from django.template import Context, Template
from django.test.utils import isolate_apps

from safeward.crypto.errors import CryptoError, IntegrityError
from safeward.crypto.fields import MASK, Sealed, decrypt_field, decrypt_stored
from tests.crypto.testapp.models import Note, Record

pytestmark = pytest.mark.django_db


def make_record(**overrides):
    values = {
        "mrn": "MRN-100234",
        "family_name": "Okonkwo-Brandt",
        "given_name": "Zeynep",
        "birth_date": dt.date(1971, 6, 30),
        "national_id": "078-05-1120",
        "phone": "+1 (555) 010-7788",
        "email": "Zeynep.Okonkwo@example.test",
        "notes": {"allergies": ["latex"], "weight_kg": 61.5},
        "scan": bytes(range(256)),
    }
    values.update(overrides)
    return Record.objects.create(**values)


def _names(model, column):
    quote = connection.ops.quote_name
    return quote(model._meta.db_table), quote(column), quote(model._meta.pk.column)


def raw_column(model, pk, column):
    table, column, key = _names(model, column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM {table} WHERE {key} = %s",  # noqa: S608 - quoted identifiers
            [model._meta.pk.get_db_prep_value(pk, connection)],
        )
        value = cursor.fetchone()[0]
    return None if value is None else bytes(value)


def write_raw(model, pk, column, value):
    table, column, key = _names(model, column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {column} = %s WHERE {key} = %s",  # noqa: S608 - quoted identifiers
            [value, model._meta.pk.get_db_prep_value(pk, connection)],
        )


class TestRoundTrip:
    def test_every_type_reads_back(self):
        record = make_record()
        loaded = Record.objects.get(pk=record.pk)
        assert loaded.mrn.reveal() == "MRN-100234"
        assert loaded.family_name.reveal() == "Okonkwo-Brandt"
        assert loaded.birth_date.reveal() == dt.date(1971, 6, 30)
        assert loaded.notes.reveal() == {"allergies": ["latex"], "weight_kg": 61.5}
        assert loaded.scan.reveal() == bytes(range(256))
        assert decrypt_field(loaded, "email") == "Zeynep.Okonkwo@example.test"

    def test_null_and_empty(self):
        record = make_record(given_name=None, birth_date=None, notes=None, scan=None, family_name="")
        loaded = Record.objects.get(pk=record.pk)
        assert loaded.given_name is None
        assert decrypt_field(loaded, "birth_date") is None
        assert loaded.family_name.reveal() == ""
        assert Record.objects.filter(given_name__isnull=True).count() == 1

    def test_unicode_text(self):
        text = "Ærøskøbing 東京 👩🏽‍⚕️ \x00 end"
        record = make_record(family_name=text)
        assert Record.objects.get(pk=record.pk).family_name.reveal() == text

    def test_pending_value_reveals_before_save(self):
        record = Record(mrn="X1", family_name="Ng")
        assert record.mrn.is_pending
        assert record.mrn.reveal() == "X1"

    def test_unchanged_value_keeps_its_ciphertext(self):
        record = make_record()
        before = raw_column(Record, record.pk, "mrn")
        loaded = Record.objects.get(pk=record.pk)
        loaded.given_name = "Ayla"
        loaded.save()
        assert raw_column(Record, record.pk, "mrn") == before
        assert raw_column(Record, record.pk, "given_name") != b""

    def test_same_plaintext_gives_different_ciphertexts(self):
        one, two = make_record(mrn="SAME"), make_record(mrn="SAME")
        assert raw_column(Record, one.pk, "mrn") != raw_column(Record, two.pk, "mrn")

    def test_refresh_from_db_and_deferred_loading(self):
        record = make_record()
        record.refresh_from_db()
        assert record.family_name.reveal() == "Okonkwo-Brandt"
        deferred = Record.objects.only("id").get(pk=record.pk)
        assert deferred.family_name.reveal() == "Okonkwo-Brandt"

    def test_dedicated_uuid_field_binds(self):
        note = Note.objects.create(body="Seen in clinic", written_on=dt.date(2026, 1, 2))
        loaded = Note.objects.get(pk=note.pk)
        assert loaded.body.reveal() == "Seen in clinic"
        assert loaded.written_on.reveal() == dt.date(2026, 1, 2)

    def test_bulk_create_and_bulk_update(self):
        records = Record.objects.bulk_create([Record(mrn=f"B{i}", family_name="Bulk") for i in range(3)])
        for record in records:
            record.family_name = f"Bulk {record.mrn.reveal()}"
        Record.objects.bulk_update(records, ["family_name"])
        names = sorted(r.family_name.reveal() for r in Record.objects.filter(pk__in=[r.pk for r in records]))
        assert names == ["Bulk B0", "Bulk B1", "Bulk B2"]


class TestOpacity:
    def test_str_repr_format_template_never_show_plaintext(self):
        record = Record.objects.get(pk=make_record().pk)
        for text in (
            str(record.family_name),
            repr(record.family_name),
            f"{record.family_name}",
            f"{record.family_name:>20}",
            Template("{{ r.family_name }} {{ r.mrn }}").render(Context({"r": record})),
            repr(record.__dict__),
        ):
            assert "Okonkwo" not in text
            assert "MRN-100234" not in text
        assert str(record.family_name) == MASK

    def test_pending_values_are_opaque_too(self):
        record = Record(mrn="MRN-777", family_name="Quispe")
        assert "Quispe" not in repr(record.family_name) + str(record.family_name) + repr(vars(record))

    def test_errors_do_not_carry_values(self):
        with pytest.raises(ValidationError) as caught:
            Record(mrn="M" * 41, family_name="x")
        assert "MMMM" not in str(caught.value)

    def test_pending_values_refuse_pickling(self):
        with pytest.raises(TypeError, match="unsaved"):
            pickle.dumps(Record(mrn="MRN-1", family_name="Tanaka"))

    def test_stored_values_pickle_as_ciphertext(self):
        record = Record.objects.get(pk=make_record().pk)
        data = pickle.dumps(record)
        assert b"Okonkwo" not in data
        assert pickle.loads(data).family_name.reveal() == "Okonkwo-Brandt"  # noqa: S301 - our own bytes
        assert copy.deepcopy(record).family_name.reveal() == "Okonkwo-Brandt"

    def test_values_list_is_sealed_and_unbound(self):
        make_record()
        (value,) = Record.objects.values_list("family_name", flat=True)
        assert isinstance(value, Sealed)
        with pytest.raises(CryptoError, match="not bound"):
            value.reveal()


class TestBinding:
    def test_ciphertext_copied_to_another_row_fails(self):
        source, target = make_record(), make_record(family_name="Different")
        write_raw(Record, target.pk, "family_name", raw_column(Record, source.pk, "family_name"))
        with pytest.raises(IntegrityError, match="failed authentication"):
            Record.objects.get(pk=target.pk).family_name.reveal()

    def test_ciphertext_copied_to_another_field_fails(self):
        record = make_record()
        write_raw(Record, record.pk, "given_name", raw_column(Record, record.pk, "family_name"))
        with pytest.raises(IntegrityError):
            decrypt_field(Record.objects.get(pk=record.pk), "given_name")

    def test_a_raw_column_decrypts_only_with_its_own_row_and_field(self):
        """`decrypt_stored`: a value read by raw SQL, checked like a model's."""
        record, other = make_record(), make_record(family_name="Different")
        stored = raw_column(Record, record.pk, "family_name")
        assert decrypt_stored(Record, "family_name", record.pk, stored) == "Okonkwo-Brandt"
        assert decrypt_stored(Record, "given_name", record.pk, None) is None
        with pytest.raises(IntegrityError):
            decrypt_stored(Record, "family_name", other.pk, stored)
        with pytest.raises(IntegrityError):
            decrypt_stored(Record, "given_name", record.pk, stored)
        with pytest.raises(FieldError):
            decrypt_stored(Record, "id", record.pk, stored)

    def test_opened_once_decrypts_a_repeat_once_and_checks_everything_else(self, decryptions):
        """`opened_once()`: the same ciphertext for the same row and field is
        decrypted once inside the block; another row's context, an altered
        byte, and anything outside the block are decrypted (and checked) as
        without it."""
        from safeward.crypto import keyring as keyring_module

        record, other = make_record(), make_record(family_name="Different")
        stored = raw_column(Record, record.pk, "family_name")
        decryptions.clear()
        with keyring_module.opened_once():
            assert decrypt_stored(Record, "family_name", record.pk, stored) == "Okonkwo-Brandt"
            assert Record.objects.get(pk=record.pk).family_name.reveal() == "Okonkwo-Brandt"
            assert len(decryptions) == 1
            with pytest.raises(IntegrityError):
                decrypt_stored(Record, "family_name", other.pk, stored)
            altered = bytearray(stored)
            altered[-1] ^= 1
            with pytest.raises(IntegrityError):
                decrypt_stored(Record, "family_name", record.pk, bytes(altered))
            assert len(decryptions) == 3
        assert decrypt_stored(Record, "family_name", record.pk, stored) == "Okonkwo-Brandt"
        assert len(decryptions) == 4, "outside the block nothing is kept"

    def test_ciphertext_copied_to_another_table_fails(self):
        record = make_record()
        note = Note.objects.create(body="placeholder")
        write_raw(Note, note.pk, "body", raw_column(Record, record.pk, "family_name"))
        with pytest.raises(IntegrityError):
            Note.objects.get(pk=note.pk).body.reveal()

    def test_row_with_changed_identifier_fails(self):
        record = make_record()
        new_id = uuid.uuid4()
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Record._meta.db_table} SET id = %s WHERE id = %s",  # noqa: S608 - a model's table
                [
                    Record._meta.pk.get_db_prep_value(new_id, connection),
                    Record._meta.pk.get_db_prep_value(record.pk, connection),
                ],
            )
        with pytest.raises(IntegrityError):
            Record.objects.get(pk=new_id).family_name.reveal()

    @pytest.mark.parametrize("position", [0, 1, 4, 5, 16, 17, -17, -1])
    def test_one_flipped_byte_fails(self, position):
        record = make_record()
        blob = bytearray(raw_column(Record, record.pk, "family_name"))
        blob[position] ^= 0x01
        write_raw(Record, record.pk, "family_name", bytes(blob))
        with pytest.raises(IntegrityError):
            Record.objects.get(pk=record.pk).family_name.reveal()

    @pytest.mark.parametrize("length", [0, 1, 5, 20, 32])
    def test_truncated_value_fails(self, length):
        record = make_record()
        write_raw(Record, record.pk, "family_name", raw_column(Record, record.pk, "family_name")[:length])
        with pytest.raises(IntegrityError):
            Record.objects.get(pk=record.pk).family_name.reveal()

    def test_sealed_value_cannot_be_assigned_to_another_row_or_field(self):
        one, two = make_record(), make_record()
        loaded = Record.objects.get(pk=one.pk)
        with pytest.raises(ValueError, match="belongs to the row and field"):
            two.family_name = loaded.family_name
        with pytest.raises(ValueError, match="belongs to the row and field"):
            loaded.given_name = loaded.family_name
        two.family_name = loaded.family_name.reveal()  # the way to copy
        two.save()
        assert Record.objects.get(pk=two.pk).family_name.reveal() == "Okonkwo-Brandt"


class TestBadInput:
    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("family_name", b"bytes", "expects text"),
            ("family_name", b"\xff\xfe invalid UTF-8", "expects text"),
            ("family_name", 42, "expects text"),
            ("family_name", "x" * 201, "longer than 200"),
            ("family_name", "bad \udcff surrogate", "not valid Unicode"),
            ("birth_date", dt.datetime(2020, 1, 1, tzinfo=dt.UTC), "expects a date"),
            ("birth_date", "01/02/2020", "YYYY-MM-DD"),
            ("birth_date", 20200101, "expects a date"),
            ("notes", {"a": {1, 2}}, "not JSON"),
            ("notes", {"a": float("nan")}, "NaN"),
            ("notes", {"a": "x" * 5000}, "longer than 4096 bytes"),
            ("notes", {"a": "\ud800"}, "not valid Unicode"),
            ("scan", "text", "expects bytes"),
            ("scan", b"x" * 100_001, "longer than 100000 bytes"),
        ],
    )
    def test_clear_validation_errors(self, field, value, message):
        record = make_record()
        with pytest.raises(ValidationError, match=message) as caught:
            setattr(record, field, value)
        assert f"crypto_testapp.Record.{field}" in str(caught.value)

    def test_construction_validates_too(self):
        with pytest.raises(ValidationError, match="expects text"):
            Record(mrn=12345, family_name="x")

    def test_date_accepts_iso_text(self):
        record = make_record(birth_date="1999-12-31")
        assert Record.objects.get(pk=record.pk).birth_date.reveal() == dt.date(1999, 12, 31)

    def test_update_and_filters_are_refused(self):
        make_record()
        with pytest.raises(TypeError, match="update\\(\\) and filters cannot encrypt"):
            Record.objects.update(family_name="x")
        with pytest.raises(FieldError, match="BlindIndexField"):
            list(Record.objects.filter(family_name="Okonkwo-Brandt"))
        with pytest.raises(FieldError):
            list(Record.objects.filter(family_name__icontains="okon"))

    def test_full_clean_reports_missing_required_value(self):
        record = Record(mrn="M-1")
        with pytest.raises(ValidationError) as caught:
            record.full_clean()
        assert "family_name" in caught.value.message_dict

    def test_row_without_identifier_refuses_to_encrypt(self):
        note = Note(body="Ito")
        note.uuid = None
        with pytest.raises(CryptoError, match="no stable UUID"):
            note.save()

    def test_uuid_primary_key_reset_gets_a_new_identifier_before_encryption(self):
        record = Record(mrn="M-2", family_name="Ito")
        record.id = None
        record.save()  # Django fills the default before the values are encrypted
        assert Record.objects.get(pk=record.pk).family_name.reveal() == "Ito"


class TestSystemChecks:
    def test_test_models_pass(self):
        for model in (Record, Note):
            assert [e for e in model.check() if e.id.startswith("crypto.")] == []

    @isolate_apps("tests.crypto.testapp")
    def test_integer_key_without_uuid_field_is_refused(self):
        from django.db import models

        from safeward.crypto.fields import BlindIndexField, EncryptedTextField

        class Bad(models.Model):
            secret = EncryptedTextField(db_index=True)
            not_encrypted = models.CharField(max_length=10)
            index = BlindIndexField(of="not_encrypted", normaliser="mrn")

            class Meta:
                app_label = "crypto_testapp"

            def __str__(self):
                return "bad"

        ids = {error.id for error in Bad.check()}
        assert {"crypto.E101", "crypto.E102", "crypto.E103"} <= ids


@pytest.mark.django_db
def test_a_date_and_time_is_encrypted_with_its_year_and_day_index_derived():
    from safeward.crypto.fields import blind_index, decrypt_field
    from tests.crypto.testapp.models import Note

    seen = dt.datetime(2011, 3, 9, 23, 30, 5, 123, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    note = Note.objects.create(body="x", seen_at=seen)
    stored = Note.objects.get(pk=note.pk)
    assert decrypt_field(stored, "seen_at") == seen  # the same instant, read back in UTC
    assert decrypt_field(stored, "seen_at").tzinfo == dt.UTC
    assert stored.seen_year == 2011  # 2011-03-10 04:30 UTC
    assert bytes(stored.seen_day_index) == blind_index(Note, "seen_day_index", dt.date(2011, 3, 10))
    assert Note.objects.filter(seen_day_index=blind_index(Note, "seen_day_index", seen)).count() == 1
    with pytest.raises(ValidationError, match="aware"):
        Note(body="x", seen_at=dt.datetime(2011, 3, 9, 12))
    with pytest.raises(ValidationError, match="date and time"):
        Note(body="x", seen_at=dt.date(2011, 3, 9))
    empty = Note.objects.create(body="x")
    assert (empty.seen_year, empty.seen_day_index) == (None, None)
