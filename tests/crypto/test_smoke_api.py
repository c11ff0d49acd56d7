import datetime as dt

import pytest

from safeward.crypto.fields import blind_filter, blind_prefix_filter, decrypt_field
from tests.crypto.testapp.models import Note, Record


@pytest.mark.django_db
def test_round_trip_and_search():
    record = Record.objects.create(
        mrn="MRN-0012",
        family_name="Núñez",
        birth_date=dt.date(1980, 2, 3),
        phone="+44 20 7946 0000",
        notes={"allergy": "penicillin"},
        scan=b"\x00\x01",
    )
    loaded = Record.objects.get(pk=record.pk)
    assert str(loaded.family_name) == "[encrypted]"
    assert "Núñez" not in repr(loaded.family_name)
    assert loaded.family_name.reveal() == "Núñez"
    assert decrypt_field(loaded, "birth_date") == dt.date(1980, 2, 3)
    assert decrypt_field(loaded, "notes") == {"allergy": "penicillin"}
    assert decrypt_field(loaded, "scan") == b"\x00\x01"
    assert list(Record.objects.filter(blind_filter(Record, "mrn_index", "mrn 0012"))) == [loaded]
    assert list(Record.objects.filter(blind_filter(Record, "name_dob_index", ("NUNEZ", "1980-02-03")))) == [
        loaded
    ]
    assert list(Record.objects.filter(blind_prefix_filter(Record, "family_name_prefixes", "nun"))) == [loaded]
    note = Note.objects.create(body="hello")
    assert Note.objects.get(pk=note.pk).body.reveal() == "hello"
