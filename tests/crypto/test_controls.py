"""The keyring's control tests (issue 18, ADR 0920): each fails on a seeded
violation, on that resource, and passes without it."""

from __future__ import annotations

import datetime as dt

import pytest

from safeward import clock
from safeward.compliance import discover
from safeward.crypto.models import DataKey
from safeward.crypto.services import Actor, key_rotate
from tests.crypto.test_fields import make_record, write_raw
from tests.crypto.testapp.models import Record

pytestmark = pytest.mark.django_db

COVERED_CONTROLS = {
    "crypto.phi_fields_encrypted": (
        "test_phi_fields_fail_on_a_plaintext_value_and_on_a_field_without_a_category",
        "test_phi_fields_pass_when_every_sampled_value_is_ciphertext",
    ),
    "crypto.keys_rotated": (
        "test_keys_fail_when_the_primary_is_older_than_its_period",
        "test_keys_pass_after_rotation",
    ),
}
FIELD = "crypto_testapp.Record.family_name"


def run(control_id: str) -> dict[str, object]:
    return {check.resource_id: check for check in discover()[control_id].run(clock.now())}


def test_phi_fields_fail_on_a_plaintext_value_and_on_a_field_without_a_category(monkeypatch):
    record = make_record()
    write_raw(Record, record.pk, "family_name", b"Okonkwo-Brandt, stored in the clear")
    check = run("crypto.phi_fields_encrypted")[FIELD]
    assert not check.passed
    assert check.evidence["not_ciphertext"] == 1
    assert "Okonkwo" not in repr(check)  # the value itself never reaches the evidence
    # A header naming a key the keyring does not hold fails too.
    forged = bytes([0x01]) + (0xDEADBEEF).to_bytes(4, "big") + bytes(40)
    write_raw(Record, record.pk, "family_name", forged)
    assert run("crypto.phi_fields_encrypted")[FIELD].evidence["unknown_key"] == 1
    # A field that declares no PHI category fails whatever it stores.
    monkeypatch.setattr(Record._meta.get_field("mrn"), "phi_category", None)
    assert not run("crypto.phi_fields_encrypted")["crypto_testapp.Record.mrn"].passed


def test_phi_fields_pass_when_every_sampled_value_is_ciphertext():
    make_record()
    make_record(mrn="MRN-2")
    checks = run("crypto.phi_fields_encrypted")
    assert checks[FIELD].passed
    assert checks[FIELD].evidence == {
        "phi_category": "demographic",
        "sampled": 2,
        "not_ciphertext": 0,
        "unknown_key": 0,
    }
    assert all(check.passed for check in checks.values())


def _primary(purpose: str = DataKey.Purpose.DATA) -> DataKey:
    from safeward.crypto.keyring import keyring

    keyring().primary()  # creates the first keys when the table is empty
    return DataKey.objects.get(purpose=purpose, state=DataKey.State.PRIMARY)


def test_keys_fail_when_the_primary_is_older_than_its_period(settings):
    key = _primary()
    DataKey.objects.filter(pk=key.pk).update(created_at=clock.now() - dt.timedelta(days=366))
    check = run("crypto.keys_rotated")[f"{key.key_id:08x}"]
    assert not check.passed
    assert check.evidence["age_days"] == 366
    assert check.evidence["rotation_days"] == 365
    settings.SAFEWARD_KEY_ROTATION_DAYS = {**settings.SAFEWARD_KEY_ROTATION_DAYS, "data": 400}
    assert run("crypto.keys_rotated")[f"{key.key_id:08x}"].passed


def test_keys_pass_after_rotation():
    old = _primary()
    DataKey.objects.filter(pk=old.pk).update(created_at=clock.now() - dt.timedelta(days=366))
    new = key_rotate(actor=Actor(name="test-operator"))
    checks = run("crypto.keys_rotated")
    assert checks[f"{new.key_id:08x}"].passed
    assert checks[f"{old.key_id:08x}"].passed  # no longer primary: decrypts old values only
    assert checks[f"{old.key_id:08x}"].evidence["state"] == "active"
    assert all(check.passed for check in checks.values())
